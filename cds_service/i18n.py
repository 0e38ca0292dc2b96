"""Message catalogs (``messages/<lang>/*.json``) and rendering of findings' messages.

Catalogs are loaded and checked once at start-up: every language must define
the same keys, and no key may be defined twice. Rendering never raises: a
missing key or parameter renders visibly (``[key]``) and is logged, so a gap in
a catalog can never silence a card.
"""
from __future__ import annotations

import json
import logging
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

    def render(self, message: Message | str | None, lang: str) -> str:
        if message is None:
            return ""
        if isinstance(message, str):
            return message
        return self._render(message.key, message.params, lang)

    def _render(self, key: str, params: Mapping[str, Any], lang: str) -> str:
        if not params:
            done = self.plain.get(lang, _NONE).get(key)
            if done is not None:
                return done
        template = self.messages.get(lang, _NONE).get(key)
        if template is None:
            log.error("message key missing", extra={"key": key, "lang": lang})
            return f"[{key}]"
        # Plain strings and ints (most parameters) go through as they are, as _param would;
        # only parameters holding something else are converted (into a new dict).
        values = params
        for v in params.values():
            if type(v) not in _AS_IS:
                values = {k: v if type(v) in _AS_IS else self._param(v, lang) for k, v in params.items()}
                break
        try:
            # format_map on the dict itself: a missing field raises KeyError, no strict-dict copy needed
            return template.format_map(values)
        except (KeyError, IndexError, ValueError) as exc:
            log.error("message render failed", extra={"key": key, "lang": lang, "error": str(exc)})
            return template

    def text(self, key: str, lang: str, **params: Any) -> str:
        if not params:  # the common case: a text without fields, rendered once at start-up
            done = self.plain.get(lang, _NONE).get(key)
            if done is not None:
                return done
        return self._render(key, params, lang)

    def _param(self, value: Any, lang: str) -> Any:
        if isinstance(value, Message):
            return self.render(value, lang)
        if isinstance(value, (list, tuple, set, frozenset)):
            return ", ".join(str(self._param(v, lang)) for v in value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value


_AS_IS = frozenset((str, int))
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
