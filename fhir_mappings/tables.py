"""The terminology tables: loaded, validated and compiled once at start-up.

Data files (``fhir_mappings/terminology/``):

* ``CodeSystem-spine-cds.json``: the project's local codes
  (``https://spine-cds.org/fhir/CodeSystem/spine-cds``). Concept properties
  drive the mapping: ``domain`` (which map may target the code),
  ``value-type``, ``freshness``, ``level-bound``, ``unit``, ``min``/``max``,
  ``cancer-category``.
* ``ConceptMap-<domain>.json``: source codes -> local codes. The domain is the
  last segment of ``targetUri`` (``https://spine-cds.org/fhir/ValueSet/<domain>``).
  ``element.code`` ending in ``*`` is a prefix (ICD-10 and ATC only, where
  dots are ignored; the longest prefix wins). ``target.dependsOn`` and
  ``target.product`` carry conditions and extra values; the extension
  ``.../StructureDefinition/verify`` flags codes the data dictionary marks *verify*.
* ``reading-rules.json``: freshness defaults, units, status filters, system aliases.

A site's extra mapping file (``MappingSettings.extra_mapping_file``, env
``SPINE_CDS_EXTRA_MAPPINGS``) holds more ConceptMaps in the same format
(docs/local-codes.md); they are validated the same way and add to the defaults.
Any malformed table raises :class:`TerminologyError` at load.
"""
from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

LOCAL_SYSTEM = "https://spine-cds.org/fhir/CodeSystem/spine-cds"
VERIFY_URL = "https://spine-cds.org/fhir/StructureDefinition/verify"
POLICY_URL = "https://spine-cds.org/fhir/StructureDefinition/policy"
VALUESET_PREFIX = "https://spine-cds.org/fhir/ValueSet/"

DOMAINS = ("condition", "cancer", "finding", "observation", "answer", "event", "order", "medication", "allergy",
           "report-category", "body-site")
DEPENDS = {"bodySite": {"vertebral", "whole-spine-or-none", "level"}}
PRODUCTS = {"subtype", "value", "ingredient", "region"}
VALUE_TYPES = {"boolean", "integer", "quantity", "code"}
FRESHNESS_CLASSES = ("inr", "lab", "symptom", "score", "imaging", "judgement", "history")


class TerminologyError(ValueError):
    """A terminology table is malformed (raised at start-up, never while mapping)."""


@dataclass(frozen=True, slots=True)
class Target:
    code: str
    depends: Mapping[str, str] = field(default_factory=dict)
    product: Mapping[str, str] = field(default_factory=dict)
    verify: bool = False
    policy: bool = False


@dataclass(frozen=True, slots=True)
class ObsDef:
    name: str
    value_type: str
    freshness: str
    level_bound: bool
    unit: str | None = None
    min: float | None = None
    max: float | None = None


@dataclass
class Terminology:
    concepts: dict[str, dict[str, list[Any]]]
    obs_defs: dict[str, ObsDef]
    cancer_category: dict[str, str]
    # domain -> {(system, code): targets}; prefix: domain -> {(system, normalised prefix): targets}
    exact: dict[str, dict[tuple[str, str], tuple[Target, ...]]]
    prefix: dict[str, dict[tuple[str, str], tuple[Target, ...]]]
    prefix_len: dict[tuple[str, str], tuple[int, ...]]
    rules: dict[str, Any]
    aliases: dict[str, str]
    prefix_systems: frozenset[str]
    sources: tuple[str, ...] = ()
    # answers: (fact, system, code) -> value
    answers: dict[tuple[str, str, str], str] = field(default_factory=dict)
    answer_max: dict[str, int] = field(default_factory=dict)
    # Derived from the tables above once, at load (see ``_derive``): the mapper
    # reads them on every request and never rebuilds them.
    ignored_status: dict[str, frozenset[str]] = field(default_factory=dict)
    allowed_codes: dict[str, frozenset[str]] = field(default_factory=dict)
    bool_answers: dict[str, Any] = field(default_factory=dict)
    code_patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)
    lesion_by_points: dict[int, str] = field(default_factory=dict)
    histology_urls: frozenset[str] = frozenset()
    # body-site target name (spine, cervical-spine, ...) -> lower-case texts that name it
    spine_texts: dict[str, tuple[str, ...]] = field(default_factory=dict)

    # ---------------------------------------------------------------- lookups
    def system(self, system: str | None) -> str:
        if not system:
            return ""
        s = self.aliases.get(system, system)
        return s

    def normalise(self, system: str, code: str) -> str:
        if system in self.prefix_systems:
            return code.replace(".", "").replace(" ", "").upper()
        return code

    def lookup(self, domain: str, system: str | None, code: str | None) -> tuple[Target, ...]:
        """Targets of ``system|code`` in ``domain`` (exact first, else the longest prefix).
        A code without system matches only the local system."""
        if not code:
            return ()
        # self.system() and self.normalise(), inlined: this runs for every coding of every resource
        sys_ = (self.aliases.get(system, system) if system else "") or LOCAL_SYSTEM
        norm = code.replace(".", "").replace(" ", "").upper() if sys_ in self.prefix_systems else code
        found = self.exact[domain].get((sys_, norm))
        if found:
            return found
        lengths = self.prefix_len.get((domain, sys_))
        if lengths:
            table = self.prefix[domain]
            for n in lengths:
                if len(norm) >= n:
                    hit = table.get((sys_, norm[:n]))
                    if hit:
                        return hit
        return ()

    def answer(self, fact: str, system: str | None, code: str | None) -> str | None:
        if not code:
            return None
        sys_ = self.system(system) or LOCAL_SYSTEM
        return self.answers.get((fact, sys_, code))

    def freshness_days(self, cls: str) -> int | None:
        days: int | None = self.rules["freshness_days"].get(cls)
        return days


def _err(where: str, msg: str) -> TerminologyError:
    return TerminologyError(f"{where}: {msg}")


def _read_json(path: Any, where: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _err(where, f"cannot read JSON ({exc.__class__.__name__}: {exc})") from None


def _parse_codesystem(doc: Any, where: str) -> dict[str, dict[str, list[Any]]]:
    if not isinstance(doc, dict) or doc.get("resourceType") != "CodeSystem" or doc.get("url") != LOCAL_SYSTEM:
        raise _err(where, "expected the spine-cds CodeSystem")
    concepts: dict[str, dict[str, list[Any]]] = {}
    for i, c in enumerate(doc.get("concept") or []):
        if not isinstance(c, dict) or not isinstance(c.get("code"), str) or not c["code"]:
            raise _err(where, f"concept[{i}] needs a code")
        if c["code"] in concepts:
            raise _err(where, f"concept {c['code']!r} defined twice")
        props: dict[str, list[Any]] = {}
        for p in c.get("property") or []:
            if not isinstance(p, dict) or not isinstance(p.get("code"), str):
                raise _err(where, f"concept {c['code']!r}: malformed property")
            vals = [v for k, v in p.items() if k.startswith("value")]
            if len(vals) != 1:
                raise _err(where, f"concept {c['code']!r}: property {p['code']!r} needs one value[x]")
            props.setdefault(p["code"], []).append(vals[0])
        concepts[c["code"]] = props
    return concepts


def _obs_defs(concepts: dict[str, dict[str, list[Any]]], where: str) -> dict[str, ObsDef]:
    out = {}
    for code, props in concepts.items():
        if "observation" not in props.get("domain", []):
            continue
        vt = (props.get("value-type") or [None])[0]
        fr = (props.get("freshness") or [None])[0]
        if vt not in VALUE_TYPES:
            raise _err(where, f"observation {code!r}: value-type {vt!r} unknown")
        if fr not in FRESHNESS_CLASSES:
            raise _err(where, f"observation {code!r}: freshness {fr!r} unknown")
        unit = (props.get("unit") or [None])[0]
        if vt == "quantity" and not unit:
            raise _err(where, f"observation {code!r}: a quantity needs a unit")
        out[code] = ObsDef(code, vt, fr, bool((props.get("level-bound") or [False])[0]), unit,
                           (props.get("min") or [None])[0], (props.get("max") or [None])[0])
    return out


def _ext_flag(element: dict[str, Any], url: str) -> bool:
    for e in element.get("extension") or []:
        if isinstance(e, dict) and e.get("url") == url:
            return e.get("valueBoolean") is True
    return False


def _conceptmap_domain(doc: Any, where: str) -> str:
    """The domain a ConceptMap maps into (last segment of its targetUri)."""
    if not isinstance(doc, dict) or doc.get("resourceType") != "ConceptMap":
        raise _err(where, "expected a ConceptMap")
    target_uri = doc.get("targetUri") or doc.get("targetCanonical") or ""
    if not isinstance(target_uri, str) or not target_uri.startswith(VALUESET_PREFIX):
        raise _err(where, f"targetUri must be {VALUESET_PREFIX}<domain>")
    domain = target_uri[len(VALUESET_PREFIX):]
    if domain not in DOMAINS:
        raise _err(where, f"unknown domain {domain!r} (one of {', '.join(DOMAINS)})")
    return domain


def _element_code(term: Terminology, system: str, e: Any, ew: str) -> tuple[str, bool]:
    """The element's source code and whether it is a prefix (``*``: ICD-10 / ATC only)."""
    if not isinstance(e, dict) or not isinstance(e.get("code"), str) or not e["code"].strip():
        raise _err(ew, "needs a code")
    code: str = e["code"].strip()
    if not code.endswith("*"):
        return code, False
    code = code[:-1]
    if system not in term.prefix_systems or not code:
        raise _err(ew, f"prefix code {e['code']!r} only for {sorted(term.prefix_systems)}")
    return code, True


def _depends_and_product(t: dict[str, Any], ew: str) -> tuple[dict[str, str], dict[str, str]]:
    """A target's ``dependsOn`` conditions and ``product`` extra values, each checked."""
    depends: dict[str, str] = {}
    product: dict[str, str] = {}
    for d in t.get("dependsOn") or []:
        prop, val = (d or {}).get("property"), (d or {}).get("value")
        if prop not in DEPENDS or val not in DEPENDS[prop]:
            raise _err(ew, f"dependsOn {prop!r}={val!r} not understood")
        depends[prop] = val
    for p in t.get("product") or []:
        prop, val = (p or {}).get("property"), (p or {}).get("value")
        if prop not in PRODUCTS or not isinstance(val, str):
            raise _err(ew, f"product {prop!r}={val!r} not understood")
        product[prop] = val
    return depends, product


def _add_answer(term: Terminology, tcode: str, system: str, code: str, product: dict[str, str], ew: str) -> None:
    """An answer map entry: its value (SINS points are integers; their maximum is kept)."""
    if "value" not in product:
        raise _err(ew, "an answer needs product value")
    term.answers[(tcode, system, code)] = product["value"]
    if tcode.startswith("sins-"):
        try:
            pts = int(product["value"])
        except ValueError:
            raise _err(ew, "SINS points must be integers") from None
        term.answer_max[tcode] = max(term.answer_max.get(tcode, 0), pts)


def _target(term: Terminology, domain: str, t: Any, ew: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """One target: a spine-cds code of the map's domain, with its conditions and products."""
    if not isinstance(t, dict) or not isinstance(t.get("code"), str):
        raise _err(ew, "target needs a code")
    tcode: str = t["code"]
    if tcode not in term.concepts:
        raise _err(ew, f"target {tcode!r} is not a spine-cds code")
    if domain != "answer" and domain not in term.concepts[tcode].get("domain", []):
        raise _err(ew, f"target {tcode!r} is not a {domain} code")
    depends, product = _depends_and_product(t, ew)
    return tcode, depends, product


def _add_element(term: Terminology, domain: str, system: str, e: Any, ew: str) -> None:
    """One source code and its targets, into the exact or prefix table of the domain."""
    code, is_prefix = _element_code(term, system, e, ew)
    verify, policy = _ext_flag(e, VERIFY_URL), _ext_flag(e, POLICY_URL)
    if not isinstance(e.get("target"), list) or not e["target"]:
        raise _err(ew, "needs a target")
    targets = []
    for t in e["target"]:
        tcode, depends, product = _target(term, domain, t, ew)
        if domain == "answer":
            _add_answer(term, tcode, system, code, product, ew)
        targets.append(Target(tcode, depends, product, verify, policy))
    key = (system, term.normalise(system, code))
    table = term.prefix[domain] if is_prefix else term.exact[domain]
    table[key] = tuple(table.get(key, ())) + tuple(targets)
    if is_prefix:
        lens = set(term.prefix_len.get((domain, system), ())) | {len(key[1])}
        term.prefix_len[(domain, system)] = tuple(sorted(lens, reverse=True))


def _add_group(term: Terminology, domain: str, g: Any, gw: str) -> None:
    """One group: a source system mapped to the local code system."""
    if not isinstance(g, dict) or not isinstance(g.get("source"), str) or not g["source"]:
        raise _err(gw, "needs a source system")
    if g.get("target", LOCAL_SYSTEM) != LOCAL_SYSTEM:
        raise _err(gw, f"target must be {LOCAL_SYSTEM}")
    system = term.system(g["source"])
    elements = g.get("element")
    if not isinstance(elements, list) or not elements:
        raise _err(gw, "needs elements")
    for ei, e in enumerate(elements):
        _add_element(term, domain, system, e, f"{gw} element[{ei}]")


def _add_conceptmap(term: Terminology, doc: Any, where: str) -> None:
    domain = _conceptmap_domain(doc, where)
    groups = doc.get("group")
    if not isinstance(groups, list) or not groups:
        raise _err(where, "needs at least one group")
    for gi, g in enumerate(groups):
        _add_group(term, domain, g, f"{where} group[{gi}]")


def _validate_rules(rules: Any, where: str) -> dict[str, Any]:
    if not isinstance(rules, dict):
        raise _err(where, "expected an object")
    fr = rules.get("freshness_days")
    if not isinstance(fr, dict):
        raise _err(where, "freshness_days missing")
    for cls in FRESHNESS_CLASSES:
        if cls not in fr or not (fr[cls] is None or (isinstance(fr[cls], int) and fr[cls] >= 0)):
            raise _err(where, f"freshness_days.{cls} must be a non-negative integer or null")
    units = rules.get("units")
    if not isinstance(units, dict):
        raise _err(where, "units missing")
    for canon, conv in units.items():
        if canon.startswith("_"):
            continue
        if not isinstance(conv, dict) or not all(isinstance(v, (int, float)) for v in conv.values()):
            raise _err(where, f"units.{canon}: expected {{unit: factor}}")
    for key in ("system_aliases", "ignored_status", "condition", "event_done_status", "event_planned_status",
                "medication_active_status", "systemic_therapy_given_status", "cancer_text_hints", "spine_texts",
                "administration_recent", "medication_start_extensions", "order_done", "pain_score_methods"):
        if not isinstance(rules.get(key), dict):
            raise _err(where, f"{key} missing")
    for key in ("prefix_systems", "histology_extension_urls", "whole_spine_texts", "unmapped_product_systems"):
        if not isinstance(rules.get(key), list):
            raise _err(where, f"{key} missing")
    return rules


def _extra_docs(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        return [e.get("resource") if isinstance(e, dict) else e for e in doc.get("entry") or []]
    return [doc]


def _public(table: Mapping[str, Any]) -> dict[str, Any]:
    """A rules table without its ``_source`` / ``_note`` members."""
    return {k: v for k, v in table.items() if not k.startswith("_")}


def _derive(term: Terminology) -> None:
    """Fill the derived lookups of ``term`` (after every ConceptMap is in)."""
    rules = term.rules
    term.ignored_status = {k: frozenset(v) for k, v in _public(rules["ignored_status"]).items()}
    allowed: dict[str, set[str]] = {}
    for (fact, _sys, _code), value in term.answers.items():
        allowed.setdefault(fact, set()).add(value)
    term.allowed_codes = {k: frozenset(v) for k, v in allowed.items()}
    term.bool_answers = _public(rules.get("boolean_answers", {}))
    term.code_patterns = {k: re.compile(v) for k, v in _public(rules.get("code_patterns", {})).items()}
    lesion_codes = term.allowed_codes.get("lesion-type", frozenset())
    term.lesion_by_points = {}
    for (fact, _sys, code), value in term.answers.items():
        if fact == "sins-bone-lesion" and code in lesion_codes:
            term.lesion_by_points[int(value)] = code
    term.histology_urls = frozenset(rules["histology_extension_urls"])
    term.spine_texts = {k: tuple(h.lower() for h in v) for k, v in _public(rules["spine_texts"]).items()}


def compile_terminology(extra_mapping_file: str | None = None) -> Terminology:
    """Read, validate and compile every table (and the site's extra mapping file)."""
    folder = resources.files(__package__) / "terminology"
    rules = _validate_rules(_read_json(folder / "reading-rules.json", "reading-rules.json"), "reading-rules.json")
    concepts = _parse_codesystem(_read_json(folder / "CodeSystem-spine-cds.json", "CodeSystem-spine-cds.json"),
                                 "CodeSystem-spine-cds.json")
    obs_defs = _obs_defs(concepts, "CodeSystem-spine-cds.json")
    cancer_category = {c: p["cancer-category"][0] for c, p in concepts.items() if "cancer-category" in p}
    for code, props in concepts.items():
        if "cancer" in props.get("domain", []) and code not in cancer_category:
            raise _err("CodeSystem-spine-cds.json", f"cancer type {code!r} needs a cancer-category")
    term = Terminology(concepts=concepts, obs_defs=obs_defs, cancer_category=cancer_category,
                       exact={d: {} for d in DOMAINS}, prefix={d: {} for d in DOMAINS}, prefix_len={},
                       rules=rules, aliases={k: v for k, v in rules["system_aliases"].items()},
                       prefix_systems=frozenset(rules["prefix_systems"]))
    names = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.startswith("ConceptMap-") and item.name.endswith(".json"):
            _add_conceptmap(term, _read_json(item, item.name), item.name)
            names.append(item.name)
    if extra_mapping_file:
        path = pathlib.Path(extra_mapping_file)
        where = f"extra mapping file {path.name}"
        for i, doc in enumerate(_extra_docs(_read_json(path, where))):
            _add_conceptmap(term, doc, f"{where} [{i}]")
        names.append(str(path))
    term.sources = tuple(names)
    _derive(term)
    return term


_CACHE: dict[str | None, Terminology] = {}


def load_terminology(extra_mapping_file: str | None = None) -> Terminology:
    """The compiled tables (cached per extra file). Call once at start-up: a
    malformed table raises :class:`TerminologyError` there, not during a request."""
    found = _CACHE.get(extra_mapping_file)
    if found is None:
        found = compile_terminology(extra_mapping_file)
        _CACHE[extra_mapping_file] = found
    return found
