"""Site configuration of the mapping layer, and loading its tables once."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .tables import Terminology, load_terminology

ENV_EXTRA_MAPPINGS = "SPINE_CDS_EXTRA_MAPPINGS"


@dataclass(frozen=True)
class MappingSettings:
    """Site configuration of the mapping layer.

    ``extra_mapping_file``: a JSON file of extra ConceptMaps (docs/local-codes.md).
    ``freshness_days``: overrides of the freshness limits, by class (``inr``,
    ``lab``, ``symptom``, ``score``, ``imaging``, ``judgement``, ``history``) or
    by fact name (which wins); ``None`` = never stale.
    ``check_subject``: skip resources whose subject/patient is another patient.
    """

    extra_mapping_file: str | None = None
    freshness_days: Mapping[str, int | None] = field(default_factory=dict)
    check_subject: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> MappingSettings:
        env = os.environ if environ is None else environ
        return cls(extra_mapping_file=env.get(ENV_EXTRA_MAPPINGS) or None, **kwargs)

    def terminology(self) -> Terminology:
        return load_terminology(self.extra_mapping_file)


def load_tables(settings: MappingSettings | None = None) -> Terminology:
    """Load and validate every table once (the service calls this at start-up;
    a malformed table raises ``TerminologyError`` there)."""
    settings = settings or MappingSettings()
    term = settings.terminology()
    for key, days in settings.freshness_days.items():
        if key not in term.obs_defs and key not in term.rules["freshness_days"]:
            raise ValueError(f"freshness override for unknown fact or class {key!r}")
        if days is not None and (not isinstance(days, int) or days < 0):
            raise ValueError(f"freshness override {key!r} must be a non-negative integer or None")
    return term


def freshness_limit(term: Terminology, settings: MappingSettings, name: str) -> int | None:
    """The freshness limit (days) of an observation fact: an override by fact name, by the
    fact of a component (``x.onset`` -> ``x``), by its class, else the class default."""
    base = name.split(".", 1)[0]
    over = settings.freshness_days
    if name in over:
        return over[name]
    if base in over:
        return over[base]
    cls = term.obs_defs[base].freshness
    if cls in over:
        return over[cls]
    return term.freshness_days(cls)
