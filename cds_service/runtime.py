"""What a hook call is evaluated with, built once from the :class:`~.config.Settings`:
the policy tables (with a site's overrides), the message catalogs, the mapping
settings (with a site's extra codes and freshness limits), the public base URL
and the clock. ``create_app`` and ``spine-cds evaluate`` both build it here, so
the offline run decides exactly as an HTTP request would."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fhir_mappings import MappingSettings, load_tables
from spine_guideline.policy import Policy, load_policy

from .cards import DEFAULT_BASE_URL
from .config import ConfigError, Settings, loading
from .i18n import Catalogs, load_catalogs

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    policy: Policy
    catalogs: Catalogs
    mapping_settings: MappingSettings
    clock: Clock = system_clock

    def base_url(self, request_base: str | None = None) -> str:
        """Where card links point: SPINE_CDS_BASE_URL, else the request's own base
        (an HTTP call), else the demo's address (offline)."""
        return (self.settings.base_url or request_base or DEFAULT_BASE_URL).rstrip("/")


def load_site_policy(path: str | None) -> Policy:
    """The policy tables with a site's overrides (SPINE_CDS_POLICY_FILE) applied."""
    def load() -> Policy:
        overrides = None
        if path:
            with open(path, encoding="utf-8") as fh:
                overrides = json.load(fh)
            if not isinstance(overrides, dict):
                raise ValueError('expected a JSON object {"section": {"key": value}}')
        return load_policy(overrides)
    return loading("POLICY_FILE", load)


def mapping_settings(settings: Settings) -> MappingSettings:
    """Mapping settings; the tables are loaded and checked here, once, so a malformed
    site mapping file stops start-up."""
    mapping = MappingSettings(extra_mapping_file=settings.extra_mappings, freshness_days=dict(settings.freshness))
    try:
        load_tables(mapping)
    except OSError as exc:
        raise ConfigError(f"SPINE_CDS_EXTRA_MAPPINGS: cannot read the file ({exc.strerror or exc}): "
                          f"{settings.extra_mappings}") from None
    except ValueError as exc:
        setting = "EXTRA_MAPPINGS" if settings.extra_mappings else "FRESHNESS"
        raise ConfigError(f"SPINE_CDS_{setting}: {' '.join(str(exc).split())[:300]}") from None
    return mapping


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    return Runtime(settings, load_site_policy(settings.policy_file), load_catalogs(), mapping_settings(settings),
                   clock or system_clock)
