"""Treatment of spinal metastases: rules TX-1 to TX-10 (source 002, TREATMENT).

The topics live in their own modules, each with the rule IDs it implements in
``RULES``: :mod:`.treatment_window` (TX-2a..d, TX-1), :mod:`.mdo` (TX-3,
TX-5), :mod:`.modality` (TX-6, TX-7, TX-7a..c, TX-10), :mod:`.rt_dose`
(TX-8a..c), :mod:`.survival_card` (TX-4, model in :mod:`.survival`) and
:mod:`.aftercare` (TX-9, TX-10); :mod:`.mescc` and :mod:`.surgery` hold what
they share.

Entry condition of every topic: a spinal-metastasis Condition (suspected or
confirmed), a cord-compression Condition, or a Bilsky grade >= 2 at some
level. Only positive evidence opens a topic: when none of these is recorded
(or the searches failed) the module stays silent, as for any patient without
a spinal metastasis.
"""
from __future__ import annotations

from .aftercare import evaluate_aftercare
from .context import Evaluation
from .facts import PatientFacts
from .findings import Finding
from .mdo import evaluate_mdo_referral
from .mescc import in_scope, radiological_mescc
from .modality import evaluate_modality
from .policy import Policy
from .rt_dose import evaluate_rt_dose
from .survival_card import evaluate_survival
from .treatment_window import evaluate_treatment_window

TOPIC_MODULES = ("mescc", "surgery", "treatment_window", "mdo", "modality", "rt_dose", "survival_card", "aftercare")

__all__ = ["evaluate", "evaluate_context", "evaluate_orders", "in_scope", "radiological_mescc"]


def evaluate_context(ctx: Evaluation) -> list[Finding]:
    if not in_scope(ctx.facts, ctx.policy):
        return []
    out = [evaluate_treatment_window(ctx), evaluate_mdo_referral(ctx), evaluate_modality(ctx),
           evaluate_rt_dose(ctx), evaluate_survival(ctx), evaluate_aftercare(ctx)]
    return [f for f in out if f is not None]


def evaluate(facts: PatientFacts, policy: Policy) -> list[Finding]:
    return evaluate_context(Evaluation(facts, policy))


def evaluate_orders(facts: PatientFacts, policy: Policy) -> list[Finding]:
    """The contract puts no treatment topic on the order hooks."""
    return []
