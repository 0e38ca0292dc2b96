"""Runs the guideline modules over one patient's facts."""
from __future__ import annotations

from collections.abc import Callable

from . import augmentation, diagnosis, treatment
from .facts import PatientFacts
from .findings import Finding
from .policy import Policy

Evaluator = Callable[[PatientFacts, Policy], list[Finding]]

#: module name -> (patient-view evaluator, draft-order evaluator)
MODULES: dict[str, tuple[Evaluator, Evaluator]] = {
    "diagnosis": (diagnosis.evaluate, diagnosis.evaluate_orders),
    "treatment": (treatment.evaluate, treatment.evaluate_orders),
    "augmentation": (augmentation.evaluate, augmentation.evaluate_orders),
}

ORDER_HOOKS = ("order-select", "order-sign")


def evaluator(module: str, hook: str) -> Evaluator:
    pv, orders = MODULES[module]
    return orders if hook in ORDER_HOOKS else pv


def evaluate_hook(hook: str, facts: PatientFacts, policy: Policy,
                  modules: tuple[str, ...] | None = None) -> list[Finding]:
    """Every finding of the given modules (default all) for this hook."""
    out: list[Finding] = []
    for name in modules or tuple(MODULES):
        out.extend(evaluator(name, hook)(facts, policy))
    return out
