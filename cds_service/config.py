"""Settings: defaults, then ``SPINE_CDS_*`` environment variables, then a caller's
overrides, read once into one :class:`Settings` object (``read_settings``).

``SPINE_CDS_AUTH`` -> ``Settings.auth`` (and ``app.config["AUTH"]``, for Flask
code), values parsed as JSON where they are JSON (like Flask's
``from_prefixed_env``: ``5`` is a number, ``true`` a boolean). Values are
checked once, at start-up; a bad value stops the service (and ``spine-cds
evaluate``) with one line naming the setting, never a traceback.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .urls import has_dot_segment, normalise_url

T = TypeVar("T")

DEFAULTS: dict[str, Any] = {
    "AUTH": "required",            # required | off
    "TRUST": None,                 # path to the trust file
    "BASE_URL": None,              # public base URL (aud check behind a proxy)
    "DATABASE_URL": None,          # default: sqlite:///<DATA_DIR>/spine-cds.sqlite3
    "DATA_DIR": None,              # default: the app's instance folder
    "LANGUAGE": "nl",              # default card language
    "CORS_ORIGINS": "",            # comma-separated; "*" only in demo mode
    "DEMO": False,                 # demo mode: auth off, CORS *, demo page
    "DEMO_FHIR_SERVERS": "",       # demo mode: fhirServer base URLs allowed besides /demo/fhir
    "MAX_BODY_BYTES": 5_000_000,   # request body limit (413 above it)
    "MAX_DRAFT_ORDERS": 50,        # draft orders per hook call (413 above it)
    "MAX_SELECTIONS": 50,          # order-select selections per call (400 above it)
    "FHIR_CONNECT_TIMEOUT": 1.0,   # seconds
    "FHIR_READ_TIMEOUT": 2.0,
    "FHIR_TOTAL_BUDGET": 3.0,      # seconds for all fetches of one hook call
    "FHIR_MAX_PAGES": 10,
    "FHIR_MAX_BYTES": 20_000_000,
    "EXTRA_MAPPINGS": None,        # site mapping file (docs/local-codes.md)
    "FRESHNESS": None,             # freshness overrides (days) by class or fact, JSON
    "POLICY_FILE": None,           # site policy overrides {"section": {"key": value}}
    "CLOCK_SKEW": 5,               # seconds, JWT exp/iat/nbf
    "LOG_LEVEL": "INFO",
}


class ConfigError(ValueError):
    """A setting that cannot be used: one line naming the setting and what is wrong.
    The command line prints it and exits 2; it never surfaces as a traceback."""


def loading(setting: str, load: Callable[[], T]) -> T:
    """Run ``load`` (which reads the file a setting names) and turn what can go wrong
    with the file (missing, unreadable, not JSON, not the expected content) into a
    ConfigError naming the setting. Anything else is a bug and stays loud."""
    try:
        return load()
    except ConfigError:
        raise
    except OSError as exc:
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        raise ConfigError(f"SPINE_CDS_{setting}: cannot read the file ({exc.strerror or exc}){where}") from None
    except ValueError as exc:  # json.JSONDecodeError, PolicyError, TerminologyError, trust file errors
        text = " ".join(str(exc).split())
        raise ConfigError(f"SPINE_CDS_{setting}: {text[:300]}") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def finalise(config: dict[str, Any], instance_path: str) -> None:
    """Normalise and check the settings in place."""
    config["DEMO"] = _as_bool(config.get("DEMO"))
    auth = str(config.get("AUTH") or "required").strip().lower()
    if config["DEMO"] and "AUTH" not in config.get("_EXPLICIT", ()):
        auth = "off"
    if auth not in ("required", "off"):
        raise ConfigError(f"SPINE_CDS_AUTH must be 'required' or 'off', not {auth!r}")
    config["AUTH"] = auth
    lang = str(config.get("LANGUAGE") or "nl").strip().lower()
    if lang not in ("nl", "en"):
        raise ConfigError(f"SPINE_CDS_LANGUAGE must be 'nl' or 'en', not {lang!r}")
    config["LANGUAGE"] = lang
    origins = config.get("CORS_ORIGINS") or ""
    if isinstance(origins, str):
        origins = [o.strip().rstrip("/") for o in origins.split(",") if o.strip()]
    if config["DEMO"] and not origins:
        origins = ["*"]
    if "*" in origins and not config["DEMO"]:
        raise ConfigError("SPINE_CDS_CORS_ORIGINS='*' is allowed only in demo mode")
    config["CORS_ORIGINS"] = list(origins)
    config["DEMO_FHIR_SERVERS"] = _base_urls("DEMO_FHIR_SERVERS", config.get("DEMO_FHIR_SERVERS"))
    _whole_numbers(config)
    for key in ("FHIR_CONNECT_TIMEOUT", "FHIR_READ_TIMEOUT", "FHIR_TOTAL_BUDGET"):
        try:
            config[key] = float(config[key])
        except (TypeError, ValueError):
            raise ConfigError(f"SPINE_CDS_{key} must be a number") from None
    config["MAX_CONTENT_LENGTH"] = config["MAX_BODY_BYTES"]
    data_dir = config.get("DATA_DIR") or os.path.join(os.getcwd(), "instance")
    config["DATA_DIR"] = data_dir
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(os.path.abspath(data_dir), "spine-cds.sqlite3")
    config["FRESHNESS"] = _freshness(config.get("FRESHNESS"))
    if config["AUTH"] == "required" and config.get("TRUST") and not os.path.isfile(config["TRUST"]):
        raise ConfigError(f"SPINE_CDS_TRUST: no such file: {config['TRUST']}")
    if config.get("BASE_URL"):
        config["BASE_URL"] = str(config["BASE_URL"]).rstrip("/")
    _check_base_url(config)


def _whole_numbers(config: dict[str, Any]) -> None:
    for key in ("MAX_BODY_BYTES", "FHIR_MAX_PAGES", "FHIR_MAX_BYTES", "CLOCK_SKEW"):
        try:
            config[key] = int(config[key])
        except (TypeError, ValueError):
            raise ConfigError(f"SPINE_CDS_{key} must be an integer") from None
    for key in ("MAX_DRAFT_ORDERS", "MAX_SELECTIONS"):
        value = config[key]
        if isinstance(value, str) and value.strip().isdigit():
            value = config[key] = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"SPINE_CDS_{key} must be a whole number of at least 1, not {value!r}")


def _base_urls(setting: str, value: Any) -> list[str]:
    """A comma-separated string (or JSON list) of http(s) base URLs, normalised (cds_service.urls)."""
    if value is None or value == "":
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"SPINE_CDS_{setting}: expected comma-separated base URLs")
    out = []
    for item in (v.strip() for v in items):
        if not item:
            continue
        try:
            url = normalise_url(item)
        except ValueError as exc:
            raise ConfigError(f"SPINE_CDS_{setting}: {item[:100]!r} is not a usable base URL ({exc})") from None
        if "?" in url or has_dot_segment(url):
            raise ConfigError(f"SPINE_CDS_{setting}: {item[:100]!r} must be a base URL without query or dot segments")
        out.append(url)
    return out


def _freshness(value: Any) -> dict[str, int | None]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        value = loading("FRESHNESS", lambda: json.loads(value))
    if not isinstance(value, dict) or not all(
            v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0) for v in value.values()):
        raise ConfigError('SPINE_CDS_FRESHNESS: expected a JSON object of whole day counts (null: never stale), '
                          'e.g. {"inr": 3}')
    return {str(k): v for k, v in value.items()}


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(PREFIX) or name in _NOT_SETTINGS:
            continue
        try:
            values[name[len(PREFIX):]] = json.loads(raw)
        except ValueError:
            values[name[len(PREFIX):]] = raw
    return values


PREFIX = "SPINE_CDS_"
#: read by the command line and the gunicorn configuration, not by the app
_NOT_SETTINGS = frozenset({"SPINE_CDS_HOST", "SPINE_CDS_PORT", "SPINE_CDS_WORKERS", "SPINE_CDS_THREADS"})


@dataclass(frozen=True)
class Settings:
    """Every setting the service and ``spine-cds evaluate`` run by, read and checked once."""

    auth: str
    trust: str | None
    base_url: str | None
    database_url: str
    data_dir: str
    language: str
    cors_origins: tuple[str, ...]
    demo: bool
    max_body_bytes: int
    fhir_connect_timeout: float
    fhir_read_timeout: float
    fhir_total_budget: float
    fhir_max_pages: int
    fhir_max_bytes: int
    extra_mappings: str | None
    freshness: Mapping[str, int | None]
    policy_file: str | None
    clock_skew: int
    log_level: str
    #: every checked value by its SPINE_CDS_ name (without the prefix), including settings
    #: that other parts of the service define (Flask code reads them as app.config[NAME])
    values: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def flask_config(self) -> dict[str, Any]:
        return dict(self.values)


def read_settings(environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults, then ``SPINE_CDS_*`` from ``environ`` (default: the process environment),
    then ``overrides`` (tests, the command line); normalised and checked."""
    config: dict[str, Any] = dict(DEFAULTS)
    from_env = _from_environment(os.environ if environ is None else environ)
    config.update(from_env)
    config.update(overrides or {})
    config["_EXPLICIT"] = set(from_env) | set(overrides or {})
    finalise(config, "")
    config.pop("_EXPLICIT")
    return Settings(
        auth=config["AUTH"], trust=config.get("TRUST") or None, base_url=config.get("BASE_URL") or None,
        database_url=config["DATABASE_URL"], data_dir=config["DATA_DIR"], language=config["LANGUAGE"],
        cors_origins=tuple(config["CORS_ORIGINS"]), demo=config["DEMO"], max_body_bytes=config["MAX_BODY_BYTES"],
        fhir_connect_timeout=config["FHIR_CONNECT_TIMEOUT"], fhir_read_timeout=config["FHIR_READ_TIMEOUT"],
        fhir_total_budget=config["FHIR_TOTAL_BUDGET"], fhir_max_pages=config["FHIR_MAX_PAGES"],
        fhir_max_bytes=config["FHIR_MAX_BYTES"], extra_mappings=config.get("EXTRA_MAPPINGS") or None,
        freshness=config["FRESHNESS"], policy_file=config.get("POLICY_FILE") or None,
        clock_skew=config["CLOCK_SKEW"], log_level=str(config.get("LOG_LEVEL") or "INFO"), values=config)



def _check_base_url(config: dict[str, Any]) -> None:
    """With authentication on, the JWT ``aud`` names this service's public URL, which the
    request itself cannot be trusted to tell (its Host header and X-Forwarded-* are the
    caller's): SPINE_CDS_BASE_URL is required, an absolute http(s) URL without query."""
    base = config.get("BASE_URL")
    if config["AUTH"] == "required" and not base:
        raise ConfigError("SPINE_CDS_BASE_URL is required when authentication is on (the public base URL "
                          "of this service, e.g. https://cds.example.org, the JWT audience)")
    if base:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
                or parts.username or parts.password:
            raise ConfigError(f"SPINE_CDS_BASE_URL must be an absolute http(s) URL without query, not {base!r}")
