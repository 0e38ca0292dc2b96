"""FHIR for the capture forms: published Questionnaires (SDC observation-based extraction),
and the QuestionnaireResponse + Observations one submission writes.

Both are built from :mod:`.forms`, whose codes come from the mapper's own
terminology tables, so what is published and what is written is what the
mapper reads.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir_mappings.tables import LOCAL_SYSTEM
from spine_guideline import GUIDELINE_VERSION

from .forms import Form, Item, Registry

OBSERVATION_EXTRACT = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract"
UNIT_EXT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
MIN_EXT = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_EXT = "http://hl7.org/fhir/StructureDefinition/maxValue"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
#: marks the item whose answer is the vertebral level (Observation.bodySite) of the level-bound items
LEVEL_EXT = "https://spine-cds.org/fhir/StructureDefinition/body-site-item"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LEVEL_LINK_ID = "level"
LEVELS = tuple([f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)]
               + [f"S{i}" for i in range(1, 6)])
_FHIR_TYPE = {"boolean": "boolean", "integer": "integer", "quantity": "quantity", "choice": "choice",
              "string": "string", "date": "date"}
_REF = re.compile(r"^(Practitioner|PractitionerRole|Patient|RelatedPerson|Organization|CareTeam)/[A-Za-z0-9\-.]{1,64}$")


def questionnaire_id(form: Form) -> str:
    return f"spine-cds-{form.id}"


def canonical(base_url: str, form: Form) -> str:
    return f"{base_url.rstrip('/')}/fhir/Questionnaire/{questionnaire_id(form)}"


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def _q_item(item: Item, lang: str, top: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": item.link_id, "code": [item.code.fhir()], "text": item.text[lang],
                           "type": _FHIR_TYPE[item.kind], "required": False}
    ext: list[dict[str, Any]] = [{"url": OBSERVATION_EXTRACT, "valueBoolean": True} if top
                                 else {"url": OBSERVATION_EXTRACT, "valueCode": "component"}]
    if item.kind == "quantity" and item.unit:
        ext.append({"url": UNIT_EXT, "valueCoding": {"system": UCUM, "code": item.unit, "display": item.unit}})
    if item.kind in ("integer", "quantity"):
        key = "valueInteger" if item.kind == "integer" else "valueDecimal"
        if item.minimum is not None:
            ext.append({"url": MIN_EXT, key: int(item.minimum) if key == "valueInteger" else float(item.minimum)})
        if item.maximum is not None:
            ext.append({"url": MAX_EXT, key: int(item.maximum) if key == "valueInteger" else float(item.maximum)})
    if item.kind == "string" and item.pattern:
        ext.append({"url": REGEX_EXT, "valueString": item.pattern})
    out["extension"] = ext
    if item.answers:
        out["answerOption"] = [{"valueCoding": {**a.coding.fhir(), "display": a.text[lang]}} for a in item.answers]
    if item.children:
        children = []
        for child in item.children:
            c = _q_item(child, lang, top=False)
            if item.kind == "boolean":
                c["enableWhen"] = [{"question": item.link_id, "operator": "=", "answerBoolean": True}]
            children.append(c)
        out["item"] = children
    return out


def level_item(lang: str) -> dict[str, Any]:
    text = {"en": "Vertebral level of the level-bound answers", "nl": "Wervelniveau van de niveaugebonden antwoorden"}
    return {"linkId": LEVEL_LINK_ID, "text": text[lang], "type": "choice", "required": False,
            "extension": [{"url": LEVEL_EXT, "valueBoolean": True}],
            "answerOption": [{"valueCoding": {"system": LOCAL_SYSTEM, "code": lvl, "display": lvl}} for lvl in LEVELS]}


def questionnaire(form: Form, base_url: str, lang: str) -> dict[str, Any]:
    """The published Questionnaire of ``form`` (FHIR R4), texts in ``lang``."""
    items = [_q_item(it, lang, top=True) for it in form.items]
    if form.level_bound:
        items.insert(0, level_item(lang))
    return {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(form),
        "url": canonical(base_url, form),
        "version": GUIDELINE_VERSION,
        "name": "SpineCds" + _camel(form.id),
        "title": form.title[lang],
        "status": "active",
        "subjectType": ["Patient"],
        "language": lang,
        "publisher": "spine-cds",
        "description": {"en": "Data the spine-cds rules read, coded as the service's mapping reads them. "
                              "Each answered question becomes one Observation (SDC observation-based extraction)."
                              + (" Level-bound answers apply to the vertebral level answered in item 'level' "
                                 "(Observation.bodySite)." if form.level_bound else ""),
                        "nl": "Gegevens die de spine-cds-regels lezen, gecodeerd zoals de service ze leest. "
                              "Elke beantwoorde vraag wordt één Observation (SDC observation-based extraction)."
                              + (" Niveaugebonden antwoorden gelden voor het wervelniveau uit item 'level' "
                                 "(Observation.bodySite)." if form.level_bound else "")}[lang],
        "extension": [{"url": OBSERVATION_EXTRACT, "valueBoolean": True}],
        "item": items,
    }


def search_bundle(registry: Registry, base_url: str, lang: str) -> dict[str, Any]:
    entries = [{"fullUrl": canonical(base_url, f), "resource": questionnaire(f, base_url, lang),
                "search": {"mode": "match"}} for f in registry.forms]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
            "link": [{"relation": "self", "url": f"{base_url.rstrip('/')}/fhir/Questionnaire"}], "entry": entries}


# ------------------------------------------------------------------ answers -> FHIR

@dataclass(frozen=True)
class Answered:
    """One answered top-level item: its value (None when only its components were answered),
    the answers of its components (by component name) and the level it is bound to."""

    form: Form
    item: Item
    value: Any
    components: Mapping[str, Any]
    level: str | None


def _value(item: Item, value: Any) -> dict[str, Any]:
    if item.kind == "boolean":
        if item.bool_codes is not None:
            coding = item.bool_codes[0] if value else item.bool_codes[1]
            return {"valueCodeableConcept": {"coding": [coding.fhir()]}}
        return {"valueBoolean": bool(value)}
    if item.kind == "integer":
        return {"valueInteger": int(value)}
    if item.kind == "quantity":
        return {"valueQuantity": {"value": value, "unit": item.unit, "system": UCUM, "code": item.unit}}
    if item.kind == "choice":
        answer = next(a for a in item.answers if a.coding.code == value)
        return {"valueCodeableConcept": {"coding": [answer.coding.fhir()]}}
    if item.kind == "date":
        return {"valueDateTime": value.isoformat() if isinstance(value, (date, datetime)) else str(value)}
    return {"valueString": str(value)}


def _answer(item: Item, value: Any) -> dict[str, Any]:
    """A QuestionnaireResponse answer (R4 answer value[x] types)."""
    v = _value(item, value)
    if "valueCodeableConcept" in v:
        return {"valueCoding": v["valueCodeableConcept"]["coding"][0]}
    if "valueDateTime" in v:
        return {"valueDate": v["valueDateTime"][:10]}
    return v


def reference(user: str | None) -> dict[str, str] | None:
    """A Reference for the user the card was shown to (``Practitioner/123``), else a display."""
    if not user:
        return None
    return {"reference": user} if _REF.match(user) else {"display": user[:200]}


def observation(a: Answered, *, patient_id: str, now: datetime, performer: dict[str, str] | None,
                derived_from: str) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "survey"}]}],
        "code": {"coding": [a.item.code.fhir()], "text": a.item.text["en"]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": now.isoformat(),
        "issued": now.isoformat(),
        "derivedFrom": [{"reference": derived_from}],
    }
    if performer:
        obs["performer"] = [performer]
    if a.item.level_bound and a.level:
        obs["bodySite"] = {"coding": [{"system": LOCAL_SYSTEM, "code": a.level, "display": f"vertebra {a.level}"}],
                           "text": a.level}
    if a.value is not None:
        obs.update(_value(a.item, a.value))
    comps = []
    for child in a.item.children:
        key = child.component or child.link_id
        if key in a.components:
            comps.append({"code": {"coding": [child.code.fhir()]}, **_value(child, a.components[key])})
    if comps:
        obs["component"] = comps
    return obs


def questionnaire_response(form: Form, answered: list[Answered], *, base_url: str, patient_id: str,
                           now: datetime, author: dict[str, str] | None) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    levels = sorted({a.level for a in answered if a.item.level_bound and a.level})
    if form.level_bound and len(levels) == 1:
        items.append({"linkId": LEVEL_LINK_ID,
                      "answer": [{"valueCoding": {"system": LOCAL_SYSTEM, "code": levels[0]}}]})
    for a in answered:
        entry: dict[str, Any] = {"linkId": a.item.link_id, "text": a.item.text["en"]}
        if a.value is not None:
            entry["answer"] = [_answer(a.item, a.value)]
        children = [{"linkId": c.link_id, "answer": [_answer(c, a.components[c.component or c.link_id])]}
                    for c in a.item.children if (c.component or c.link_id) in a.components]
        if children:
            if "answer" in entry and a.item.kind == "boolean":
                entry["answer"][0]["item"] = children  # nested under the answer, as R4 puts a question's children
            else:
                entry["item"] = children
        items.append(entry)
    qr: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": canonical(base_url, form),
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": now.isoformat(),
        "item": items,
    }
    if author:
        qr["author"] = author
    return qr


def transaction(answered: list[Answered], *, base_url: str, patient_id: str, now: datetime,
                user: str | None, new_id: Any) -> dict[str, Any]:
    """One transaction Bundle: a QuestionnaireResponse per form answered, and its Observations
    (``derivedFrom`` the response, by its ``urn:uuid`` full URL)."""
    who = reference(user)
    entries: list[dict[str, Any]] = []
    forms: dict[str, list[Answered]] = {}
    for a in answered:
        forms.setdefault(a.form.id, []).append(a)
    for group in forms.values():
        qr_url = f"urn:uuid:{new_id()}"
        entries.append({"fullUrl": qr_url, "resource": questionnaire_response(
            group[0].form, group, base_url=base_url, patient_id=patient_id, now=now, author=who),
            "request": {"method": "POST", "url": "QuestionnaireResponse"}})
        for a in group:
            entries.append({"fullUrl": f"urn:uuid:{new_id()}", "resource": observation(
                a, patient_id=patient_id, now=now, performer=who, derived_from=qr_url),
                "request": {"method": "POST", "url": "Observation"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
