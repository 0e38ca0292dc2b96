"""Settings: defaults, then ``SPINE_CDS_*`` environment variables (api-contract.md).

``SPINE_CDS_AUTH`` -> ``app.config["AUTH"]`` and so on (Flask's
``from_prefixed_env``). Values are checked once at start-up; a bad value
stops the service with a clear message rather than running half-configured.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

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
    "MAX_BODY_BYTES": 5_000_000,   # request body limit (413 above it)
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
    for key in ("MAX_BODY_BYTES", "FHIR_MAX_PAGES", "FHIR_MAX_BYTES", "CLOCK_SKEW"):
        try:
            config[key] = int(config[key])
        except (TypeError, ValueError):
            raise ConfigError(f"SPINE_CDS_{key} must be an integer") from None
    for key in ("FHIR_CONNECT_TIMEOUT", "FHIR_READ_TIMEOUT", "FHIR_TOTAL_BUDGET"):
        try:
            config[key] = float(config[key])
        except (TypeError, ValueError):
            raise ConfigError(f"SPINE_CDS_{key} must be a number") from None
    config["MAX_CONTENT_LENGTH"] = config["MAX_BODY_BYTES"]
    data_dir = config.get("DATA_DIR") or os.path.join(os.getcwd(), "instance")
    config["DATA_DIR"] = data_dir
    if not config.get("DATABASE_URL"):
        os.makedirs(data_dir, exist_ok=True)
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(os.path.abspath(data_dir), "spine-cds.sqlite3")
    if config["AUTH"] == "required" and config.get("TRUST") and not os.path.isfile(config["TRUST"]):
        raise ConfigError(f"SPINE_CDS_TRUST: no such file: {config['TRUST']}")
    if config.get("BASE_URL"):
        config["BASE_URL"] = str(config["BASE_URL"]).rstrip("/")
