"""FHIR -> facts: turns the resources of a CDS Hooks request into PatientFacts.

Entry point: :func:`build_facts` (see ``mapper.py``). The service calls
:func:`load_tables` once at start-up (a malformed table fails loudly there).
A defect while mapping raises :class:`MappingError` (never "not recorded" facts).
"""
from .errors import MappingError
from .mapper import ENV_EXTRA_MAPPINGS, MappingSettings, build_facts, load_tables
from .references import unresolved_medication_references
from .tables import TerminologyError, load_terminology

__all__ = ["ENV_EXTRA_MAPPINGS", "MappingError", "MappingSettings", "TerminologyError", "build_facts",
           "load_tables", "load_terminology", "unresolved_medication_references"]
