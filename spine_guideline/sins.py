"""SINS (Spinal Instability Neoplastic Score, Fisher et al. 2010) per vertebra.

The score is taken from a recorded total, or computed from its six
components (location follows from the level when it was not recorded). With
components missing, the range the total can still take is reported with the
protocol bands it leaves undecided. A recorded total that contradicts its
components is reported with both values (``spec/sins.md``).

Tables (points per category, categories, protocol bands, location by level)
live in ``data/sins.json``; this module holds no thresholds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import level_msg
from .facts import Fact, PatientFacts, Unknown, sort_levels
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, msg
from .keys import SINS_BAND, SINS_CATEGORY, SINS_COMPONENT, pick
from .policy import Policy
from .results import SinsResult

#: a policy table of rows [lowest total, highest total, name]
Table = list[list[Any]]

SECTION = "sins"
COMPONENTS: tuple[str, ...] = ("sins-location", "sins-pain", "sins-bone-lesion",
                               "sins-alignment", "sins-collapse", "sins-posterolateral")
#: protocol bands, lowest first (their bounds are in data/sins.json)
BAND_ORDER: tuple[str, ...] = ("0-6", "7-9", ">=10")
#: the SINS record is not usable at all (its components neither)
_UNUSABLE = (Unknown.STALE, Unknown.SEARCH_FAILED, Unknown.LEVEL_AMBIGUOUS,
             Unknown.UNREADABLE, Unknown.CONFLICT)


@dataclass
class SinsAssessment:
    """What is known about the SINS of one vertebra."""

    vertebra: str
    fact: Fact
    recorded: int | None = None
    components: dict[str, int | None] = field(default_factory=dict)
    location_from_level: bool = False
    low: int = 0                      # range the total can take (component-wise)
    high: int = 18
    score: int | None = None          # the total used, when decided
    computed_from_components: bool = False
    conflict: bool = False            # recorded total outside what the components allow
    band: str | None = None           # protocol band when decided
    bands: list[str] = field(default_factory=list)        # every band still possible
    category: str | None = None
    categories: list[str] = field(default_factory=list)
    why: str = Unknown.NOT_RECORDED.value  # why unknown, when nothing usable was recorded
    location_conflict: bool = False   # recorded location component contradicts the level
    recorded_location: int | None = None
    level_location: int | None = None

    @property
    def missing_components(self) -> list[str]:
        return [c for c in COMPONENTS if self.components.get(c) is None]

    @property
    def decided(self) -> bool:
        return self.score is not None

    @property
    def range(self) -> tuple[int, int]:
        """The range shown: the score, or every total still possible."""
        if self.score is not None:
            return self.score, self.score
        if self.conflict and self.recorded is not None:
            return min(self.recorded, self.low), max(self.recorded, self.high)
        return self.low, self.high

    def band_at_least(self, band: str) -> bool | None:
        """Is the band ``band`` or higher? None when undecided."""
        idx = BAND_ORDER.index(band)
        possible = {BAND_ORDER.index(b) for b in self.bands}
        if all(i >= idx for i in possible):
            return True
        if all(i < idx for i in possible):
            return False
        return None

    @property
    def score_at_least_7(self) -> bool | None:
        return self.band_at_least("7-9")

    @property
    def score_at_least_10(self) -> bool | None:
        return self.band_at_least(">=10")


def _lookup(table: Table, value: int) -> str:
    for low, high, name in table:
        if low <= value <= high:
            return str(name)
    raise ValueError(f"SINS total {value} outside the table")


def _rows_for(table: Table, totals: list[int]) -> set[str]:
    """The rows of ``table`` the totals (a contiguous range) fall in: the two ends looked
    up (``_lookup`` also refuses a total outside the table) and every row wholly between
    them; the same rows a lookup of each total finds, without one lookup per total."""
    low, high = totals[0], totals[-1]
    names = {_lookup(table, low), _lookup(table, high)}
    names.update(name for lo, hi, name in table if low <= lo and hi <= high)
    return names


def band_of(total: int, policy: Policy) -> str:
    return _lookup(policy.get(SECTION, "protocol_bands"), total)


def category_of(total: int, policy: Policy) -> str:
    return _lookup(policy.get(SECTION, "categories"), total)


def location_category(level: str, policy: Policy) -> str | None:
    for category, levels in policy.get(SECTION, "location_by_level").items():
        if level in levels:
            return str(category)
    return None


def location_points(level: str, policy: Policy) -> int | None:
    category = location_category(level, policy)
    if category is None:
        return None
    points: int = policy.get(SECTION, "component_points")["sins-location"][category]
    return points


def _valid_points(component: str, value: object, policy: Policy) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    allowed = set(policy.get(SECTION, "component_points")[component].values())
    return value if value in allowed else None


def assess(facts: PatientFacts, level: str, policy: Policy) -> SinsAssessment:
    """The SINS of the vertebra at ``level``.

    The location component follows from the level. A recorded location that
    contradicts the level is a conflict (the level or the component is wrong):
    it is shown; when the two readings fall in different protocol bands the
    band is undecided (spec/sins.md), else the level's reading is used."""
    fact = facts.obs("sins", level)
    out = _assess(fact, level, policy, trust_recorded_location=False)
    if out.location_conflict:
        alt = _assess(fact, level, policy, trust_recorded_location=True)
        bands = sorted(set(out.bands) | set(alt.bands), key=BAND_ORDER.index)
        if len(bands) > 1:
            cats = [name for _, _, name in policy.get(SECTION, "categories")]
            out.score = None
            out.computed_from_components = False
            out.bands = bands
            out.band = None
            out.categories = sorted(set(out.categories) | set(alt.categories), key=cats.index)
            out.category = out.categories[0] if len(out.categories) == 1 else None
            low = min(out.range[0], alt.range[0])
            high = max(out.range[1], alt.range[1])
            out.low, out.high = low, high
    return out


def _assess(fact: Fact, level: str, policy: Policy, *, trust_recorded_location: bool) -> SinsAssessment:
    out = SinsAssessment(vertebra=level, fact=fact)
    usable = fact.unknown not in _UNUSABLE
    if not usable and fact.unknown is not None:
        out.why = fact.unknown.value
    if usable and isinstance(fact.value, int) and not isinstance(fact.value, bool) \
            and 0 <= fact.value <= policy.get(SECTION, "max_total"):
        out.recorded = fact.value
    for comp in COMPONENTS:
        sub = fact.attrs.get(comp) if usable else None
        out.components[comp] = _valid_points(comp, sub.value, policy) if sub is not None else None
    _location(out, level, policy, trust_recorded_location)
    _range(out, policy)
    _total(out, policy)
    _bands_and_categories(out, policy)
    return out


def _location(out: SinsAssessment, level: str, policy: Policy, trust_recorded_location: bool) -> None:
    """The location component follows from the level; a recorded one that contradicts it is a conflict."""
    pts = location_points(level, policy)
    out.level_location = pts
    recorded_location = out.components["sins-location"]
    if pts is not None and recorded_location is not None and recorded_location != pts:
        out.location_conflict = True
        out.recorded_location = recorded_location
        if not trust_recorded_location:
            out.components["sins-location"] = None
    if out.components["sins-location"] is None and pts is not None:
        out.components["sins-location"] = pts
        out.location_from_level = True


def _range(out: SinsAssessment, policy: Policy) -> None:
    """The range the total can take, component-wise."""
    points_table = policy.get(SECTION, "component_points")
    known = sum(v for v in out.components.values() if v is not None)
    out.low = known
    out.high = known + sum(max(points_table[c].values()) for c in COMPONENTS if out.components[c] is None)


def _total(out: SinsAssessment, policy: Policy) -> None:
    """The total used: the recorded one when the components allow it (or, against
    them, when both fall in the same protocol band), else the components' own when complete."""
    if out.recorded is None:
        if out.low == out.high:
            out.score = out.low
            out.computed_from_components = True
        return
    if out.low <= out.recorded <= out.high:
        out.score = out.recorded
        return
    out.conflict = True
    rec_band = band_of(out.recorded, policy)
    if band_of(out.low, policy) == rec_band == band_of(out.high, policy):
        out.score = out.recorded   # same protocol band: the recorded total is used


def _bands_and_categories(out: SinsAssessment, policy: Policy) -> None:
    """band_of / category_of over every possible total."""
    if out.score is not None:
        totals = [out.score]
    else:
        low, high = out.range
        totals = list(range(low, high + 1))
    band_table = policy.get(SECTION, "protocol_bands")
    out.bands = sorted(_rows_for(band_table, totals), key=BAND_ORDER.index)
    category_table = policy.get(SECTION, "categories")
    cats = [name for _, _, name in category_table]
    out.categories = sorted(_rows_for(category_table, totals), key=cats.index)
    out.band = out.bands[0] if len(out.bands) == 1 else None
    out.category = out.categories[0] if len(out.categories) == 1 else None


def sins_levels(facts: PatientFacts) -> list[str]:
    """Entry condition of the ``sins`` topic: a SINS Observation or a spinal-metastasis level."""
    return sort_levels(set(facts.obs_levels("sins")) | set(facts.metastatic_levels()))


def missing_entries(a: SinsAssessment) -> list[Missing]:
    """What to record so that the protocol band is decided."""
    if a.decided:
        return []
    if a.conflict:
        return [Missing("sins", Unknown.CONFLICT.value, a.vertebra)]
    if a.location_conflict and a.band is None:
        return [Missing("sins-location", Unknown.CONFLICT.value, a.vertebra)] + \
            [Missing(c, Unknown.NOT_RECORDED.value, a.vertebra) for c in a.missing_components]
    if a.recorded is None and all(a.components.get(c) is None for c in COMPONENTS[1:]):
        return [Missing("sins", a.why, a.vertebra)]
    return [Missing(c, Unknown.NOT_RECORDED.value, a.vertebra) for c in a.missing_components]


def result_of(a: SinsAssessment) -> SinsResult:
    """The typed result of a sins card, frozen from the assessment."""
    return SinsResult(
        vertebra=a.vertebra, computed_from_components=a.computed_from_components, score=a.score,
        score_range=a.range, category=a.category, band=a.band, bands=tuple(a.bands),
        categories=tuple(a.categories), conflict=a.conflict, recorded=a.recorded, component_range=(a.low, a.high),
        missing_components=tuple(a.missing_components), location_from_level=a.location_from_level,
        location_conflict=a.location_conflict, recorded_location=a.recorded_location,
        level_location=a.level_location)


def _summary_and_conclusion(a: SinsAssessment) -> tuple[Message, Message]:
    vertebra = level_msg(a.vertebra)
    low, high = a.range
    bands = [pick(SINS_BAND, b) for b in a.bands]
    cats = [pick(SINS_CATEGORY, c) for c in a.categories]
    if a.location_conflict and a.band is None and not (a.conflict and a.score is None):
        return (msg("sins.summary.location-conflict", vertebra=vertebra, recorded=a.recorded_location,
                    expected=a.level_location),
                msg("sins.conclusion.location-conflict-undecided", recorded=a.recorded_location,
                    expected=a.level_location, vertebra=vertebra, low=low, high=high, bands=bands))
    if a.conflict and a.score is None:
        return (msg("sins.summary.conflict", vertebra=vertebra, recorded=a.recorded, low=a.low, high=a.high),
                msg("sins.conclusion.conflict-undecided", recorded=a.recorded, low=a.low, high=a.high,
                    bands=bands))
    if a.score is not None:
        return (msg("sins.summary.score", vertebra=vertebra, score=a.score, category=cats[0], band=bands[0]),
                _decided_conclusion(a, cats[0], bands[0]))
    if a.recorded is None and all(a.components.get(c) is None for c in COMPONENTS[1:]):
        return (msg("sins.summary.not-recorded", vertebra=vertebra),
                msg("sins.conclusion.not-recorded", low=low, high=high))
    return (msg("sins.summary.range", vertebra=vertebra, low=low, high=high),
            msg("sins.conclusion.range", low=low, high=high, bands=bands, categories=cats))


def _decided_conclusion(a: SinsAssessment, category: Message, band: Message) -> Message:
    if a.conflict:
        return msg("sins.conclusion.conflict-same-band", recorded=a.recorded, low=a.low, high=a.high, band=band)
    if a.computed_from_components:
        return msg("sins.conclusion.computed", score=a.score, category=category, band=band)
    return msg("sins.conclusion.recorded", score=a.score, category=category, band=band)


def _criteria(a: SinsAssessment) -> list[Criterion]:
    criteria = []
    for comp in COMPONENTS:
        pts = a.components.get(comp)
        sub = a.fact.attrs.get(comp)
        key = "sins.crit.location-from-level" if comp == "sins-location" and a.location_from_level \
            else "sins.crit.component"
        criteria.append(Criterion(key, Status.MET if pts is not None else Status.UNKNOWN, "VPBK-M-2",
                                  (sub,) if sub is not None else (),
                                  {"component": pick(SINS_COMPONENT, comp),
                                   "points": "-" if pts is None else pts}))
    if a.recorded is not None:
        criteria.append(Criterion("sins.crit.recorded-total", Status.MET, "VPBK-M-2", (a.fact,),
                                  {"score": a.recorded}))
    return criteria


def finding(a: SinsAssessment) -> Finding:
    summary, conclusion = _summary_and_conclusion(a)
    notes = [msg("sins.note.aid-not-decision"), msg("sins.note.bands")]
    if a.location_conflict and a.band is not None:
        notes.insert(0, msg("sins.note.location-conflict-same-band", recorded=a.recorded_location,
                            expected=a.level_location, vertebra=level_msg(a.vertebra)))
    conflict = a.conflict or a.location_conflict
    indicator = Indicator.WARNING if conflict else Indicator.INFO
    return Finding(
        topic="sins", rules=["VPBK-M-2", "VPBK-M-1"], indicator=indicator, summary=summary,
        conclusion=conclusion, result=result_of(a), criteria=_criteria(a),
        missing=missing_entries(a), notes=notes, key=a.vertebra,
        override_reasons=["sins-record-corrected", "clinical-judgement"] if conflict else [])


def evaluate(facts: PatientFacts, policy: Policy) -> list[Finding]:
    return [finding(assess(facts, level, policy)) for level in sins_levels(facts)]
