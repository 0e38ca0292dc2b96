"""The capture forms: which facts a clinician can record from a card, and how each is coded.

``data/forms.json`` groups the facts of the data dictionary into forms (one
published Questionnaire each) and gives their texts. Everything about how a
fact is *coded* comes from the terminology tables the mapper reads
(``fhir_mappings/terminology``): the Observation code (the standard code where
the tables map one, else the local code), the value type, unit, range, level
binding and answer codes. So a form can only write what the mapper reads; a
fact the tables do not know stops start-up (:class:`FormsError`).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from fhir_mappings import load_tables
from fhir_mappings.tables import LOCAL_SYSTEM, Terminology

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
#: which source system's code a form writes when the tables map several (standard codes first)
SYSTEM_PREFERENCE = (LOINC, SNOMED, LOCAL_SYSTEM)
LANGUAGES = ("en", "nl")

#: the Observation.component names the mapper reads (fhir_mappings.mapper), and their form type
COMPONENT_TYPES = {"onset": "date", "progressive": "boolean", "laterality": "choice"}
SINS_COMPONENTS = ("sins-location", "sins-pain", "sins-bone-lesion", "sins-alignment", "sins-collapse",
                   "sins-posterolateral")


class FormsError(ValueError):
    """data/forms.json does not fit the terminology tables (raised at load, never in a request)."""


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None

    def fhir(self) -> dict[str, str]:
        out = {"system": self.system, "code": self.code}
        if self.display:
            out["display"] = self.display
        return out


@dataclass(frozen=True)
class Answer:
    """One answer option of a choice item: the coding written, and the value the mapper reads from it."""

    coding: Coding
    value: str
    text: Mapping[str, str]


@dataclass(frozen=True)
class Item:
    """One question. ``link_id`` is the fact name (``mescc-deficit``) or, for a component, the
    mapper's name of the sub-fact (``mescc-deficit.onset``; SINS components by their own name)."""

    link_id: str
    fact: str                  # the fact the mapper makes of it (the parent's, for a component)
    kind: str                  # boolean | integer | quantity | choice | string | date
    code: Coding               # Observation.code, or component.code
    text: Mapping[str, str]
    level_bound: bool = False
    unit: str | None = None    # UCUM unit written with a quantity
    minimum: float | None = None
    maximum: float | None = None
    answers: tuple[Answer, ...] = ()
    bool_codes: tuple[Coding, Coding] | None = None  # (true, false) answer codes, when the tables have them
    pattern: str | None = None
    component: str | None = None  # component name when this item is a component of its parent
    children: tuple[Item, ...] = ()

    def all_items(self) -> tuple[Item, ...]:
        return (self, *self.children)


@dataclass(frozen=True)
class Form:
    id: str
    title: Mapping[str, str]
    items: tuple[Item, ...]

    @property
    def level_bound(self) -> bool:
        return any(i.level_bound for i in self.items)

    def item(self, link_id: str) -> Item | None:
        for top in self.items:
            for it in top.all_items():
                if it.link_id == link_id:
                    return it
        return None


@dataclass(frozen=True)
class Registry:
    forms: tuple[Form, ...]
    not_captured: Mapping[str, str]

    def form(self, form_id: str) -> Form | None:
        return next((f for f in self.forms if f.id == form_id), None)

    def top_item(self, fact: str) -> tuple[Form, Item] | None:
        """The form and top-level item that records ``fact`` (``mescc-deficit``, or a component's
        parent for ``mescc-deficit.onset`` and ``sins-collapse``)."""
        for form in self.forms:
            for item in form.items:
                if item.fact == fact or any(c.link_id == fact for c in item.children):
                    return form, item
        return None


def _texts(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or any(not isinstance(raw.get(lang), str) or not raw[lang].strip()
                                        for lang in LANGUAGES):
        raise FormsError(f"{where}: needs a text in each of {', '.join(LANGUAGES)}")
    return {lang: raw[lang] for lang in LANGUAGES}


def observation_code(term: Terminology, fact: str) -> Coding:
    """The code a form writes for ``fact``: the first standard code the observation map reads as
    that fact (LOINC before SNOMED), else the local code. Only plain mappings count (no
    ``dependsOn``), so the mapper reads the written code as ``fact`` whatever the body site."""
    table = term.exact["observation"]
    for system in SYSTEM_PREFERENCE:
        for (sys_, code), targets in table.items():
            if sys_ == system and any(t.code == fact and not t.depends for t in targets):
                display = _local_displays().get(code) if system == LOCAL_SYSTEM else None
                return Coding(system, code, display)
    raise FormsError(f"fact {fact!r}: no Observation code in the terminology tables reads as it")


def _answers(term: Terminology, fact: str, texts: Mapping[str, Any], where: str) -> tuple[Answer, ...]:
    # One option per value the mapper tells apart. Several codes may read as one value (the local
    # "unilateral" and SNOMED "left" and "right" all read as unilateral laterality): the option
    # writes the code the form has a label for, so what is written means what the clinician chose.
    by_value: dict[str, list[tuple[str, str]]] = {}
    for (f, system, code), value in term.answers.items():
        if f == fact:
            by_value.setdefault(value, []).append((system, code))
    found: list[Answer] = []
    for value, codings in by_value.items():
        labelled = [(system, code) for system, code in codings if code in texts]
        if not labelled:
            raise FormsError(f"{where} answer {value!r}: needs a text in each of {', '.join(LANGUAGES)} "
                             f"for one of its codes ({', '.join(code for _s, code in codings)})")
        system, code = labelled[0]
        found.append(Answer(Coding(system, code, _local_displays().get(code) if system == LOCAL_SYSTEM else None),
                            value, _texts(texts.get(code), f"{where} answer {code!r}")))
    if not found:
        raise FormsError(f"{where}: the terminology has no answer codes for {fact!r}")
    if fact.startswith("sins-"):  # points, highest first, as the SINS table lists them
        found.sort(key=lambda a: -int(a.value))
    return tuple(found)


def _bool_codes(term: Terminology, fact: str) -> tuple[Coding, Coding] | None:
    codes = {value: Coding(system, code) for (f, system, code), value in term.answers.items()
             if f == fact and value in ("true", "false")}
    if set(codes) == {"true", "false"}:
        return codes["true"], codes["false"]
    return None


def _component(term: Terminology, parent: str, name: str, texts: Mapping[str, Any], answers: Mapping[str, Any],
               level_bound: bool, where: str) -> Item:
    text = _texts(texts.get(name), f"{where} component {name!r}")
    code = Coding(LOCAL_SYSTEM, name, _local_displays().get(name))
    if name in SINS_COMPONENTS:
        if parent != "sins":
            raise FormsError(f"{where}: {name} is a component of sins only")
        return Item(name, parent, "choice", code, text, level_bound,
                    answers=_answers(term, name, answers, f"{where} {name}"), component=name)
    kind = COMPONENT_TYPES.get(name)
    if kind is None:
        raise FormsError(f"{where}: component {name!r} is not one the mapper reads")
    opts = _answers(term, name, answers, f"{where} {name}") if kind == "choice" else ()
    return Item(f"{parent}.{name}", parent, kind, code, text, level_bound, answers=opts, component=name)


def _item(term: Terminology, raw: Any, texts: Mapping[str, Any], answers: Mapping[str, Any], where: str) -> Item:
    if not isinstance(raw, dict) or not isinstance(raw.get("fact"), str):
        raise FormsError(f"{where}: an item needs a fact")
    fact = raw["fact"]
    d = term.obs_defs.get(fact)
    if d is None:
        raise FormsError(f"{where}: {fact!r} is not an Observation fact of the terminology tables")
    text = _texts(raw.get("text"), f"{where} {fact}")
    code = observation_code(term, fact)
    pattern = term.rules.get("code_patterns", {}).get(fact)
    kind: str
    opts: tuple[Answer, ...] = ()
    if d.value_type == "boolean":
        kind = "boolean"
    elif d.value_type == "integer":
        kind = "integer"
    elif d.value_type == "quantity":
        kind = "quantity"
    elif fact in term.allowed_codes:
        kind, opts = "choice", _answers(term, fact, answers, f"{where} {fact}")
    elif isinstance(pattern, str):
        kind = "string"
    else:
        raise FormsError(f"{where}: {fact!r} is a code without answer codes or a pattern")
    children = tuple(_component(term, fact, c, texts, answers, d.level_bound, f"{where} {fact}")
                     for c in raw.get("components") or ())
    return Item(fact, fact, kind, code, text, d.level_bound, d.unit if kind == "quantity" else None,
                d.min, d.max, opts, _bool_codes(term, fact) if kind == "boolean" else None,
                pattern if kind == "string" else None, None, children)


def build_registry(doc: Mapping[str, Any], term: Terminology) -> Registry:
    """Check ``doc`` (the forms.json layout) against ``term`` and compile it."""
    component_texts = doc.get("components") or {}
    answer_texts = doc.get("answers") or {}
    forms: list[Form] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(doc.get("forms") or ()):
        where = f"forms.json forms[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise FormsError(f"{where}: needs an id")
        items = tuple(_item(term, it, component_texts, answer_texts, f"{where} ({raw['id']})")
                      for it in raw.get("items") or ())
        for it in items:
            if it.fact in seen:
                raise FormsError(f"{where}: {it.fact!r} is already in form {seen[it.fact]!r}")
            seen[it.fact] = raw["id"]
        forms.append(Form(raw["id"], _texts(raw.get("title"), where), items))
    not_captured = dict(doc.get("not_captured") or {})
    for fact in term.obs_defs:
        if fact not in seen and fact not in not_captured:
            raise FormsError(f"forms.json: Observation fact {fact!r} is in no form and not listed as not captured")
    return Registry(tuple(forms), not_captured)


@lru_cache(maxsize=1)
def _local_displays() -> dict[str, str]:
    """Displays of the local codes (the CodeSystem the mapper loads)."""
    folder = resources.files("fhir_mappings") / "terminology"
    doc = json.loads((folder / "CodeSystem-spine-cds.json").read_text(encoding="utf-8"))
    return {c["code"]: c["display"] for c in doc.get("concept", []) if isinstance(c.get("display"), str)}


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The compiled forms (default terminology tables, without a site's extra mappings)."""
    doc = json.loads((resources.files(__package__) / "data" / "forms.json").read_text(encoding="utf-8"))
    return build_registry(doc, load_tables())
