"""DX-1 .. DX-7: diagnosis of suspected spinal metastases (source 002, DIAGNOSIS).

The topics live in their own modules, each with the rule IDs it implements in
``RULES``:

* :mod:`.mri_urgency` (DX-1, DX-2a..f), over :mod:`.suspicion` (DX-1) and
  :mod:`.mri_window` (the DX-2 row and whether an MRI answers it);
* :mod:`.corticosteroids` (DX-3, DX-6, DX-7, dose TX-1);
* :mod:`.workup` (DX-4, DX-5), over :mod:`.primary`;
* :mod:`.mri_order` (order hooks): does a spine MRI draft order meet DX-2?

Every text is a message key (catalogs ``cds_service/messages/{en,nl}/diagnosis.json``),
every threshold and policy choice comes from ``data/diagnosis.json``.
"""
from __future__ import annotations

from .context import Evaluation
from .corticosteroids import evaluate_corticosteroids
from .facts import PatientFacts
from .findings import Finding
from .mri_order import MRI_ORDER_KINDS, evaluate_mri_order
from .mri_urgency import evaluate_mri_urgency
from .policy import Policy
from .workup import evaluate_workup

TOPIC_MODULES = ("suspicion", "mri_window", "mri_urgency", "corticosteroids", "primary", "workup", "mri_order")


def evaluate_context(ctx: Evaluation) -> list[Finding]:
    """Patient-view topics: mri-urgency, corticosteroids, diagnostic-workup."""
    out = [evaluate_mri_urgency(ctx), evaluate_corticosteroids(ctx), evaluate_workup(ctx)]
    return [f for f in out if f is not None]


def evaluate_orders_context(ctx: Evaluation) -> list[Finding]:
    """Draft-order topics: mri-order (spine MRI orders), corticosteroids (steroid orders)."""
    out: list[Finding] = []
    for order in (o for o in ctx.facts.draft_orders if o.selected):
        if order.kind in MRI_ORDER_KINDS:
            out.append(evaluate_mri_order(ctx, order))
        elif order.kind == "corticosteroid":
            finding = evaluate_corticosteroids(ctx, order)
            if finding is not None:
                out.append(finding)
    return out


def evaluate(facts: PatientFacts, policy: Policy) -> list[Finding]:
    return evaluate_context(Evaluation(facts, policy))


def evaluate_orders(facts: PatientFacts, policy: Policy) -> list[Finding]:
    return evaluate_orders_context(Evaluation(facts, policy))
