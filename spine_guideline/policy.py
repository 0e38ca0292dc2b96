"""Thresholds and policy choices, read from the data files in ``data/``.

Each data file (one per module: ``diagnosis.json``, ``treatment.json``,
``augmentation.json``, ...) has the form::

    {"section": "diagnosis",
     "values": {"onset_recent_days": {"value": 7, "source": "002 DIAGNOSTIEK 2",
                                      "policy": false}}}

``policy: true`` marks a choice the sources do not make (guideline.md
**policy**); the card says when such a value decided the outcome. A site may
override any value through the service's policy override file; rules read
values only through :class:`Policy`, never as literals.

Loading happens once, at service start-up (``load_policy``); evaluating a
patient does no I/O.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class PolicyValue:
    value: Any
    source: str
    policy: bool = False


@dataclass(frozen=True)
class Policy:
    sections: Mapping[str, Mapping[str, PolicyValue]] = field(default_factory=dict)
    #: sha256 of the site policy file's canonical JSON, when one was loaded (api-contract ``policyHash``)
    site_hash: str | None = None

    def get(self, section: str, key: str) -> Any:
        try:
            return self.sections[section][key].value
        except KeyError:
            raise KeyError(f"policy value {section}.{key} is not defined") from None

    def entry(self, section: str, key: str) -> PolicyValue:
        return self.sections[section][key]

    def section(self, section: str) -> Mapping[str, Any]:
        return {k: v.value for k, v in self.sections.get(section, {}).items()}


class PolicyError(ValueError):
    pass


def _parse_file(name: str, doc: Any) -> tuple[str, dict[str, PolicyValue]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("section"), str) \
            or not isinstance(doc.get("values"), dict):
        raise PolicyError(f"{name}: expected an object with 'section' and 'values'")
    values: dict[str, PolicyValue] = {}
    for key, entry in doc["values"].items():
        if not isinstance(entry, dict) or "value" not in entry or not isinstance(entry.get("source"), str):
            raise PolicyError(f"{name}: value {key!r} needs 'value' and 'source'")
        values[key] = PolicyValue(entry["value"], entry["source"], bool(entry.get("policy", False)))
    return doc["section"], values


def load_policy(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Policy:
    """Read every data file of this package, then apply site overrides
    (``{"section": {"key": value}}``); an override of an unknown key is an error."""
    sections: dict[str, dict[str, PolicyValue]] = {}
    folder = resources.files(__package__) / "data"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".json"):
            continue
        section, values = _parse_file(item.name, json.loads(item.read_text(encoding="utf-8")))
        sections.setdefault(section, {}).update(values)
    for section, changes in (overrides or {}).items():
        for key, value in changes.items():
            if key not in sections.get(section, {}):
                raise PolicyError(f"override of unknown policy value {section}.{key}")
            old = sections[section][key]
            sections[section][key] = PolicyValue(value, f"site override (was {old.value!r}: {old.source})", True)
    return Policy(sections, None if overrides is None else canonical_hash(overrides))


def canonical_hash(doc: Any) -> str:
    """sha256 (hex) of ``doc`` as canonical JSON: sorted keys, no spaces, UTF-8."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
