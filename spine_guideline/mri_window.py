"""DX-2: the neurological picture that sets the MRI deadline, and whether a
whole-spine MRI already answers it (source 002, DIAGNOSIS)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import (
    MESCC,
    RADICULAR,
    SEVERE,
    MriState,
    add_missing,
    add_note,
    after,
    clock_start,
    days_since,
    missing_of,
    unique_facts,
)
from .facts import Event, Fact, PatientFacts
from .findings import Criterion, Message, Missing, Status, msg
from .keys import DX_FACT, DX_FACT_FINDINGS, DX_MRI_CONCLUSION, DX_MRI_CONCLUSION_STABLE, DX_ROW_CRITERION, pick
from .policy import Policy

RULES = ("DX-2", "DX-2a", "DX-2b", "DX-2c", "DX-2d", "DX-2e")
SECTION = "diagnosis"
ROWS = ("DX-2a", "DX-2b", "DX-2c", "DX-2d", "DX-2e")
#: the deficits that choose a DX-2 row besides mescc-deficit
ROW_DEFICITS = (RADICULAR,)  # severe-neurological-deficit does not choose a row by itself


def _p(policy: Policy, key: str) -> Any:
    return policy.get(SECTION, key)


def duration(hours: float | int | None) -> Message:
    """A window as words: 12 hours, 1 week, 2 weeks, 3 days."""
    if hours is None:
        return msg("dx.duration.unknown")
    if isinstance(hours, float) and not hours.is_integer():
        return msg("dx.duration.hours", n=round(hours, 1))
    n = int(hours)
    if n >= 168 and n % 168 == 0:
        return msg("dx.duration.week", n=1) if n == 168 else msg("dx.duration.weeks", n=n // 168)
    if n > 48 and n % 24 == 0:
        return msg("dx.duration.days", n=n // 24)
    return msg("dx.duration.hours", n=n)


def mri_priority(hours: int, policy: Policy) -> str:
    table = {int(k): v for k, v in _p(policy, "mri_priority_by_window_hours").items()}
    for limit in sorted(table):
        if hours <= limit:
            return str(table[limit])
    return str(table[max(table)])


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
            return DX_MRI_CONCLUSION[(self.row, None)]
        if found[0] == "stable":
            return DX_MRI_CONCLUSION_STABLE
        return DX_MRI_CONCLUSION[(self.row, found[0])]

    def deciding_facts(self) -> list[Fact]:
        """The findings behind the decided row (else the most severe known row)."""
        row = self.row or self.upper_row
        return list(self.deciding.get(row, [])) if row else []

    def window(self, policy: Policy) -> int | None:
        return int(_p(policy, "mri_window_hours")[self.row]) if self.row else None

    def upper_window(self, policy: Policy) -> int | None:
        return int(_p(policy, "mri_window_hours")[self.upper_row]) if self.upper_row else None


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
    label = pick(DX_FACT, name)
    if progressive.is_false:
        stable_row = str(_p(policy, "stable_unilateral_deficit_row"))
        add_note(notes, msg("dx.note.policy.stable-unilateral", deficit=label, rule=stable_row))
        return stable_row, "stable"
    prog = progressive.value
    if prog is None:
        if recent is False:
            add_missing(missing, missing_of(progressive, f"{name}.progressive"))
            return "DX-2c", "progression-unknown"  # progressive or stable: DX-2c either way
        add_missing(missing, missing_of(progressive, f"{name}.progressive"))
        if not _p(policy, "unknown_progression_takes_stricter_row"):
            return None, None
        add_note(notes, msg("dx.note.policy.unknown-progression", deficit=label))
    if recent is None:
        add_missing(missing, missing_of(onset, f"{name}.onset"))
        if not _p(policy, "unknown_onset_takes_stricter_row"):
            return None, None
        add_note(notes, msg("dx.note.policy.unknown-onset", deficit=label))
        return "DX-2b", "onset-progression-unknown" if prog is None else "onset-unknown"
    return ("DX-2b" if recent else "DX-2c"), ("progression-unknown" if prog is None else None)


@dataclass
class _Rows:
    """What the row choice collects while it reads the findings."""

    definite: set[str] = field(default_factory=set)
    hidden: set[str] = field(default_factory=set)
    presence_missing: list[tuple[str, Missing]] = field(default_factory=list)  # (row it could reveal, missing)
    facts: dict[str, list[Fact]] = field(default_factory=lambda: {r: [] for r in ROWS})
    params: dict[str, dict[str, Any]] = field(default_factory=lambda: {r: {} for r in ROWS})
    deciding: dict[str, list[Fact]] = field(default_factory=lambda: {r: [] for r in ROWS})
    variants: dict[str, list[str | None]] = field(default_factory=lambda: {r: [] for r in ROWS})

    def decide(self, row: str, fact: Fact, variant: str | None = None) -> None:
        self.definite.add(row)
        self.deciding[row].append(fact)
        self.variants[row].append(variant)


def _read_deficit(name: str, facts: PatientFacts, policy: Policy, acc: _Rows,
                  notes: list[Message], missing: list[Missing]) -> None:
    """Place a radicular deficit in the DX-2 rows."""
    deficit = facts.obs(name)
    if deficit.is_unknown:
        # any row from DX-2a (unknown laterality counts as bilateral) to DX-2c
        acc.hidden.update(("DX-2a", "DX-2b", "DX-2c"))
        acc.presence_missing.append(("DX-2a", missing_of(deficit)))
        for r in ("DX-2a", "DX-2b", "DX-2c"):
            acc.facts[r].append(deficit)
        return
    if deficit.is_false:
        for r in ("DX-2a", "DX-2b", "DX-2c"):
            acc.facts[r].append(deficit)
        return
    laterality = deficit.attr("laterality")
    lat = laterality.value
    lat_variant = None
    if lat not in ("unilateral", "bilateral"):
        add_missing(missing, missing_of(laterality, f"{name}.laterality"))
        if _p(policy, "unknown_laterality_counts_as_bilateral"):
            add_note(notes, msg("dx.note.policy.unknown-laterality", deficit=pick(DX_FACT, name)))
            lat, lat_variant = "bilateral", "laterality-unknown"
    if lat == "bilateral":
        acc.decide("DX-2a", deficit, lat_variant)
        acc.facts["DX-2a"].extend([deficit, laterality])
        return
    if lat is None:  # policy switched off: undecided between DX-2a and DX-2c
        acc.hidden.add("DX-2a")
        acc.decide("DX-2c", deficit)
        acc.facts["DX-2c"].append(deficit)
        return
    row, variant = _unilateral_row(deficit, name, facts, policy, notes, missing)
    onset, progressive = deficit.attr("onset"), deficit.attr("progressive")
    days = days_since(onset.value, facts.now)
    if row is None:
        acc.hidden.add("DX-2b")
        row = "DX-2c"
    acc.decide(row, deficit, variant)
    acc.facts[row].extend([deficit, laterality, onset, progressive])
    if days is not None:
        acc.params[row] = {"days": days}


def _read_mescc(facts: PatientFacts, acc: _Rows) -> None:
    """DX-2a: a recorded MESCC deficit."""
    mescc = facts.obs(MESCC)
    acc.facts["DX-2a"].append(mescc)
    if mescc.is_true:
        acc.decide("DX-2a", mescc)
    elif mescc.is_unknown:
        acc.hidden.add("DX-2a")
        acc.presence_missing.append(("DX-2a", missing_of(mescc)))


def _read_radicular_pain(facts: PatientFacts, acc: _Rows, notes: list[Message]) -> None:
    """DX-2d: radicular pain (bilateral is noted)."""
    radicular_pain = facts.obs("radicular-pain")
    acc.facts["DX-2d"].append(radicular_pain)
    if radicular_pain.is_true:
        acc.definite.add("DX-2d")
        acc.deciding["DX-2d"].append(radicular_pain)
        lat = radicular_pain.attr("laterality")
        if lat.value == "bilateral":
            acc.facts["DX-2d"].append(lat)
            add_note(notes, msg("dx.note.bilateral-radicular-pain"))
    elif radicular_pain.is_unknown:
        acc.hidden.add("DX-2d")
        acc.presence_missing.append(("DX-2d", missing_of(radicular_pain)))


def _read_back_pain(acc: _Rows, back_pain: Fact) -> None:
    """DX-2e: back pain."""
    acc.facts["DX-2e"].append(back_pain)
    if back_pain.is_true:
        acc.definite.add("DX-2e")
        acc.deciding["DX-2e"].append(back_pain)


def _stricter(row: str, upper: str | None) -> bool:
    """Whether ``row`` is stricter than the row that applies (every row is, when none applies)."""
    return upper is None or ROWS.index(row) < ROWS.index(upper)


def _keep_relevant_missing(acc: _Rows, upper: str | None, missing: list[Missing]) -> None:
    """Keep only the missing data that matters: what could make a stricter row apply,
    and the attributes the chosen row rests on."""
    relevant = [m for r, m in acc.presence_missing if _stricter(r, upper)]
    for m in reversed(relevant):
        if all(m.code != x.code for x in missing):
            missing.insert(0, m)


def _row_criteria(policy: Policy, acc: _Rows, rows: dict[str, Status]) -> list[Criterion]:
    limit = _p(policy, "onset_recent_days")
    criteria = []
    for r in ROWS:
        plain, with_days = DX_ROW_CRITERION[r]
        key = with_days if with_days is not None and "days" in acc.params[r] else plain
        criteria.append(Criterion(key, rows[r], r, unique_facts(acc.facts[r]), {"limit": limit, **acc.params[r]}))
    return criteria


def neurological_picture(facts: PatientFacts, policy: Policy, back_pain: Fact) -> Picture:
    notes: list[Message] = []
    missing: list[Missing] = []
    acc = _Rows()
    _read_mescc(facts, acc)
    for name in ROW_DEFICITS:
        _read_deficit(name, facts, policy, acc, notes, missing)
    if facts.obs(SEVERE).is_true:
        add_note(notes, msg("dx.note.severe-deficit-noted"))
    _read_radicular_pain(facts, acc, notes)
    _read_back_pain(acc, back_pain)

    upper = next((r for r in ROWS if r in acc.definite), None)
    stricter_hidden = [r for r in ROWS if r in acc.hidden and _stricter(r, upper)]
    decided = upper is not None and not stricter_hidden
    _keep_relevant_missing(acc, upper, missing)
    rows = {r: Status.MET if r in acc.definite else Status.UNKNOWN if r in acc.hidden else Status.NOT_MET
            for r in ROWS}
    return Picture(upper if decided else None, upper, stricter_hidden, rows, _row_criteria(policy, acc, rows),
                   missing, notes, acc.deciding, acc.variants)


# ---------------------------------------------------------------------------
# a whole-spine MRI against the findings that decide the row
# ---------------------------------------------------------------------------

@dataclass
class MriStatus:
    state: MriState
    event: Event | None = None
    stale: Event | None = None     # a recent MRI that does not postdate the current findings
    stale_note: Message | None = None
    stale_missing: Missing | None = None


#: deficits recorded true whose start after an MRI reopens DX-2 (besides the findings deciding the row)
REOPENING = (MESCC, RADICULAR, SEVERE)


def _stale_reason(e: Event, deciding: list[Fact], policy: Policy
                  ) -> tuple[Message, Missing | None] | None:
    """None when ``e`` was made after every finding behind the row arose (its onset, else
    its earliest record: guideline.md "Answered deadlines"); else why not."""
    unknown: Fact | None = None
    for fact in deciding:
        started = clock_start(fact)
        made_after = after(e.date, started)
        if made_after is False:
            return msg("dx.note.mri-before-onset", date=(e.date or "?")[:10], ref=e.source.reference,
                       finding=pick(DX_FACT, fact.name), onset=str(started)[:16]), None
        if made_after is None and unknown is None:
            unknown = fact
    if not deciding or unknown is not None:
        if not _p(policy, "mri_done_unknown_onset_counts_as_old"):
            return None
        name = unknown.name if unknown is not None else None
        note = msg("dx.note.mri-onset-unknown", date=(e.date or "?")[:10], ref=e.source.reference,
                   finding=pick(DX_FACT, name) if name else msg(DX_FACT_FINDINGS))
        return note, (missing_of(unknown.attr("onset"), f"{name}.onset") if unknown is not None else None)
    return None


def findings_to_answer(facts: PatientFacts, picture: Picture) -> list[Fact]:
    """The findings an MRI must postdate: those behind the row, and every deficit recorded
    true (one that started after the MRI reopens DX-2)."""
    out = picture.deciding_facts()
    for fact in (facts.obs(name) for name in REOPENING):
        if fact.is_true and all(fact is not f for f in out):
            out.append(fact)
    return out


def mri_status(facts: PatientFacts, policy: Policy, deciding: list[Fact]) -> MriStatus:
    """The whole-spine MRI picture against the findings that decide the current row.

    ``done`` (DX-2 answered): made after the onset (else the earliest record) of every
    finding in ``deciding``; a recent one made before (or with that start unknown, policy)
    is ``stale`` and does not stop the suggestion, an older one is ``old``.
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
            continue
        reason = _stale_reason(e, deciding, policy)
        if reason is None:
            return MriStatus(MriState.DONE, e)
        if days <= recent_days:
            stale = stale or (e, *reason)
        else:
            old = old or e
    planned = facts.events_of("mri-whole-spine", status="planned")
    if stale is not None:
        event = planned[0] if planned else stale[0]
        return MriStatus(MriState.PLANNED if planned else MriState.STALE, event, stale[0], stale[1], stale[2])
    if planned:
        return MriStatus(MriState.PLANNED, planned[0])
    if undated:
        return MriStatus(MriState.UNDATED, undated)
    if old:
        return MriStatus(MriState.OLD, old)
    return MriStatus(MriState.NONE)
