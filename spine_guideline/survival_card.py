"""The ``survival-estimate`` card: TX-4 (the model itself is :mod:`.survival`)."""
from __future__ import annotations

from .common import as_number
from .context import Evaluation
from .findings import Finding, Indicator, Link, Message, msg
from .keys import TX_SURVIVAL_SCALE, TX_TUMOUR, pick
from .results import SurvivalResult
from .survival import clinician_life_expectancy

RULES = ("TX-4",)


def evaluate_survival(ctx: Evaluation) -> Finding:
    policy = ctx.policy
    est = ctx.survival
    le_months = as_number(clinician_life_expectancy(ctx.facts))
    result = SurvivalResult(
        model=est.model, score=est.score, score_range=est.score_range, groups=est.groups, group=est.group,
        medians=est.medians,
        basis="clinician" if le_months is not None else ("model" if est.computed else "none"),
        life_expectancy_months=le_months)

    notes: list[Message] = []
    if est.performance_scale is not None:
        notes.append(pick(TX_SURVIVAL_SCALE, est.performance_scale, value=est.performance_value,
                          low=est.kps_used[0] if est.kps_used else "?",
                          high=est.kps_used[1] if est.kps_used else "?"))
    if est.tumour is not None:
        notes.append(msg("tx.survival.input.tumour", tumour=pick(TX_TUMOUR, est.tumour)))
    if est.visceral is not None:
        notes.append(msg("tx.survival.input.visceral-present" if est.visceral
                         else "tx.survival.input.visceral-none-recorded" if est.visceral_searched_only
                         else "tx.survival.input.visceral-absent"))
    notes.extend(est.notes)
    if ctx.deficit.value is True:
        notes.append(msg("tx.survival.note.deficit-caveat"))
    if le_months is not None:
        notes.append(msg("tx.survival.note.clinician-precedence", months=le_months))

    if le_months is not None:
        summary = msg("tx.survival.summary.clinician", months=le_months)
        conclusion = msg("tx.survival.conclusion.clinician", months=le_months)
    elif est.score_range is not None:
        summary = msg("tx.survival.summary.range", low=est.score_range[0], high=est.score_range[1],
                      groups=list(dict.fromkeys(est.groups)),
                      medians=[str(m) for m in dict.fromkeys(est.medians)])
        conclusion = msg("tx.survival.conclusion.range", low=est.score_range[0], high=est.score_range[1])
    elif est.computed:
        summary = msg("tx.survival.summary", score=est.score, group=est.group, median=est.medians[0])
        conclusion = msg("tx.survival.conclusion", score=est.score, group=est.group, median=est.medians[0])
    else:
        summary = msg("tx.survival.summary.incomplete")
        conclusion = msg("tx.survival.conclusion.incomplete")
    links = [Link(msg("tx.survival.link.van-der-linden"), policy.get("survival", "van_der_linden_url")),
             Link(msg("tx.survival.link.bartels"), policy.get("survival", "bartels_url")),
             Link(msg("tx.survival.link.bollen"), policy.get("survival", "bollen_url"))]
    return Finding(
        topic="survival-estimate", rules=["TX-4"], indicator=Indicator.INFO, summary=summary,
        conclusion=conclusion, result=result,
        missing=[] if le_months is not None else list(est.missing), notes=notes, links=links)
