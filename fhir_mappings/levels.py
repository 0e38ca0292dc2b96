"""Vertebral levels from body site codes or text: ``L1``, ``Th12``, ``T11-L1`` (ranges expand)."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from spine_guideline.facts import LEVELS, level_index

from .fhirutil import as_list, as_str, codings, plain_concept_key
from .tables import CONCEPT_CACHE_SIZE

_REGION = r"(C|TH|T|D|L|S)"
_TOKEN = re.compile(
    rf"(?<![A-Z0-9]){_REGION}\s?(\d{{1,2}})(?:\s*(-|–|—|/|TO|TOT)\s*(?:{_REGION}\s?)?(\d{{1,2}}))?(?![0-9])",
    re.IGNORECASE)
_CANON = {"C": "C", "TH": "T", "T": "T", "D": "T", "L": "L", "S": "S"}
_MAX_SPAN = 29
_KNOWN = frozenset(LEVELS)


def _level(region: str, num: str) -> str | None:
    lvl = f"{_CANON[region.upper()]}{int(num)}"
    return lvl if lvl in _KNOWN else None


def parse_levels(text: str | None) -> list[str]:
    """Canonical levels named in a code or text (empty when none)."""
    if not text:
        return []
    return list(_parse_levels(text))


@lru_cache(maxsize=2048)
def _parse_levels(text: str) -> tuple[str, ...]:
    """parse_levels, cached: requests repeat the same few body site texts and codes."""
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        r1, n1, sep, r2, n2 = m.groups()
        first = _level(r1, n1)
        if first is None:
            continue
        if n2 is None:
            out.append(first)
            continue
        second = _level(r2 or r1, n2)
        if second is None:
            out.append(first)
            continue
        if sep == "/":
            out.extend([first, second])
            continue
        a, b = sorted((level_index(first), level_index(second)))
        if b - a <= _MAX_SPAN:
            out.extend(LEVELS[a:b + 1])
    seen: dict[str, None] = {}
    for lvl in out:
        seen.setdefault(lvl, None)
    return tuple(seen)


def body_site_levels(body_site: Any, term) -> tuple[list[str], bool, bool]:
    """(levels, whole_spine, has_body_site) of one or more bodySite CodeableConcepts.

    The usual shape (one CodeableConcept with one Coding) is read once across requests:
    what it means depends on the tables only (``Terminology.body_site_cache``)."""
    if body_site is None:
        return [], False, False  # the usual case for an Observation
    cache = getattr(term, "body_site_cache", None)
    key = plain_concept_key(body_site) if cache is not None else None
    if key is None:
        return _body_site_levels(body_site, term)
    found = cache.get(key)
    if found is None:
        levels, whole, present = _body_site_levels(body_site, term)
        found = (tuple(levels), whole, present)
        if len(cache) < CONCEPT_CACHE_SIZE:
            cache[key] = found
    return list(found[0]), found[1], found[2]


def _body_site_levels(body_site: Any, term) -> tuple[list[str], bool, bool]:
    levels: list[str] = []
    whole = False
    present = False
    hints = term.rules["whole_spine_texts"]
    for cc in as_list(body_site):
        if cc is None:
            continue
        present = True
        found: list[str] = []
        for system, code, display in codings(cc):
            mapped = term.lookup("body-site", system, code)
            if mapped:
                for t in mapped:
                    if t.code == "whole-spine":
                        whole = True
                    else:
                        found.append(t.code)
                continue
            if not system or term.system(system) == "https://spine-cds.org/fhir/CodeSystem/spine-cds":
                found.extend(parse_levels(code))
            if not found and display:
                found.extend(parse_levels(display))
        text = as_str(cc.get("text")) if isinstance(cc, dict) else as_str(cc)
        if not found and text:
            found.extend(parse_levels(text))
        if not found:
            blob = " ".join(filter(None, [text] + [d for _s, _c, d in codings(cc)])).lower()
            if any(h in blob for h in hints):
                whole = True
        levels.extend(found)
    uniq: dict[str, None] = {}
    for lvl in levels:
        uniq.setdefault(lvl, None)
    return list(uniq), whole, present
