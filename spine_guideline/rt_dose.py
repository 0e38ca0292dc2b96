"""The ``rt-dose`` card: TX-8a..c, the minimum radiotherapy schedule."""
from __future__ import annotations

from . import survival
from .common import as_bool, as_number, dedupe_missing, missing_of
from .context import Evaluation
from .facts import tri_and
from .findings import Finding, Indicator, Message, Missing, msg
from .keys import TX_RT_DOSE
from .results import RtDoseResult
from .surgery import Check

RULES = ("TX-8a", "TX-8b", "TX-8c")


def oligometastatic(ctx: Evaluation) -> Check:
    """TX-8a: the ``oligometastatic`` fact (1-3 lesions in total) decides. Without
    it, a spinal count above the maximum rules TX-8a out; a spinal count within
    it does not prove oligometastatic disease (lesions elsewhere are not
    counted), so it stays unknown."""
    facts = ctx.facts
    max_lesions = ctx.tx("oligometastatic_max_lesions")
    oligo = facts.obs("oligometastatic")
    if oligo.is_known:
        return Check("tx.rtdose.crit.oligometastatic", as_bool(oligo), "TX-8a", (oligo,), [], {"max": max_lesions})
    count_fact = facts.obs("spinal-metastasis-count")
    count = as_number(count_fact)
    counted = False
    if count is None:
        levels = facts.metastatic_levels()
        count = len(levels) if levels else None
        counted = True
    if count is not None and count > max_lesions:
        return Check("tx.rtdose.crit.spinal-count-over", False, "TX-8a",
                     () if counted else (count_fact,), [], {"count": int(count), "max": max_lesions})
    return Check("tx.rtdose.crit.oligometastatic", None, "TX-8a", (), [missing_of(oligo, "oligometastatic")],
                 {"max": max_lesions, "count": "?" if count is None else int(count)})


def good_condition(ctx: Evaluation) -> Check:
    """TX-8b good condition: ``good-general-condition`` when recorded (it
    overrides); else KPS >= 70 or WHO <= 1, each recorded scale judged on its
    own (met when any passes, not met when every recorded scale fails)."""
    facts = ctx.facts
    ggc = facts.obs("good-general-condition")
    min_kps = ctx.tx("good_condition_min_kps")
    max_ecog = ctx.tx("good_condition_max_ecog")
    params = {"kps": min_kps, "ecog": max_ecog}
    if ggc.is_known:
        return Check("tx.rtdose.crit.good-general-condition", as_bool(ggc), "TX-8b", (ggc,), [], params)
    kps, ecog = facts.obs("karnofsky"), facts.obs("ecog")
    kps_value, ecog_value = as_number(kps), as_number(ecog)
    answers = []
    used = []
    if kps_value is not None:
        answers.append(kps_value >= min_kps)
        used.append(kps)
    if ecog_value is not None:
        answers.append(ecog_value <= max_ecog)
        used.append(ecog)
    if not answers:
        return Check("tx.rtdose.crit.performance", None, "TX-8b", (), [missing_of(kps, "karnofsky")], params)
    return Check("tx.rtdose.crit.performance", any(answers), "TX-8b", tuple(used), [], params)


def long_life_expectancy(ctx: Evaluation) -> Check:
    months = ctx.tx("life_expectancy_long_months")
    groups = ctx.policy.get("survival", "over_one_year_groups")
    le = survival.life_expectancy_over(ctx.facts, ctx.policy, months, groups)
    params = {"months": months, "groups": groups}
    if le.basis == "clinician":
        return Check("tx.rtdose.crit.life-expectancy-clinician", le.over, "TX-8b", le.facts, [],
                     {**params, "value": le.months})
    est = ctx.survival
    if le.basis == "model":
        return Check("tx.rtdose.crit.life-expectancy-model", le.over, "TX-8b", le.facts,
                     [] if le.over is not None else [Missing("life-expectancy")],
                     {**params, "group": list(est.groups)})
    return Check("tx.rtdose.crit.life-expectancy-unknown", None, "TX-8b", (),
                 [Missing("life-expectancy"), *est.missing], params)


def evaluate_rt_dose(ctx: Evaluation) -> Finding:
    schedules = ctx.tx("rt_schedules")
    a = oligometastatic(ctx)
    deficit = ctx.deficit
    d = Check("tx.rtdose.crit.deficit", deficit.value, "TX-8b", tuple(f for f in deficit.facts if f.is_known),
              [] if deficit.value is not None else [missing_of(f, f.name) for f in deficit.facts if f.is_unknown])
    g = good_condition(ctx)
    le = long_life_expectancy(ctx)
    b_value = tri_and(d.value, g.value, le.value)
    if a.value is True:
        rule = "TX-8a"
    elif b_value is True:
        rule = "TX-8b"
    else:
        rule = "TX-8c"
    could: list[str] = []
    missing: list[Missing] = []
    if rule != "TX-8a" and a.value is None:
        could.append("TX-8a")
        missing.extend(a.missing)
    if rule == "TX-8c" and b_value is None:
        could.append("TX-8b")
        for c in (d, g, le):
            if c.value is None:
                missing.extend(c.missing)
    notes: list[Message] = []
    if could:
        notes.append(msg("tx.rtdose.note.could-change", rules=could))
    if le.key == "tx.rtdose.crit.life-expectancy-model" and d.value is not False and g.value is not False:
        notes.append(msg("tx.rtdose.note.model-used"))  # the model's group decided (or could decide) TX-8b
        # TX-8b only applies with a deficit, and the model was derived without one
        notes.append(msg("tx.rtdose.note.model-deficit-caveat"))
    criteria = [a.criterion(), d.criterion(), g.criterion(), le.criterion()]
    schedule = schedules[rule]
    schedule_key, conclusion_key = TX_RT_DOSE[rule]
    sched_msg = msg(schedule_key)
    summary = msg("tx.rtdose.summary.provisional" if could else "tx.rtdose.summary", schedule=sched_msg, rule=rule)
    return Finding(
        topic="rt-dose", rules=[rule], indicator=Indicator.INFO, summary=summary,
        conclusion=msg(conclusion_key, schedule=sched_msg),
        result=RtDoseResult(schedule=schedule, rule=rule), criteria=criteria,
        missing=dedupe_missing(missing), notes=notes)
