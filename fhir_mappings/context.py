"""The mapping context: one request's tables, clock, index of resources and the records
the handlers fill in (``handlers/`` modules), plus the helpers they share.

Everything here lives for one request: nothing is kept across requests and nothing
is hung on the (frozen) settings or the shared tables.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any, TypeVar

from spine_guideline.facts import (
    Allergy,
    CancerCategory,
    ConditionRecord,
    Event,
    Fact,
    Medication,
    Source,
    Unknown,
)

from .errors import MappingError
from .fhirutil import (
    as_dict,
    as_str,
    bundle_items,
    codings,
    date_text,
    parse_datetime,
    plain_concept_key,
    ref_type_id,
    reference,
    status_code,
)
from .levels import BodySite
from .settings import MappingSettings, freshness_limit
from .tables import Target, Terminology

#: a FHIR resource as parsed JSON
Resource = dict[str, Any]
#: (system, code, display), see fhirutil.codings
Coding = tuple[str | None, str | None, str | None]

T = TypeVar("T")

_SAFE_ID = re.compile(r"[^A-Za-z0-9\-.]")
_PLAIN_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def safe_id(x: Any) -> str | None:
    """A resource id fit for a card and a log line: FHIR id characters only, at most 64."""
    s = as_str(x)
    if not s:
        return None
    if _PLAIN_ID.fullmatch(s):
        return s
    return _SAFE_ID.sub("_", s)[:64]


@dataclass(slots=True)
class Concept:
    """A CodeableConcept (or Coding, list, bare code) as read: its codings, display (the
    concept's text, else the first display) and, filled on first use, its targets by domain."""

    codings: tuple[Coding, ...]
    display: str | None
    targets: dict[str, tuple[tuple[Target, Coding], ...]] = field(default_factory=dict)


@dataclass(slots=True)
class ObsRecord:
    """One Observation (or Condition read as a finding) for one fact, before resolution
    (newest wins, freshness, level binding: see ``resolve``)."""

    name: str
    levels: list[str]
    when: datetime | None
    date_only: bool
    value: Any
    unknown: Unknown | None
    attrs: dict[str, Fact]
    source: Source
    note: str | None = None
    focus: tuple[str | None, str | None] = (None, None)
    regions: frozenset[str] = frozenset()  # spine regions named without a level (narrow the candidates)


@dataclass(frozen=True, slots=True)
class CancerDraft:
    """A cancer diagnosis whose histological proof is settled after all Observations are read."""

    cancer_type: str
    category: CancerCategory
    source: Source
    onset: date | None
    onset_field: str | None
    active: bool
    suspected: bool
    proof: Fact | None
    code: str | None
    condition_id: str | None


@dataclass
class MappingContext:
    """One request being mapped."""

    term: Terminology
    settings: MappingSettings
    now: datetime
    patient_id: str | None
    warnings: list[str] = field(default_factory=list)
    index: dict[tuple[str, str], Resource] = field(default_factory=dict)  # (type, id) -> resource
    by_url: dict[str, Resource] = field(default_factory=dict)             # Bundle entry fullUrl -> resource
    draft_keys: set[tuple[str, str]] = field(default_factory=set)         # draft orders, not planned events
    obs: list[ObsRecord] = field(default_factory=list)
    cancer_drafts: list[CancerDraft] = field(default_factory=list)
    conditions: list[ConditionRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    unknown_products: list[str] = field(default_factory=list)  # medication resources whose drug class is unknown
    unrecognised_products: list[str] = field(default_factory=list)  # their names (display, else system|code)
    allergies: list[Allergy] = field(default_factory=list)
    patient: Resource | None = None
    _condition_set: set[ConditionRecord] = field(default_factory=set)
    _dates: dict[str, tuple[datetime, bool] | None] = field(default_factory=dict)
    _concepts: dict[tuple[str | None, ...], Concept] = field(default_factory=dict)
    _limits: dict[str, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            self.now = self.now.replace(tzinfo=UTC)

    @property
    def tz(self) -> tzinfo:
        return self.now.tzinfo or UTC

    @property
    def rules(self) -> dict[str, Any]:
        return self.term.rules

    # ------------------------------------------------------------------ failing loudly
    def guard(self, stage: str, res: Resource | None, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``; any exception is a mapping defect and becomes a :class:`MappingError`
        naming the stage and the resource (type/id), never a skipped resource."""
        try:
            return fn(*args)
        except MappingError:
            raise
        except Exception as exc:
            where = f"{safe_id(res.get('resourceType'))}/{safe_id(res.get('id')) or '?'}" if isinstance(res, dict) else None
            raise MappingError(stage, where, exc) from exc

    # ------------------------------------------------------------------ records and warnings
    def warn(self, rtype: str, rid: str | None, what: str) -> None:
        self.warnings.append(f"{rtype}/{rid}: {what}" if rid else f"{rtype}: {what}")

    def source(self, res: Resource, date_str: str | None = None, display: str | None = None) -> Source:
        return Source(res["resourceType"], safe_id(res.get("id")), date_str, display)

    def add_condition(self, rec: ConditionRecord) -> None:
        if rec not in self._condition_set:
            self._condition_set.add(rec)
            self.conditions.append(rec)

    # ------------------------------------------------------------------ statuses
    def status_ignored(self, res: Resource, status: str | None) -> bool:
        if status is None:
            return False
        ignored = self.term.ignored_status
        return status in ignored.get(res["resourceType"], ignored.get("*", frozenset()))

    def asserted(self, res: Resource, verification: str | None) -> bool:
        """Neither an ignored record status nor an ignored verification status (refuted,
        entered-in-error, ...): the Condition / AllergyIntolerance says what it says."""
        if self.status_ignored(res, status_code(res.get("status"))):
            return False
        return verification not in self.rules["condition"]["ignored_verification"]

    # ------------------------------------------------------------------ dates
    def dt(self, x: Any) -> tuple[datetime, bool] | None:
        """``parse_datetime`` in the request's time zone (each distinct string once)."""
        if not isinstance(x, str):
            return None
        if x not in self._dates:
            self._dates[x] = parse_datetime(x, self.tz)
        return self._dates[x]

    def date_text(self, *values: Any) -> str | None:
        """The first of ``values`` that is a readable FHIR date, as the text a card may show;
        None when none is (an unreadable date is unknown, never printed)."""
        for x in values:
            p = self.dt(x)
            if p:
                return date_text(x, p)
        return None

    def freshness_limit(self, name: str) -> int | None:
        if name not in self._limits:
            self._limits[name] = freshness_limit(self.term, self.settings, name)
        return self._limits[name]

    # ------------------------------------------------------------------ codes
    def concept(self, cc: Any) -> Concept:
        """The concept read from ``cc``; the usual one-Coding shape once per request."""
        key = plain_concept_key(cc)
        if key is None:
            return self._read_concept(cc)
        found = self._concepts.get(key)
        if found is None:
            found = self._concepts[key] = self._read_concept(cc)
        return found

    @staticmethod
    def _read_concept(cc: Any) -> Concept:
        cods = tuple(codings(cc))
        display = None
        if isinstance(cc, dict):
            display = as_str(cc.get("text"))
        elif isinstance(cc, list):
            display = next((t for t in (as_str(as_dict(i).get("text")) for i in cc if isinstance(i, dict)) if t), None)
        if display is None:
            display = next((d for _s, _c, d in cods if d), None)
        return Concept(cods, display)

    def targets(self, concept: Concept, domain: str) -> tuple[tuple[Target, Coding], ...]:
        """Targets of a concept's codings in ``domain``, with the coding each came from."""
        found = concept.targets.get(domain)
        if found is None:
            found = concept.targets[domain] = tuple(
                (t, c) for c in concept.codings for t in self.term.lookup(domain, c[0], c[1]))
        return found

    def lookup_all(self, domain: str, cc: Any) -> tuple[tuple[Target, Coding], ...]:
        return self.targets(self.concept(cc), domain)

    def kinds(self, domain: str, cc: Any) -> list[str]:
        """The distinct target codes of ``cc`` in ``domain``, in table order."""
        return list(dict.fromkeys(t.code for t, _c in self.lookup_all(domain, cc)))

    @staticmethod
    def depends_ok(t: Target, site: BodySite) -> bool:
        """A target's bodySite condition: ``vertebral`` a level or the spine named without one
        (a spinal metastasis with the level unknown); ``level`` a level or a region (one
        segment); ``whole-spine-or-none`` neither."""
        dep = t.depends.get("bodySite")
        if dep == "vertebral":
            return bool(site.levels) or site.spine
        if dep == "level":
            return bool(site.levels) or bool(site.regions)
        if dep == "whole-spine-or-none":
            return not site.levels and not site.regions
        return True

    # ------------------------------------------------------------------ intake
    def collect(self, resources: Iterable[Any] | Any) -> list[Resource]:
        """The request's resources, one per type and id (the newest ``meta.lastUpdated`` wins);
        fills ``index`` (type, id) -> resource."""
        out: list[Resource] = []
        seen: dict[tuple[str, str], int] = {}
        items = resources if isinstance(resources, (list, tuple)) else [resources]
        for n, (item, full_url) in enumerate(bundle_items(list(items))):
            if item is None:
                continue
            if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
                self.warnings.append(f"item {n}: not a FHIR resource ({type(item).__name__}), skipped")
                continue
            rtype = item["resourceType"]
            if rtype in ("OperationOutcome", "Bundle"):
                continue
            if full_url:
                self.by_url.setdefault(full_url, item)
            rid = as_str(item.get("id"))
            if rid is not None:
                key = (rtype, rid)
                if key in seen:
                    if _last_updated(item) > _last_updated(out[seen[key]]):
                        out[seen[key]] = item
                    continue
                seen[key] = len(out)
            out.append(item)
        self.index = {key: out[i] for key, i in seen.items()}
        return out

    def subject_ok(self, res: Resource) -> bool:
        """False (with a warning) for a resource of another patient than the request's."""
        if not self.settings.check_subject or not self.patient_id:
            return True
        rtype = res["resourceType"]
        if rtype == "Patient":
            rid = as_str(res.get("id"))
            if rid is not None and rid != self.patient_id:
                self.warn(rtype, safe_id(rid), "another patient than the request's, skipped")
                return False
            return True
        # "Patient/<id>" can only name the request's patient when the id is a plain FHIR id
        own = f"Patient/{self.patient_id}" if _PLAIN_ID.fullmatch(self.patient_id) else None
        for key in ("subject", "patient"):
            value = res.get(key)
            if value is None or (isinstance(value, dict) and value.get("reference") == own):
                continue
            ref = reference(value)
            if not ref:
                continue
            t, i = ref_type_id(ref)
            if t == "Patient" and i is not None and i != self.patient_id:
                self.warn(rtype, safe_id(res.get("id")), "belongs to another patient than the request's, skipped")
                return False
        return True


def _last_updated(res: Resource) -> str:
    return as_str(as_dict(res.get("meta")).get("lastUpdated")) or ""
