"""FHIR -> facts: the resources of a CDS Hooks request become :class:`PatientFacts`.

Reads plain JSON dicts (see ``bench_parse.py`` for why not fhir.resources
models), tolerant of whatever real clients send: every resource is mapped in
its own ``try``; a malformed one is skipped with a warning (type/id and what was
wrong, never patient data) and the request carries on.

Reading rules (data-dictionary.md, "General reading rules") are applied here,
so the rules never look at dates or statuses: status filters, suspected vs
confirmed, history, newest wins, freshness, units, vertebral levels and level
binding. The code lists live in ``terminology/`` (see ``tables.py``).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any

from spine_guideline.facts import (
    Allergy,
    Cancer,
    CancerCategory,
    ConditionRecord,
    DraftOrder,
    Event,
    Fact,
    Medication,
    PatientFacts,
    SearchStatus,
    Source,
    Unknown,
)

from .fhirutil import (
    as_bool,
    as_dict,
    as_list,
    as_number,
    as_str,
    bundle_items,
    cc_text,
    codings,
    date_text,
    parse_datetime,
    plain_concept_key,
    ref_type_id,
    reference,
    status_code,
    texts,
    walk_bundle,
)
from .levels import body_site_levels
from .tables import CONCEPT_CACHE_SIZE, LOCAL_SYSTEM, ObsDef, Target, Terminology, load_terminology

ENV_EXTRA_MAPPINGS = "SPINE_CDS_EXTRA_MAPPINGS"


@dataclass(frozen=True)
class MappingSettings:
    """Site configuration of the mapping layer.

    ``extra_mapping_file``: a JSON file of extra ConceptMaps (docs/local-codes.md).
    ``freshness_days``: overrides of the freshness limits, by class (``inr``,
    ``lab``, ``symptom``, ``score``, ``imaging``, ``judgement``, ``history``) or
    by fact name (which wins); ``None`` = never stale.
    ``check_subject``: skip resources whose subject/patient is another patient.
    """

    extra_mapping_file: str | None = None
    freshness_days: Mapping[str, int | None] = field(default_factory=dict)
    check_subject: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> MappingSettings:
        env = os.environ if environ is None else environ
        return cls(extra_mapping_file=env.get(ENV_EXTRA_MAPPINGS) or None, **kwargs)

    def terminology(self) -> Terminology:
        return load_terminology(self.extra_mapping_file)

    @cached_property
    def freshness_cache(self) -> dict[str, int | None]:
        """Freshness limit by fact name, filled by the mapper on first use: a function of
        these settings and their tables only, so shared by every request."""
        return {}


def load_tables(settings: MappingSettings | None = None) -> Terminology:
    """Load and validate every table once (the service calls this at start-up;
    a malformed table raises ``TerminologyError`` there)."""
    settings = settings or MappingSettings()
    term = settings.terminology()
    for key, days in settings.freshness_days.items():
        if key not in term.obs_defs and key not in term.rules["freshness_days"]:
            raise ValueError(f"freshness override for unknown fact or class {key!r}")
        if days is not None and (not isinstance(days, int) or days < 0):
            raise ValueError(f"freshness override {key!r} must be a non-negative integer or None")
    return term


_SAFE_ID = re.compile(r"[^A-Za-z0-9\-.]")
_PLAIN_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_CLINICAL = ("Condition", "Observation", "Procedure", "MedicationRequest", "MedicationStatement",
             "MedicationAdministration", "MedicationOrder", "AllergyIntolerance", "ServiceRequest",
             "ProcedureRequest", "DiagnosticReport", "ImagingStudy", "Patient", "Medication")
_COMPONENT_NAMES = ("onset", "progressive", "laterality", "treatment", "reason")
_SINS_COMPONENTS = ("sins-location", "sins-pain", "sins-bone-lesion", "sins-alignment", "sins-collapse",
                    "sins-posterolateral")
_PRIORITIES = ("routine", "urgent", "asap", "stat")
_CANCER_RANK = {"secondary": 0, "unknown-primary": 1, "unrecognised": 1, "other-solid": 2,
                "other-haematological": 2}


Coding = tuple[str | None, str | None, str | None]  # (system, code, display), see fhirutil.codings


def _safe_id(x: Any) -> str | None:
    s = as_str(x)
    if not s:
        return None
    if _PLAIN_ID.fullmatch(s):
        return s  # nothing to replace or cut (the common case: a FHIR id)
    return _SAFE_ID.sub("_", s)[:64]


@dataclass(slots=True)
class _Concept:
    codings: list[Coding]
    display: str | None  # cc_text: the concept's text, else the first display
    targets: dict[str, tuple[tuple[Target, Coding], ...]]  # by domain, filled on first use
    fact_names: list[str] | None = None  # see _Mapper.fact_names


def _first_display(cods: list[Coding]) -> str | None:
    for _s, _c, d in cods:
        if d:
            return d
    return None


def _latest(recs: list[_ObsRecord]) -> list[_ObsRecord]:
    """The records of the latest moment (all of them when none is dated)."""
    if len(recs) == 1:
        return recs
    dated = [r for r in recs if r.when is not None]
    if not dated:
        return recs
    top_when = max(r.when for r in dated)  # type: ignore[type-var]
    return [r for r in dated if r.when == top_when]


def _first_known(top: list[_ObsRecord]) -> _ObsRecord:
    """The first record read without an unknown-why, else the first."""
    for r in top:
        if r.unknown is None:
            return r
    return top[0]


@lru_cache(maxsize=64)
def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _value_key(res: dict) -> str | None:
    """The first ``value[x]`` member of a resource or component."""
    for k in res:
        if isinstance(k, str) and k.startswith("value"):
            return k
    return None


@dataclass(slots=True)
class _ObsRecord:
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


class _Mapper:
    def __init__(self, term: Terminology, settings: MappingSettings, now: datetime,
                 patient_id: str | None) -> None:
        self.term = term
        self.settings = settings
        self.tz = now.tzinfo or UTC
        self.now = now if now.tzinfo else now.replace(tzinfo=UTC)
        self.patient_id = patient_id
        # "Patient/<id>" when that reference can only name the request's patient (a plain FHIR id):
        # subject_ok then accepts it by one string comparison
        self.own_ref = f"Patient/{patient_id}" if isinstance(patient_id, str) and \
            _PLAIN_ID.fullmatch(patient_id) else None
        self.dates: dict[str, tuple[datetime, bool] | None] = {}
        self.concepts: dict[tuple[tuple[Coding, ...], str | None], _Concept] = {}
        self.plain_concepts: dict[tuple[str | None, ...], _Concept] = term.concept_cache  # across requests
        self.value_keys: dict[tuple[Any, ...], str | None] = {}  # see value_key
        self.obs_done_status = term.rules["event_done_status"].get("Observation", [])
        self.limits = settings.freshness_cache  # freshness limit by fact name, across requests
        self.warnings: list[str] = []
        self.index: dict[tuple[str, str], dict] = {}
        self.draft_keys: set[tuple[str, str]] = set()
        self.obs: list[_ObsRecord] = []
        self.cancer_drafts: list[dict[str, Any]] = []
        self.conditions: list[ConditionRecord] = []
        self._condition_set: set[ConditionRecord] = set()  # de-duplication in O(1), order kept by the list
        self.events: list[Event] = []
        self.medications: list[Medication] = []
        self.allergies: list[Allergy] = []
        self.patient: dict | None = None
        # built once at load (tables._derive), shared by every request
        self.ignored = term.ignored_status
        self.allowed_codes = term.allowed_codes
        self.bool_answers = term.bool_answers
        self.patterns = term.code_patterns

    # ------------------------------------------------------------------ helpers
    def warn(self, rtype: str, rid: str | None, what: str) -> None:
        self.warnings.append(f"{rtype}/{rid}: {what}" if rid else f"{rtype}: {what}")

    def source(self, res: dict, date: str | None = None, display: str | None = None) -> Source:
        return Source(res["resourceType"], _safe_id(res.get("id")), date, display)

    def _asserted(self, res: dict, verification: str | None) -> bool:
        """Neither an ignored record status nor an ignored verification status (refuted,
        entered-in-error, ...): the Condition / AllergyIntolerance says what it says."""
        if self.status_ignored(res, status_code(res.get("status"))):
            return False
        return verification not in self.term.rules["condition"]["ignored_verification"]

    def status_ignored(self, res: dict, status: str | None) -> bool:
        if status is None:
            return False
        return status in self.ignored.get(res["resourceType"], self.ignored.get("*", frozenset()))

    def dt(self, x: Any) -> tuple[datetime, bool] | None:
        """``parse_datetime`` in the request's time zone, once per distinct string."""
        if not isinstance(x, str):
            return None
        try:
            return self.dates[x]
        except KeyError:
            parsed = self.dates[x] = parse_datetime(x, self.tz)
            return parsed

    def date_text(self, *values: Any) -> str | None:
        """The first of ``values`` that is a readable FHIR date, as the text a card may show;
        None when none is (an unreadable date is unknown, never printed)."""
        for x in values:
            p = self.dt(x)
            if p:
                return date_text(x, p)
        return None

    def lookup_all(self, domain: str, cc: Any) -> tuple[tuple[Target, Coding], ...]:
        return self.targets(self.concept(cc), domain)

    def concept(self, cc: Any) -> _Concept:
        """A CodeableConcept (or Coding, list, bare code) read once for each distinct codings +
        text: per request, and for the usual one-Coding shape once across requests (its meaning
        depends on the tables only; ``Terminology.concept_cache``)."""
        plain = plain_concept_key(cc)
        if plain is not None:
            found = self.plain_concepts.get(plain)
            if found is None:
                found = self._concept(cc)
                if len(self.plain_concepts) < CONCEPT_CACHE_SIZE:
                    self.plain_concepts[plain] = found
            return found
        return self._concept(cc)

    def _concept(self, cc: Any) -> _Concept:
        cods = codings(cc)
        if not isinstance(cc, dict):
            return _Concept(cods, cc_text(cc, cods), {})
        text = as_str(cc.get("text"))
        key = (tuple(cods), text)
        found = self.concepts.get(key)
        if found is None:
            # cc_text of a dict: its own text, else the first display
            found = self.concepts[key] = _Concept(cods, text or _first_display(cods), {})
        return found

    def value_key(self, res: dict) -> str | None:
        """``_value_key``, once per key layout (the member names in order) per request:
        a request's Observations share a few layouts."""
        layout = tuple(res)
        try:
            return self.value_keys[layout]
        except KeyError:
            found = self.value_keys[layout] = _value_key(res)
            return found

    def fact_names(self, concept: _Concept) -> list[str]:
        """The observation facts a concept maps to, each once, in table order."""
        if concept.fact_names is None:
            names: list[str] = []
            for t, _c in self.targets(concept, "observation"):
                if t.code not in names:
                    names.append(t.code)
            concept.fact_names = names
        return concept.fact_names

    def targets(self, concept: _Concept, domain: str) -> tuple[tuple[Target, Coding], ...]:
        """Targets of a concept's codings in ``domain``, with the coding each came from."""
        found = concept.targets.get(domain)
        if found is None:
            pairs = []
            for c in concept.codings:
                for t in self.term.lookup(domain, c[0], c[1]):
                    pairs.append((t, c))
            found = concept.targets[domain] = tuple(pairs)
        return found

    def depends_ok(self, t: Target, levels: list[str], whole: bool) -> bool:
        dep = t.depends.get("bodySite")
        if dep == "vertebral" or dep == "level":
            return bool(levels)
        if dep == "whole-spine-or-none":
            return not levels
        return True

    # ------------------------------------------------------------------ intake
    def collect(self, resources: Iterable[Any] | Any) -> list[dict]:
        """The request's resources, one per type and id (the newest ``meta.lastUpdated`` wins);
        fills ``self.index`` (type, id) -> resource."""
        out: list[dict] = []
        seen: dict[tuple[str, str], int] = {}
        items = resources if isinstance(resources, (list, tuple)) else [resources]
        for n, (item, _full) in enumerate(bundle_items(list(items))):
            if item is None:
                continue
            if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
                self.warnings.append(f"item {n}: not a FHIR resource ({type(item).__name__}), skipped")
                continue
            rtype = item["resourceType"]
            if rtype in ("OperationOutcome", "Bundle"):
                continue
            rid = as_str(item.get("id"))
            if rid is not None:
                key = (rtype, rid)
                if key in seen:
                    old = out[seen[key]]
                    if self._newer(item, old):
                        out[seen[key]] = item
                    continue
                seen[key] = len(out)
            out.append(item)
        self.index = {key: out[i] for key, i in seen.items()}
        return out

    @staticmethod
    def _newer(a: dict, b: dict) -> bool:
        la = as_str(as_dict(a.get("meta")).get("lastUpdated")) or ""
        lb = as_str(as_dict(b.get("meta")).get("lastUpdated")) or ""
        return la > lb

    def subject_ok(self, res: dict) -> bool:
        if not self.settings.check_subject or not self.patient_id:
            return True
        rtype = res["resourceType"]
        if rtype == "Patient":
            rid = as_str(res.get("id"))
            if rid is not None and rid != self.patient_id:
                self.warn(rtype, _safe_id(rid), "another patient than the request's, skipped")
                return False
            return True
        for key in ("subject", "patient"):
            value = res.get(key)
            if value is None or (isinstance(value, dict) and value.get("reference") == self.own_ref):
                continue  # no reference, or the request's own patient
            ref = reference(value)
            if ref and ref != self.own_ref:
                t, i = ref_type_id(ref)
                if t == "Patient" and i is not None and i != self.patient_id:
                    self.warn(rtype, _safe_id(res.get("id")), "belongs to another patient than the request's, skipped")
                    return False
        return True

    # ------------------------------------------------------------------ dispatch
    def map_resource(self, res: dict) -> None:
        rtype = res["resourceType"]
        handler = _HANDLERS.get(rtype)
        if handler is None:
            return
        if not self.subject_ok(res):
            return
        try:
            handler(self, res)
        except Exception as exc:  # noqa: BLE001 - one odd resource never fails the request
            self.warn(rtype, _safe_id(res.get("id")), f"skipped, malformed ({exc.__class__.__name__})")

    # ------------------------------------------------------------------ Patient
    def map_Patient(self, res: dict) -> None:
        if self.patient is None:
            self.patient = res

    # ------------------------------------------------------------------ Condition
    def map_Condition(self, res: dict) -> None:
        cfg = self.term.rules["condition"]
        verification = status_code(res.get("verificationStatus"))
        if not self._asserted(res, verification):
            return
        code = res.get("code")
        concept = self.concept(code)
        cods = concept.codings
        condition_targets = self.targets(concept, "condition")
        cancer_targets = self.targets(concept, "cancer")
        unrecognised_cancer = not condition_targets and not cancer_targets and self._looks_like_cancer(code)
        if not condition_targets and not cancer_targets and not unrecognised_cancer:
            return  # nothing the guideline reads
        rid = _safe_id(res.get("id"))
        suspected = verification in cfg["suspected_verification"]
        clinical = status_code(res.get("clinicalStatus"))
        active = clinical not in cfg["history_clinical"]
        onset, onset_field = None, None
        for fld, val in (("onsetDateTime", res.get("onsetDateTime")),
                         ("onsetPeriod.start", as_dict(res.get("onsetPeriod")).get("start")),
                         ("recordedDate", res.get("recordedDate")),
                         ("assertedDate", res.get("assertedDate")), ("dateRecorded", res.get("dateRecorded"))):
            p = self.dt(val)
            if p:
                onset, onset_field = p[0].date(), fld
                break
        recorded = self.date_text(res.get("recordedDate"), res.get("onsetDateTime"), res.get("assertedDate"),
                                  res.get("dateRecorded"))
        src = Source("Condition", rid, recorded, concept.display)
        levels, whole, _present = body_site_levels(res.get("bodySite"), self.term)
        # condition facts
        for t, _coding in condition_targets:
            if not self.depends_ok(t, levels, whole):
                continue
            subtype = t.product.get("subtype")
            for lvl in (levels or [None]):
                self.add_condition(ConditionRecord(t.code, src, lvl, suspected, active, onset, onset_field, subtype))
        # cancers
        types: dict[str, tuple[str, str]] = {}
        for t, coding in cancer_targets:
            types.setdefault(t.code, (coding[0] or "", coding[1] or ""))
        if unrecognised_cancer:
            first = cods[0] if cods else (None, None, None)
            code_str = f"{first[0] or ''}|{first[1] or ''}" if first[1] else None
            types["unrecognised"] = (first[0] or "", first[1] or "")
            self.warn("Condition", rid, f"unrecognised cancer code {code_str or '(text only)'}: "
                      "not classified; add it to the site's mapping file")
        if types:
            best = max(_CANCER_RANK.get(c, 3) for c in types)
            chosen = [c for c in types if _CANCER_RANK.get(c, 3) == best]
            if len(chosen) > 1:
                self.warn("Condition", rid, f"codes give several cancer types ({', '.join(sorted(chosen))})")
            proof = self._histology_evidence(res, src)
            for ctype in chosen:
                system, c = types[ctype]
                self.cancer_drafts.append(dict(
                    cancer_type=ctype, category=CancerCategory(self.term.cancer_category[ctype]), source=src,
                    onset=onset, onset_field=onset_field, active=active, suspected=suspected,
                    proof=proof, code=f"{system}|{c}" if c else None, condition_id=as_str(res.get("id"))))

    def _looks_like_cancer(self, code: Any) -> bool:
        hints = self.term.rules["cancer_text_hints"]
        blob = " ".join(texts(code)).lower()
        if not blob:
            return False
        if any(x in blob for x in hints.get("exclude", [])):
            return False
        return any(x in blob for x in hints.get("include", []))

    def _histology_evidence(self, res: dict, src: Source) -> Fact | None:
        urls = self.term.histology_urls
        for ext in as_list(res.get("extension")):
            if isinstance(ext, dict) and ext.get("url") in urls:
                return Fact("histologically-proven", True, (src,), note="histology-morphology-behavior")
        for ev in as_list(res.get("evidence")):
            for det in as_list(as_dict(ev).get("detail")):
                t, i = ref_type_id(reference(det))
                if t != "DiagnosticReport" or i is None:
                    continue
                report = self.index.get(("DiagnosticReport", i))
                if report is None:
                    continue
                cats = as_list(report.get("category")) + as_list(report.get("code"))
                if self.lookup_all("report-category", cats) and \
                        not self.status_ignored(report, status_code(report.get("status"))):
                    rsrc = self.source(report, self.date_text(report.get("issued"), report.get("effectiveDateTime")))
                    return Fact("histologically-proven", True, (src, rsrc), note="pathology report")
        return None

    def add_condition(self, rec: ConditionRecord) -> None:
        if rec not in self._condition_set:
            self._condition_set.add(rec)
            self.conditions.append(rec)

    # ------------------------------------------------------------------ Observation
    def _obs_date(self, res: dict) -> tuple[str | None, tuple[datetime, bool] | None]:
        val = res.get("effectiveDateTime")
        p = self.dt(val)
        if p:
            return date_text(str(val), p), p  # the common case
        period = as_dict(res.get("effectivePeriod"))
        for val in (res.get("effectiveInstant"), period.get("end"), period.get("start"), res.get("issued")):
            p = self.dt(val)
            if p:
                return date_text(str(val), p), p
        return None, None

    def map_Observation(self, res: dict) -> None:
        status = status_code(res.get("status"))
        if self.status_ignored(res, status):
            return
        concept = self.concept(res.get("code"))
        # events (ECG, chest X-ray)
        events = []
        if status in self.obs_done_status:
            events = [t.code for t, _c in self.targets(concept, "event")]
        names = self.fact_names(concept)
        if not events and not names:
            return  # nothing the guideline reads
        rid = _safe_id(res.get("id"))
        date_str, when = self._obs_date(res)
        src = Source("Observation", rid, date_str, concept.display)
        for kind in events:
            self.events.append(Event(kind, src, "done", None, date_str))
        if not names:
            return
        levels, _whole, _present = body_site_levels(res.get("bodySite"), self.term)
        focus = ref_type_id(reference(res["focus"])) if "focus" in res else (None, None)
        obs_defs = self.term.obs_defs
        for name in names:
            d = obs_defs[name]
            value, unknown, note = self._read_value(res, d)
            if unknown is Unknown.UNREADABLE:
                self.warn("Observation", rid, f"{name}: value could not be read ({note})")
            attrs = self._components(res, name, src, rid) if "component" in res else {}
            record_name = name
            if name == "stepped-care-waived":
                treat = attrs.pop("treatment", None)
                if treat is not None and treat.value:
                    record_name = f"stepped-care-waived.{treat.value}"
                else:
                    self.warn("Observation", rid, "stepped-care-waived without a readable treatment component")
            if name == "sins" and value is None and unknown is Unknown.UNREADABLE and \
                    any(k in attrs for k in _SINS_COMPONENTS) and note == "no value":
                unknown, note = Unknown.NOT_RECORDED, "components only"
            self.obs.append(_ObsRecord(record_name, levels, when[0] if when else None,
                                       when[1] if when else False, value, unknown, attrs, src, note, focus))

    def _read_value(self, res: dict, d: ObsDef) -> tuple[Any, Unknown | None, str | None]:
        """(value, unknown-why, note) of an Observation's value[x] for fact ``d``."""
        key = self.value_key(res)
        if key is None:
            return None, Unknown.UNREADABLE, "no value"
        raw = res[key]
        vt = d.value_type
        if vt == "boolean":
            if key == "valueBoolean" or key == "valueString":
                b = as_bool(raw)
                if b is not None:
                    return b, None, None
            elif key == "valueCodeableConcept":
                for system, c, _d in codings(raw):
                    ans = self.term.answer(d.name, system, c)
                    if ans in ("true", "false"):
                        return ans == "true", None, None
                    generic = self.bool_answers.get(f"{self.term.system(system)}|{c}")
                    if isinstance(generic, bool):
                        return generic, None, None
            return None, Unknown.UNREADABLE, f"{key} is not a yes/no"
        if vt == "integer":
            num = None
            if key == "valueCodeableConcept":
                for system, c, _d in codings(raw):
                    ans = self.term.answer(d.name, system, c)
                    num = as_number(ans) if ans is not None else as_number(c)
                    if num is not None:
                        break
            elif key == "valueQuantity":
                num = as_number(as_dict(raw).get("value"))
            else:
                num = as_number(raw)
            if num is None or num != int(num):
                return None, Unknown.UNREADABLE, f"{key} is not an integer"
            if (d.min is not None and num < d.min) or (d.max is not None and num > d.max):
                return None, Unknown.UNREADABLE, f"{key} outside {d.min}-{d.max}"
            return int(num), None, None
        if vt == "quantity":
            return self._quantity(key, raw, d)
        # code
        candidates: list[str] = []
        if key == "valueCodeableConcept":
            for system, c, _d in codings(raw):
                ans = self.term.answer(d.name, system, c)
                candidates.append(ans if ans is not None else (c or ""))
            candidates.extend(texts(raw))
        else:
            s = as_str(raw)
            if s:
                candidates.append(s)
        allowed = self.allowed_codes.get(d.name)
        pattern = self.patterns.get(d.name)
        for cand in candidates:
            c = cand.strip()
            if allowed is not None:
                if c in allowed:
                    return c, None, None
                if c.lower() in allowed:
                    return c.lower(), None, None
            elif pattern is not None:
                if pattern.match(c.upper()):
                    return c.upper(), None, None
            elif c:
                return c, None, None
        return None, Unknown.UNREADABLE, f"{key} is not a known {d.name} code"

    def _quantity(self, key: str, raw: Any, d: ObsDef) -> tuple[Any, Unknown | None, str | None]:
        units = self.term.rules["units"][d.unit]
        if key == "valueQuantity":
            q = as_dict(raw)
            num = as_number(q.get("value"))
            unit = as_str(q.get("code")) or as_str(q.get("unit"))
        else:
            num = as_number(raw) if key in ("valueInteger", "valueDecimal", "valueString") else None
            unit = None
        if num is None:
            return None, Unknown.UNREADABLE, f"{key} has no number"
        if unit is None:
            if d.unit in ("1", "%"):
                factor = 1.0
            else:
                return None, Unknown.UNREADABLE, "no unit"
        else:
            factor = units.get(unit)
            if factor is None:
                lowered = {k.lower(): v for k, v in units.items()}
                factor = lowered.get(unit.lower())
            if factor is None:
                return None, Unknown.UNREADABLE, f"unit {unit[:20]!r} not convertible to {d.unit}"
        value = float(num) * float(factor)
        if (d.min is not None and value < d.min) or (d.max is not None and value > d.max) or value < 0:
            return None, Unknown.UNREADABLE, "value out of range"
        return (round(value, 3) if d.name == "life-expectancy" else value), None, None

    def _components(self, res: dict, name: str, src: Source, rid: str | None) -> dict[str, Fact]:
        attrs: dict[str, Fact] = {}
        for comp in as_list(res.get("component")):
            if not isinstance(comp, dict):
                continue
            cname = None
            for system, c, _d in codings(comp.get("code")):
                if (not system or self.term.system(system) == LOCAL_SYSTEM) and \
                        (c in _COMPONENT_NAMES or c in _SINS_COMPONENTS):
                    cname = c
                    break
            if cname is None:
                continue
            value, ok = self._component_value(cname, comp)
            fname = cname if cname.startswith("sins-") else f"{name}.{cname}"
            if ok:
                attrs[cname] = Fact(fname, value, (src,))
            else:
                attrs[cname] = Fact(fname, None, (src,), unknown=Unknown.UNREADABLE)
                self.warn("Observation", rid, f"{name}: component {cname} could not be read")
        return attrs

    def _component_value(self, cname: str, comp: dict) -> tuple[Any, bool]:
        keys = [k for k in comp if isinstance(k, str) and k.startswith("value")]
        raw = comp[keys[0]] if keys else None
        key = keys[0] if keys else ""
        if cname == "onset":
            val = raw if key != "valuePeriod" else as_dict(raw).get("start")
            p = self.dt(val)
            if not p:
                return None, False
            end = _partial_date_end(val, p[0], self.now)
            return (end if end is not None else p[0]), True
        if cname == "progressive":
            b = as_bool(raw) if key in ("valueBoolean", "valueString") else None
            return b, b is not None
        if cname == "reason":
            s = as_str(raw) if key == "valueString" else (cc_text(raw) or next(
                (c for _s, c, _d in codings(raw) if c), None))
            return s, s is not None
        if cname in ("laterality", "treatment"):
            if key == "valueCodeableConcept":
                for system, c, _d in codings(raw):
                    ans = self.term.answer(cname, system, c)
                    if ans is not None:
                        return ans, True
                return None, False
            s = as_str(raw)
            allowed = self.allowed_codes.get(cname, frozenset())
            return (s, True) if s in allowed else (None, False)
        # SINS component: points or category
        top = self.term.answer_max.get(cname, 0)
        if key == "valueCodeableConcept":
            for system, c, _d in codings(raw):
                ans = self.term.answer(cname, system, c)
                if ans is not None:
                    return int(ans), True
            return None, False
        num = as_number(raw) if key in ("valueInteger", "valueString", "valueDecimal") else None
        if key == "valueQuantity":
            num = as_number(as_dict(raw).get("value"))
        if num is None or num != int(num) or not 0 <= num <= top:
            return None, False
        return int(num), True

    # ------------------------------------------------------------------ events
    def _events_from(self, res: dict, cc: Any, status: str, date_str: str | None, body_site: Any) -> None:
        levels, whole, _p = body_site_levels(body_site, self.term)
        src = self.source(res, date_str, cc_text(cc))
        kinds: list[str] = []
        for t, _c in self.lookup_all("event", cc):
            if self.depends_ok(t, levels, whole) and t.code not in kinds:
                kinds.append(t.code)
        for kind in kinds:
            if kind in ("mri-whole-spine",):
                self.events.append(Event(kind, src, status, None, date_str))
                continue
            for lvl in (levels or [None]):
                self.events.append(Event(kind, src, status, lvl, date_str))

    def map_Procedure(self, res: dict) -> None:
        status = status_code(res.get("status"))
        if self.status_ignored(res, status):
            return
        if status not in self.term.rules["event_done_status"]["Procedure"]:
            return
        period = as_dict(res.get("performedPeriod"))
        date_str = self.date_text(res.get("performedDateTime"), period.get("end"), period.get("start"),
                                  res.get("performedString"))
        self._events_from(res, res.get("code"), "done", date_str, res.get("bodySite"))

    def map_ImagingStudy(self, res: dict) -> None:
        status = status_code(res.get("status"))
        if self.status_ignored(res, status) or status not in self.term.rules["event_done_status"]["ImagingStudy"]:
            return
        sites = [s.get("bodySite") for s in as_list(res.get("series")) if isinstance(s, dict) and s.get("bodySite")]
        cc = as_list(res.get("procedureCode")) + as_list(res.get("reasonCode"))[:0]
        self._events_from(res, cc, "done", self.date_text(res.get("started")), sites)

    def map_DiagnosticReport(self, res: dict) -> None:
        status = status_code(res.get("status"))
        if self.status_ignored(res, status) or status not in self.term.rules["event_done_status"]["DiagnosticReport"]:
            return
        date_str = self.date_text(res.get("effectiveDateTime"), as_dict(res.get("effectivePeriod")).get("end"),
                                  res.get("issued"))
        self._events_from(res, res.get("code"), "done", date_str, None)

    def map_ServiceRequest(self, res: dict) -> None:
        if ((res["resourceType"], as_str(res.get("id")) or "") in self.draft_keys):
            return
        status = status_code(res.get("status"))
        if self.status_ignored(res, status):
            return
        if status not in self.term.rules["event_planned_status"].get(res["resourceType"], []):
            return
        date_str = self.date_text(res.get("occurrenceDateTime"), as_dict(res.get("occurrencePeriod")).get("end"),
                                  res.get("authoredOn"), res.get("orderedOn"))
        self._events_from(res, res.get("code"), "planned", date_str, res.get("bodySite"))

    map_ProcedureRequest = map_ServiceRequest

    # ------------------------------------------------------------------ medications
    def _med_codes(self, res: dict) -> list[Any]:
        out: list[Any] = []
        if res.get("medicationCodeableConcept") is not None:
            out.append(res.get("medicationCodeableConcept"))
        med = res.get("medication")
        if isinstance(med, dict):  # R5 CodeableReference
            if med.get("concept") is not None:
                out.append(med.get("concept"))
            if med.get("reference") is not None:
                out.extend(self._resolve_med(res, med.get("reference")))
        ref = res.get("medicationReference")
        if ref is not None:
            out.extend(self._resolve_med(res, ref))
        return out

    def _resolve_med(self, res: dict, ref: Any) -> list[Any]:
        r = reference(ref)
        if not r:
            return []
        if r.startswith("#"):
            for c in as_list(res.get("contained")):
                if isinstance(c, dict) and c.get("id") == r[1:]:
                    return [c.get("code")]
            return []
        t, i = ref_type_id(r)
        found = self.index.get((t or "", i or ""))
        return [found.get("code")] if found else []

    def _map_med(self, res: dict) -> None:
        rtype = res["resourceType"]
        status = status_code(res.get("status"))
        if self.status_ignored(res, status):
            return
        rules = self.term.rules
        classes: dict[str, str | None] = {}
        for cc in self._med_codes(res):
            for t, coding in self.lookup_all("medication", cc):
                classes.setdefault(t.code, f"{coding[0] or ''}|{coding[1]}")
        if not classes:
            return
        period = as_dict(res.get("effectivePeriod"))
        date_str = self.date_text(res.get("authoredOn"), res.get("effectiveDateTime"), period.get("start"),
                                  res.get("dateAsserted"), res.get("dateWritten"))
        src = self.source(res, date_str, next((cc_text(cc) for cc in self._med_codes(res) if cc_text(cc)), None))
        active = status in rules["medication_active_status"].get(rtype, [])
        for cls, code in classes.items():
            if active:
                self.medications.append(Medication(cls, src, True, code))
            # Treatments given (stepped care, VPBK-M-4) count also when completed or stopped.
            if cls in rules.get("given_event_classes", ("systemic-therapy",)) \
                    and status in rules["systemic_therapy_given_status"].get(rtype, []):
                self.events.append(Event(cls, src, "done", None, date_str))

    map_MedicationRequest = _map_med
    map_MedicationStatement = _map_med
    map_MedicationAdministration = _map_med
    map_MedicationOrder = _map_med

    # ------------------------------------------------------------------ allergies
    def map_AllergyIntolerance(self, res: dict) -> None:
        if not self._asserted(res, status_code(res.get("verificationStatus"))):
            return
        clinical = status_code(res.get("clinicalStatus"))
        if clinical in ("inactive", "resolved"):
            return
        cc = [res.get("code"), res.get("substance")] + [as_dict(r).get("substance") for r in as_list(res.get("reaction"))]
        src = self.source(res, self.date_text(res.get("recordedDate"), res.get("assertedDate")), cc_text(res.get("code")))
        subs: list[str] = []
        for t, _c in self.lookup_all("allergy", [c for c in cc if c is not None]):
            if t.code not in subs:
                subs.append(t.code)
        cats = [c.lower() for c in (as_str(x) for x in as_list(res.get("category"))) if c]
        if "medication" in cats and "no-known-allergy" not in subs:
            subs.append("medication")
        if not subs:
            subs.append("other")
        for s in subs:
            self.allergies.append(Allergy(s, src))

    # ------------------------------------------------------------------ draft orders
    def draft_order(self, res: dict, selections: set[tuple[str, str]] | None, raw_sel: set[str],
                    full_url: str | None) -> DraftOrder | None:
        rtype = res["resourceType"]
        rid = as_str(res.get("id"))
        kind = "other"
        levels, whole, _p = body_site_levels(res.get("bodySite"), self.term)
        if rtype in ("MedicationRequest", "MedicationOrder", "MedicationStatement", "MedicationAdministration"):
            for cc in self._med_codes(res):
                if any(t.code == "corticosteroid" for t, _c in self.lookup_all("medication", cc)):
                    kind = "corticosteroid"
        else:
            for t, _c in self.lookup_all("order", res.get("code")):
                if self.depends_ok(t, levels, whole):
                    kind = t.code
                    break
        priority = as_str(res.get("priority"))
        priority = priority.lower() if priority else None
        if priority is not None and priority not in _PRIORITIES:
            self.warn(rtype, _safe_id(rid), "draft order priority not understood")
            priority = None
        deadline = None
        for val in (res.get("occurrenceDateTime"), as_dict(res.get("occurrencePeriod")).get("end"),
                    res.get("scheduledDateTime"), as_dict(res.get("scheduledPeriod")).get("end")):
            p = self.dt(val)
            if p:
                deadline = p[0] + timedelta(days=1) - timedelta(seconds=1) if p[1] else p[0]
                break
        hint = {"ServiceRequest": "R4", "MedicationRequest": "R4", "MedicationOrder": "DSTU2",
                "DiagnosticOrder": "DSTU2"}.get(rtype)
        if rtype == "ProcedureRequest":
            hint = "DSTU2" if any(k in res for k in ("orderedOn", "scheduledDateTime", "scheduledPeriod")) else "STU3"
        if selections is None:
            selected = True
        else:
            selected = (rtype, rid or "") in selections or (full_url is not None and full_url in raw_sel)
        return DraftOrder(kind, rtype, _safe_id(rid), selected, priority, deadline, tuple(levels), hint)

    # ------------------------------------------------------------------ resolution
    def freshness_limit(self, name: str) -> int | None:
        try:
            return self.limits[name]
        except KeyError:
            limit = self.limits[name] = self._freshness_limit(name)
            return limit

    def _freshness_limit(self, name: str) -> int | None:
        base = name.split(".", 1)[0]
        over = self.settings.freshness_days
        if name in over:
            return over[name]
        if base in over:
            return over[base]
        cls = self.term.obs_defs[base].freshness
        if cls in over:
            return over[cls]
        return self.term.freshness_days(cls)

    def resolve(self, facts: PatientFacts) -> None:
        candidates = facts.candidate_levels()
        groups: dict[tuple[str, str | None], list[_ObsRecord]] = {}
        ambiguous: dict[str, list[_ObsRecord]] = {}
        for r in self.obs:
            base = r.name.split(".", 1)[0]
            d = self.term.obs_defs[base]
            if r.levels:
                for lvl in r.levels:
                    groups.setdefault((r.name, lvl), []).append(r)
                if not d.level_bound:
                    groups.setdefault((r.name, None), []).append(r)
            elif d.level_bound:
                if len(candidates) == 1:
                    r.note = r.note or "level taken from the only candidate level"
                    groups.setdefault((r.name, candidates[0]), []).append(r)
                else:
                    ambiguous.setdefault(r.name, []).append(r)
            else:
                groups.setdefault((r.name, None), []).append(r)
        for (name, lvl), recs in groups.items():
            facts.observations[(name, lvl)] = self._newest(name, lvl, recs)
        for name, recs in ambiguous.items():
            facts.observations[(name, None)] = Fact(
                name, None, tuple(r.source for r in recs), None, Unknown.LEVEL_AMBIGUOUS,
                note=f"recorded without bodySite; candidate levels: {len(candidates)}")
        self._derive_lesion_type(facts)

    def _newest(self, name: str, lvl: str | None, recs: list[_ObsRecord]) -> Fact:
        top = _latest(recs)
        limit = self.freshness_limit(name)
        first = top[0]
        if len(top) == 1:
            srcs: tuple[Source, ...] = (first.source,)
        else:
            srcs = tuple(dict.fromkeys(r.source for r in top))
            values = {repr(r.value) for r in top if r.unknown is None}
            if len(values) > 1:
                return Fact(name, None, srcs, lvl, Unknown.CONFLICT, note="records of the same moment disagree")
        if limit is not None:
            if first.when is None:
                return Fact(name, None, srcs, lvl, Unknown.STALE, self._stale_attrs(first.attrs),
                            note="no date: freshness cannot be shown")
            if first.date_only:
                age_days = (self.now.astimezone(first.when.tzinfo).date() - first.when.date()).days
                stale = age_days > limit
            else:  # whole days, elapsed time rounded down: "within 7 days" includes day 7
                stale = (self.now - first.when).days > limit
            if stale:
                return Fact(name, None, srcs, lvl, Unknown.STALE, self._stale_attrs(first.attrs),
                            note=f"older than {limit} days")
        chosen = _first_known(top)
        note = chosen.note
        if lvl is None and chosen.levels and len(chosen.levels) >= 1:
            note = note or "recorded at " + ", ".join(chosen.levels)
        attrs = {k: Fact(f.name, f.value, f.sources, lvl, f.unknown) for k, f in chosen.attrs.items()} \
            if chosen.attrs else {}
        return Fact(name, chosen.value, srcs, lvl, chosen.unknown, attrs, note=note)

    @staticmethod
    def _stale_attrs(attrs: Mapping[str, Fact]) -> dict[str, Fact]:
        return {k: Fact(f.name, None, f.sources, f.level, Unknown.STALE) for k, f in attrs.items()}

    def _derive_lesion_type(self, facts: PatientFacts) -> None:
        by_points = self.term.lesion_by_points
        for (name, lvl), sins in list(facts.observations.items()):
            if name != "sins":
                continue
            comp = sins.attrs.get("sins-bone-lesion")
            if comp is None or comp.value is None or comp.value not in by_points:
                continue
            derived = by_points[comp.value]
            current = facts.observations.get(("lesion-type", lvl))
            if current is None or current.value is None:
                if current is not None and current.unknown is Unknown.CONFLICT:
                    continue
                facts.observations[("lesion-type", lvl)] = Fact(
                    "lesion-type", derived, comp.sources, lvl, note="from the SINS bone-lesion component")
            elif current.value != derived:
                facts.observations[("lesion-type", lvl)] = Fact(
                    "lesion-type", None, tuple(dict.fromkeys(current.sources + comp.sources)), lvl,
                    Unknown.CONFLICT, note="lesion-type and the SINS bone-lesion component disagree")
            else:
                facts.observations[("lesion-type", lvl)] = Fact(
                    "lesion-type", current.value, tuple(dict.fromkeys(current.sources + comp.sources)), lvl,
                    note=current.note)

    def finish_cancers(self, facts: PatientFacts) -> None:
        if not self.cancer_drafts:
            return
        general = facts.observations.get(("histologically-proven", None))
        focused: dict[str, _ObsRecord] = {}
        for r in self.obs:
            if r.name == "histologically-proven" and r.focus[0] == "Condition" and r.focus[1] and r.unknown is None:
                old = focused.get(r.focus[1])
                if old is None or (r.when or datetime.min.replace(tzinfo=UTC)) > \
                        (old.when or datetime.min.replace(tzinfo=UTC)):
                    focused[r.focus[1]] = r
        for d in self.cancer_drafts:
            proof = d["proof"]
            if proof is None:
                rec = focused.get(d["condition_id"] or "")
                if rec is not None:
                    proof = Fact("histologically-proven", rec.value, (rec.source,), note="Observation with focus")
                elif general is not None and general.sources:
                    proof = Fact("histologically-proven", general.value, general.sources, None, general.unknown,
                                 note=general.note)
                else:
                    proof = Fact("histologically-proven", None, (), None, Unknown.NOT_RECORDED,
                                 note="confirmed diagnosis alone is not histological proof")
            facts.cancers.append(Cancer(d["cancer_type"], d["category"], d["source"], d["onset"], d["onset_field"],
                                        d["active"], d["suspected"], proof, d["code"]))


#: resourceType -> handler; other types are not read
_HANDLERS = {
    "Patient": _Mapper.map_Patient,
    "Condition": _Mapper.map_Condition,
    "Observation": _Mapper.map_Observation,
    "Procedure": _Mapper.map_Procedure,
    "ImagingStudy": _Mapper.map_ImagingStudy,
    "DiagnosticReport": _Mapper.map_DiagnosticReport,
    "ServiceRequest": _Mapper.map_ServiceRequest,
    "ProcedureRequest": _Mapper.map_ProcedureRequest,
    "MedicationRequest": _Mapper.map_MedicationRequest,
    "MedicationStatement": _Mapper.map_MedicationStatement,
    "MedicationAdministration": _Mapper.map_MedicationAdministration,
    "MedicationOrder": _Mapper.map_MedicationOrder,
    "AllergyIntolerance": _Mapper.map_AllergyIntolerance,
}


def _searches(raw: Mapping[str, Any] | None, warnings: list[str]) -> dict[str, SearchStatus]:
    out: dict[str, SearchStatus] = {}
    for k, v in (raw or {}).items():
        if isinstance(v, SearchStatus):
            out[k] = v
            continue
        try:
            out[k] = SearchStatus(v)
        except ValueError:
            warnings.append(f"search status for {str(k)[:40]} not understood; read as not searched")
    return out


def _selection_keys(selections: Iterable[str] | None) -> tuple[set[tuple[str, str]] | None, set[str]]:
    if selections is None:
        return None, set()
    keys: set[tuple[str, str]] = set()
    raw: set[str] = set()
    for s in as_list(selections) if not isinstance(selections, (list, tuple, set)) else selections:
        if not isinstance(s, str):
            continue
        raw.add(s)
        t, i = ref_type_id(s)
        if t and i:
            keys.add((t, i))
    return keys, raw


def build_facts(resources: Iterable[Any], *, searches: Mapping[str, SearchStatus], now: datetime,
                patient_id: str | None = None, draft_orders: Any = None,
                selections: Iterable[str] | None = None,
                settings: MappingSettings | None = None) -> PatientFacts:
    """Map a request's resources (prefetch + fetched + draft orders) to PatientFacts.

    ``resources``: Bundles (any depth, every page of a searchset), bare
    resources, ``None`` and junk. ``draft_orders``: the CDS Hooks
    ``draftOrders`` (a Bundle, with or without ``type``, or a list).
    ``selections``: order-select references (``"ServiceRequest/abc"``); ``None``
    means every draft order is selected (order-sign). Never raises for odd input.
    """
    settings = settings or MappingSettings()
    term = settings.terminology()
    m = _Mapper(term, settings, now, patient_id)
    facts = PatientFacts(now=now, patient_id=patient_id)
    facts.searches = _searches(searches, m.warnings)

    items = m.collect(resources if resources is not None else [])

    # draft orders first: their levels are candidates, and they are not planned events
    sel_keys, raw_sel = _selection_keys(selections)
    if draft_orders is not None:
        seen: set[tuple[str, str]] = set()
        for n, (item, full_url) in enumerate(walk_bundle(draft_orders if isinstance(draft_orders, list)
                                                          else [draft_orders])):
            if item is None:
                continue
            if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
                m.warnings.append(f"draft order {n}: not a FHIR resource ({type(item).__name__}), skipped")
                continue
            rid = as_str(item.get("id"))
            key = (item["resourceType"], rid or "")
            if rid is not None:
                if key in seen:
                    continue
                seen.add(key)
                m.draft_keys.add(key)
            try:
                d = m.draft_order(item, sel_keys, raw_sel, full_url)
                if d is not None:
                    facts.draft_orders.append(d)
            except Exception as exc:  # noqa: BLE001
                m.warn(item["resourceType"], _safe_id(rid), f"draft order skipped, malformed ({exc.__class__.__name__})")

    # observations last among the records: level binding needs conditions
    order = {"Medication": 0, "DiagnosticReport": 1, "Patient": 1, "Condition": 2, "Observation": 9}
    for res in sorted(items, key=lambda r: order.get(r["resourceType"], 5)):
        m.map_resource(res)

    if m.patient is not None:
        try:
            bd = m.dt(m.patient.get("birthDate"))
            facts.birth_date = bd[0].date() if bd else None
            g = as_str(m.patient.get("gender"))
            facts.sex = g.lower() if g else None
        except Exception as exc:  # noqa: BLE001
            m.warn("Patient", _safe_id(m.patient.get("id")), f"malformed ({exc.__class__.__name__})")
    facts.conditions = m.conditions
    facts.events = m.events
    facts.medications = m.medications
    facts.allergies = m.allergies
    try:
        m.resolve(facts)
        m.finish_cancers(facts)
    except Exception as exc:  # noqa: BLE001 - a bug here must not fail the request silently
        m.warnings.append(f"resolution failed ({exc.__class__.__name__}); observations may be incomplete")
    facts.warnings = m.warnings
    return facts


def _partial_date_end(raw: Any, start: datetime, now: datetime) -> datetime | None:
    """For an onset recorded only as a year or a month (``2026``, ``2026-11``): the
    last day it can mean (not after now). Onset rules count "arose within N days"
    as the stricter row, so the latest possible day is the safe reading."""
    if not isinstance(raw, str) or len(raw.strip()) not in (4, 7):
        return None
    text = raw.strip()
    if len(text) == 4:
        end = start.replace(month=12, day=31)
    else:
        nxt = start.replace(day=28) + timedelta(days=4)
        end = nxt - timedelta(days=nxt.day)
    return min(end, now)
