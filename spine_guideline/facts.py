"""The domain model the guideline rules read: three-valued facts with provenance.

This module knows nothing of FHIR, HTTP or files. The mapping layer
(``fhir_mappings``) builds a :class:`PatientFacts` from whatever the EHR sent;
the rule modules read it through the small query API below.

Conventions
-----------
* A boolean fact is ``True``, ``False`` or unknown (``value is None``).
  Unknown is never read as false: rules must test :attr:`Fact.is_true` /
  :attr:`Fact.is_false` and handle :attr:`Fact.is_unknown` explicitly.
* A valued fact (a score, a date, a code) is known when ``value is not None``.
* Every fact carries the resources it rests on (:class:`Source`), and when it is
  unknown, why (:class:`Unknown`): never recorded, stale, the search failed,
  conflicting records, or a level-bound fact that cannot be placed.
* The mapping layer has already applied the data dictionary's reading rules
  (status filters, newest wins, freshness, units, vertebral levels), so a
  rule never looks at dates to decide whether a fact still counts.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


class Unknown(str, enum.Enum):
    """Why a fact is unknown. The card turns each into advice on what to record."""

    NOT_RECORDED = "not-recorded"        # no resource says anything about it
    STALE = "stale"                      # recorded, but older than the freshness limit
    SEARCH_FAILED = "search-failed"      # the prefetch key held an OperationOutcome / fetch failed
    CONFLICT = "conflict"                # records disagree and no rule settles it
    LEVEL_AMBIGUOUS = "level-ambiguous"  # recorded without bodySite while several levels are candidates
    UNREADABLE = "unreadable"            # recorded, but the value could not be read (wrong type/unit)


@dataclass(frozen=True, slots=True)
class Source:
    """A resource a fact rests on: ``Observation/123`` recorded on a date."""

    resource_type: str
    resource_id: str | None = None
    date: str | None = None  # ISO 8601 date(time) the fact was recorded / took effect
    display: str | None = None  # the code's display or text, for the card

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.resource_id}" if self.resource_id else self.resource_type


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact about the patient.

    ``value``: ``True``/``False`` for boolean facts; a number, string or date for
    valued facts; ``None`` when unknown. ``level`` is the vertebral level the
    fact is bound to (``"L1"``), or ``None`` for patient-wide facts.
    ``attrs`` holds sub-facts read from ``Observation.component`` (``onset``,
    ``progressive``, ``laterality``, ...). ``searched`` names the resource type
    whose successful search makes an absent record read as "none recorded".
    """

    name: str
    value: Any = None
    sources: tuple[Source, ...] = ()
    level: str | None = None
    unknown: Unknown | None = None
    attrs: Mapping[str, Fact] = field(default_factory=dict)
    searched: str | None = None
    note: str | None = None  # e.g. "onset taken from recordedDate"

    # -- three-valued reading -------------------------------------------------
    @property
    def is_known(self) -> bool:
        return self.value is not None

    @property
    def is_unknown(self) -> bool:
        return self.value is None

    @property
    def is_true(self) -> bool:
        return self.value is True

    @property
    def is_false(self) -> bool:
        return self.value is False

    def attr(self, name: str) -> Fact:
        """A component sub-fact; unknown (not recorded) when absent."""
        found = self.attrs.get(name)
        if found is not None:
            return found
        return Fact(f"{self.name}.{name}", None, self.sources, self.level, Unknown.NOT_RECORDED)

    @property
    def recorded(self) -> str | None:
        dates = [s.date for s in self.sources if s.date]
        return max(dates) if dates else None

    @classmethod
    def missing(cls, name: str, level: str | None = None,
                why: Unknown = Unknown.NOT_RECORDED, searched: str | None = None) -> Fact:
        return _sourceless(name, None, level, why, searched)


def _sourceless(name: str, value: bool | None, level: str | None, unknown: Unknown | None,
                searched: str | None) -> Fact:
    """A fact resting on no resource ("not recorded", "none recorded")."""
    return Fact(name, value, (), level, unknown, {}, searched)


def tri_and(*facts: Fact | bool | None) -> bool | None:
    """Kleene AND over facts/booleans: False wins, then unknown, else True."""
    values = [f.value if isinstance(f, Fact) else f for f in facts]
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def tri_or(*facts: Fact | bool | None) -> bool | None:
    """Kleene OR over facts/booleans: True wins, then unknown, else False."""
    values = [f.value if isinstance(f, Fact) else f for f in facts]
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def tri_not(value: Fact | bool | None) -> bool | None:
    v = value.value if isinstance(value, Fact) else value
    return None if v is None else (not v)


# ---------------------------------------------------------------------------
# Records the mapping layer fills in
# ---------------------------------------------------------------------------

class CancerCategory(str, enum.Enum):
    SOLID = "solid"                  # a solid primary tumour
    HAEMATOLOGICAL = "haematological"
    SECONDARY = "secondary"          # a metastasis code (never a primary)
    UNKNOWN_PRIMARY = "unknown-primary"  # C80: malignancy, primary not known
    UNRECOGNISED = "unrecognised"    # a cancer-like code outside the tables


@dataclass(frozen=True, slots=True)
class Cancer:
    """A cancer diagnosis (present or history)."""

    cancer_type: str  # breast, prostate, lung, kidney, thyroid, multiple-myeloma,
    #                   non-hodgkin-lymphoma, germ-cell-tumour, other-solid,
    #                   other-haematological, secondary, unknown-primary, unrecognised
    category: CancerCategory
    source: Source
    onset: date | None = None
    onset_field: str | None = None  # onsetDateTime / onsetPeriod.start / recordedDate
    active: bool = True             # False: inactive/resolved/remission (history)
    suspected: bool = False
    histologically_proven: Fact = field(default_factory=lambda: Fact.missing("histologically-proven"))
    code: str | None = None         # system|code, for reporting unrecognised codes

    @property
    def is_primary(self) -> bool:
        return self.category in (CancerCategory.SOLID, CancerCategory.HAEMATOLOGICAL)


@dataclass(frozen=True, slots=True)
class ConditionRecord:
    """A present (or suspected) problem of interest, e.g. a spinal metastasis at L1."""

    name: str           # data-dictionary fact name: spinal-metastasis, vertebral-infection, ...
    source: Source
    level: str | None = None
    suspected: bool = False
    active: bool = True
    onset: date | None = None
    onset_field: str | None = None
    subtype: str | None = None  # e.g. fracture kind: osteoporotic / pathological / traumatic


@dataclass(frozen=True, slots=True)
class Event:
    """A procedure, imaging study, report or existing order: something done or planned."""

    kind: str          # mri-whole-spine, mri-segment, ct-whole-spine, pet-ct, spine-lesion-biopsy,
    #                    radiotherapy, spinal-surgery, systemic-therapy, ecg, chest-xray, mdo-referral, ...
    source: Source
    status: str        # done | planned
    level: str | None = None
    date: str | None = None


@dataclass(frozen=True, slots=True)
class Medication:
    """A medication that is active (MedicationRequest/Statement/Administration)."""

    drug_class: str    # corticosteroid, anticoagulant, systemic-therapy, analgesic
    source: Source
    active: bool = True
    code: str | None = None
    ingredient: str | None = None  # lower-case INN when the code names it ("dexamethasone"); None: a class only
    started: str | None = None     # ISO date(time): authoredOn / effective start of the statement or administration


@dataclass(frozen=True, slots=True)
class Allergy:
    substance: str     # bone-cement, iodinated-contrast, medication, no-known-allergy, other
    source: Source


@dataclass(frozen=True, slots=True)
class DraftOrder:
    """An order being entered (CDS Hooks ``draftOrders``)."""

    kind: str          # mri-whole-spine, mri-segment, vertebroplasty, balloon-kyphoplasty,
    #                    corticosteroid, other
    resource_type: str
    resource_id: str | None
    selected: bool = True      # order-select: among ``selections``; order-sign: all
    priority: str | None = None
    deadline: datetime | None = None  # occurrenceDateTime / occurrencePeriod.end
    levels: tuple[str, ...] = ()
    fhir_version_hint: str | None = None  # "R4", "STU3", "DSTU2" (ProcedureRequest, MedicationOrder)


class SearchStatus(str, enum.Enum):
    OK = "ok"                    # search succeeded (possibly empty): absence = none recorded
    FAILED = "failed"            # OperationOutcome in the key, or the fetch failed: unknown
    NOT_SEARCHED = "not-searched"


@dataclass
class PatientFacts:
    """Everything the rules may know about one patient at one moment.

    Built by the mapping layer; read-only for the rules.
    """

    now: datetime
    patient_id: str | None = None
    birth_date: date | None = None
    sex: str | None = None  # administrative gender
    cancers: list[Cancer] = field(default_factory=list)
    conditions: list[ConditionRecord] = field(default_factory=list)
    # Resolved observation-type facts, keyed by (name, level-or-None): newest wins,
    # freshness applied, level binding applied.
    observations: dict[tuple[str, str | None], Fact] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    allergies: list[Allergy] = field(default_factory=list)
    draft_orders: list[DraftOrder] = field(default_factory=list)
    searches: dict[str, SearchStatus] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: products whose drug class no table knows (a G-Standaard-only code), as the record names
    #: them: reported on the cards, never guessed (the rules do not read this)
    unrecognised_products: list[str] = field(default_factory=list)

    # -- search status ---------------------------------------------------------
    def searched(self, resource_type: str) -> bool:
        return self.searches.get(resource_type) == SearchStatus.OK

    def search_status(self, *resource_types: str) -> SearchStatus:
        """Worst status over the resource types (failed > not-searched > ok)."""
        worst = SearchStatus.OK
        searches = self.searches
        for rt in resource_types:
            status = searches.get(rt, SearchStatus.NOT_SEARCHED)
            if status == SearchStatus.FAILED:
                return SearchStatus.FAILED
            if status == SearchStatus.NOT_SEARCHED:
                worst = SearchStatus.NOT_SEARCHED
        return worst

    # -- observations ----------------------------------------------------------
    def obs(self, name: str, level: str | None = None) -> Fact:
        """The resolved observation fact ``name`` at ``level``.

        With a level: the level's own record, else the patient-wide record (a
        fact recorded without bodySite). Without a level: the patient-wide record.
        A level-bound fact that the mapper could not place is stored under
        ``None`` with ``unknown=LEVEL_AMBIGUOUS``.
        """
        if level is not None:
            found = self.observations.get((name, level))
            if found is not None:
                return found
        found = self.observations.get((name, None))
        if found is not None:
            return found
        why = Unknown.SEARCH_FAILED if self.searches.get("Observation") == SearchStatus.FAILED \
            else Unknown.NOT_RECORDED
        return _sourceless(name, None, level, why, None)

    def obs_levels(self, name: str) -> dict[str, Fact]:
        """Every level-bound record of ``name``: {level: fact}."""
        return {lvl: f for (n, lvl), f in self.observations.items() if n == name and lvl is not None}

    # -- conditions ------------------------------------------------------------
    def condition_records(self, name: str, level: str | None = None, *,
                          include_suspected: bool = True, include_history: bool = False
                          ) -> list[ConditionRecord]:
        out = []
        for c in self.conditions:
            if c.name != name:
                continue
            if level is not None and c.level is not None and c.level != level:
                continue
            if not include_suspected and c.suspected:
                continue
            if not include_history and not c.active:
                continue
            out.append(c)
        return out

    def condition(self, name: str, level: str | None = None, *,
                  include_suspected: bool = True) -> Fact:
        """Is the condition present (at the level, or without a level)?

        True when a record is found; False ("none recorded") when the Condition
        search succeeded; unknown when it failed or was not done.
        """
        records = self.condition_records(name, level, include_suspected=include_suspected)
        if records:
            return Fact(name, True, tuple(r.source for r in records), level,
                        note="suspected" if all(r.suspected for r in records) else None)
        return self.absent(name, level, "Condition")

    # -- medications / allergies / events ---------------------------------------
    def medication(self, drug_class: str) -> Fact:
        meds = [m for m in self.medications if m.drug_class == drug_class and m.active]
        if meds:
            return Fact(drug_class, True, tuple(m.source for m in meds))
        return self.absent(drug_class, None, "MedicationRequest", "MedicationStatement")

    def allergy(self, substance: str) -> Fact:
        found = [a for a in self.allergies if a.substance == substance]
        if found:
            return Fact(f"{substance}-allergy", True, tuple(a.source for a in found))
        nka = [a for a in self.allergies if a.substance == "no-known-allergy"]
        if nka:
            return Fact(f"{substance}-allergy", False, tuple(a.source for a in nka),
                        searched="AllergyIntolerance")
        return self.absent(f"{substance}-allergy", None, "AllergyIntolerance")

    def events_of(self, kind: str, *, status: str | None = None, level: str | None = None) -> list[Event]:
        return [e for e in self.events
                if e.kind == kind and (status is None or e.status == status)
                and (level is None or e.level is None or e.level == level)]

    def event(self, kind: str, *, status: str = "done", level: str | None = None,
              searched: Iterable[str] = ("Procedure",)) -> Fact:
        found = self.events_of(kind, status=status, level=level)
        if found:
            return Fact(kind, True, tuple(e.source for e in found), level)
        return self.absent(kind, level, *searched)

    def absent(self, name: str, level: str | None, *resource_types: str) -> Fact:
        """No record found: false ("none recorded") when the search of every resource type
        succeeded, else unknown (search failed, or not done)."""
        status = self.search_status(*resource_types)
        searched = ", ".join(resource_types)
        if status == SearchStatus.OK:
            return _sourceless(name, False, level, None, searched)
        why = Unknown.SEARCH_FAILED if status == SearchStatus.FAILED else Unknown.NOT_RECORDED
        return _sourceless(name, None, level, why, searched)

    # -- derived helpers -------------------------------------------------------
    def primary_cancers(self, *, include_history: bool = True) -> list[Cancer]:
        return [c for c in self.cancers if c.is_primary and (include_history or c.active)]

    def age_years(self) -> int | None:
        if self.birth_date is None:
            return None
        today = self.now.date()
        years = today.year - self.birth_date.year
        if (today.month, today.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def metastatic_levels(self) -> list[str]:
        return sort_levels({c.level for c in self.conditions
                            if c.name == "spinal-metastasis" and c.level and c.active})

    def candidate_levels(self) -> list[str]:
        """Levels any vertebra-bound topic may speak about."""
        names = {"spinal-metastasis", "vertebral-fracture", "vertebral-haemangioma",
                 "benign-vertebral-tumour"}
        levels = {c.level for c in self.conditions if c.name in names and c.level and c.active}
        for d in self.draft_orders:
            levels.update(d.levels)
        return sort_levels(levels)


# ---------------------------------------------------------------------------
# Vertebral levels
# ---------------------------------------------------------------------------

_REGION_SIZE = {"C": 7, "T": 12, "L": 5, "S": 5}
LEVELS: tuple[str, ...] = tuple(f"{r}{i}" for r in "CTLS" for i in range(1, _REGION_SIZE[r] + 1))
_LEVEL_INDEX = {lvl: i for i, lvl in enumerate(LEVELS)}


def level_index(level: str) -> int:
    """Position of a canonical level (``C1`` = 0 ... ``S5`` = 28)."""
    return _LEVEL_INDEX[level]


def sort_levels(levels: Iterable[str]) -> list[str]:
    return sorted((lvl for lvl in levels if lvl in _LEVEL_INDEX), key=_LEVEL_INDEX.__getitem__)


def level_in_range(level: str, low: str, high: str) -> bool:
    return _LEVEL_INDEX[low] <= _LEVEL_INDEX[level] <= _LEVEL_INDEX[high]


def level_display(level: str, language: str = "en") -> str:
    """Dutch practice writes thoracic levels as ``Th``."""
    if language == "nl" and level.startswith("T"):
        return "Th" + level[1:]
    return level
