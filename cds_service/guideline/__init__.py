"""The service's own rules reference: ``GET /guideline`` and ``GET /guideline/rules/{RULE-ID}``.

Every card links here (``source.url`` and the guideline link): the page of the
card's main rule says what the rule decides, which source document and section
it comes from, the thresholds it reads with their value and provenance (after
any site override, so the page shows what this installation decides by), the
policy choices it makes and the rules version.

The rule list is :mod:`spine_guideline.registry`; the human texts are
``rules.nl.json`` / ``rules.en.json`` beside this file (written for this
project from the source documents; see ``tests/test_guideline_pages.py`` for
the check that every registered rule has a text in both languages).

Language: ``?lang=nl|en``, else ``Accept-Language``, else the service default.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request

from spine_guideline import GUIDELINE_VERSION
from spine_guideline.policy import Policy
from spine_guideline.registry import FAMILIES, RULES, SOURCES, Rule, children

from ..i18n import negotiate

__all__ = ["bp", "rule_url", "load_texts", "LANGUAGES"]

LANGUAGES = ("nl", "en")
bp = Blueprint("guideline", __name__, url_prefix="/guideline", template_folder="templates",
               static_folder="static", static_url_path="/static")

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")

_UI: Mapping[str, Mapping[str, str]] = {
    "nl": {"index": "Regels", "decides": "Wat de regel beslist", "source": "Bron", "thresholds": "Drempels",
           "value": "Waarde", "provenance": "Herkomst", "policy": "Beleidskeuzes",
           "policy_note": "Hier beslist de specificatie waar de bronnen zwijgen; een instelling kan dit aanpassen.",
           "none": "Geen.", "topics": "Kaarten", "parts": "Onderdelen", "part_of": "Onderdeel van",
           "version": "Regelversie", "more": "Toelichting", "back": "Alle regels", "sources": "Bronnen",
           "site": "aangepast door deze instelling", "other_lang": "English"},
    "en": {"index": "Rules", "decides": "What the rule decides", "source": "Source", "thresholds": "Thresholds",
           "value": "Value", "provenance": "Provenance", "policy": "Policy choices",
           "policy_note": "Here the specification decides where the sources are silent; a site can change it.",
           "none": "None.", "topics": "Cards", "parts": "Parts", "part_of": "Part of",
           "version": "Rules version", "more": "Explanation", "back": "All rules", "sources": "Sources",
           "site": "changed by this site", "other_lang": "Nederlands"},
}


@cache
def load_texts() -> Mapping[str, Mapping[str, Mapping[str, Any]]]:
    """{lang: {rule id: {"title", "decides", "policy", "source", "more"}}}, read once."""
    folder = resources.files(__package__)
    out: dict[str, Mapping[str, Mapping[str, Any]]] = {}
    for lang in LANGUAGES:
        out[lang] = json.loads((folder / f"rules.{lang}.json").read_text(encoding="utf-8"))
    return out


def rule_url(base_url: str, rule_id: str) -> str:
    """The public URL of a rule's page; ``base_url`` without a trailing slash."""
    return f"{base_url}/guideline/rules/{rule_id}"


@dataclass(frozen=True)
class Threshold:
    key: str
    value: str
    source: str
    policy: bool
    site: bool


def _thresholds(rule: Rule, policy: Policy) -> list[Threshold]:
    out = []
    for key in rule.thresholds:
        section, name = key.split(".", 1)
        entry = policy.entry(section, name)
        value = entry.value if isinstance(entry.value, str) else json.dumps(entry.value, ensure_ascii=False)
        out.append(Threshold(key, value, entry.source, entry.policy, entry.source.startswith("site override")))
    return out


def _lang() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    return negotiate(request.headers.get("Accept-Language"), current_app.config.get("LANGUAGE", "nl"))


def _policy() -> Policy:
    policy: Policy = current_app.extensions["spine_cds"].policy
    return policy


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers["Content-Language"] = _lang()
    resp.headers["Vary"] = "Accept-Language"
    return resp


@bp.get("", strict_slashes=False)
def index() -> str:
    lang = _lang()
    texts = load_texts()[lang]
    families = [(code, title, [r for r in RULES.values() if r.family == code]) for code, title in FAMILIES.items()]
    return render_template("guideline/index.html", lang=lang, ui=_UI[lang], texts=texts, families=families,
                           sources=texts.get("_sources", SOURCES), version=GUIDELINE_VERSION,
                           other=_other(lang))


@bp.get("/rules/<rule_id>")
def rule_page(rule_id: str) -> str:
    rule = RULES.get(rule_id)
    if rule is None:
        abort(404)
    lang = _lang()
    texts = load_texts()[lang]
    text = texts[rule.id]
    return render_template("guideline/rule.html", lang=lang, ui=_UI[lang], rule=rule, text=text,
                           texts=texts, parts=children(rule.id),
                           parent=RULES[rule.parent] if rule.parent else None,
                           source_title=texts.get("_sources", SOURCES).get(rule.source, SOURCES[rule.source]),
                           thresholds=_thresholds(rule, _policy()), version=GUIDELINE_VERSION,
                           paragraphs=_paragraphs(text.get("more") or ""), other=_other(lang))


def _other(lang: str) -> str:
    return "en" if lang == "nl" else "nl"


def _paragraphs(text: str) -> list[tuple[str, list[str]]]:
    """Plain text with blank-line paragraphs and '- ' bullets -> [(kind, lines)] for the template."""
    out: list[tuple[str, list[str]]] = []
    for block in (b.strip() for b in text.split("\n\n")):
        if not block:
            continue
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        if all(ln.startswith("- ") for ln in lines):
            out.append(("list", [ln[2:] for ln in lines]))
        else:
            out.append(("p", [" ".join(lines)]))
    return out
