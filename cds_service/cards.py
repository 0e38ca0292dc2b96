"""Renders guideline findings as CDS Hooks cards (Dutch or English).

Card layout (api-contract.md): summary < 140 characters; detail in Markdown
with the conclusion first, then each criterion as met / not met / unknown
with the data it rests on, then the missing data and notes; source with
label, url and topic; overrideReasons on warning/critical cards; the
machine-readable result in ``extension["org.spine-cds.result"]``.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from spine_guideline import GUIDELINE_VERSION, RULES_VERSION
from spine_guideline.facts import Fact, Source
from spine_guideline.findings import Criterion, Finding, Indicator, Status

from .guideline import rule_url
from .i18n import Catalogs, SafeText, escape_text
from .ids import new_uuid
from .suggestions import SuggestionContext, render_suggestion

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

    def __post_init__(self) -> None:
        # Texts every criterion line needs, looked up once per request, not once per line.
        # The catalogs keep these tables per language, so a request only looks them up.
        status = self.catalogs.plain_with_prefix(self.lang, "common.status.")
        object.__setattr__(self, "status_label", {s: status.get(s.value, s.value) for s in Status})
        object.__setattr__(self, "unknown_text", self.catalogs.plain_with_prefix(self.lang, "unknown."))
        object.__setattr__(self, "missing_text", self.catalogs.plain_with_prefix(self.lang, "missing."))
        object.__setattr__(self, "source_label", self.catalogs.text("source.label", self.lang,
                                                                    version=GUIDELINE_VERSION))
        object.__setattr__(self, "source_link", self.catalogs.text("source.link", self.lang))
        object.__setattr__(self, "based_on", {})  # refs -> "based on" text, this request only
        object.__setattr__(self, "fact_data", {})  # see _fact_data_once; this request only


def _fact_data(fact: Fact, ctx: RenderContext) -> str:
    c = ctx.catalogs
    if fact.value is None:  # unknown
        reason = fact.unknown.value if fact.unknown else "not-recorded"
        why = ctx.unknown_text.get(reason) or c.text(f"unknown.{reason}", ctx.lang)
        refs = _refs(fact.sources)
        return f"{why} ({refs})" if refs else why
    if not fact.sources and fact.searched:
        return c.text("common.data.searched", ctx.lang, searched=fact.searched)
    return _refs(fact.sources) or c.text("common.data.none", ctx.lang)


def _ref(s: Source) -> str:
    ref = f"{s.resource_type}/{s.resource_id}" if s.resource_id else s.resource_type  # Source.reference
    return f"{ref}, {s.date[:10]}" if s.date else ref


def _refs(sources: tuple[Source, ...]) -> SafeText:
    """The references (and dates) of ``sources``: request data, so escaped (``escape_text``)."""
    parts = [escape_text(_ref(s)) for s in sources[:4]]
    if len(sources) > 4:
        parts.append(SafeText(f"+{len(sources) - 4}"))
    return SafeText("; ".join(parts))


def _fact_data_once(fact: Fact, ctx: RenderContext, seen: dict[tuple, str]) -> str:
    """``_fact_data``; for a fact without sources (most unknown / none-recorded facts) the
    text depends only on whether it is unknown, why and what was searched, so it is
    rendered once per request for each such combination. (Facts with sources are rarely
    shared between criteria: memoising them by identity measured as more work, not less.)"""
    if fact.sources:
        return _fact_data(fact, ctx)
    key = (fact.value is None, fact.unknown, fact.searched)
    data = seen.get(key)
    if data is None:
        data = seen[key] = _fact_data(fact, ctx)
    return data


def _criterion_line(crit: Criterion, ctx: RenderContext) -> str:
    c = ctx.catalogs
    status = ctx.status_label[crit.status]
    text = c._render(crit.key, crit.params, ctx.lang)  # as c.text(key, lang, **params), without the copy
    line = f"- {_STATUS_MARK[crit.status]} **{status}**: {text}"
    if crit.rule:
        line += f" ({crit.rule})"
    seen = ctx.fact_data
    data: dict[str, None] = {}  # each text once, in order
    for fact in crit.facts:
        d = _fact_data_once(fact, ctx, seen)
        if d:
            data[d] = None
    if data:
        refs = SafeText("; ".join(data))  # each part escaped by _refs or from a template
        based_on = ctx.based_on.get(refs)
        if based_on is None:  # the same few data texts recur across a request's criteria
            based_on = ctx.based_on[refs] = c.text("common.data.based-on", ctx.lang, refs=refs)
        line += " — " + based_on
    return line


def _text_or(c: Catalogs, key: str, lang: str, fallback: str) -> str:
    """The catalog text of ``key`` (a template with fields renders visibly), else ``fallback``."""
    return c.text(key, lang) if c.has(key, lang) else fallback


def render_detail(f: Finding, ctx: RenderContext) -> str:
    c = ctx.catalogs
    parts = [f"**{c.render(f.conclusion, ctx.lang)}**"]
    if f.criteria:
        parts.append(f"**{c.text('common.heading.criteria', ctx.lang)}**\n\n"
                     + "\n".join(_criterion_line(cr, ctx) for cr in f.criteria))
    if f.missing:
        lines = []
        seen = set()
        for m in f.missing:
            ident = (m.code, m.level, m.why)
            if ident in seen:
                continue
            seen.add(ident)
            how = ctx.missing_text.get(m.code) or _text_or(c, f"missing.{m.code}", ctx.lang, m.code)
            why = ctx.unknown_text.get(m.why) or _text_or(c, f"unknown.{m.why}", ctx.lang, m.why)
            level = f" [{escape_text(m.level)}]" if m.level else ""  # a code from the rules; the level may be data
            lines.append(f"- `{m.code}`{level}: {how} ({why})")
        parts.append(f"**{c.text('common.heading.missing', ctx.lang)}**\n\n" + "\n".join(lines))
    if f.notes:
        parts.append("\n\n".join(c.render(n, ctx.lang) for n in f.notes))
    parts.append(f"_{c.text('common.rules', ctx.lang, rules=', '.join(dict.fromkeys(f.rules)))}_")
    return "\n\n".join(parts)


def missing_names(f: Finding) -> list[str]:
    """The fact names the decision rests on (api-contract ``missing``): by name alone on a card
    about one vertebra, else with the level (``bilsky-grade@L2``)."""
    per_vertebra = "vertebra" in f.result
    names = [m.code if per_vertebra or m.level is None else f"{m.code}@{m.level}" for m in f.missing]
    return list(dict.fromkeys(names))


def result_payload(f: Finding, ctx: RenderContext) -> dict[str, Any]:
    """The card's machine-readable result: the finding's own, with ``rules``, ``missing``
    (unless the topic sets its own), ``rulesVersion`` and, with a site policy, ``policyHash``."""
    out = f.machine_result()
    out.setdefault("missing", missing_names(f))
    out["rulesVersion"] = RULES_VERSION
    if ctx.policy_hash:
        out["policyHash"] = ctx.policy_hash
    return out


def render_card(f: Finding, ctx: RenderContext, *, extra_notes: Iterable[str] = ()) -> dict[str, Any]:
    c = ctx.catalogs
    summary = c.render(f.summary, ctx.lang, markdown=False).strip() or c.text(f"topic.{f.topic}", ctx.lang)
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1].rstrip() + "…"
    detail = render_detail(f, ctx)
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
                    for link in f.links],
        "extension": {RESULT_EXTENSION: result_payload(f, ctx)},
    }
    # --- issue 18: links to the data-capture app (cds_service/capture/links.py); the one call site
    from .capture.links import capture_links
    card["links"].extend(capture_links(f, ctx))
    # --- end issue 18
    suggestions = [s for s in (render_suggestion(s, ctx.suggestions) for s in f.suggestions) if s]
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


def _override_display(code: str, ctx: RenderContext) -> str:
    for key in (f"override.{code}", f"common.override.{code}"):
        if ctx.catalogs.has(key, ctx.lang):
            return ctx.catalogs.text(key, ctx.lang)
    return code
