"""DX-1 .. DX-7: diagnosis of suspected spinal metastases (source 002, DIAGNOSIS).

Topics (api-contract.md):

* ``mri-urgency`` (DX-1, DX-2a..f): MRI of the whole spine and its deadline;
* ``corticosteroids`` (DX-3, DX-6, DX-7, dose TX-1): start or withhold;
* ``diagnostic-workup`` (DX-4, DX-5): (PET-)CT and biopsy when no primary
  tumour is known or the link with the known one is in doubt;
* ``mri-order`` (order hooks): does a spine MRI draft order meet DX-2?

Pure functions over :class:`PatientFacts`; every text is a message key
(catalogs ``cds_service/messages/{en,nl}/diagnosis.json``), every threshold
and policy choice comes from ``data/diagnosis.json`` through :class:`Policy`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .facts import (
    Cancer,
    CancerCategory,
    DraftOrder,
    Event,
    Fact,
    PatientFacts,
    SearchStatus,
    Source,
    Unknown,
    tri_and,
    tri_not,
    tri_or,
)
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, Suggestion, msg
from .policy import Policy

SECTION = "diagnosis"

ROWS = ("DX-2a", "DX-2b", "DX-2c", "DX-2d", "DX-2e")
DEFICITS = ("radicular-deficit", "severe-neurological-deficit")
MRI_ORDER_KINDS = ("mri-whole-spine", "mri-segment")

OVERRIDE_MRI = ("already-arranged", "patient-declines", "clinical-judgement")
OVERRIDE_STEROIDS = ("clinical-judgement", "tissue-diagnosis-obtained", "patient-declines")
OVERRIDE_WORKUP = ("already-arranged", "clinical-judgement", "patient-declines")
OVERRIDE_ORDER = ("clinical-judgement", "already-arranged")


def _p(policy: Policy, key: str) -> Any:
    return policy.get(SECTION, key)


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------

def _missing(fact: Fact, code: str | None = None) -> Missing:
    why = fact.unknown.value if fact.unknown is not None else "not-recorded"
    return Missing(code or fact.name, why, fact.level)


def _add_missing(out: list[Missing], item: Missing) -> None:
    if all(m.code != item.code for m in out):
        out.append(item)


def _uniq(items: list[Fact]) -> tuple[Fact, ...]:
    seen: set[int] = set()
    out = []
    for f in items:
        if id(f) not in seen:
            seen.add(id(f))
            out.append(f)
    return tuple(out)


def _add_note(out: list[Message], note: Message) -> None:
    if note not in out:
        out.append(note)


def _aware(moment: datetime, like: datetime) -> datetime:
    """Give ``moment`` the time zone of ``like`` when exactly one is naive."""
    if (moment.tzinfo is None) == (like.tzinfo is None):
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=like.tzinfo)
    return moment.replace(tzinfo=None)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def days_since(onset: Any, now: datetime) -> int | None:
    """Whole days elapsed from ``onset`` to ``now`` (rounded down; never negative)."""
    moment = _as_datetime(onset)
    if moment is None:
        return None
    if isinstance(onset, date) and not isinstance(onset, datetime):
        return max(0, (now.date() - onset).days)
    elapsed = now - _aware(moment, now)
    return max(0, int(elapsed.total_seconds() // 86400))


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def duration(hours: float | int | None) -> Message:
    """A window as words: 12 hours, 1 week, 2 weeks, 3 days."""
    if hours is None:
        return msg("dx.duration.unknown")
    if isinstance(hours, float) and not hours.is_integer():
        return msg("dx.duration.hours", n=round(hours, 1))
    n = int(hours)
    if n >= 168 and n % 168 == 0:
        return msg("dx.duration.week" if n == 168 else "dx.duration.weeks", n=n // 168)
    if n > 48 and n % 24 == 0:
        return msg("dx.duration.days", n=n // 24)
    return msg("dx.duration.hours", n=n)


def window_indicator(hours: int | None, policy: Policy) -> Indicator:
    if hours is None:
        return Indicator.INFO
    if hours <= _p(policy, "indicator_critical_max_hours"):
        return Indicator.CRITICAL
    if hours <= _p(policy, "indicator_warning_max_hours"):
        return Indicator.WARNING
    return Indicator.INFO


_SEVERITY = {Indicator.INFO: 0, Indicator.WARNING: 1, Indicator.CRITICAL: 2}


def _max_indicator(*indicators: Indicator) -> Indicator:
    return max(indicators, key=_SEVERITY.__getitem__)


def mri_priority(hours: int, policy: Policy) -> str:
    table = {int(k): v for k, v in _p(policy, "mri_priority_by_window_hours").items()}
    for limit in sorted(table):
        if hours <= limit:
            return table[limit]
    return table[max(table)]


def _absent(facts: PatientFacts, name: str, *resource_types: str) -> Fact:
    """No record found: false ("none recorded") when the search succeeded, else unknown."""
    status = facts.search_status(*resource_types)
    searched = ", ".join(resource_types)
    if status == SearchStatus.OK:
        return Fact(name, False, (), searched=searched)
    why = Unknown.SEARCH_FAILED if status == SearchStatus.FAILED else Unknown.NOT_RECORDED
    return Fact(name, None, (), unknown=why, searched=searched)


# ---------------------------------------------------------------------------
# DX-1: suspicion
# ---------------------------------------------------------------------------

@dataclass
class Suspicion:
    value: bool | None                    # DX-1 suspicion (metastasis or MESCC)
    metastasis: bool | None               # back pain with an alarm symptom
    mescc: bool | None                    # increasing radicular/cauda/myelopathic symptoms
    back_pain: Fact
    alarms: dict[str, Fact]
    criteria: list[Criterion] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)


def back_pain_fact(facts: PatientFacts, policy: Policy) -> Fact:
    """``back-pain``, also true when an alarm symptom that is a form of back pain is true (policy)."""
    recorded = facts.obs("back-pain")
    if recorded.is_true:
        return recorded
    implied = [facts.obs(n) for n in _p(policy, "back_pain_implied_by")]
    implied_true = [f for f in implied if f.is_true]
    if implied_true:
        return Fact("back-pain", True, tuple(s for f in implied_true for s in f.sources),
                    note="implied-by-alarm-symptom")
    return recorded


def suspicion(facts: PatientFacts, policy: Policy) -> Suspicion:
    back_pain = back_pain_fact(facts, policy)
    alarms = {name: facts.obs(name) for name in _p(policy, "alarm_symptoms")}
    any_alarm = tri_or(*alarms.values())
    metastasis = tri_and(back_pain, any_alarm)

    criteria = [Criterion("dx.crit.back-pain", Status.of(back_pain.value), "DX-1", (back_pain,))]
    if back_pain.note == "implied-by-alarm-symptom":
        criteria[0] = Criterion("dx.crit.back-pain-implied", Status.MET, "DX-1", (back_pain,))
    for name, fact in alarms.items():
        criteria.append(Criterion(f"dx.crit.alarm.{name}", Status.of(fact.value), "DX-1", (fact,)))

    notes: list[Message] = []
    missing: list[Missing] = []
    mescc_deficit = facts.obs("mescc-deficit")
    parts: list[bool | None] = [mescc_deficit.value]
    used: list[Fact] = [mescc_deficit]
    stricter = _p(policy, "unknown_progression_takes_stricter_row")
    for name in DEFICITS:
        deficit = facts.obs(name)
        if name == "severe-neurological-deficit" and not deficit.is_true:
            continue  # only a recorded severe deficit adds to the picture (see report)
        progressive = deficit.attr("progressive")
        used.extend([deficit, progressive] if deficit.is_true else [deficit])
        prog_value = progressive.value
        if deficit.is_true and prog_value is None and stricter:
            prog_value = True
            _add_note(notes, msg("dx.note.policy.unknown-progression", deficit=msg(f"dx.fact.{name}")))
            _add_missing(missing, _missing(progressive, f"{name}.progressive"))
        parts.append(tri_and(deficit, prog_value))
    mescc = tri_or(*parts)
    criteria.append(Criterion("dx.crit.mescc-suspicion", Status.of(mescc), "DX-1", tuple(used)))
    value = tri_or(metastasis, mescc)
    return Suspicion(value, metastasis, mescc, back_pain, alarms, criteria, missing, notes)


def known_malignancy(facts: PatientFacts) -> Fact:
    """Any cancer record (primary, secondary, C80, unrecognised; present or history)
    or a spinal-metastasis Condition."""
    sources = [c.source for c in facts.cancers if not c.suspected]
    sources += [c.source for c in facts.condition_records("spinal-metastasis", include_suspected=False)]
    if sources:
        return Fact("known-malignancy", True, tuple(sources))
    return _absent(facts, "known-malignancy", "Condition")


# ---------------------------------------------------------------------------
# DX-2: the neurological picture and the MRI window
# ---------------------------------------------------------------------------

@dataclass
class Picture:
    row: str | None              # decided row, None when undecided
    upper_row: str | None        # the most severe row known to hold (the window is at most this)
    hidden: list[str]            # stricter rows that unknown data could still make apply
    rows: dict[str, Status]
    criteria: list[Criterion] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)
    deciding: dict[str, list[Fact]] = field(default_factory=dict)  # row -> findings that put it there
    variants: dict[str, list[str | None]] = field(default_factory=dict)  # row -> text variant per finding

    def conclusion_key(self) -> str | None:
        """The decided row's conclusion; a variant only when no finding fits the plain row text."""
        if self.row is None:
            return None
        found = self.variants.get(self.row) or [None]
        if None in found:
            return f"dx.mri.conclusion.{self.row}"
        if found[0] == "stable":
            return "dx.mri.conclusion.stable"
        return f"dx.mri.conclusion.{self.row}.{found[0]}"

    def deciding_facts(self) -> list[Fact]:
        """The findings behind the decided row (else the most severe known row)."""
        row = self.row or self.upper_row
        return list(self.deciding.get(row, [])) if row else []

    def window(self, policy: Policy) -> int | None:
        return _p(policy, "mri_window_hours")[self.row] if self.row else None

    def upper_window(self, policy: Policy) -> int | None:
        return _p(policy, "mri_window_hours")[self.upper_row] if self.upper_row else None


def _unilateral_row(deficit: Fact, name: str, facts: PatientFacts, policy: Policy,
                    notes: list[Message], missing: list[Missing]) -> tuple[str | None, str | None]:
    """DX-2b / DX-2c for a unilateral deficit: (row, conclusion variant).

    The row is None when undecided (policy switched off). The variant names what was not
    decided (the conclusion then does not claim it): ``stable``, ``progression-unknown``,
    ``onset-unknown``, ``onset-progression-unknown``; None for the plain table row.
    """
    onset = deficit.attr("onset")
    progressive = deficit.attr("progressive")
    days = days_since(onset.value, facts.now)
    recent = None if days is None else days <= _p(policy, "onset_recent_days")
    label = msg(f"dx.fact.{name}")
    if progressive.is_false:
        stable_row = _p(policy, "stable_unilateral_deficit_row")
        _add_note(notes, msg("dx.note.policy.stable-unilateral", deficit=label, rule=stable_row))
        return stable_row, "stable"
    prog = progressive.value
    if prog is None:
        if recent is False:
            _add_missing(missing, _missing(progressive, f"{name}.progressive"))
            return "DX-2c", "progression-unknown"  # progressive or stable: DX-2c either way
        _add_missing(missing, _missing(progressive, f"{name}.progressive"))
        if not _p(policy, "unknown_progression_takes_stricter_row"):
            return None, None
        _add_note(notes, msg("dx.note.policy.unknown-progression", deficit=label))
    if recent is None:
        _add_missing(missing, _missing(onset, f"{name}.onset"))
        if not _p(policy, "unknown_onset_takes_stricter_row"):
            return None, None
        _add_note(notes, msg("dx.note.policy.unknown-onset", deficit=label))
        return "DX-2b", "onset-progression-unknown" if prog is None else "onset-unknown"
    return ("DX-2b" if recent else "DX-2c"), ("progression-unknown" if prog is None else None)


def neurological_picture(facts: PatientFacts, policy: Policy, back_pain: Fact) -> Picture:
    notes: list[Message] = []
    missing: list[Missing] = []
    presence_missing: list[tuple[str, Missing]] = []  # (most severe row it could reveal, missing)
    definite: set[str] = set()
    hidden: set[str] = set()
    row_facts: dict[str, list[Fact]] = {r: [] for r in ROWS}
    row_params: dict[str, dict[str, Any]] = {r: {} for r in ROWS}
    deciding: dict[str, list[Fact]] = {r: [] for r in ROWS}
    variants: dict[str, list[str | None]] = {r: [] for r in ROWS}

    mescc = facts.obs("mescc-deficit")
    row_facts["DX-2a"].append(mescc)
    if mescc.is_true:
        definite.add("DX-2a")
        deciding["DX-2a"].append(mescc)
        variants["DX-2a"].append(None)
    elif mescc.is_unknown:
        hidden.add("DX-2a")
        presence_missing.append(("DX-2a", _missing(mescc)))

    for name in DEFICITS:
        deficit = facts.obs(name)
        if name == "severe-neurological-deficit" and not deficit.is_true:
            continue
        if deficit.is_unknown:
            # any row from DX-2a (unknown laterality counts as bilateral) to DX-2c
            hidden.update(("DX-2a", "DX-2b", "DX-2c"))
            presence_missing.append(("DX-2a", _missing(deficit)))
            for r in ("DX-2a", "DX-2b", "DX-2c"):
                row_facts[r].append(deficit)
            continue
        if deficit.is_false:
            for r in ("DX-2a", "DX-2b", "DX-2c"):
                row_facts[r].append(deficit)
            continue
        laterality = deficit.attr("laterality")
        lat = laterality.value
        lat_variant = None
        if lat not in ("unilateral", "bilateral"):
            _add_missing(missing, _missing(laterality, f"{name}.laterality"))
            if _p(policy, "unknown_laterality_counts_as_bilateral"):
                _add_note(notes, msg("dx.note.policy.unknown-laterality", deficit=msg(f"dx.fact.{name}")))
                lat, lat_variant = "bilateral", "laterality-unknown"
        if lat == "bilateral":
            definite.add("DX-2a")
            deciding["DX-2a"].append(deficit)
            variants["DX-2a"].append(lat_variant)
            row_facts["DX-2a"].extend([deficit, laterality])
            continue
        if lat is None:  # policy switched off: undecided between DX-2a and DX-2c
            hidden.add("DX-2a")
            definite.add("DX-2c")
            deciding["DX-2c"].append(deficit)
            variants["DX-2c"].append(None)
            row_facts["DX-2c"].append(deficit)
            continue
        row, variant = _unilateral_row(deficit, name, facts, policy, notes, missing)
        onset, progressive = deficit.attr("onset"), deficit.attr("progressive")
        days = days_since(onset.value, facts.now)
        if row is None:
            hidden.add("DX-2b")
            row = "DX-2c"
        definite.add(row)
        deciding[row].append(deficit)
        variants[row].append(variant)
        row_facts[row].extend([deficit, laterality, onset, progressive])
        if days is not None:
            row_params[row] = {"days": days}

    radicular_pain = facts.obs("radicular-pain")
    row_facts["DX-2d"].append(radicular_pain)
    if radicular_pain.is_true:
        definite.add("DX-2d")
        deciding["DX-2d"].append(radicular_pain)
        lat = radicular_pain.attr("laterality")
        if lat.value == "bilateral":
            row_facts["DX-2d"].append(lat)
            _add_note(notes, msg("dx.note.bilateral-radicular-pain"))
    elif radicular_pain.is_unknown:
        hidden.add("DX-2d")
        presence_missing.append(("DX-2d", _missing(radicular_pain)))

    row_facts["DX-2e"].append(back_pain)
    if back_pain.is_true:
        definite.add("DX-2e")
        deciding["DX-2e"].append(back_pain)

    upper = next((r for r in ROWS if r in definite), None)
    stricter_hidden = [r for r in ROWS if r in hidden and (upper is None or ROWS.index(r) < ROWS.index(upper))]
    decided = upper is not None and not stricter_hidden
    relevant = [m for r, m in presence_missing if upper is None or ROWS.index(r) < ROWS.index(upper)]
    for m in reversed(relevant):
        if all(m.code != x.code for x in missing):
            missing.insert(0, m)
    rows = {r: Status.MET if r in definite else Status.UNKNOWN if r in hidden else Status.NOT_MET
            for r in ROWS}
    # keep only the missing data that matters: what could make a stricter row apply,
    # and the attributes the chosen row rests on
    limit = _p(policy, "onset_recent_days")
    criteria = [Criterion(f"dx.crit.row.{r}.days" if "days" in row_params[r] else f"dx.crit.row.{r}",
                          rows[r], r, _uniq(row_facts[r]), {"limit": limit, **row_params[r]})
                for r in ROWS]
    return Picture(upper if decided else None, upper, stricter_hidden, rows, criteria, missing, notes,
                   deciding, variants)


def _has_time(value: Any) -> bool:
    return isinstance(value, datetime) or (isinstance(value, str) and "T" in value)


def _made_after(mri_date: Any, onset: Any) -> bool | None:
    """Whether a study dated ``mri_date`` was made after ``onset``; None when either is unknown.

    With a date only on either side, the study must fall on a later day (the same day
    cannot be told apart, so it does not count as after).
    """
    made, began = _as_datetime(mri_date), _as_datetime(onset)
    if made is None or began is None:
        return None
    if _has_time(mri_date) and _has_time(onset):
        return _aware(made, began) > began
    return made.date() > began.date()


@dataclass
class MriStatus:
    state: str                     # done | planned | stale | undated | old | none
    event: Event | None = None
    stale: Event | None = None     # a recent MRI that does not postdate the current findings
    stale_note: Message | None = None
    stale_missing: Missing | None = None


def _stale_reason(e: Event, deciding: list[Fact], policy: Policy
                  ) -> tuple[Message, Missing | None] | None:
    """None when ``e`` was made after every finding behind the row arose; else why not."""
    unknown: Fact | None = None
    for fact in deciding:
        onset = fact.attr("onset")
        after = _made_after(e.date, onset.value)
        if after is False:
            return msg("dx.note.mri-before-onset", date=(e.date or "?")[:10], ref=e.source.reference,
                       finding=msg(f"dx.fact.{fact.name}"), onset=str(onset.value)[:16]), None
        if after is None and unknown is None:
            unknown = fact
    if not deciding or unknown is not None:
        if not _p(policy, "mri_done_unknown_onset_counts_as_old"):
            return None
        name = unknown.name if unknown is not None else None
        note = msg("dx.note.mri-onset-unknown", date=(e.date or "?")[:10], ref=e.source.reference,
                   finding=msg(f"dx.fact.{name}") if name else msg("dx.fact.findings"))
        return note, (_missing(unknown.attr("onset"), f"{name}.onset") if unknown is not None else None)
    return None


def _mri_status(facts: PatientFacts, policy: Policy, deciding: list[Fact]) -> MriStatus:
    """The whole-spine MRI picture against the findings that decide the current row.

    ``done``: made in the last ``mri_done_recent_days`` and after the onset of every finding
    that decides the row; a recent one made before (or with that onset unknown, policy) is
    ``stale`` and does not stop the suggestion.
    """
    recent_days = _p(policy, "mri_done_recent_days")
    done = facts.events_of("mri-whole-spine", status="done")
    undated = None
    old = None
    stale: tuple[Event, Message, Missing | None] | None = None
    for e in sorted(done, key=lambda e: e.date or "", reverse=True):
        days = days_since(e.date, facts.now) if e.date else None
        if days is None:
            undated = undated or e
        elif days <= recent_days:
            reason = _stale_reason(e, deciding, policy)
            if reason is None:
                return MriStatus("done", e)
            stale = stale or (e, *reason)
        else:
            old = old or e
    extra = {"stale": stale[0], "stale_note": stale[1], "stale_missing": stale[2]} if stale else {}
    planned = facts.events_of("mri-whole-spine", status="planned")
    if planned:
        return MriStatus("planned", planned[0], **extra)
    if stale:
        return MriStatus("stale", stale[0], **extra)
    if undated:
        return MriStatus("undated", undated)
    if old:
        return MriStatus("old", old)
    return MriStatus("none")


def _known_malignancy_note(facts: PatientFacts) -> Message | None:
    records = [c for c in facts.cancers if not c.suspected]
    primary = [c for c in records if c.is_primary]
    types = sorted({c.cancer_type for c in (primary or records)})
    if not types:
        return None
    return msg("dx.note.known-malignancy", types=[msg(f"dx.cancer.{t}") for t in types])


def evaluate_mri_urgency(facts: PatientFacts, policy: Policy,
                         susp: Suspicion | None = None) -> Finding | None:
    susp = susp or suspicion(facts, policy)
    malignancy = known_malignancy(facts)
    if susp.value is None and malignancy.is_true and \
            (susp.back_pain.is_true or any(f.is_true for f in susp.alarms.values())):
        return _assess_alarm_finding(facts, policy, susp, malignancy)
    if susp.value is not True:
        return None

    picture = neurological_picture(facts, policy, susp.back_pain)
    window = picture.window(policy)
    criteria = susp.criteria + picture.criteria
    missing = list(susp.missing)
    for m in picture.missing:
        _add_missing(missing, m)
    notes = list(susp.notes)
    for n in picture.notes:
        _add_note(notes, n)
    known = _known_malignancy_note(facts)
    if known:
        notes.insert(0, known)
    rules = ["DX-1"]
    suggestions: list[Suggestion] = []
    mri = _mri_status(facts, policy, picture.deciding_facts())
    mri_state, mri_event = mri.state, mri.event

    if picture.row is None:
        upper = picture.upper_window(policy)
        # at least as urgent as the picture already known; unknown data can only make it stricter
        indicator = _max_indicator(Indicator.WARNING, window_indicator(upper, policy))
        summary = msg("dx.mri.summary.undecided")
        conclusion = msg("dx.mri.conclusion.undecided", upper=duration(upper),
                         rows=", ".join(picture.hidden))
        rules.append("DX-2")
    else:
        indicator = window_indicator(window, policy)
        rules.append(picture.row)
        summary = msg("dx.mri.summary.window", duration=duration(window), rule=picture.row)
        conclusion = msg(picture.conclusion_key(), duration=duration(window), rule=picture.row)

    if mri_state == "done":
        notes.insert(0, msg("dx.note.mri-done", date=mri_event.date or "?", ref=mri_event.source.reference))
        indicator = Indicator.INFO
        summary = msg("dx.mri.summary.done", date=(mri_event.date or "?")[:10])
        conclusion = msg("dx.mri.conclusion.done", date=(mri_event.date or "?")[:10], conclusion=conclusion)
    elif mri_state == "planned":
        notes.insert(0, msg("dx.note.mri-planned", ref=mri_event.source.reference,
                            duration=duration(window if window is not None else picture.upper_window(policy))))
    if mri.stale_note is not None:
        notes.insert(0, mri.stale_note)
        if mri.stale_missing is not None:
            _add_missing(missing, mri.stale_missing)
    if mri_state not in ("done", "planned"):
        if mri_state == "undated":
            notes.append(msg("dx.note.mri-undated", ref=mri_event.source.reference))
        elif mri_state == "old":
            notes.append(msg("dx.note.mri-old", date=mri_event.date, ref=mri_event.source.reference))
        if facts.events_of("mri-segment"):
            notes.append(msg("dx.note.segment-not-enough"))
        if window is not None:
            priority = mri_priority(window, policy)
            suggestions.append(Suggestion(
                "create-mri-whole-spine",
                msg("dx.suggest.mri", duration=duration(window), priority=msg(f"dx.priority.{priority}")),
                {"priority": priority, "within_hours": window, "rule": picture.row}))
    notes.append(msg("dx.note.safety-netting"))
    rules.append("DX-2f")
    return Finding(
        topic="mri-urgency", rules=rules, indicator=indicator, summary=summary,
        conclusion=conclusion,
        result={"windowHours": window, "rule": picture.row},
        criteria=criteria, missing=missing, notes=notes, suggestions=suggestions,
        override_reasons=list(OVERRIDE_MRI) if indicator != Indicator.INFO else [])


def _assess_alarm_finding(facts: PatientFacts, policy: Policy, susp: Suspicion,
                          malignancy: Fact) -> Finding:
    """Back pain (or an alarm symptom) with a known malignancy, suspicion undecided."""
    missing: list[Missing] = []
    if susp.back_pain.is_unknown:
        _add_missing(missing, _missing(susp.back_pain))
    for fact in susp.alarms.values():
        if fact.is_unknown:
            _add_missing(missing, _missing(fact))
    for name in ("mescc-deficit", "radicular-deficit"):
        fact = facts.obs(name)
        if fact.is_unknown:
            _add_missing(missing, _missing(fact))
    for m in susp.missing:
        _add_missing(missing, m)
    criteria = [Criterion("dx.crit.known-malignancy", Status.MET, "DX-1", (malignancy,))] + susp.criteria
    notes = [n for n in (_known_malignancy_note(facts),) if n] + list(susp.notes)
    notes.append(msg("dx.note.safety-netting"))
    # name what is missing: the alarm symptoms (suspicion of metastasis undecided), the
    # neurological findings (suspicion of MESCC undecided), or both
    if susp.metastasis is None:
        variant = "assess-both" if susp.mescc is None else "assess"
    else:
        variant = "assess-neuro"
    return Finding(
        topic="mri-urgency", rules=["DX-1", "DX-2f"], indicator=Indicator.INFO,
        summary=msg(f"dx.mri.summary.{variant}"), conclusion=msg(f"dx.mri.conclusion.{variant}"),
        result={"windowHours": None, "rule": None},
        criteria=criteria, missing=missing, notes=notes)


# ---------------------------------------------------------------------------
# DX-4 / DX-5: known primary and doubt
# ---------------------------------------------------------------------------

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


def known_primary(facts: PatientFacts) -> tuple[Fact, list[Cancer], list[Message], list[Missing]]:
    notes: list[Message] = []
    missing: list[Missing] = []
    primaries = [c for c in facts.primary_cancers(include_history=True) if not c.suspected]
    # these notes explain why no primary is known; with a known primary they are noise
    if not primaries and any(c.category == CancerCategory.UNKNOWN_PRIMARY for c in facts.cancers):
        notes.append(msg("dx.note.unknown-primary-code"))
    if not primaries and any(c.category == CancerCategory.SECONDARY for c in facts.cancers):
        notes.append(msg("dx.note.secondary-not-primary"))
    suspected = [c for c in facts.primary_cancers(include_history=True) if c.suspected]
    if suspected and not primaries:
        notes.append(msg("dx.note.suspected-primary"))
    if primaries:
        return (Fact("known-primary", True, tuple(c.source for c in primaries)),
                primaries, notes, missing)
    unrecognised = [c for c in facts.cancers if c.category == CancerCategory.UNRECOGNISED]
    if unrecognised:
        notes.append(msg("dx.note.unrecognised-cancer", codes=[c.code or c.source.reference
                                                               for c in unrecognised]))
        fact = Fact("known-primary", None, tuple(c.source for c in unrecognised), unknown=Unknown.UNREADABLE)
        missing.append(Missing("primary-cancer", "unreadable"))
        return fact, [], notes, missing
    fact = _absent(facts, "known-primary", "Condition")
    if fact.is_unknown:
        missing.append(_missing(fact, "primary-cancer"))
    return fact, [], notes, missing


def _interval_reference(facts: PatientFacts) -> tuple[date, str]:
    onsets = [c.onset for c in facts.condition_records("spinal-metastasis") if c.onset]
    if onsets:
        first = min(o.date() if isinstance(o, datetime) else o for o in onsets)
        return first, "spinal-metastasis"
    return facts.now.date(), "now"


def primary_status(facts: PatientFacts, policy: Policy) -> PrimaryStatus:
    known, primaries, notes, missing = known_primary(facts)
    criteria = [Criterion("dx.crit.known-primary.types" if primaries else "dx.crit.known-primary",
                          Status.of(known.value), "DX-5", (known,),
                          {"types": [msg(f"dx.cancer.{c.cancer_type}") for c in primaries]} if primaries else {})]
    if not known.is_true:
        reasons = ["no-known-primary"] if known.is_false else []
        return PrimaryStatus(known, primaries, None, reasons, criteria, missing, notes)

    atypical = facts.obs("atypical-radiology")
    elsewhere = facts.obs("progression-elsewhere")
    criteria.append(Criterion("dx.crit.atypical-radiology", Status.of(atypical.value), "DX-4", (atypical,)))
    criteria.append(Criterion("dx.crit.no-progression-elsewhere", Status.of(tri_not(elsewhere)),
                              "DX-4", (elsewhere,)))
    if atypical.is_unknown:
        missing.append(_missing(atypical))
    if elsewhere.is_unknown:
        missing.append(_missing(elsewhere))

    # interval: long only when it is long for every known primary
    ref_date, ref_kind = _interval_reference(facts)
    lung_types = set(_p(policy, "doubt_interval_lung_types"))
    per_primary: list[bool | None] = []
    for c in primaries:
        limit = _p(policy, "doubt_interval_years_lung" if c.cancer_type in lung_types
                   else "doubt_interval_years_other")
        onset = c.onset.date() if isinstance(c.onset, datetime) else c.onset
        if onset is None:
            long_ = None
            _add_missing(missing, Missing("primary-cancer-onset", "not-recorded"))
            years = "?"
        else:
            long_ = ref_date > _add_years(onset, limit)
            years = round((ref_date - onset).days / 365.25, 1)
        per_primary.append(long_)
        criteria.append(Criterion(
            "dx.crit.long-interval", Status.of(long_), "DX-4",
            (Fact("primary-cancer-onset", onset, (c.source,), note=c.onset_field),),
            {"type": msg(f"dx.cancer.{c.cancer_type}"), "years": years, "limit": limit,
             "onset": onset.isoformat() if onset else "?",
             "onset_field": c.onset_field or "?", "reference": msg(f"dx.interval-ref.{ref_kind}")}))
    long_interval = None
    if any(v is False for v in per_primary):
        long_interval = False
    elif per_primary and all(v is True for v in per_primary):
        long_interval = True

    reasons = []
    if atypical.is_true:
        reasons.append("atypical-radiology")
    if elsewhere.is_false:
        reasons.append("no-progression-elsewhere")
    if long_interval is True:
        reasons.append("long-interval")
    doubt = tri_or(atypical, tri_not(elsewhere), long_interval)
    return PrimaryStatus(known, primaries, doubt, reasons, criteria, missing, notes)


def evaluate_workup(facts: PatientFacts, policy: Policy,
                    prim: PrimaryStatus | None = None) -> Finding | None:
    records = facts.condition_records("spinal-metastasis")
    if not records:
        return None
    prim = prim or primary_status(facts, policy)
    entry = Criterion("dx.crit.spinal-metastasis", Status.MET, "DX-5",
                      (Fact("spinal-metastasis", True, tuple(r.source for r in records)),))
    criteria = [entry] + prim.criteria
    notes = list(prim.notes)
    needed = prim.tissue_needed
    rules = ["DX-4"] if prim.known.is_true else []
    if needed is True:
        steps = ["pet-ct", "biopsy"]
        rules.append("DX-5")
        done = []
        for kind in ("pet-ct", "spine-lesion-biopsy"):
            for status in ("done", "planned"):
                found = facts.events_of(kind, status=status)
                if found:
                    done.append(kind)
                    notes.append(msg(f"dx.note.workup-{status}", step=msg(f"dx.step.{kind}"),
                                     ref=found[0].source.reference, date=found[0].date or "?"))
                    break
        indicator = Indicator.INFO if len(done) == 2 else Indicator.WARNING
        summary = msg("dx.workup.summary.needed")
        conclusion = msg("dx.workup.conclusion.needed",
                         reasons=[msg(f"dx.reason.{r}") for r in prim.reasons])
    elif needed is False:
        steps = []
        indicator = Indicator.INFO
        summary = msg("dx.workup.summary.not-needed")
        conclusion = msg("dx.workup.conclusion.not-needed")
    else:
        steps = []
        indicator = Indicator.INFO
        summary = msg("dx.workup.summary.undecided")
        conclusion = msg("dx.workup.conclusion.undecided")
        rules = rules or ["DX-5"]
    return Finding(
        topic="diagnostic-workup", rules=rules, indicator=indicator, summary=summary,
        conclusion=conclusion, result={"steps": steps, "reasons": list(prim.reasons)},
        criteria=criteria, missing=list(prim.missing), notes=notes,
        override_reasons=list(OVERRIDE_WORKUP) if indicator != Indicator.INFO else [])


# ---------------------------------------------------------------------------
# DX-3 / DX-6 / DX-7: corticosteroids
# ---------------------------------------------------------------------------

def spinal_context(facts: PatientFacts, susp: Suspicion) -> bool:
    """Whether the patient is on the spinal-metastasis pathway at all (gate for steroid orders)."""
    return bool(facts.condition_records("spinal-metastasis")
                or facts.condition_records("cord-compression")
                or facts.obs("mescc-deficit").is_true
                or susp.value is True)


def _progressive_deficit(facts: PatientFacts) -> tuple[bool | None, list[Fact]]:
    parts, used = [], []
    for name in ("mescc-deficit",) + DEFICITS:
        deficit = facts.obs(name)
        if not deficit.is_true:
            continue
        progressive = deficit.attr("progressive")
        used.extend([deficit, progressive])
        parts.append(progressive.value)
    if not parts:
        return False, used
    return tri_or(*parts), used


def evaluate_corticosteroids(facts: PatientFacts, policy: Policy, *, order: DraftOrder | None = None,
                             susp: Suspicion | None = None,
                             prim: PrimaryStatus | None = None) -> Finding | None:
    susp = susp or suspicion(facts, policy)
    severe = facts.obs("severe-neurological-deficit")
    mescc = facts.obs("mescc-deficit")
    # entry condition (guideline.md): severe-neurological-deficit or mescc-deficit true, or a
    # corticosteroid draft order; only an order without such a deficit also needs the patient
    # to be on the spinal-metastasis pathway (else any steroid order would get a card)
    deficit = severe.is_true or mescc.is_true
    if not deficit:
        # DX-7 covers any deficit (source 002: "progressieve uitval ondanks corticosteroïden"),
        # wider than guideline.md's entry condition: a progressive (e.g. radicular) deficit while a
        # corticosteroid is active also opens the card, so the surgical escalation is never silent.
        progressive, _ = _progressive_deficit(facts)
        deficit = progressive is True and facts.medication("corticosteroid").is_true
    if order is None and not deficit:
        return None
    if not deficit and not spinal_context(facts, susp):
        return None
    prim = prim or primary_status(facts, policy)
    tissue = prim.tissue_needed
    active = facts.medication("corticosteroid")
    criteria = [Criterion("dx.crit.severe-deficit", Status.of(severe.value), "DX-3", (severe,))]
    criteria += prim.criteria
    criteria.append(Criterion("dx.crit.tissue-needed", Status.of(tissue), "DX-6", (prim.known,)))
    criteria.append(Criterion("dx.crit.corticosteroid-active", Status.of(active.value), "DX-3", (active,)))
    missing = list(prim.missing)
    notes = list(prim.notes)
    rules: list[str] = []
    suggestions: list[Suggestion] = []
    dose = msg("dx.steroids.dose", loading=_p(policy, "dexamethasone_loading_mg_iv"),
               daily=_p(policy, "dexamethasone_daily_mg_oral"))
    base_indicator = Indicator(_p(policy, "corticosteroid_advice_indicator"))

    withhold = prim.known.is_false or prim.doubt is True
    if withhold:
        advice = "withhold"
        rules.extend(["DX-4", "DX-6"] if prim.doubt is True else ["DX-6"])
        indicator = base_indicator
        if order is not None:
            summary = msg("dx.steroids.summary.order-withhold")
            conclusion = msg("dx.steroids.conclusion.order-withhold",
                             reasons=[msg(f"dx.reason.{r}") for r in prim.reasons])
        else:
            summary = msg("dx.steroids.summary.withhold")
            conclusion = msg("dx.steroids.conclusion.withhold",
                             reasons=[msg(f"dx.reason.{r}") for r in prim.reasons])
        if active.is_true:
            notes.append(msg("dx.note.steroids-already-active-withhold"))
        if facts.events_of("spine-lesion-biopsy", status="done"):
            notes.append(msg("dx.note.biopsy-done"))
        notes.append(msg("dx.note.dx7-escalation"))
    elif prim.known.is_true and severe.is_true:  # doubt false or unknown (DX-3)
        advice = "start"
        rules.extend(["DX-3", "TX-1"])
        if prim.doubt is None:
            notes.append(msg("dx.note.doubt-unknown-start"))
        if active.is_true:
            indicator = Indicator.INFO
            summary = msg("dx.steroids.summary.start-active")
            conclusion = msg("dx.steroids.conclusion.start-active", dose=dose)
        else:
            indicator = Indicator.INFO if order is not None else base_indicator
            summary = msg("dx.steroids.summary.order-start" if order is not None
                          else "dx.steroids.summary.start")
            # the text says "before the MRI" only while no MRI answers the current deficit,
            # and "without doubt" only when doubt is decided false
            key = "dx.steroids.conclusion.start"
            if _mri_status(facts, policy, [severe]).state == "done":
                key += ".mri-done"
            if prim.doubt is None:
                key += ".doubt-unknown"
            conclusion = msg(key, dose=dose)
            if order is None:
                suggestions.append(Suggestion("create-dexamethasone",
                                              msg("dx.suggest.dexamethasone", dose=dose), {}))
        if active.is_unknown:
            missing.append(_missing(active, "corticosteroid"))
    elif prim.known.is_true:
        # known primary, doubt not established, severe deficit not true: DX-3 not met (false)
        # or undecided (unknown); DX-6 does not apply. The entry condition holds, so a card,
        # never silence: it is also where DX-7 is shown.
        advice = None
        rules.append("DX-3")
        indicator = Indicator.INFO
        prefix = "order-" if order is not None else ""
        if severe.is_false:
            summary = msg(f"dx.steroids.summary.{prefix}not-severe")
            conclusion = msg(f"dx.steroids.conclusion.{prefix}not-severe", dose=dose)
        else:
            missing.append(_missing(severe))
            summary = msg(f"dx.steroids.summary.{prefix}assess-severity")
            suffix = ".doubt-unknown" if prim.doubt is None and order is None else ""
            conclusion = msg(f"dx.steroids.conclusion.{prefix}assess-severity{suffix}", dose=dose)
        if prim.doubt is None:
            notes.append(msg("dx.note.doubt-unknown-no-start"))
        notes.append(msg("dx.note.dx7-escalation"))
    else:
        advice = None
        rules.extend(["DX-3", "DX-6"])
        indicator = Indicator.WARNING
        summary = msg("dx.steroids.summary.undecided")
        conclusion = msg("dx.steroids.conclusion.undecided")
        notes.append(msg("dx.note.dx7-escalation"))

    # DX-7: progressive deficit despite corticosteroids (whatever DX-3/DX-6 say)
    progressive, used = _progressive_deficit(facts)
    if active.is_true and progressive is True:
        rules.append("DX-7")
        indicator = _max_indicator(indicator, Indicator(_p(policy, "dx7_indicator")))
        criteria.append(Criterion("dx.crit.dx7", Status.MET, "DX-7", tuple([active] + used)))
        notes = [n for n in notes if n.key != "dx.note.dx7-escalation"]
        notes.insert(0, msg("dx.note.dx7-fired"))
        summary = msg("dx.steroids.summary.dx7")

    return Finding(
        topic="corticosteroids", rules=rules, indicator=indicator, summary=summary,
        conclusion=conclusion, result={"advice": advice, "rule": _advice_rule(advice, rules)},
        criteria=criteria, missing=missing, notes=notes, suggestions=suggestions,
        override_reasons=list(OVERRIDE_STEROIDS) if indicator != Indicator.INFO else [],
        key=_order_key(order) if order is not None else None)


def _advice_rule(advice: str | None, rules: list[str]) -> str | None:
    if advice == "start":
        return "DX-3"
    if advice == "withhold":
        return "DX-6"
    return None


def _order_key(order: DraftOrder) -> str:
    return f"{order.resource_type}/{order.resource_id}" if order.resource_id else order.resource_type


# ---------------------------------------------------------------------------
# mri-order: a spine MRI draft order against DX-2
# ---------------------------------------------------------------------------

def ordered_within_hours(order: DraftOrder, now: datetime, policy: Policy) -> float | int | None:
    if order.deadline is not None:
        hours = (_aware(order.deadline, now) - now).total_seconds() / 3600
        return int(hours) if float(hours).is_integer() else round(hours, 1)
    table = _p(policy, "order_priority_hours")
    if order.priority in table:
        return table[order.priority]
    return None


def evaluate_mri_order(facts: PatientFacts, policy: Policy, order: DraftOrder,
                       susp: Suspicion) -> Finding:
    whole = order.kind == "mri-whole-spine"
    ordered = ordered_within_hours(order, facts.now, policy)
    picture = neurological_picture(facts, policy, susp.back_pain) if susp.value is True else None
    required = picture.window(policy) if picture else None
    key = _order_key(order)
    # a deadline at or before now cannot be met: never "in time", whatever the window
    passed = order.deadline is not None and ordered is not None and ordered <= 0
    if passed:
        source_note = msg("dx.note.order-deadline-passed", deadline=order.deadline.isoformat()[:16])
    else:
        source_note = msg("dx.note.order-deadline" if order.deadline is not None else
                          "dx.note.order-priority" if ordered is not None else "dx.note.order-no-deadline",
                          priority=order.priority or "?", duration=duration(ordered))
    order_fact = Fact("mri-order", True, (Source(order.resource_type, order.resource_id),))
    criteria = [Criterion("dx.crit.order-whole-spine", Status.of(whole), "DX-2", (order_fact,))]
    notes: list[Message] = [source_note]
    missing: list[Missing] = []
    suggestions: list[Suggestion] = []
    rules: list[str] = ["DX-1"]

    if picture is None:
        # no DX-1 suspicion: no window to check against
        if susp.value is None:
            notes.append(msg("dx.note.order-no-suspicion-unknown"))
            missing.extend(susp.missing)
        else:
            notes.append(msg("dx.note.order-no-suspicion"))
        indicator = Indicator.INFO
        summary = msg("dx.order.summary.no-window")
        conclusion = msg("dx.order.conclusion.no-window")
        if not whole:
            notes.append(msg("dx.note.segment-not-enough"))
    elif picture.row is None:
        rules.append("DX-2")
        missing.extend(picture.missing)
        indicator = _max_indicator(Indicator.WARNING, window_indicator(picture.upper_window(policy), policy))
        summary = msg("dx.order.summary.undecided")
        conclusion = msg("dx.order.conclusion.undecided",
                         upper=duration(picture.upper_window(policy)))
        notes.extend(picture.notes)
        criteria += picture.criteria
    else:
        rules.append(picture.row)
        criteria += picture.criteria
        notes.extend(picture.notes)
        missing.extend(picture.missing)
        in_time = None if ordered is None else (not passed and ordered <= required)
        criteria.append(Criterion("dx.crit.order-in-time.passed" if passed else "dx.crit.order-in-time",
                                  Status.of(in_time), picture.row,
                                  (order_fact,), {"ordered": duration(ordered), "required": duration(required)}))
        if whole and in_time:
            indicator = Indicator.INFO
            summary = msg("dx.order.summary.ok", duration=duration(required), rule=picture.row)
            conclusion = msg("dx.order.conclusion.ok", duration=duration(required), rule=picture.row)
        else:
            indicator = _max_indicator(window_indicator(required, policy), Indicator.WARNING)
            problems = []
            if not whole:
                problems.append(msg("dx.order.problem.segment"))
            if passed:
                problems.append(msg("dx.order.problem.deadline-passed"))
            elif in_time is False:
                problems.append(msg("dx.order.problem.late", ordered=duration(ordered)))
            elif in_time is None:
                problems.append(msg("dx.order.problem.no-deadline"))
            summary = msg("dx.order.summary.fix", duration=duration(required), rule=picture.row)
            conclusion = msg("dx.order.conclusion.fix", duration=duration(required),
                             rule=picture.row, problems=problems)
            priority = mri_priority(required, policy)
            if order.resource_id:
                suggestions.append(Suggestion(
                    "update-mri-order",
                    msg("dx.suggest.update-mri", duration=duration(required),
                        priority=msg(f"dx.priority.{priority}")),
                    {"order_id": order.resource_id, "priority": priority,
                     "within_hours": required, "whole_spine": True}))
            else:
                notes.append(msg("dx.note.order-without-id"))
    notes.append(msg("dx.note.safety-netting"))
    rules.append("DX-2f")
    return Finding(
        topic="mri-order", rules=rules, indicator=indicator, summary=summary, conclusion=conclusion,
        result={"orderedWithinHours": ordered, "requiredWithinHours": required, "wholeSpine": whole},
        criteria=criteria, missing=missing, notes=notes, suggestions=suggestions,
        override_reasons=list(OVERRIDE_ORDER) if indicator != Indicator.INFO else [], key=key)


# ---------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------

def evaluate(facts: PatientFacts, policy: Policy) -> list[Finding]:
    """Patient-view topics: mri-urgency, corticosteroids, diagnostic-workup."""
    susp = suspicion(facts, policy)
    prim = primary_status(facts, policy)
    out = [evaluate_mri_urgency(facts, policy, susp),
           evaluate_corticosteroids(facts, policy, susp=susp, prim=prim),
           evaluate_workup(facts, policy, prim)]
    return [f for f in out if f is not None]


def evaluate_orders(facts: PatientFacts, policy: Policy) -> list[Finding]:
    """Draft-order topics: mri-order (spine MRI orders), corticosteroids (steroid orders)."""
    out: list[Finding] = []
    selected = [o for o in facts.draft_orders if o.selected]
    if not selected:
        return out
    susp = suspicion(facts, policy)
    prim: PrimaryStatus | None = None
    for order in selected:
        if order.kind in MRI_ORDER_KINDS:
            out.append(evaluate_mri_order(facts, policy, order, susp))
        elif order.kind == "corticosteroid":
            prim = prim or primary_status(facts, policy)
            finding = evaluate_corticosteroids(facts, policy, order=order, susp=susp, prim=prim)
            if finding is not None:
                out.append(finding)
    return out
