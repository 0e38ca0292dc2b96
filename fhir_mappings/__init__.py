"""FHIR -> facts: turns the resources of a CDS Hooks request into PatientFacts.

Entry point: :func:`build_facts` (see ``mapper.py``).
"""
from .mapper import MappingSettings, build_facts  # noqa: F401
