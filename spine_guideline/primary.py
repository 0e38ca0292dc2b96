"""DX-4 / DX-5: is a primary tumour known, and is there doubt about the link
with it? (source 002, DIAGNOSIS). Read by the workup and corticosteroids cards."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from .common import add_missing, add_years, missing_of
from .facts import Cancer, CancerCategory, Fact, PatientFacts, Unknown, tri_not, tri_or
from .findings import Criterion, Message, Missing, Status, msg
from .keys import DX_CANCER, DX_INTERVAL_REF, pick
from .policy import Policy

RULES = ("DX-4",)
SECTION = "diagnosis"


@dataclass
class PrimaryStatus:
    known: Fact                          # a known primary tumour (not suspected)
    primaries: list[Cancer]
    doubt: bool | None                   # DX-4 (None also when no known primary)
    reasons: list[str]                   # established reasons (codes)
    criteria: list[Criterion] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)

    @property
    def tissue_needed(self) -> bool | None:
        """DX-5 / DX-6: no known primary, or doubt established."""
        return tri_or(tri_not(self.known), self.doubt)


def _why_no_primary_notes(facts: PatientFacts) -> list[Message]:
    """Why no primary is known (C80 code, a secondary, only suspected); with a known primary
    they are noise, so the caller only uses them without one."""
    notes: list[Message] = []
    if any(c.category == CancerCategory.UNKNOWN_PRIMARY for c in facts.cancers):
        notes.append(msg("dx.note.unknown-primary-code"))
    if any(c.category == CancerCategory.SECONDARY for c in facts.cancers):
        notes.append(msg("dx.note.secondary-not-primary"))
    if any(c.suspected for c in facts.primary_cancers(include_history=True)):
        notes.append(msg("dx.note.suspected-primary"))
    return notes


def _unrecognised_primary(facts: PatientFacts) -> tuple[Fact, Message, Missing] | None:
    """A cancer the code lists do not know: whether a primary is known is unreadable."""
    unrecognised = [c for c in facts.cancers if c.category == CancerCategory.UNRECOGNISED]
    if not unrecognised:
        return None
    note = msg("dx.note.unrecognised-cancer", codes=[c.code or c.source.reference for c in unrecognised])
    fact = Fact("known-primary", None, tuple(c.source for c in unrecognised), unknown=Unknown.UNREADABLE)
    return fact, note, Missing("primary-cancer", "unreadable")


def known_primary(facts: PatientFacts) -> tuple[Fact, list[Cancer], list[Message], list[Missing]]:
    primaries = [c for c in facts.primary_cancers(include_history=True) if not c.suspected]
    if primaries:
        return Fact("known-primary", True, tuple(c.source for c in primaries)), primaries, [], []
    notes = _why_no_primary_notes(facts)
    unrecognised = _unrecognised_primary(facts)
    if unrecognised is not None:
        fact, note, missing = unrecognised
        return fact, [], notes + [note], [missing]
    fact = facts.absent("known-primary", None, "Condition")
    return fact, [], notes, [missing_of(fact, "primary-cancer")] if fact.is_unknown else []


def _interval_reference(facts: PatientFacts) -> tuple[date, str]:
    onsets = [c.onset for c in facts.condition_records("spinal-metastasis") if c.onset]
    if onsets:
        first = min(o.date() if isinstance(o, datetime) else o for o in onsets)
        return first, "spinal-metastasis"
    return facts.now.date(), "now"


def _long_interval(facts: PatientFacts, policy: Policy, primaries: list[Cancer],
                   criteria: list[Criterion], missing: list[Missing]) -> bool | None:
    """DX-4 interval: long only when it is long for every known primary."""
    ref_date, ref_kind = _interval_reference(facts)
    lung_types = set(policy.get(SECTION, "doubt_interval_lung_types"))
    per_primary: list[bool | None] = []
    for c in primaries:
        limit = policy.get(SECTION, "doubt_interval_years_lung" if c.cancer_type in lung_types
                           else "doubt_interval_years_other")
        onset = c.onset.date() if isinstance(c.onset, datetime) else c.onset
        long_: bool | None
        years: float | str
        if onset is None:
            long_ = None
            add_missing(missing, Missing("primary-cancer-onset", "not-recorded"))
            years = "?"
        else:
            long_ = ref_date > add_years(onset, limit)
            years = round((ref_date - onset).days / 365.25, 1)
        per_primary.append(long_)
        criteria.append(Criterion(
            "dx.crit.long-interval", Status.of(long_), "DX-4",
            (Fact("primary-cancer-onset", onset, (c.source,), note=c.onset_field),),
            {"type": pick(DX_CANCER, c.cancer_type), "years": years, "limit": limit,
             "onset": onset.isoformat() if onset else "?",
             "onset_field": c.onset_field or "?", "reference": pick(DX_INTERVAL_REF, ref_kind)}))
    if any(v is False for v in per_primary):
        return False
    if per_primary and all(v is True for v in per_primary):
        return True
    return None


def primary_status(facts: PatientFacts, policy: Policy) -> PrimaryStatus:
    known, primaries, notes, missing = known_primary(facts)
    criteria = [Criterion("dx.crit.known-primary.types" if primaries else "dx.crit.known-primary",
                          Status.of(known.value), "DX-5", (known,),
                          {"types": [pick(DX_CANCER, c.cancer_type) for c in primaries]} if primaries else {})]
    if not known.is_true:
        reasons = ["no-known-primary"] if known.is_false else []
        return PrimaryStatus(known, primaries, None, reasons, criteria, missing, notes)

    atypical = facts.obs("atypical-radiology")
    elsewhere = facts.obs("progression-elsewhere")
    criteria.append(Criterion("dx.crit.atypical-radiology", Status.of(atypical.value), "DX-4", (atypical,)))
    criteria.append(Criterion("dx.crit.no-progression-elsewhere", Status.of(tri_not(elsewhere)),
                              "DX-4", (elsewhere,)))
    if atypical.is_unknown:
        missing.append(missing_of(atypical))
    if elsewhere.is_unknown:
        missing.append(missing_of(elsewhere))
    long_interval = _long_interval(facts, policy, primaries, criteria, missing)

    reasons = []
    if atypical.is_true:
        reasons.append("atypical-radiology")
    if elsewhere.is_false:
        reasons.append("no-progression-elsewhere")
    if long_interval is True:
        reasons.append("long-interval")
    doubt = tri_or(atypical, tri_not(elsewhere), long_interval)
    return PrimaryStatus(known, primaries, doubt, reasons, criteria, missing, notes)
