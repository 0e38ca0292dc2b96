"""Renders guideline findings as CDS Hooks cards (Dutch or English).

Card layout (issue 16, cards a clinician reads in ten seconds): ``summary`` under
140 characters with the decision and the ask, naming what blocks an order; ``detail``
in Markdown with its sections in the order of ``data/card-layout.json``: the
conclusion, the missing data with how to record each, the criteria not met or
unknown with their evidence in words (never a raw reference), the met criteria one
line per rule, the notes, and static explanation as one line pointing to the card's
links to the rule pages; compacted in steps when over the layout's budget. ``source``
with label, url (the main rule's page) and topic; overrideReasons on warning/critical
cards; the machine-readable result in ``extension["org.spine-cds.result"]`` with, per
criterion, the references its evidence rests on (``evidence``).

Every value from a request reaches card text escaped: through ``Catalogs`` (template
parameters) or ``escape_text`` here.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from spine_guideline import RULES_VERSION
from spine_guideline.facts import Unknown
from spine_guideline.findings import Criterion, Finding, Indicator, Message, Status
from spine_guideline.results import AftercareResult, SinsResult, VpbkEligibilityResult

from .evidence import evidence_payload, evidence_words, fact_label, when_text
from .guideline import rule_url
from .i18n import Catalogs, SafeText, escape_text
from .ids import new_uuid
from .suggestions import SuggestionContext, render_suggestion, verdict_suggestions, with_level
from .wire import finding_payload

TOPIC_SYSTEM = "https://spine-cds.org/fhir/CodeSystem/card-topic"
OVERRIDE_SYSTEM = "https://spine-cds.org/fhir/CodeSystem/override-reason"
RESULT_EXTENSION = "org.spine-cds.result"
SUMMARY_LIMIT = 139
#: Where rule-page links point when the caller names no base URL (``spine-cds evaluate``
#: without SPINE_CDS_BASE_URL; library use): the demo's own address.
DEFAULT_BASE_URL = "http://127.0.0.1:8080"

_STATUS_MARK = {Status.MET: "✔", Status.NOT_MET: "✘", Status.UNKNOWN: "?"}


@dataclass(frozen=True)
class RenderContext:
    lang: str
    catalogs: Catalogs
    suggestions: SuggestionContext
    base_url: str = DEFAULT_BASE_URL  # public base URL of this service, no trailing slash (rule pages)
    policy_hash: str | None = None    # of the site policy file, when one is loaded (result ``policyHash``)
    # derived in __post_init__ (per request, from the catalogs' per-language tables)
    status_label: Mapping[Status, str] = field(init=False, repr=False, compare=False)
    unknown_text: Mapping[str, str] = field(init=False, repr=False, compare=False)
    missing_text: Mapping[str, str] = field(init=False, repr=False, compare=False)
    source_label: str = field(init=False, repr=False, compare=False)
    source_link: str = field(init=False, repr=False, compare=False)
    type_words: Mapping[str, str] = field(init=False, repr=False, compare=False)
    #: a criterion's lines, worded once per request: a long detail is laid out again at each
    #: compaction level from the same criteria (key: what, the criterion's id, compact)
    worded: dict[tuple[str, int, bool], str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Texts every criterion line needs, looked up once per request, not once per line.
        # The catalogs keep these tables per language, so a request only looks them up.
        status = self.catalogs.plain_with_prefix(self.lang, "common.status.")
        object.__setattr__(self, "status_label", {s: status.get(s.value, s.value) for s in Status})
        object.__setattr__(self, "unknown_text", self.catalogs.plain_with_prefix(self.lang, "unknown."))
        object.__setattr__(self, "missing_text", self.catalogs.plain_with_prefix(self.lang, "missing."))
        object.__setattr__(self, "source_label", self.catalogs.text("source.label", self.lang, markdown=False,
                                                                    version=SafeText(RULES_VERSION)))
        object.__setattr__(self, "source_link", self.catalogs.text("source.link", self.lang))
        object.__setattr__(self, "type_words", self.catalogs.plain_with_prefix(self.lang, "common.type."))

    def plain_lookup(self, prefix: str, name: str) -> str | None:
        """The field-less catalog text ``prefix + name`` of this language, or None."""
        return self.catalogs.plain_with_prefix(self.lang, prefix).get(name)


def _load_layout() -> dict[str, Any]:
    return json.loads((resources.files("cds_service") / "data" / "card-layout.json").read_text("utf-8"))


#: the order of a card's sections and the static notes per topic (data/card-layout.json)
LAYOUT = _load_layout()
_SECTIONS = tuple(LAYOUT["sections"])
_MET_LABEL_MAX = int(LAYOUT["metLabelMax"])
_EVIDENCE_MAX = int(LAYOUT["evidenceMax"])
_BUDGET = int(LAYOUT["detailBudget"])
_MISSING_NAMES_MAX = int(LAYOUT["compactMissingNames"])
_NAMED: Mapping[str, Mapping[str, str]] = LAYOUT["named"]
_MISMATCH: Mapping[str, Any] = LAYOUT["techniqueMismatch"]
_PARENS = re.compile(r" ?\([^()]*\)")


def _criterion_evidence(crit: Criterion, ctx: RenderContext, most: int = _EVIDENCE_MAX) -> list[str]:
    """The criterion's evidence in at most ``most`` lines; with more, a last ``+N`` (in full)."""
    named = len(crit.facts) > 1
    lines: dict[str, None] = {}
    left = 0
    for fact in crit.facts:
        words, unworded = evidence_words(fact, ctx, most=_EVIDENCE_MAX, per_line=_EVIDENCE_MAX, named=named)
        lines.update(dict.fromkeys(words))
        left += unworded
    out = list(lines)
    more = len(out) - most + left
    if more > 0:
        out = out[:most] + ([f"+{more}"] if most > 1 else [])
    return out


def _criterion_line(crit: Criterion, ctx: RenderContext, *, compact: bool = False) -> str:
    key = ("line", id(crit), compact)
    line = ctx.worded.get(key)
    if line is None:
        line = ctx.worded[key] = _word_criterion_line(crit, ctx, compact=compact)
    return line


def _word_criterion_line(crit: Criterion, ctx: RenderContext, *, compact: bool) -> str:
    c = ctx.catalogs
    status = ctx.status_label[crit.status]
    text = _met_label(crit, ctx) if compact else c._render(crit.key, _params(crit, ctx), ctx.lang)
    line = f"- {_STATUS_MARK[crit.status]} **{status}**: {text}"
    if crit.rule:
        line += f" ({crit.rule})"
    evidence = _criterion_evidence(crit, ctx, 1 if compact else _EVIDENCE_MAX)
    if evidence:
        line += " — " + "; ".join(evidence)
    return line


def _met_label(crit: Criterion, ctx: RenderContext) -> str:
    """A met criterion in a few words: its short text, else its label cut at a word."""
    label = _full_label(crit, ctx)
    return label if ctx.catalogs.has(f"{crit.key}.short", ctx.lang) else _short(label)


def _params(crit: Criterion, ctx: RenderContext) -> Mapping[str, Any]:
    """The criterion's parameters, a FHIR element name the rules pass (``onset_field``:
    ``onsetDateTime``) said in words of the card language."""
    field_name = crit.params.get("onset_field")
    if isinstance(field_name, str):
        words = ctx.plain_lookup("common.field.", field_name)
        if words:
            return {**crit.params, "onset_field": SafeText(words)}
    return crit.params


def _lower_first(text: str) -> str:
    if len(text) > 1 and not text[1].isupper():  # "Histology" -> "histology"; "SINS", "MRI" stay
        return text[0].lower() + text[1:]
    return text


def _short(text: str, most: int = _MET_LABEL_MAX) -> str:
    if len(text) <= most:
        return text
    return text[:most].rsplit(" ", 1)[0].rstrip(":;,./-") + "…"


def _joined(labels: list[str]) -> str:
    """Labels joined by "; ", a prefix several share ("contraindication absent: ...") said once."""
    heads: dict[str, int] = {}
    for label in labels:
        head, sep, _rest = label.partition(": ")
        if sep:
            heads[head] = heads.get(head, 0) + 1
    out: dict[str, None] = {}
    said: set[str] = set()
    for label in labels:
        head, sep, rest = label.partition(": ")
        if sep and heads.get(head, 0) > 1:
            out[f"{head}: {_short(rest)}" if head not in said else _short(rest)] = None
            said.add(head)
        else:
            out[_short(label)] = None
    return "; ".join(out)


def _grouped_lines(criteria: list[Criterion], status: Status, ctx: RenderContext,
                   most: int | None = None) -> list[str]:
    """Criteria of one status, one line per rule: ``✔ Met (VPBK-M-2): histology; whole-spine MRI``."""
    by_rule: dict[str | None, list[str]] = {}
    for crit in criteria:
        by_rule.setdefault(crit.rule, []).append(_full_label(crit, ctx))
    label = ctx.status_label[status]
    lines = []
    for rule, labels in by_rule.items():
        where = f" ({rule})" if rule else ""
        text = _joined(labels if most is None else labels[:most])
        if most is not None and len(labels) > most:
            text += f" +{len(labels) - most}"
        lines.append(f"- {_STATUS_MARK[status]} **{label}**{where}: {text}")
    return lines


def _full_label(crit: Criterion, ctx: RenderContext) -> str:
    key = ("label", id(crit), False)
    label = ctx.worded.get(key)
    if label is None:
        label = ctx.worded[key] = _word_full_label(crit, ctx)
    return label


def _word_full_label(crit: Criterion, ctx: RenderContext) -> str:
    short = f"{crit.key}.short"
    if ctx.catalogs.has(short, ctx.lang):
        return ctx.catalogs.text(short, ctx.lang)
    text = ctx.catalogs._render(crit.key, _params(crit, ctx), ctx.lang)
    return _lower_first(_PARENS.sub("", text).strip().rstrip(":;,."))


def _informative(crit: Criterion) -> bool:
    """Whether an unknown criterion has evidence beyond "not recorded" (a record, a search,
    a reason such as stale or search failed)."""
    return any(fact.sources or fact.value is not None
               or (fact.unknown is not None and fact.unknown is not Unknown.NOT_RECORDED) for fact in crit.facts)


def _missing_lines(f: Finding, ctx: RenderContext, *, compact: bool, capture_link: bool = False) -> list[str]:
    """The missing data, each with how to record it; ``compact``: by name only, in one line."""
    c = ctx.catalogs
    if compact:
        names: dict[str, None] = {}
        for m in f.missing:
            label = fact_label(m.code, ctx)
            if label is None:
                how = ctx.missing_text.get(m.code) or _text_or(c, f"missing.{m.code}", ctx.lang, m.code)
                label = _lower_first(_PARENS.sub("", how).strip())
            names[f"{label} ({escape_text(m.level)})" if m.level else label] = None
        shown = list(names)[:_MISSING_NAMES_MAX]
        if len(names) > len(shown):
            shown.append(c.text("common.missing.more", ctx.lang, count=len(names) - len(shown)))
        key = "common.missing.compact" if capture_link else "common.missing.compact-no-link"
        return [c.text(key, ctx.lang, count=len(names), names=SafeText("; ".join(shown)))]
    lines: dict[str, None] = {}
    for m in f.missing:
        how = ctx.missing_text.get(m.code) or _text_or(c, f"missing.{m.code}", ctx.lang, m.code)
        why = ctx.unknown_text.get(m.why) or _text_or(c, f"unknown.{m.why}", ctx.lang, m.why)
        level = f"{escape_text(m.level)}: " if m.level else ""  # a code from the rules; the level may be data
        # "not recorded" is what the heading says; any other reason (stale, search failed) is told
        lines[f"- {level}{how}" if m.why == "not-recorded" else f"- {level}{how} — {why}"] = None
    return list(lines)


def _text_or(c: Catalogs, key: str, lang: str, fallback: str) -> str:
    """The catalog text of ``key`` (a template with fields renders visibly), else ``fallback``."""
    return c.text(key, lang) if c.has(key, lang) else fallback


def _static_topics(f: Finding, ctx: RenderContext, static: list[tuple[str, str]]) -> dict[str, str]:
    """The static explanation of a card (label -> rule), each label once."""
    out: dict[str, str] = {}
    for key, rule in static:
        found = f"static.{key}"
        label = ctx.catalogs.text(found if ctx.catalogs.has(found, ctx.lang) else "common.static.explanation",
                                  ctx.lang)
        out.setdefault(label, rule)
    return out


def _static_line(f: Finding, ctx: RenderContext, static: list[tuple[str, str]]) -> str:
    """The static explanation as one short line; the rule pages are the card's links (no live
    link in ``detail``, which renders request data)."""
    topics = _static_topics(f, ctx, static)
    return ctx.catalogs.text("common.static.more", ctx.lang, topics=SafeText(", ".join(topics)))


def static_links(f: Finding, ctx: RenderContext) -> list[dict[str, str]]:
    """One card link per rule page that holds the card's static explanation."""
    static_keys = LAYOUT["static"].get(f.topic, {})
    static = [(n.key, static_keys[n.key]) for n in f.notes if n.key in static_keys]
    links: dict[str, str] = {}
    for label, rule in _static_topics(f, ctx, static).items():
        url = rule_url(ctx.base_url, rule)
        links[url] = f"{links[url]}, {label}" if url in links else f"{label} ({rule})"
    return [{"label": label[:1].upper() + label[1:], "url": url, "type": "absolute"} for url, label in links.items()]


def _note_text(n: Message, f: Finding, ctx: RenderContext) -> str:
    if n.key == "tx.aftercare.note.answered" and isinstance(f.result, AftercareResult) and f.result.answered_by:
        # the rule's parameter carries the references; the card says the deadline and the date
        # (the references stay in the result's ``answeredBy``)
        parts = []
        for a in f.result.answered_by:
            when = when_text(a.date, ctx.lang)
            parts.append(f"{escape_text(a.deadline)} ({when})" if when else escape_text(a.deadline))
        return ctx.catalogs.text(n.key, ctx.lang, deadlines=SafeText(", ".join(parts)))
    return ctx.catalogs.render(n, ctx.lang)


def render_detail(f: Finding, ctx: RenderContext, *, capture_link: bool = False) -> str:
    """The card's Markdown detail, sections in the order of data/card-layout.json: the
    conclusion; the missing data, each with how to record it; the criteria not met, and
    unknown with evidence, each with its evidence in words (unknown ones resting on nothing
    recorded, and the met ones, one line per rule); the notes; the static explanation as
    one line of links; the rules that fired. A detail over the layout's budget gives the
    missing data by name in one line (the capture links say how to record them)."""
    detail = _detail(f, ctx, level=0, capture_link=capture_link)
    for level in (1, 2, 3, 4):
        if len(detail) <= _BUDGET:
            break
        detail = _detail(f, ctx, level=level, capture_link=capture_link)
    return detail


@dataclass(frozen=True)
class _Partition:
    """A finding's criteria as the detail shows them at one compaction level."""

    open: list[Criterion]       # not met, and (in full) unknown with evidence: each with its evidence
    unknown: list[Criterion]    # unknown, resting on nothing recorded
    decided: list[Criterion]    # met criteria that are the card's decision (layout ``named``), always named
    met: list[Criterion]        # the other met criteria


def _partition(f: Finding, compact: bool) -> _Partition:
    open_criteria = [cr for cr in f.criteria if cr.status is Status.NOT_MET
                     or (cr.status is Status.UNKNOWN and _informative(cr) and not compact)]
    unknown = [cr for cr in f.criteria if cr.status is Status.UNKNOWN and cr not in open_criteria]
    named = _NAMED.get(f.topic)
    decided = [cr for cr in f.criteria if cr.status is Status.MET and named and cr.key.startswith(named["criteria"])]
    met = [cr for cr in f.criteria if cr.status is Status.MET and cr not in decided]
    return _Partition(open_criteria, unknown, decided, met)


def _unknown_lines(unknown: list[Criterion], ctx: RenderContext, level: int) -> list[str]:
    if level >= 1 and len(unknown) > 2:
        return [_counted_line(unknown, Status.UNKNOWN, ctx)]
    return _grouped_lines(unknown, Status.UNKNOWN, ctx)


def _met_lines(met: list[Criterion], ctx: RenderContext, level: int) -> list[str]:
    """Met criteria one line per rule; at level 2 at most two names per rule, at level 3 one,
    at level 4 counted in one line that still names the rules."""
    if level >= 4:
        return [_counted_line(met, Status.MET, ctx)] if met else []
    return _grouped_lines(met, Status.MET, ctx, most={2: 2, 3: 1}.get(level))


def _notes_and_static(f: Finding, ctx: RenderContext, compact: bool) -> tuple[list[Message], list[tuple[str, str]]]:
    """The notes shown as text, and the static ones shown as a line pointing to the rule pages
    (compacted: generic notes, those without patient data, join the static ones)."""
    static_keys = LAYOUT["static"].get(f.topic, {})
    static = [(n.key, static_keys[n.key]) for n in f.notes if n.key in static_keys]
    notes = [n for n in _mismatch_notes(f, ctx) if n.key not in static_keys]
    if compact:
        static += [(n.key, f.rules[0]) for n in notes if not n.params]
        notes = [n for n in notes if n.params]
    return notes, static


def _missing_section(f: Finding, ctx: RenderContext, compact: bool, capture_link: bool) -> str | None:
    if not f.missing:
        return None
    heading = ctx.catalogs.text("common.heading.missing", ctx.lang)
    return f"**{heading}**\n\n" + "\n".join(_missing_lines(f, ctx, compact=compact, capture_link=capture_link))


def _detail(f: Finding, ctx: RenderContext, *, level: int, capture_link: bool) -> str:
    """The detail in full (``level`` 0) or, over the budget, compacted: at level 1 the missing
    data by name in one line, the unknown criteria without evidence counted, the criteria not
    met in a few words with one piece of evidence, generic explanations (notes without patient
    data) and the static text as one line pointing to the card's links, no rules line; from
    level 2 the met criteria shorter (see :func:`_met_lines`). The criteria that are the card's
    decision (layout ``named``: who must be in the MDO) are always named in full, at every level."""
    compact = level >= 1
    c = ctx.catalogs
    part = _partition(f, compact)
    notes, static = _notes_and_static(f, ctx, compact)
    named = _NAMED.get(f.topic)
    met_lines = _met_lines(part.met, ctx, level) if compact else _grouped_lines(part.met, Status.MET, ctx)
    sections: dict[str, str | None] = {
        "conclusion": f"**{_conclusion(f, ctx)}**",
        "named": _named_line(part.decided, named["label"], ctx) if named and part.decided else None,
        "missing": _missing_section(f, ctx, compact, capture_link),
        "open-criteria": "\n".join([*_open_lines(part.open, ctx, compact=compact),
                                    *_unknown_lines(part.unknown, ctx, level)]) or None,
        "met-criteria": "\n".join(met_lines) or None,
        "notes": "\n\n".join(dict.fromkeys(_note_text(n, f, ctx) for n in notes)) or None,
        "static": (c.text("common.static.compact", ctx.lang) if compact else _static_line(f, ctx, static))
                  if static else None,
        "rules": None if compact else
                 f"_{c.text('common.rules', ctx.lang, rules=', '.join(dict.fromkeys(f.rules)))}_",
    }
    return "\n\n".join(text for name in _SECTIONS if (text := sections[name]))


def _open_lines(criteria: list[Criterion], ctx: RenderContext, *, compact: bool) -> list[str]:
    """Each criterion not met (or unknown with evidence) with its evidence; ``compact``: a rule
    with several not met gives them in one line (the notes and the conclusion say why)."""
    if not compact:
        return [_criterion_line(cr, ctx) for cr in criteria]
    per_rule: dict[str | None, list[Criterion]] = {}
    for cr in criteria:
        per_rule.setdefault(cr.rule, []).append(cr)
    lines = []
    for group in per_rule.values():
        if len(group) == 1:
            lines.append(_criterion_line(group[0], ctx, compact=True))
        else:
            lines.extend(_grouped_lines(group, Status.NOT_MET, ctx))
    return lines


def _counted_line(criteria: list[Criterion], status: Status, ctx: RenderContext) -> str:
    """Criteria of one status counted in one line; met ones still say which rules they are:
    ``✔ Met (20): VPBK-M-1, VPBK-M-2, …``."""
    if status is Status.MET:
        rules = ", ".join(dict.fromkeys(cr.rule for cr in criteria if cr.rule))
        return f"- {_STATUS_MARK[status]} **{ctx.status_label[status]}** ({len(criteria)}): {rules}".rstrip(": ")
    text = ctx.catalogs.text(f"common.counted.{status.value}", ctx.lang, count=len(criteria))
    return f"- {_STATUS_MARK[status]} **{ctx.status_label[status]}**: {text}"


def _named_line(criteria: list[Criterion], label_key: str, ctx: RenderContext) -> str:
    """The met criteria that are the card's decision, by name in one line, with their rules:
    ``✔ In the meeting (TX-3): original treating specialist; radiologist; …``."""
    rules = ", ".join(dict.fromkeys(cr.rule for cr in criteria if cr.rule))
    where = f" ({rules})" if rules else ""
    names = "; ".join(dict.fromkeys(_full_label(cr, ctx) for cr in criteria))
    return f"- {_STATUS_MARK[Status.MET]} **{ctx.catalogs.text(label_key, ctx.lang)}**{where}: {names}"


def _mismatch(f: Finding) -> tuple[str, list[str], str] | None:
    """VPBK-T-1: the ordered technique, the ones the level allows and the level, when the
    order asks for a technique the level does not allow (BK at T3)."""
    r = f.result
    if not isinstance(r, VpbkEligibilityResult) or r.ordered_technique is None or not r.vertebra:
        return None
    allowed = [t.value for t in r.technique]
    if r.ordered_technique.value not in allowed:
        return r.ordered_technique.value, allowed, r.vertebra
    return None


def _not_possible(f: Finding) -> list[str]:
    """The techniques not possible at the card's level: the ordered one the level does not allow,
    or, without an order, each technique of the layout the level does not allow (BK at T3)."""
    mismatch = _mismatch(f)
    if mismatch is not None:
        return [mismatch[0]]
    r = f.result
    if not isinstance(r, VpbkEligibilityResult) or r.ordered_technique is not None or not r.vertebra:
        return []
    allowed = [t.value for t in r.technique]
    return [t for t in _MISMATCH["techniques"] if t not in allowed]


def _eligible_other_technique(f: Finding, ctx: RenderContext) -> bool:
    """An eligible verdict for a technique other than the ordered one (or one of two), with a
    conclusion that says so."""
    r = f.result
    return (isinstance(r, VpbkEligibilityResult) and bool(_not_possible(f)) and bool(r.technique)
            and r.verdict.value in _MISMATCH["verdicts"]
            and f.conclusion is not None and ctx.catalogs.has(f"{f.conclusion.key}.other-technique", ctx.lang))


def _conclusion(f: Finding, ctx: RenderContext) -> str:
    """The finding's conclusion; an eligible verdict on an order for a technique the level does
    not allow says what the patient is eligible for and that the ordered technique is not
    possible there, never "every criterion is met" above the criterion that is not."""
    if not _eligible_other_technique(f, ctx):
        return ctx.catalogs.render(f.conclusion, ctx.lang)
    assert f.conclusion is not None
    return ctx.catalogs.text(f"{f.conclusion.key}.other-technique", ctx.lang, **f.conclusion.params,
                             ordered=", ".join(_not_possible(f)), allowed=", ".join(_allowed(f)))


def _allowed(f: Finding) -> list[str]:
    """The techniques the card's level allows (VPBK-T)."""
    return [t.value for t in f.result.technique] if isinstance(f.result, VpbkEligibilityResult) else []


def _mismatch_notes(f: Finding, ctx: RenderContext) -> list[Message]:
    """The notes, the technique point said once where a technique is not possible at the level
    (ordered or not): the mismatch note left out where the conclusion says it, the technique note where it
    only repeats the level range (the VPBK-T-1 criterion line names it)."""
    if not _not_possible(f):
        return list(f.notes)
    out = []
    for n in f.notes:
        if n.key in _MISMATCH["notes"] and _eligible_other_technique(f, ctx):
            continue
        if n.key == _MISMATCH["techniqueNote"]:
            technotes = n.params.get("notes")
            if isinstance(technotes, list) and all(isinstance(t, Message) and t.key in _MISMATCH["levelTechnotes"]
                                                   for t in technotes):
                continue
        out.append(n)
    return out


def missing_names(f: Finding) -> list[str]:
    """The fact names the decision rests on (api-contract ``missing``): by name alone on a card
    about one vertebra, else with the level (``bilsky-grade@L2``)."""
    per_vertebra = isinstance(f.result, (SinsResult, VpbkEligibilityResult))
    names = [m.code if per_vertebra or m.level is None else f"{m.code}@{m.level}" for m in f.missing]
    return list(dict.fromkeys(names))


def result_payload(f: Finding, ctx: RenderContext) -> dict[str, Any]:
    """The card's machine-readable result: the finding's own, with ``rules``, ``missing``
    (unless the topic sets its own), ``rulesVersion`` and, with a site policy, ``policyHash``."""
    out = finding_payload(f)
    out.setdefault("missing", missing_names(f))
    if f.criteria:
        out.setdefault("evidence", evidence_payload(f))
    out["rulesVersion"] = RULES_VERSION
    if ctx.policy_hash:
        out["policyHash"] = ctx.policy_hash
    return out


def render_card(f: Finding, ctx: RenderContext, *, extra_notes: Iterable[str] = ()) -> dict[str, Any]:
    c = ctx.catalogs
    summary = c.render(f.summary, ctx.lang, markdown=False).strip() or c.text(f"topic.{f.topic}", ctx.lang)
    blocker = _blocker(f, ctx)
    if blocker:  # the ordered technique first (it is the ask); a contraindication after the verdict
        summary = f"{blocker[1]} · {summary}" if blocker[0] == "technique" else f"{summary}; {blocker[1]}"
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1].rstrip() + "…"
    # --- issue 18: links to the data-capture app (cds_service/capture/links.py); the one call site
    from .capture.links import capture_links
    capture = capture_links(f, ctx)
    # --- end issue 18
    detail = render_detail(f, ctx, capture_link=bool(capture))
    for note in extra_notes:
        detail += "\n\n" + note
    page = rule_url(ctx.base_url, f.rules[0])  # the card's main rule
    card: dict[str, Any] = {
        "uuid": new_uuid(),
        "summary": summary,
        "indicator": f.indicator.value,
        "detail": detail,
        "source": {
            "label": ctx.source_label,
            "url": page,
            "topic": {"system": TOPIC_SYSTEM, "code": f.topic, "display": c.text(f"topic.{f.topic}", ctx.lang)},
        },
        "links": [{"label": ctx.source_link, "url": page, "type": "absolute"}]
                 + [{"label": c.render(link.label, ctx.lang, markdown=False), "url": link.url, "type": "absolute"}
                    for link in f.links]
                 + static_links(f, ctx),
        "extension": {RESULT_EXTENSION: result_payload(f, ctx)},
    }
    card["links"].extend(capture)  # issue 18: the capture app's links (above)
    suggestions = [s for s in (render_suggestion(s, ctx.suggestions) for s in f.suggestions) if s]
    if isinstance(f.result, VpbkEligibilityResult):
        suggestions += verdict_suggestions(f.result, {s.kind for s in f.suggestions}, ctx.suggestions)
        if f.result.vertebra:
            with_level(suggestions, f.result.vertebra, ctx.suggestions)
    if suggestions:
        card["suggestions"] = suggestions
        # One suggestion: take it or not. Several (e.g. one order per missing lab) are
        # independent of each other, so the clinician may take any of them.
        card["selectionBehavior"] = "at-most-one" if len(suggestions) == 1 else "any"
    if f.indicator in (Indicator.WARNING, Indicator.CRITICAL):
        reasons = list(dict.fromkeys(f.override_reasons)) + ["not-applicable"]
        card["overrideReasons"] = [
            {"system": OVERRIDE_SYSTEM, "code": code, "display": _override_display(code, ctx)}
            for code in dict.fromkeys(reasons)]
    return card


def _level_text(level: str, ctx: RenderContext) -> str:
    return ctx.plain_lookup("vpbk.level.", level) or escape_text(level, markdown=False)


def _blocker(f: Finding, ctx: RenderContext) -> tuple[str, str] | None:
    """What blocks the order, for the summary: the ordered technique impossible at the level,
    or an absolute contraindication (VP/BK eligibility)."""
    r, c = f.result, ctx.catalogs
    if not isinstance(r, VpbkEligibilityResult):
        return None
    mismatch = _mismatch(f)
    if mismatch:
        ordered, allowed, level = mismatch
        key = "summary.blocked.technique" if allowed else "summary.blocked.technique-none"
        return "technique", c.text(key, ctx.lang, markdown=False,
                                   ordered=SafeText(escape_text(ordered, markdown=False)),
                                   level=SafeText(_level_text(str(level), ctx)), allowed=SafeText(", ".join(allowed)))
    absolute = r.absolute
    if absolute:
        names = [_PARENS.sub("", c.text(f"vpbk.code.{code}", ctx.lang)).strip() if c.has(f"vpbk.code.{code}", ctx.lang)
                 else code for code in absolute]
        return "absolute", c.text("summary.blocked.absolute", ctx.lang, markdown=False,
                                  names=SafeText(", ".join(names)))
    return None


def _override_display(code: str, ctx: RenderContext) -> str:
    for key in (f"override.{code}", f"common.override.{code}"):
        if ctx.catalogs.has(key, ctx.lang):
            return ctx.catalogs.text(key, ctx.lang)
    return code
