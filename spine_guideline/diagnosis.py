"""Placeholder: the diagnosis module is being written (see the issue tracker)."""
from __future__ import annotations

from .facts import PatientFacts
from .findings import Finding
from .policy import Policy


def evaluate(facts: PatientFacts, policy: Policy) -> list[Finding]:
    return []


def evaluate_orders(facts: PatientFacts, policy: Policy) -> list[Finding]:
    return []
