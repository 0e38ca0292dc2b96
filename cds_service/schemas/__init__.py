"""JSON Schemas (draft 2020-12) for the CDS Hooks 2.0 messages this service exchanges.

The schemas live beside this module as JSON files and are the single source for
both request validation and the OpenAPI document (``cds_service.openapi``):

- ``request.json``: hook request envelope (context shape per hook is checked elsewhere)
- ``response.json``: cards response, incl. ``systemActions`` (CDS Hooks 2.0 as written)
- ``service-response.json``: the same plus this service's own promises (card and
  suggestion uuids, card topic, result extension with rule IDs, override reasons
  on warning/critical cards; see spec/api-contract.md)
- ``discovery.json``: ``GET /cds-services`` response
- ``feedback.json``: feedback request
- ``operation-outcome.json``: the error body
- ``common.json``: shared definitions (Coding, FHIR resource, ...)

``errors(name, instance)`` reports problems as ``(json_path, message)`` pairs,
the path in JSONPath-like form (``$.context.patientId``, ``$.cards[0].summary``)
usable as ``OperationOutcome.issue.expression``. Messages never quote the
offending value: request bodies carry tokens and patient data, which must not
end up in an error body or a log line.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_NAMES = ("common", "request", "response", "service-response", "discovery", "feedback", "operation-outcome")

# What the service exchanges, by schema name (the rest are building blocks).
MESSAGE_SCHEMAS = ("request", "response", "service-response", "discovery", "feedback", "operation-outcome")

_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def _file_name(name: str) -> str:
    if name not in SCHEMA_NAMES:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    return f"{name}.json"


@cache
def _load(name: str) -> dict[str, Any]:
    text = (resources.files(__package__) / _file_name(name)).read_text(encoding="utf-8")
    return json.loads(text)


def load_schema(name: str) -> dict[str, Any]:
    """The schema ``name`` (e.g. ``"request"``) as a dict. Cached: do not mutate it."""
    return _load(name)


@cache
def registry() -> Registry:
    """All schemas, keyed by their ``$id``, so cross-file ``$ref``s resolve offline."""
    resources_ = [
        (load_schema(n)["$id"], Resource.from_contents(load_schema(n), default_specification=DRAFT202012))
        for n in SCHEMA_NAMES
    ]
    return Registry().with_resources(resources_)


# --- limited format checking: only the formats the schemas use, cheaply -----

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$")

_format_checker = FormatChecker(formats=())


@_format_checker.checks("date-time")
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@_format_checker.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_ABSOLUTE_URI.match(value))


@cache
def validator(name: str) -> Draft202012Validator:
    """A compiled, cached validator for schema ``name``.

    ``name`` may carry a JSON pointer to a sub-schema, e.g.
    ``"response#/$defs/Card"`` to check one card. Format checking is limited
    to ``date-time`` (RFC 3339 with offset) and ``uri`` (absolute URI, scheme
    checked only).
    """
    base, _, pointer = name.partition("#")
    schema = load_schema(base)
    if pointer:
        registry().resolver(base_uri=schema["$id"]).lookup("#" + pointer)  # fail early on a bad pointer
        schema = {"$ref": f"{schema['$id']}#{pointer}"}
    return Draft202012Validator(schema, registry=registry(), format_checker=_format_checker)


# --- errors as (JSONPath, message) ------------------------------------------

_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(parts: Iterable[str | int]) -> str:
    """``["context", "draftOrders", "entry", 0]`` -> ``$.context.draftOrders.entry[0]``."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}"
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "value")


def _quote_list(values: Iterable[Any]) -> str:
    return ", ".join(f"'{v}'" if isinstance(v, str) else json.dumps(v) for v in values)


Parts = list[str | int]


def _dependent_required(path: Parts, value: dict[str, Any], inst: Any) -> list[tuple[Parts, str]]:
    out = []
    for trigger, needed in value.items():
        if isinstance(inst, dict) and trigger in inst:
            out += [(path + [p], f"is required when '{trigger}' is present") for p in needed if p not in inst]
    return out or [(path, "is missing a dependent property")]


def _member_errors(error: ValidationError, path: Parts, custom: str | None) -> list[tuple[Parts, str]] | None:
    """Errors about members (required, dependent, not allowed): one per member, at its own path.
    None when ``error`` is of another kind."""
    kw, value, inst = error.validator, error.validator_value, error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kw == "required":
        missing = [p for p in value if isinstance(inst, dict) and p not in inst]
        return [(path + [p], "is required") for p in missing] or [(path, "is missing a required property")]
    if kw == "dependentRequired":
        return _dependent_required(path, value, inst)
    if kw == "additionalProperties" and value is False and isinstance(inst, dict):
        allowed = set(schema.get("properties", {}))
        return [(path + [k], "is not an allowed property here") for k in sorted(k for k in inst if k not in allowed)]
    if kw == "not" and isinstance(value, dict) and list(value) == ["required"] and len(value["required"]) == 1:
        return [(path + [value["required"][0]], custom or "is not allowed here")]
    return None


def _value_message(kw: str, value: Any) -> str | None:
    """The message for a constraint on the value itself (enum, const, format, pattern, bounds)."""
    if kw == "enum":
        return f"must be one of {_quote_list(value)}"
    if kw == "const":
        return f"must be {_quote_list([value])}"
    if kw == "format":
        return f"must be a valid {value}"
    if kw == "pattern":
        return "has an invalid format"
    if kw in _BOUNDS:
        return f"must be {_BOUNDS[kw]} {value}"
    return None


def _size_message(kw: str, value: Any, inst: Any) -> str | None:
    """The message for a length, item-count or property-count constraint."""
    if kw == "maxLength":
        return f"must be at most {value} characters long (is {len(inst)})"
    if kw == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters long"
    if kw == "minItems":
        return "must not be empty" if value == 1 else f"must have at least {value} items"
    if kw == "maxItems":
        return f"must have at most {value} items"
    if kw == "minProperties":
        return "must not be empty" if value == 1 else f"must have at least {value} properties"
    return None


def _one(error: ValidationError) -> list[tuple[Parts, str]]:
    """Path parts and a message for one error, without quoting the instance."""
    path: Parts = list(error.absolute_path)
    kw = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("x-message")
    members = _member_errors(error, path, custom)
    if members is not None:
        return members
    if kw == "type":
        value = error.validator_value
        expected = value if isinstance(value, list) else [value]
        return [(path, f"must be of type {' or '.join(expected)}, not {_type_name(error.instance)}")]
    if custom:
        # x-message: the schema's own wording for its constraint (pattern, anyOf, contains, ...).
        return [(path, custom)]
    message = _value_message(kw, error.validator_value) or _size_message(kw, error.validator_value, error.instance)
    if message is not None:
        return [(path, message)]
    if kw in ("anyOf", "oneOf") and error.context:
        # Report the alternatives' own problems at the deepest path they reach.
        best = max(error.context, key=lambda e: len(e.absolute_path))
        return _one(best)
    return [(path, f"is not valid ({kw})")]


def errors(name: str, instance: Any) -> list[tuple[str, str]]:
    """Every schema violation of ``instance`` against schema ``name`` (a sub-schema pointer is allowed, see ``validator``).

    Returns ``[(json_path, message), ...]`` sorted by path; empty when valid.
    Each message is a plain sentence naming the member, e.g.
    ``("$.context", "context must be of type object, not array")``.
    """
    found: set[tuple[str, str]] = set()
    for error in validator(name).iter_errors(instance):
        for parts, predicate in _one(error):
            path = json_path(parts)
            found.add((path, f"{_subject(path)} {predicate}"))
    return sorted(found, key=_sort_key)


def _subject(path: str) -> str:
    """The sentence subject for a path: ``$.context.patientId`` -> ``context.patientId``."""
    if path == "$":
        return "The body"
    return path[2:] if path.startswith("$.") else path[1:]


def _sort_key(item: tuple[str, str]) -> tuple[list[Any], str]:
    # Natural order: $.cards[2] before $.cards[10].
    return ([int(t) if t.isdigit() else t for t in re.split(r"(\d+)", item[0])], item[1])


def is_valid(name: str, instance: Any) -> bool:
    return validator(name).is_valid(instance)


@cache
def _compiled(name: str) -> Any:
    """Schema ``name`` compiled to Python code (fastjsonschema), with the same formats as
    ``validator``; ``$ref`` to the other schema files resolved from this package."""
    def local(uri: str) -> dict[str, Any]:
        return load_schema(uri.rsplit("/", 1)[-1].split("#")[0].removesuffix(".json"))
    return fastjsonschema.compile(load_schema(name), handlers={"https": local},
                                  formats={"uri": _is_uri, "date-time": _is_datetime})


def conforms(name: str, instance: Any) -> bool:
    """The fast verdict: does ``instance`` follow schema ``name``? The same schema file,
    compiled, so the request path checks each request in microseconds; ``errors`` then
    names the problems of one that does not. A property test holds the two verdicts equal."""
    try:
        _compiled(name)(instance)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True
