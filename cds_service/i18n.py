"""Message catalogs (``messages/<lang>/*.json``) and rendering of findings' messages.

Catalogs are loaded and checked once at start-up: every language must define
the same keys, and no key may be defined twice. Rendering never raises: a
missing key or parameter renders visibly (``[key]``) and is logged, so a gap in
a catalog can never silence a card.

Catalog templates are trusted Markdown. Every string *parameter* is not: codes,
displays, texts, dates, ids and references come from the request, and the
CDS Hooks Sandbox renders ``detail`` as Markdown with raw HTML allowed. So each
string parameter passes through ``escape_text`` (Markdown and HTML) here, the
one place where data meets a template; ``SafeText`` marks a string that was
already escaped (text rendered from a template, references rendered by cards).
"""
from __future__ import annotations

import json
import logging
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from spine_guideline.findings import Message

log = logging.getLogger("spine_cds.i18n")

LANGUAGES = ("nl", "en")
SHAREABLE_PREFIXES = ("missing.", "override.")


class CatalogError(ValueError):
    pass


class SafeText(str):
    """Text already escaped (or rendered from a trusted template): inserted as it is."""

    __slots__ = ()


# Characters that become something else than themselves in Markdown (CommonMark and
# GitHub's flavour) or HTML wherever they stand in a line. Entities for the HTML ones,
# so an HTML-only reader of the text is safe as well; backslashes for the rest.
_INLINE = {ord("\\"): "\\\\", ord("`"): "\\`", ord("*"): "\\*", ord("_"): "\\_", ord("["): "\\[",
           ord("]"): "\\]", ord("~"): "\\~", ord("|"): "\\|", ord("@"): "\\@",
           ord("<"): "&lt;", ord(">"): "&gt;", ord("&"): "&amp;"}
# Line breaks and other controls end a line (a heading, list or quote could start after
# them): they become a space. Bidirectional overrides are dropped.
_CONTROLS = {**{c: " " for c in range(0x20) if c != 0x20}, 0x7F: " ", 0x85: " ", 0x2028: " ", 0x2029: " ",
             **{c: None for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)}}
_PLAIN = str.maketrans(_CONTROLS)
_MARKDOWN = str.maketrans({**_CONTROLS, **_INLINE})
# Also live in Markdown: a block marker at the start of the text (it may stand at the
# start of a line of the template), and what GitHub-flavoured and "linkify" renderers
# turn into a link without any markup: ``scheme://``, ``www.ev.il`` or ``ev.il``.
_LEADING = re.compile(r"^(?:[#+=\-]|\d{1,9}(?=[.)]))")
_AUTOLINK = re.compile(r"(?<=[0-9A-Za-z])\.(?=[A-Za-z])|:(?=//)")
_SPACES = re.compile(r"  +")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})[0-9:.+\-Z]*)?$")
_DECIMAL = re.compile(r"^\d+\.\d+$")
_MONTHS = {"nl": ("jan.", "feb.", "mrt.", "apr.", "mei", "jun.", "jul.", "aug.", "sep.", "okt.", "nov.", "dec."),
           "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")}
#: what the rules pass for "no value" (a parameter of exactly "-" or "?"); never shown as such
PLACEHOLDERS = frozenset(("-", "?"))
_HOLE = "\x00"  # stands in for a placeholder while a template renders
_HOLE_IN_PARENS = re.compile(r" ?\((?:[^()]*\x00[^()]*)\)")
_HOLE_WITH_UNIT = re.compile(r"\x00(?: (?:points|punten|days|dagen|months|maanden|years|jaar))?")


def format_date(value: str, lang: str) -> str | None:
    """An ISO date(time) as people write it: ``1 dec. 2026`` (nl), ``1 Dec 2026`` (en); None if not one."""
    m = _ISO_DATE.match(value)
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return None
    text = f"{day} {_MONTHS.get(lang, _MONTHS['en'])[month - 1]} {year}"
    return f"{text} {m.group(4)}:{m.group(5)}" if m.group(4) and " " in value else text


def format_number(value: float | int, lang: str) -> str:
    """A number as the language writes it: a decimal comma in Dutch, no trailing ``.0``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace(".", ",") if lang == "nl" else text


def _backslashed(m: re.Match[str]) -> str:
    return "\\" + m.group()


def escape_text(value: str, *, markdown: bool = True) -> SafeText:
    """``value`` (from a request) as literal text: for Markdown and HTML when ``markdown``,
    else (a plain-text field such as ``summary``) only without line breaks and controls."""
    if isinstance(value, SafeText):
        return value
    if not markdown:
        return SafeText(_SPACES.sub(" ", value.translate(_PLAIN)).strip())
    text = _SPACES.sub(" ", value.translate(_MARKDOWN)).strip()
    text = _AUTOLINK.sub(_backslashed, text)
    m = _LEADING.match(text)
    if m:
        text = f"{text[:m.end()]}\\{text[m.end():]}" if m.group().isdigit() else "\\" + text
    return SafeText(text)


@dataclass(frozen=True)
class Catalogs:
    messages: Mapping[str, Mapping[str, str]]  # lang -> key -> template
    # lang -> key -> rendered text, for templates without fields (built once)
    plain: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # lang -> derived lookup tables (see ``plain_with_prefix``), filled on first use
    _derived: dict[tuple[str, str], Mapping[str, str]] = field(default_factory=dict, init=False,
                                                               repr=False, compare=False)

    @classmethod
    def build(cls, messages: Mapping[str, Mapping[str, str]]) -> Catalogs:
        plain: dict[str, dict[str, str]] = {}
        for lang, templates in messages.items():
            plain[lang] = {}
            for key, template in templates.items():
                try:
                    if not _fields(template):
                        plain[lang][key] = template.format()
                except (ValueError, IndexError, KeyError):
                    pass
        return cls(messages, plain)

    def plain_with_prefix(self, lang: str, prefix: str) -> Mapping[str, str]:
        """The field-less texts of ``lang`` whose key starts with ``prefix``, keyed by the
        rest of the key; built once per (lang, prefix), not once per request. Read-only."""
        found = self._derived.get((lang, prefix))
        if found is None:
            cut = len(prefix)
            found = {k[cut:]: v for k, v in self.plain.get(lang, {}).items() if k.startswith(prefix)}
            self._derived[(lang, prefix)] = found
        return found

    def has(self, key: str, lang: str) -> bool:
        return key in self.messages.get(lang, _NONE)

    def render(self, message: Message | str | None, lang: str, *, markdown: bool = True) -> str:
        """The text of ``message``; its string parameters escaped (``escape_text``) for Markdown
        (``detail``) or, with ``markdown=False``, for a plain-text field (``summary``, labels)."""
        if message is None:
            return ""
        if isinstance(message, str):
            return message
        return self._render(message.key, message.params, lang, markdown)

    def _render(self, key: str, params: Mapping[str, Any], lang: str, markdown: bool = True) -> str:
        if not params:
            done = self.plain.get(lang, _NONE).get(key)
            if done is not None:
                return done
        template = self.messages.get(lang, _NONE).get(key)
        if template is None:
            log.error("message key missing", extra={"key": key, "lang": lang})
            return f"[{key}]"
        values = {k: self._param(v, lang, markdown) for k, v in params.items()}
        try:
            # format_map on the dict itself: a missing field raises KeyError, no strict-dict copy needed
            text = template.format_map(values)
        except (KeyError, IndexError, ValueError) as exc:
            log.error("message render failed", extra={"key": key, "lang": lang, "error": str(exc)})
            return template
        if _HOLE in text:
            text = self._fill_holes(text, lang)
        return text

    def _fill_holes(self, text: str, lang: str) -> str:
        """A text rendered with "no value" placeholders: a parenthesis around one is left
        out (``(missing: -)``, ``(now - days)``), anywhere else the value reads "unknown"."""
        text = _HOLE_IN_PARENS.sub("", text)
        unknown = self.messages.get(lang, _NONE).get("common.value.unknown", "?")
        return _HOLE_WITH_UNIT.sub(unknown, text)

    def text(self, key: str, lang: str, *, markdown: bool = True, **params: Any) -> str:
        if not params:  # the common case: a text without fields, rendered once at start-up
            done = self.plain.get(lang, _NONE).get(key)
            if done is not None:
                return done
        return self._render(key, params, lang, markdown)

    def _param(self, value: Any, lang: str, markdown: bool) -> Any:
        """A parameter as it goes into a template: strings escaped, messages rendered (their
        own parameters escaped), lists joined, integral floats without ``.0``."""
        if isinstance(value, str):
            if value in PLACEHOLDERS:
                return SafeText(_HOLE)
            if not isinstance(value, SafeText):
                when = format_date(value, lang)
                if when is not None:
                    return SafeText(when)
                if _DECIMAL.match(value):  # a number the rules passed as text ("9.0")
                    return SafeText(format_number(float(value), lang))
            return escape_text(value, markdown=markdown)
        if isinstance(value, Message):
            return SafeText(self.render(value, lang, markdown=markdown))
        if isinstance(value, (list, tuple, set, frozenset)):
            return SafeText(", ".join(str(self._param(v, lang, markdown)) for v in value))
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return SafeText(format_number(value, lang))
        return escape_text(str(value), markdown=markdown)


_NONE: Mapping[str, str] = {}  # stands in for an unknown language; never written to


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def load_catalogs() -> Catalogs:
    root = resources.files("cds_service") / "messages"
    messages: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        merged: dict[str, str] = {}
        folder = root / lang
        for item in sorted(folder.iterdir(), key=lambda p: p.name):
            if not item.name.endswith(".json"):
                continue
            try:
                doc = json.loads(item.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise CatalogError(f"messages/{lang}/{item.name}: not JSON ({exc})") from None
            if not isinstance(doc, dict):
                raise CatalogError(f"messages/{lang}/{item.name}: expected an object")
            for key, template in doc.items():
                if not isinstance(template, str):
                    raise CatalogError(f"messages/{lang}/{item.name}: {key} is not a string")
                if key in merged:
                    # Modules may share how-to-record and override texts; anything else twice is a bug.
                    if key.startswith(SHAREABLE_PREFIXES):
                        continue
                    raise CatalogError(f"messages/{lang}: key {key} defined twice")
                try:
                    _fields(template)
                except ValueError as exc:
                    raise CatalogError(f"messages/{lang}/{item.name}: {key}: {exc}") from None
                merged[key] = template
        messages[lang] = merged
    keys = {lang: set(m) for lang, m in messages.items()}
    for lang in LANGUAGES:
        for other in LANGUAGES:
            gap = keys[other] - keys[lang]
            if gap:
                raise CatalogError(f"messages/{lang} lacks keys defined in {other}: {sorted(gap)[:10]}")
    return Catalogs.build(messages)


def negotiate(accept_language: str | None, default: str) -> str:
    """Pick nl or en from an Accept-Language header (q-values honoured)."""
    if not accept_language:
        return default
    best, best_q = None, -1.0
    for part in accept_language.split(",")[:20]:
        bits = part.strip().split(";")
        tag = bits[0].strip().lower()
        q = 1.0
        for b in bits[1:]:
            b = b.strip()
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        primary = tag.split("-")[0]
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
        elif tag == "*" and q > best_q:
            best, best_q = default, q
    return best if best and best_q > 0 else default
