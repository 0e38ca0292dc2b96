"""Vertebral levels from body site codes or text: ``L1``, ``Th12``, ``T11-L1`` (ranges expand).

A body site can also name the spine without a level (SNOMED 421060004 "vertebral
column", text "wervelkolom") or one region of it (SNOMED 122496007 "lumbar spine"):
:class:`BodySite` keeps that apart from "no body site", so a spinal metastasis
coded that way is a metastasis with the level unknown, and a region narrows the
candidate levels (data-dictionary.md, Conditions).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from spine_guideline.facts import LEVELS, level_index

from .fhirutil import as_list, as_str, codings
from .tables import LOCAL_SYSTEM, Target, Terminology

_REGION = r"(C|TH|T|D|L|S)"
_TOKEN = re.compile(
    rf"(?<![A-Z0-9]){_REGION}\s?(\d{{1,2}})(?:\s*(-|–|—|/|TO|TOT)\s*(?:{_REGION}\s?)?(\d{{1,2}}))?(?![0-9])",
    re.IGNORECASE)
_CANON = {"C": "C", "TH": "T", "T": "T", "D": "T", "L": "L", "S": "S"}
_MAX_SPAN = 29
_KNOWN = frozenset(LEVELS)

#: body-site targets that name a spine region (no level): the region's level letter
REGION_LETTERS: dict[str, str] = {"cervical-spine": "C", "thoracic-spine": "T", "lumbar-spine": "L",
                                  "sacral-spine": "S"}
SPINE = "spine"
WHOLE_SPINE = "whole-spine"


@dataclass(frozen=True, slots=True)
class BodySite:
    """What one or more bodySite CodeableConcepts say about the spine.

    ``levels``: canonical levels named; ``whole``: the whole spine; ``regions``: the
    level letters (``C``, ``T``, ``L``, ``S``) of regions named without a level;
    ``spine``: the spine named without any level (whole, a region, or just "spine");
    ``present``: there was a bodySite at all.
    """

    levels: tuple[str, ...] = ()
    whole: bool = False
    regions: frozenset[str] = frozenset()
    spine: bool = False
    present: bool = False

    def in_regions(self, level: str) -> bool:
        """Is ``level`` in one of the named regions (always, when none is named)?"""
        return not self.regions or level[0] in self.regions


NO_BODY_SITE = BodySite()


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
    """parse_levels, cached: a pure function of the text."""
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
    return tuple(dict.fromkeys(out))


def body_site(value: Any, term: Terminology) -> BodySite:
    """Read one or more bodySite CodeableConcepts (or Codings, or text)."""
    if value is None:
        return NO_BODY_SITE  # the usual case for an Observation
    levels: list[str] = []
    regions: set[str] = set()
    whole = spine = present = False
    for cc in as_list(value):
        if cc is None:
            continue
        present = True
        found, cc_regions, cc_whole, cc_spine = _one_site(cc, term)
        levels.extend(found)
        regions |= cc_regions
        whole = whole or cc_whole
        spine = spine or cc_spine or cc_whole or bool(cc_regions)
    return BodySite(tuple(dict.fromkeys(levels)), whole, frozenset(regions), spine, present)


@dataclass
class _SiteRead:
    """What one bodySite concept says, as it is read."""

    found: list[str] = field(default_factory=list)   # levels
    regions: set[str] = field(default_factory=set)   # region letters
    whole: bool = False                              # the whole spine
    spine: bool = False                              # the spine, without a level

    @property
    def anything(self) -> bool:
        return bool(self.found or self.whole or self.spine or self.regions)


def _add_mapped(read: _SiteRead, targets: Iterable[Target]) -> None:
    """Body-site map targets: the whole spine, the spine, a region or a level."""
    for t in targets:
        if t.code == WHOLE_SPINE:
            read.whole = True
        elif t.code == SPINE:
            read.spine = True
        elif t.code in REGION_LETTERS:
            read.regions.add(REGION_LETTERS[t.code])
        else:
            read.found.append(t.code)


def _read_codings(read: _SiteRead, cods: list[tuple[str | None, str | None, str | None]], term: Terminology) -> None:
    """Mapped codes; else levels in a local code, else in the coding's display."""
    for system, code, display in cods:
        mapped = term.lookup("body-site", system, code)
        if mapped:
            _add_mapped(read, mapped)
            continue
        if not system or term.system(system) == LOCAL_SYSTEM:
            read.found.extend(parse_levels(code))
        if not read.found and display:
            read.found.extend(parse_levels(display))


def _read_region_texts(read: _SiteRead, blob: str, term: Terminology) -> None:
    """No level and no code: a region, the whole spine or the spine named in the texts."""
    read.regions.update(REGION_LETTERS[name] for name, hints in term.spine_texts.items()
                        if name in REGION_LETTERS and any(h in blob for h in hints))
    if not read.regions:
        read.whole = any(h in blob for h in term.rules["whole_spine_texts"])
        read.spine = read.whole or any(h in blob for h in term.spine_texts.get(SPINE, ()))


def _one_site(cc: Any, term: Terminology) -> tuple[list[str], set[str], bool, bool]:
    """(levels, region letters, whole spine, spine without level) of one bodySite concept."""
    read = _SiteRead()
    cods = codings(cc)
    _read_codings(read, cods, term)
    text = as_str(cc.get("text")) if isinstance(cc, dict) else as_str(cc)
    if not read.found and text:
        read.found.extend(parse_levels(text))
    if not read.anything:
        _read_region_texts(read, " ".join(filter(None, [text] + [d for _s, _c, d in cods])).lower(), term)
    return read.found, read.regions, read.whole, read.spine


#: CPT has no whole-spine MRI code: these regions together are the whole spine
WHOLE_SPINE_REGIONS = frozenset({"C", "T", "L"})
