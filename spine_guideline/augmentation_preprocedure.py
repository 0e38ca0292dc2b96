"""VPBK-P: what must be in order before the procedure (sources 001, 003).

Each check is ok / not-ok / unknown (P-2, P-4, P-5 may be ``attention``, P-6 is
``info``). None of them changes the eligibility verdict.
"""
from __future__ import annotations

from typing import Any

from .augmentation_common import bool_obs, num_obs, policy_value
from .common import why
from .facts import Fact, PatientFacts, SearchStatus, Unknown
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, Suggestion, msg
from .keys import VPBK_PRE_CHECK, VPBK_PRE_LAB, VPBK_PRE_STATUS, VPBK_SUGGEST_LAB, pick
from .policy import Policy
from .results import CheckStatus, PreprocedureResult

PREPROCEDURE_OVERRIDES = ["checked-outside-ehr", "procedure-postponed", "clinical-judgement"]


_STATUS_OF_CHECK = {CheckStatus.OK: Status.MET, CheckStatus.NOT_OK: Status.NOT_MET, CheckStatus.UNKNOWN: Status.UNKNOWN,
                    CheckStatus.ATTENTION: Status.NOT_MET, CheckStatus.INFO: Status.MET}
#: a check still to arrange before the procedure
_OPEN = (CheckStatus.NOT_OK, CheckStatus.UNKNOWN, CheckStatus.ATTENTION)


class _Checks:
    def __init__(self) -> None:
        self.checks: list[tuple[str, CheckStatus]] = []
        self.criteria: list[Criterion] = []
        self.missing: list[Missing] = []
        self.suggestions: list[Suggestion] = []
        self.rules: list[str] = []
        self.notes: list[Message] = []

    def add(self, code: str, status: CheckStatus, rule: str, key: str, *facts: Fact, **params: Any) -> None:
        self.checks.append((code, status))
        if rule not in self.rules:
            self.rules.append(rule)
        self.criteria.append(Criterion(key, _STATUS_OF_CHECK[status], rule,
                                       tuple(f for f in facts if f is not None),
                                       {"status": pick(VPBK_PRE_STATUS, status.value), **params}))

    def lab(self, code: str, fact: Fact) -> None:
        self.missing.append(Missing(code, why(fact)))
        self.suggestions.append(Suggestion("create-lab-order", pick(VPBK_SUGGEST_LAB, code),
                                           {"lab": code}))


def _inr(c: _Checks, facts: PatientFacts, policy: Policy) -> None:
    inr = num_obs(facts, "inr")
    limit = policy_value(policy, "inr_max_exclusive")
    if inr.value is None:
        c.add("inr", CheckStatus.UNKNOWN, "VPBK-P-1", "vpbk.pre.crit.inr", inr, value="-", limit=limit)
        c.lab("inr", inr)
    else:
        c.add("inr", CheckStatus.OK if inr.value < limit else CheckStatus.NOT_OK, "VPBK-P-1", "vpbk.pre.crit.inr", inr,
              value=inr.value, limit=limit)


def _anticoagulants(c: _Checks, facts: PatientFacts) -> None:
    anticoag = facts.medication("anticoagulant")
    plan = bool_obs(facts, "anticoagulant-plan-agreed", None)
    if anticoag.is_true:
        status = CheckStatus.OK if plan.is_true else CheckStatus.ATTENTION
    elif anticoag.is_false:
        status = CheckStatus.OK
    else:
        status = CheckStatus.UNKNOWN
        c.missing.append(Missing("anticoagulant", why(anticoag)))
    c.add("anticoagulants", status, "VPBK-P-2", "vpbk.pre.crit.anticoagulants", anticoag, plan)


def _labs(c: _Checks, facts: PatientFacts) -> None:
    aptt = num_obs(facts, "aptt")
    pt = num_obs(facts, "pt")
    inr = num_obs(facts, "inr")
    sodium = num_obs(facts, "sodium")
    potassium = num_obs(facts, "potassium")
    creat = num_obs(facts, "creatinine")
    absent: list[tuple[str, Fact]] = []
    if aptt.value is None:
        absent.append(("aptt", aptt))
    if pt.value is None and inr.value is None:
        absent.append(("pt", pt))
    if sodium.value is None or potassium.value is None:
        absent.append(("electrolytes", sodium if sodium.value is None else potassium))
    if creat.value is None:
        absent.append(("creatinine", creat))
    for code, fact in absent:
        c.lab(code, fact)
    c.add("labs", CheckStatus.OK if not absent else CheckStatus.UNKNOWN, "VPBK-P-3", "vpbk.pre.crit.labs",
          aptt, pt, inr, sodium, potassium, creat,
          absent=[pick(VPBK_PRE_LAB, code) for code, _ in absent] or "-")


def _ecg_chest(c: _Checks, facts: PatientFacts) -> None:
    """VPBK-P-3: an ECG and a chest X-ray are made before the procedure. One that is
    not recorded is still to arrange (``unknown``), never ``not-ok``: the search
    finding nothing says only that it has not been recorded yet."""
    searched = ("Observation", "DiagnosticReport", "Procedure")
    ecg = facts.event("ecg", searched=searched)
    cxr = facts.event("chest-xray", searched=searched)
    status = CheckStatus.OK if ecg.is_true and cxr.is_true else CheckStatus.UNKNOWN
    for code, f in (("ecg", ecg), ("chest-xray", cxr)):
        if not f.is_true:
            c.missing.append(Missing(code, why(f)))
    c.add("ecg-chest-xray", status, "VPBK-P-3", "vpbk.pre.crit.ecg-chest-xray", ecg, cxr)


def _allergies(c: _Checks, facts: PatientFacts) -> None:
    """VPBK-P-4: hypersensitivity to medication, contrast or iodine must be known.
    Known means recorded: a medication or contrast allergy (attention), a recorded
    "no known allergy", or other recorded allergies (listed on the card). An empty
    allergy list is no knowledge (nobody may have asked): ``unknown``, to arrange."""
    med = facts.allergy("medication")
    contrast = facts.allergy("iodinated-contrast")
    recorded = tuple(Fact("allergy", True, (a.source,), note=a.substance) for a in facts.allergies)
    if med.is_true or contrast.is_true:
        status = CheckStatus.ATTENTION
    elif recorded:
        status = CheckStatus.OK
    else:
        status = CheckStatus.UNKNOWN
        failed = facts.search_status("AllergyIntolerance") == SearchStatus.FAILED
        c.missing.append(Missing("allergies", (Unknown.SEARCH_FAILED if failed else Unknown.NOT_RECORDED).value))
    c.add("allergies", status, "VPBK-P-4", "vpbk.pre.crit.allergies", med, contrast, *recorded)


def _pregnancy_applies(facts: PatientFacts, low: int, high: int) -> bool | None:
    """VPBK-P-5 applies to women aged 12-55 (policy): False when either is known not to hold."""
    age = facts.age_years()
    female = None if facts.sex is None else facts.sex == "female"
    in_age = None if age is None else low <= age <= high
    if female is False or in_age is False:
        return False
    return None if (female is None or in_age is None) else True


def _pregnancy(c: _Checks, facts: PatientFacts, policy: Policy) -> None:
    """Pregnancy (known or suspected) must be reported (source 003)."""
    low = policy_value(policy, "pregnancy_age_min")
    high = policy_value(policy, "pregnancy_age_max")
    applies = _pregnancy_applies(facts, low, high)
    obs = bool_obs(facts, "pregnancy", None)
    cond = facts.condition("pregnancy")
    # a pregnancy Condition wins over a negative Observation (the conflict is shown);
    # an absent Condition is no answer: a woman of 12-55 is asked unless an
    # Observation says she is not pregnant
    pregnant = True if (cond.is_true or obs.is_true) else obs.value
    if cond.is_true and obs.is_false:
        c.notes.append(msg("vpbk.pre.note.pregnancy-conflict"))
    if pregnant is True:
        status = CheckStatus.ATTENTION
    elif applies is False or pregnant is False:
        status = CheckStatus.OK
    else:
        status = CheckStatus.UNKNOWN
        c.missing.append(Missing("pregnancy", why(obs)))
    key = "vpbk.pre.crit.pregnancy-not-applicable" if applies is False and pregnant is not True \
        else "vpbk.pre.crit.pregnancy"
    c.add("pregnancy", status, "VPBK-P-5", key, obs, cond, low=low, high=high)


def _result(c: _Checks) -> PreprocedureResult:
    """The checks (the service adds ``missing`` from the finding's)."""
    return PreprocedureResult(checks=tuple(c.checks))


def finding(facts: PatientFacts, policy: Policy, *, key: str | None) -> Finding:
    c = _Checks()
    _inr(c, facts, policy)
    _anticoagulants(c, facts)
    _labs(c, facts)
    _ecg_chest(c, facts)
    _allergies(c, facts)
    _pregnancy(c, facts, policy)
    c.add("fasting-antibiotics-aftercare", CheckStatus.INFO, "VPBK-P-6", "vpbk.pre.crit.fasting-antibiotics-aftercare")
    open_items = [code for code, status in c.checks if status in _OPEN]
    indicator = Indicator.WARNING if open_items else Indicator.INFO
    if open_items:
        summary = msg("vpbk.pre.summary.open", count=len(open_items))
        conclusion = msg("vpbk.pre.conclusion.open", items=[pick(VPBK_PRE_CHECK, x) for x in open_items])
    else:
        summary = msg("vpbk.pre.summary.ok")
        conclusion = msg("vpbk.pre.conclusion.ok")
    return Finding(
        topic="vpbk-preprocedure", rules=list(c.rules), indicator=indicator, summary=summary,
        conclusion=conclusion, result=_result(c), criteria=c.criteria, missing=c.missing,
        notes=[msg("vpbk.pre.note.fasting"), msg("vpbk.pre.note.antibiotics"),
               msg("vpbk.pre.note.duration"), msg("vpbk.pre.note.aftercare"),
               msg("vpbk.pre.note.never-changes-verdict")] + c.notes,
        suggestions=c.suggestions,
        override_reasons=list(PREPROCEDURE_OVERRIDES) if indicator != Indicator.INFO else [],
        key=key)
