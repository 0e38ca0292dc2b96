"""Evidence in words and for machines (issue 16): what a criterion rests on as a person reads
it on a card ("KPS 70, 1 dec. 2026"; "none recorded (searched: conditions)"), never a raw
reference; and, per criterion, the references and searches themselves for the result's
``evidence`` field, so an integrator can trace each line. Request values are escaped here
(displays, record types) or through the catalogs' template parameters."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spine_guideline.facts import Fact, Source
from spine_guideline.findings import Finding

from .i18n import SafeText, escape_text, format_date, format_number

if TYPE_CHECKING:
    from .cards import RenderContext

FACT_LABEL_PREFIXES = ("vpbk.fact.", "dx.fact.", "tx.fact.")
#: records worded per line a fact may show, looking for distinct wordings
WORDED_PER_FACT = 10


def when_text(date: str | None, lang: str) -> str | None:
    """A record date as the card says it (Dutch or English day, month, year), or None."""
    return format_date(date[:10], lang) if date else None


def _types_in_words(searched: str, ctx: RenderContext) -> str:
    """``"MedicationRequest, MedicationStatement"`` -> ``"medicatie"``: each type once, in words."""
    words = ctx.type_words
    return ", ".join(dict.fromkeys(words.get(t.strip(), escape_text(t.strip())) for t in searched.split(",")
                                   if t.strip()))


def fact_label(name: str, ctx: RenderContext) -> str | None:
    """A fact's name in words in the card's language (``kps`` -> "Karnofsky"), or None."""
    for prefix in FACT_LABEL_PREFIXES:
        label = ctx.plain_lookup(prefix, name)
        if label:
            return label
    return None


def _source_words(s: Source, fact: Fact, ctx: RenderContext, *, with_value: bool) -> str:
    """One source as a person reads it: what (the code's display, else the fact, else the
    kind of record), the value when it is a number, and the date: ``KPS 70, 1 dec. 2026``."""
    what = escape_text(s.display) if s.display else fact_label(fact.name, ctx)
    when = when_text(s.date, ctx.lang)
    if what is None:  # nothing to name it by: when it was recorded, else what kind of record
        if when:
            return ctx.catalogs.text("common.evidence.recorded", ctx.lang, when=SafeText(when))
        return ctx.plain_lookup("common.record.", s.resource_type) or ctx.type_words.get(
            s.resource_type, escape_text(s.resource_type))
    if with_value and isinstance(fact.value, (int, float)) and not isinstance(fact.value, bool):
        what = f"{what} {format_number(fact.value, ctx.lang)}"
    return f"{what}, {when}" if when else what


def _distinct_words(fact: Fact, ctx: RenderContext, *, with_value: bool, most: int) -> tuple[list[str], int]:
    """The first ``most`` distinct wordings of ``fact``'s sources, and how many sources are left
    unworded (a fact may rest on thousands of records, many worded alike: the card names a few,
    so at most ``WORDED_PER_FACT`` times ``most`` records are worded)."""
    lines: dict[str, None] = {}
    for i, s in enumerate(fact.sources):
        if len(lines) == most or i == most * WORDED_PER_FACT:
            # the rest, counted as the records that would word differently (what and day),
            # not worded; records worded like one already counted are not counted again
            seen = {_wording_key(r) for r in fact.sources[:i]}
            return list(lines), len({_wording_key(r) for r in fact.sources[i:]} - seen)
        lines[_source_words(s, fact, ctx, with_value=with_value)] = None
    return list(lines), 0


def _wording_key(s: Source) -> tuple[str | None, str | None, str]:
    """What a source's words depend on, cheaply: its display, its day and its kind of record."""
    return s.display, s.date[:10] if s.date else None, s.resource_type


def evidence_words(fact: Fact, ctx: RenderContext, *, most: int, per_line: int,
                   named: bool = False) -> tuple[list[str], int]:
    """What ``fact`` rests on, in words, never a reference, at most ``most`` lines, and how many
    further records were not worded: each source (what, value, date), "not recorded" and why, or
    "none recorded (searched: conditions)". ``named``: a source-less text starts with the fact's
    name (several facts in one line); ``per_line``: records named at most in the one line of an
    unknown fact (the layout's ``evidenceMax``)."""
    c = ctx.catalogs
    if fact.value is None:
        reason = fact.unknown.value if fact.unknown else "not-recorded"
        why = ctx.unknown_text.get(reason) or c.text(f"unknown.{reason}", ctx.lang)
        if fact.sources and reason != "not-recorded":  # stale, conflicting, unreadable: which records
            seen, _left = _distinct_words(fact, ctx, with_value=False, most=per_line)
            return [f"{why}: {'; '.join(seen)}"], 0
        label = fact_label(fact.name, ctx) if named else None
        return [f"{label}: {why}" if label else why], 0
    if not fact.sources:
        if fact.searched:
            return [c.text("common.evidence.none-found", ctx.lang,
                           searched=SafeText(_types_in_words(fact.searched, ctx)))], 0
        return [], 0
    return _distinct_words(fact, ctx, with_value=len(fact.sources) == 1, most=most)


def evidence_payload(f: Finding) -> list[dict[str, Any]]:
    """Per criterion, the references (and searches) its evidence rests on: the machine-readable
    twin of the words on the card (result ``evidence``), so an integrator can trace each line."""
    out = []
    for crit in f.criteria:
        refs = list(dict.fromkeys(s.reference for fact in crit.facts for s in fact.sources))
        searched = list(dict.fromkeys(t.strip() for fact in crit.facts if fact.searched and not fact.sources
                                      for t in fact.searched.split(",") if t.strip()))
        unknown = list(dict.fromkeys((fact.unknown.value if fact.unknown else "not-recorded")
                                     for fact in crit.facts if fact.value is None))
        item: dict[str, Any] = {"criterion": crit.key, "status": crit.status.value, "references": refs}
        if crit.rule:
            item["rule"] = crit.rule
        if searched:
            item["searched"] = searched
        if unknown:
            item["unknown"] = unknown
        out.append(item)
    return out
