"""Observation -> observation records (symptoms, scores, labs, judgements) and the events
an Observation can record (ECG, chest X-ray); data-dictionary.md, Observations."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from spine_guideline.facts import Event, Fact, Source, Unknown

from ..context import MappingContext, ObsRecord, Resource, safe_id
from ..fhirutil import (
    as_bool,
    as_dict,
    as_list,
    as_number,
    as_str,
    cc_text,
    codings,
    date_text,
    ref_type_id,
    reference,
    status_code,
    texts,
)
from ..levels import BodySite, body_site
from ..tables import LOCAL_SYSTEM, ObsDef

COMPONENT_NAMES = ("onset", "progressive", "laterality", "treatment", "reason")
SINS_COMPONENTS = ("sins-location", "sins-pain", "sins-bone-lesion", "sins-alignment", "sins-collapse",
                   "sins-posterolateral")

#: (value, unknown-why, note) of a value read for a fact
Reading = tuple[Any, Unknown | None, str | None]


def value_key(res: Resource) -> str | None:
    """The first ``value[x]`` member of a resource or component."""
    return next((k for k in res if isinstance(k, str) and k.startswith("value")), None)


def obs_date(ctx: MappingContext, res: Resource) -> tuple[str | None, tuple[datetime, bool] | None]:
    """(as recorded, parsed) of ``effective[x]``, else ``issued``."""
    period = as_dict(res.get("effectivePeriod"))
    for val in (res.get("effectiveDateTime"), res.get("effectiveInstant"), period.get("end"), period.get("start"),
                res.get("issued")):
        p = ctx.dt(val)
        if p:
            return date_text(str(val), p), p
    return None, None


@dataclass(frozen=True)
class _Recorded:
    """Where and when one Observation was recorded: what each of its facts shares."""

    rid: str | None
    src: Source
    when: tuple[datetime, bool] | None
    site: BodySite

    def record(self, name: str, reading: Reading, attrs: dict[str, Fact],
               focus: tuple[str | None, str | None] = (None, None)) -> ObsRecord:
        value, unknown, note = reading
        when = self.when
        return ObsRecord(name, list(self.site.levels), when[0] if when else None, when[1] if when else False,
                         value, unknown, attrs, self.src, note, focus, self.site.regions)


def _component_records(ctx: MappingContext, rec: _Recorded, coded: list[tuple[str, Resource]]) -> None:
    """A panel (zib2017 eOverdracht Mobility: 'ability to walk' as a component): the component
    is its own fact, dated and placed as the Observation."""
    for name, comp in coded:
        reading = read_value(ctx, comp, ctx.term.obs_defs[name])
        if reading[1] is Unknown.UNREADABLE:
            ctx.warn("Observation", rec.rid, f"{name}: component value could not be read ({reading[2]})")
        ctx.obs.append(rec.record(name, reading, {}))


def _stepped_care_name(ctx: MappingContext, rec: _Recorded, attrs: dict[str, Fact]) -> str:
    """stepped-care-waived is recorded per treatment (its ``treatment`` component)."""
    treat = attrs.pop("treatment", None)
    if treat is not None and treat.value:
        return f"stepped-care-waived.{treat.value}"
    ctx.warn("Observation", rec.rid, "stepped-care-waived without a readable treatment component")
    return "stepped-care-waived"


def _sins_reading(reading: Reading, attrs: dict[str, Fact]) -> Reading:
    """A SINS Observation with only its components: the total is not recorded (not unreadable)."""
    value, unknown, note = reading
    if value is None and unknown is Unknown.UNREADABLE and any(k in attrs for k in SINS_COMPONENTS) \
            and note == "no value":
        return value, Unknown.NOT_RECORDED, "components only"
    return reading


def _named_record(ctx: MappingContext, res: Resource, rec: _Recorded, name: str,
                  focus: tuple[str | None, str | None]) -> ObsRecord:
    """The Observation's own value as fact ``name``, with its component attributes."""
    reading = read_value(ctx, res, ctx.term.obs_defs[name])
    if name == "pain-score":
        reading = _pain_method(ctx, res, reading)
    if reading[1] is Unknown.UNREADABLE:
        ctx.warn("Observation", rec.rid, f"{name}: value could not be read ({reading[2]})")
    attrs = _components(ctx, res, name, rec.src, rec.rid) if "component" in res else {}
    record_name = _stepped_care_name(ctx, rec, attrs) if name == "stepped-care-waived" else name
    if name == "sins":
        reading = _sins_reading(reading, attrs)
    return rec.record(record_name, reading, attrs, focus)


def map_observation(ctx: MappingContext, res: Resource) -> None:
    status = status_code(res.get("status"))
    if ctx.status_ignored(res, status):
        return
    concept = ctx.concept(res.get("code"))
    events = []
    if status in ctx.rules["event_done_status"].get("Observation", []):
        events = list(dict.fromkeys(t.code for t, _c in ctx.targets(concept, "event")))
    names = list(dict.fromkeys(t.code for t, _c in ctx.targets(concept, "observation")))
    coded_components = _coded_components(ctx, res) if "component" in res else []
    if not events and not names and not coded_components:
        return  # nothing the guideline reads
    rid = safe_id(res.get("id"))
    date_str, when = obs_date(ctx, res)
    src = Source("Observation", rid, date_str, concept.display)
    for kind in events:
        ctx.events.append(Event(kind, src, "done", None, date_str))
    rec = _Recorded(rid, src, when, body_site(res.get("bodySite"), ctx.term))
    _component_records(ctx, rec, coded_components)
    focus = ref_type_id(reference(res["focus"])) if "focus" in res else (None, None)
    for name in names:
        ctx.obs.append(_named_record(ctx, res, rec, name, focus))


def _pain_method(ctx: MappingContext, res: Resource, reading: Reading) -> Reading:
    """nl-core-PainScore ``method`` (PijnMeetmethode): NRS / VAS10 are the 0-10 score read;
    VAS100 is 0-100 and is not converted (no source says how): unknown, with the reason."""
    rules = ctx.rules["pain_score_methods"]
    for system, c, _d in codings(res.get("method")):
        if ctx.term.system(system) not in rules["systems"]:
            continue
        if c in rules["zero_to_ten"]:
            return reading
        if c in rules["not_zero_to_ten"]:
            return None, Unknown.UNREADABLE, f"method {c}: a 0-100 scale, not the 0-10 pain score"
        return None, Unknown.UNREADABLE, f"method {str(c)[:20]!r} not known: scale unknown"
    return reading


def _coded_components(ctx: MappingContext, res: Resource) -> list[tuple[str, Resource]]:
    """Components coded in a standard system that map to an observation fact (the local
    component codes, onset / progressive / SINS parts, are attributes instead)."""
    out: list[tuple[str, Resource]] = []
    for comp in as_list(res.get("component")):
        if not isinstance(comp, dict):
            continue
        concept = ctx.concept(comp.get("code"))
        if any(ctx.term.system(s) == LOCAL_SYSTEM or not s for s, _c, _d in concept.codings):
            continue
        out.extend((t.code, comp) for t, _c in ctx.targets(concept, "observation"))
    return out


def read_value(ctx: MappingContext, res: Resource, d: ObsDef) -> Reading:
    """(value, unknown-why, note) of an Observation's value[x] for fact ``d``."""
    key = value_key(res)
    if key is None:
        return None, Unknown.UNREADABLE, "no value"
    raw = res[key]
    if d.value_type == "boolean":
        return _boolean(ctx, key, raw, d)
    if d.value_type == "integer":
        return _integer(ctx, key, raw, d)
    if d.value_type == "quantity":
        return _quantity(ctx, key, raw, d)
    return _code(ctx, key, raw, d)


def answer_bool(ctx: MappingContext, fact: str, raw: Any) -> bool | None:
    """A coded yes/no: the fact's own answer codes, else the generic yes/no codes."""
    for system, c, _d in codings(raw):
        ans = ctx.term.answer(fact, system, c)
        if ans in ("true", "false"):
            return ans == "true"
        generic = ctx.term.bool_answers.get(f"{ctx.term.system(system)}|{c}")
        if isinstance(generic, bool):
            return generic
    return None


def _boolean(ctx: MappingContext, key: str, raw: Any, d: ObsDef) -> Reading:
    b = None
    if key in ("valueBoolean", "valueString"):
        b = as_bool(raw)
    elif key == "valueCodeableConcept":
        b = answer_bool(ctx, d.name, raw)
    if b is not None:
        return b, None, None
    return None, Unknown.UNREADABLE, f"{key} is not a yes/no"


def _integer(ctx: MappingContext, key: str, raw: Any, d: ObsDef) -> Reading:
    num = None
    if key == "valueCodeableConcept":
        for system, c, _d in codings(raw):
            ans = ctx.term.answer(d.name, system, c)
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


def _quantity(ctx: MappingContext, key: str, raw: Any, d: ObsDef) -> Reading:
    units = ctx.rules["units"][d.unit]
    if key == "valueQuantity":
        q = as_dict(raw)
        num = as_number(q.get("value"))
        unit = as_str(q.get("code")) or as_str(q.get("unit"))
    else:
        num = as_number(raw) if key in ("valueInteger", "valueDecimal", "valueString") else None
        unit = None
    if num is None:
        return None, Unknown.UNREADABLE, f"{key} has no number"
    factor: float | None
    if unit is None:
        if d.unit not in ("1", "%"):
            return None, Unknown.UNREADABLE, "no unit"
        factor = 1.0
    else:
        factor = units.get(unit)
        if factor is None:
            factor = {k.lower(): v for k, v in units.items()}.get(unit.lower())
        if factor is None:
            return None, Unknown.UNREADABLE, f"unit {unit[:20]!r} not convertible to {d.unit}"
    value = float(num) * float(factor)
    if (d.min is not None and value < d.min) or (d.max is not None and value > d.max) or value < 0:
        return None, Unknown.UNREADABLE, "value out of range"
    return (round(value, 3) if d.name == "life-expectancy" else value), None, None


def _code(ctx: MappingContext, key: str, raw: Any, d: ObsDef) -> Reading:
    candidates: list[str] = []
    if key == "valueCodeableConcept":
        for system, c, _d in codings(raw):
            ans = ctx.term.answer(d.name, system, c)
            candidates.append(ans if ans is not None else (c or ""))
        candidates.extend(texts(raw))
    else:
        s = as_str(raw)
        if s:
            candidates.append(s)
    allowed = ctx.term.allowed_codes.get(d.name)
    pattern = ctx.term.code_patterns.get(d.name)
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


def _components(ctx: MappingContext, res: Resource, name: str, src: Source, rid: str | None) -> dict[str, Fact]:
    attrs: dict[str, Fact] = {}
    for comp in as_list(res.get("component")):
        if not isinstance(comp, dict):
            continue
        cname = None
        for system, c, _d in codings(comp.get("code")):
            if (not system or ctx.term.system(system) == LOCAL_SYSTEM) and \
                    (c in COMPONENT_NAMES or c in SINS_COMPONENTS):
                cname = c
                break
        if cname is None:
            continue
        value, ok = _component_value(ctx, cname, comp)
        fname = cname if cname.startswith("sins-") else f"{name}.{cname}"
        if ok:
            attrs[cname] = Fact(fname, value, (src,))
        else:
            attrs[cname] = Fact(fname, None, (src,), unknown=Unknown.UNREADABLE)
            ctx.warn("Observation", rid, f"{name}: component {cname} could not be read")
    return attrs


def _onset_component(ctx: MappingContext, key: str, raw: Any) -> tuple[Any, bool]:
    """Onset: a date(time) or period start; a year or month reads as its last possible day."""
    val = raw if key != "valuePeriod" else as_dict(raw).get("start")
    p = ctx.dt(val)
    if not p:
        return None, False
    end = partial_date_end(val, p[0], ctx.now)
    return (end if end is not None else p[0]), True


def _reason_component(key: str, raw: Any) -> tuple[Any, bool]:
    """Reason: a string, else the text or first code of a CodeableConcept."""
    s = as_str(raw) if key == "valueString" else (cc_text(raw) or next(
        (c for _s, c, _d in codings(raw) if c), None))
    return s, s is not None


def _coded_answer(ctx: MappingContext, cname: str, raw: Any) -> str | None:
    """The answer map's value of the first coding of ``raw`` that has one."""
    for system, c, _d in codings(raw):
        ans = ctx.term.answer(cname, system, c)
        if ans is not None:
            return ans
    return None


def _answer_component(ctx: MappingContext, cname: str, key: str, raw: Any) -> tuple[Any, bool]:
    """Laterality / treatment: a mapped coding, or one of the allowed local codes as a string."""
    if key == "valueCodeableConcept":
        ans = _coded_answer(ctx, cname, raw)
        return ans, ans is not None
    s = as_str(raw)
    return (s, True) if s in ctx.term.allowed_codes.get(cname, frozenset()) else (None, False)


def _sins_component(ctx: MappingContext, cname: str, key: str, raw: Any) -> tuple[Any, bool]:
    """A SINS component: its points (a mapped category, or a whole number from 0 to the maximum)."""
    if key == "valueCodeableConcept":
        ans = _coded_answer(ctx, cname, raw)
        return (int(ans), True) if ans is not None else (None, False)
    top = ctx.term.answer_max.get(cname, 0)
    num = as_number(raw) if key in ("valueInteger", "valueString", "valueDecimal") else None
    if key == "valueQuantity":
        num = as_number(as_dict(raw).get("value"))
    if num is None or num != int(num) or not 0 <= num <= top:
        return None, False
    return int(num), True


def _component_value(ctx: MappingContext, cname: str, comp: Resource) -> tuple[Any, bool]:
    key = value_key(comp) or ""
    raw = comp.get(key)
    if cname == "onset":
        return _onset_component(ctx, key, raw)
    if cname == "progressive":
        b = as_bool(raw) if key in ("valueBoolean", "valueString") else None
        return b, b is not None
    if cname == "reason":
        return _reason_component(key, raw)
    if cname in ("laterality", "treatment"):
        return _answer_component(ctx, cname, key, raw)
    return _sins_component(ctx, cname, key, raw)


def partial_date_end(raw: Any, start: datetime, now: datetime) -> datetime | None:
    """For an onset recorded only as a year or a month (``2026``, ``2026-11``): the
    last day it can mean (not after now). Onset rules count "arose within N days"
    as the stricter row, so the latest possible day is the safe reading."""
    if not isinstance(raw, str) or len(raw.strip()) not in (4, 7):
        return None
    if len(raw.strip()) == 4:
        end = start.replace(month=12, day=31)
    else:
        nxt = start.replace(day=28) + timedelta(days=4)
        end = nxt - timedelta(days=nxt.day)
    return min(end, now)
