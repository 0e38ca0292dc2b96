"""TX-5 (involve a spine surgeon) and the TX-7 surgery conditions, shared by the
mdo-referral and treatment-modality cards (source 002, TREATMENT)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import as_bool, as_number, hours_since, missing_of
from .facts import Fact, PatientFacts, tri_and, tri_not, tri_or
from .findings import Criterion, Message, Missing, Status, msg
from .mescc import Deficit, longest_contiguous_run, max_sins
from .policy import Policy

RULES = ("TX-5",)
SECTION = "treatment"


@dataclass
class Check:
    key: str
    value: bool | None
    rule: str
    facts: tuple[Fact, ...] = ()
    missing: list[Missing] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def criterion(self) -> Criterion:
        # a decided criterion rests on the known facts; an undecided one also shows what is unknown
        facts = self.facts if self.value is None else tuple(f for f in self.facts if f.is_known or f.searched)
        return Criterion(self.key, Status.of(self.value), self.rule, facts, self.params)


def _cord_lesion(facts: PatientFacts, policy: Policy) -> Check:
    lesion = facts.obs("complete-cord-lesion")
    max_h = policy.get(SECTION, "complete_cord_lesion_max_hours")
    onset = lesion.attr("onset")
    h = hours_since(onset.value, facts.now)
    recent = None if h is None else h < max_h
    improved = facts.obs("improved-after-corticosteroids")
    value = tri_or(tri_not(as_bool(lesion)), recent, as_bool(improved))
    miss: list[Missing] = []
    if value is None:
        if lesion.is_unknown:
            miss.append(missing_of(lesion, "complete-cord-lesion"))
        else:  # a complete lesion: its onset or the response to corticosteroids decides
            if recent is None:
                miss.append(missing_of(onset, "complete-cord-lesion.onset"))
            if improved.is_unknown:
                miss.append(missing_of(improved, "improved-after-corticosteroids"))
    return Check("tx.crit.cord-lesion", value, "TX-5", (lesion, onset, improved), miss, {"hours": max_h})


def _contiguous(facts: PatientFacts, policy: Policy) -> Check:
    max_v = policy.get(SECTION, "max_contiguous_vertebrae")
    acv = facts.obs("affected-contiguous-vertebrae")
    count = as_number(acv)
    if count is not None:
        return Check("tx.crit.contiguous", count <= max_v, "TX-5", (acv,), [], {"count": int(count), "max": max_v})
    levels = facts.metastatic_levels()
    if levels:
        run = longest_contiguous_run(levels)
        return Check("tx.crit.contiguous-counted", run <= max_v, "TX-5", (acv,), [],
                     {"count": run, "max": max_v, "levels": levels})
    return Check("tx.crit.contiguous", None, "TX-5", (acv,),
                 [missing_of(acv, "affected-contiguous-vertebrae")], {"count": "?", "max": max_v})


def tx5_checks(facts: PatientFacts, policy: Policy, deficit: Deficit) -> tuple[Check, ...]:
    """TX-5: involve a spine surgeon when all hold; criteria that do not apply are met."""
    fit = facts.obs("fit-for-surgery")
    out = [Check("tx.crit.fit-for-surgery", as_bool(fit), "TX-5", (fit,),
                 [] if fit.is_known else [missing_of(fit, "fit-for-surgery")]),
           _cord_lesion(facts, policy), _contiguous(facts, policy)]
    s24 = facts.obs("surgery-within-24h-possible")
    value = tri_or(tri_not(deficit.value), as_bool(s24))
    miss: list[Missing] = []
    if value is None:
        if deficit.value is None:
            miss.extend(missing_of(f, f.name) for f in deficit.facts if f.is_unknown)
        if s24.is_unknown:
            miss.append(missing_of(s24, "surgery-within-24h-possible"))
    out.append(Check("tx.crit.surgery-within-24h", value, "TX-5", (s24, *deficit.facts), miss))
    return tuple(out)


def surgery_checks(facts: PatientFacts) -> tuple[Check, ...]:
    """TX-7: the conditions under which surgery is preferred."""
    mech = facts.obs("mechanical-pain")
    _sins, sins_fact = max_sins(facts)
    out = [Check("tx.crit.mechanical-pain", as_bool(mech), "TX-7",
                 (mech,) + ((sins_fact,) if sins_fact is not None else ()),
                 [] if mech.is_known else [missing_of(mech, "mechanical-pain")], {})]
    after_rt = facts.obs("progression-after-rt")
    reirr = facts.obs("re-irradiation-possible")
    value = tri_and(as_bool(after_rt), tri_not(as_bool(reirr)))
    miss: list[Missing] = []
    if value is None:
        if after_rt.is_unknown:
            miss.append(missing_of(after_rt, "progression-after-rt"))
        if reirr.is_unknown:
            miss.append(missing_of(reirr, "re-irradiation-possible"))
    out.append(Check("tx.crit.progression-after-rt", value, "TX-7", (after_rt, reirr), miss))
    under = facts.obs("progression-under-rt-and-steroids")
    out.append(Check("tx.crit.progression-under-rt", as_bool(under), "TX-7", (under,),
                     [] if under.is_known else [missing_of(under, "progression-under-rt-and-steroids")]))
    return tuple(out)


def sins_support_note(facts: PatientFacts, policy: Policy) -> list[Message]:
    sins, sins_fact = max_sins(facts)
    threshold = policy.get(SECTION, "sins_unstable_min")
    if sins is not None and sins >= threshold and sins_fact is not None:
        return [msg("tx.note.sins-support", score=sins, level=sins_fact.level or "-", threshold=threshold)]
    return []
