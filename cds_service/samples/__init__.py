"""Bundled synthetic sample patients (demo page, tests, ``spine-cds evaluate`` examples).

One JSON file per patient in this package::

    {"id": "mescc-12h",                        # slug, equal to the file name without .json
     "description": "one line, English",
     "description_nl": "one line, Dutch",
     "hooks": ["patient-view", "order-sign"],  # hooks that make sense for this patient
     "expect": {"mri-urgency": {"windowHours": 12}},   # topic -> subset of the card's result
     "draftOrders": [ {FHIR R4 resource, status draft}, ... ],
     "bundle": {FHIR R4 transaction Bundle: Patient + Conditions + Observations + ...}}

Dates are relative to the moment of evaluation, because the rules read
``facts.now`` and a fixed date would rot (a 2-day-old deficit would be years
old next year). Any string value that is exactly a placeholder is replaced at
load time:

    ``{{now}}``            the evaluation moment (ISO 8601 date-time, UTC)
    ``{{now-2d}}``         2 days before it; units ``m`` (minutes), ``h``, ``d``, ``w``
    ``{{now+20h}}``        20 hours after it (e.g. a draft order's deadline)
    ``{{now-3650d:date}}`` the date only (``YYYY-MM-DD``), e.g. a cancer's onset or a birth date

``load_bundle(sample_id, now=None)`` resolves against ``now`` (default
``datetime.now(UTC)``); so do ``resources``, ``prefetch`` and ``list_samples``.
Files are validated when loaded; a malformed file raises ``SampleError``
naming the file.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources as _res
from typing import Any

from ..services import TEMPLATES, template_resource_type

__all__ = ["Sample", "SampleError", "list_samples", "get_sample", "load_bundle", "resources", "prefetch",
           "resolve_dates"]

#: base of the fullUrls of prefetch searchset entries (synthetic data)
FHIR_BASE = "https://sample.spine-cds.org/fhir"
HOOKS = ("patient-view", "order-select", "order-sign")
ORDER_HOOKS = ("order-select", "order-sign")
#: resource types a sample may hold: those some prefetch template searches
ALLOWED_TYPES = frozenset(template_resource_type(t) for t in TEMPLATES.values())
DRAFT_TYPES = ("ServiceRequest", "MedicationRequest")
_KEYS = ("id", "description", "description_nl", "hooks", "expect", "draftOrders", "bundle")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PLACEHOLDER = re.compile(r"^\{\{now(?:([+-])(\d+)([mhdw]))?(:date)?\}\}$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class SampleError(ValueError):
    """A sample file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Sample:
    id: str
    description: str
    description_nl: str
    patient_id: str
    hooks: tuple[str, ...]
    draft_orders: tuple[dict, ...]
    expect: dict


# --------------------------------------------------------------------------- dates

def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC).replace(microsecond=0)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _placeholder(value: str, now: datetime) -> str | None:
    m = _PLACEHOLDER.match(value)
    if not m:
        return None
    sign, amount, unit, date_only = m.groups()
    moment = now
    if sign:
        delta = timedelta(**{_UNITS[unit]: int(amount)})
        moment = now + delta if sign == "+" else now - delta
    if date_only:
        return moment.date().isoformat()
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def resolve_dates(doc: Any, now: datetime) -> Any:
    """A copy of ``doc`` with every ``{{now...}}`` placeholder string resolved against ``now``."""
    if isinstance(doc, dict):
        return {k: resolve_dates(v, now) for k, v in doc.items()}
    if isinstance(doc, list):
        return [resolve_dates(v, now) for v in doc]
    if isinstance(doc, str) and doc.startswith("{{"):
        out = _placeholder(doc, now)
        if out is None:
            raise ValueError(f"unknown date placeholder {doc!r}")
        return out
    return doc


def _check_placeholders(doc: Any, where: str, problems: list[str]) -> None:
    if isinstance(doc, dict):
        for k, v in doc.items():
            _check_placeholders(v, f"{where}.{k}", problems)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            _check_placeholders(v, f"{where}[{i}]", problems)
    elif isinstance(doc, str) and "{{" in doc and not _PLACEHOLDER.match(doc):
        problems.append(f"{where}: {doc!r} is not a date placeholder ({{{{now}}}}, {{{{now-2d}}}}, "
                        "{{now+20h}}, {{now-30d:date}})")


# --------------------------------------------------------------------------- loading

def _ref_patient(res: dict) -> str | None:
    for key in ("subject", "patient"):
        ref = res.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return ref["reference"]
    return None


def _check_texts(name: str, doc: dict, problems: list[str]) -> None:
    """The id (the file name, a slug) and the one-line descriptions."""
    if doc["id"] != name or not _SLUG.match(str(doc["id"])):
        problems.append(f"id {doc['id']!r} must be a lower-case slug equal to the file name ({name!r})")
    for key in ("description", "description_nl"):
        text = doc[key]
        if not isinstance(text, str) or not text.strip() or "\n" in text:
            problems.append(f"{key} must be one non-empty line")


def _check_hooks(doc: dict, problems: list[str]) -> list[Any]:
    """The hooks listed (empty when malformed)."""
    hooks = doc["hooks"]
    if not isinstance(hooks, list) or not hooks or any(h not in HOOKS for h in hooks) \
            or len(set(hooks)) != len(hooks):
        problems.append(f"hooks must be a non-empty list of distinct values from {list(HOOKS)}")
        return []
    return hooks


def _check_expect(doc: dict, problems: list[str]) -> None:
    if not isinstance(doc["expect"], dict) or not all(
            isinstance(k, str) and isinstance(v, dict) for k, v in doc["expect"].items()):
        problems.append("expect must map topics to objects of expected result values")


def _check_drafts(doc: dict, hooks: list[Any], problems: list[str]) -> list[Any]:
    """The draft orders (empty when not a list), and whether they go with the hooks listed."""
    drafts = doc["draftOrders"]
    if not isinstance(drafts, list):
        problems.append("draftOrders must be a list")
        drafts = []
    for i, res in enumerate(drafts):
        if not isinstance(res, dict) or res.get("resourceType") not in DRAFT_TYPES \
                or not isinstance(res.get("id"), str) or res.get("status") != "draft":
            problems.append(f"draftOrders[{i}] must be a ServiceRequest or MedicationRequest with an id "
                            "and status 'draft'")
    order_hook = any(h in ORDER_HOOKS for h in hooks)
    if order_hook and not drafts:
        problems.append("an order hook is listed but there are no draftOrders")
    if drafts and not order_hook:
        problems.append("draftOrders are given but no order hook is listed")
    return drafts


def _check_entry(i: int, entry: Any, seen: set[str], problems: list[str]) -> dict | None:
    """One Bundle entry: a resource of a searched type with an id, a PUT request and a fullUrl.
    The resource, unless it is unusable."""
    where = f"bundle.entry[{i}]"
    res = entry.get("resource") if isinstance(entry, dict) else None
    if not isinstance(res, dict) or not isinstance(res.get("id"), str):
        problems.append(f"{where}: no resource with an id")
        return None
    rtype = res.get("resourceType")
    if rtype not in ALLOWED_TYPES:
        problems.append(f"{where}: resource type {rtype!r} is not searched by any prefetch template")
        return None
    key = f"{rtype}/{res['id']}"
    if key in seen:
        problems.append(f"{where}: duplicate resource {key}")
    seen.add(key)
    request = entry.get("request")
    if not isinstance(request, dict) or request.get("method") != "PUT" or request.get("url") != key:
        problems.append(f"{where}: request must be {{'method': 'PUT', 'url': '{key}'}}")
    if not isinstance(entry.get("fullUrl"), str) or not entry["fullUrl"]:
        problems.append(f"{where}: fullUrl missing")
    return res


def _check_subjects(entries: list[Any], drafts: list[Any], patient: str, problems: list[str]) -> None:
    """Every resource and draft order is about the one Patient."""
    want = f"Patient/{patient}"
    for i, entry in enumerate(entries):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and res.get("resourceType") != "Patient" and _ref_patient(res) != want:
            problems.append(f"bundle.entry[{i}]: subject/patient must be {want}")
    for i, res in enumerate(drafts):
        if isinstance(res, dict) and _ref_patient(res) != want:
            problems.append(f"draftOrders[{i}]: subject must be {want}")


def _check_bundle(bundle: Any, drafts: list[Any], problems: list[str]) -> bool:
    """The transaction Bundle: its entries and its one Patient. False when it is no Bundle at all."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" \
            or bundle.get("type") != "transaction" or not isinstance(bundle.get("entry"), list):
        problems.append("bundle must be a FHIR Bundle of type 'transaction' with an entry list")
        return False
    seen: set[str] = set()
    read = [_check_entry(i, entry, seen, problems) for i, entry in enumerate(bundle["entry"])]
    patients = [res["id"] for res in read if res is not None and res.get("resourceType") == "Patient"]
    if len(patients) != 1:
        problems.append(f"bundle must hold exactly one Patient (found {len(patients)})")
    else:
        _check_subjects(bundle["entry"], drafts, patients[0], problems)
    return True


def _validate(name: str, doc: Any) -> list[str]:
    """Problems with one sample file's content (empty when it is fine)."""
    if not isinstance(doc, dict):
        return ["the file must hold a JSON object"]
    problems = [f"missing member {k!r}" for k in _KEYS if k not in doc]
    problems += [f"unknown member {k!r}" for k in doc if k not in _KEYS]
    if problems:
        return problems
    _check_texts(name, doc, problems)
    hooks = _check_hooks(doc, problems)
    _check_expect(doc, problems)
    drafts = _check_drafts(doc, hooks, problems)
    if not _check_bundle(doc["bundle"], drafts, problems):
        return problems
    _check_placeholders(doc, "$", problems)
    return problems


@lru_cache(maxsize=1)
def _raw() -> dict[str, dict]:
    """Every sample file's raw (unresolved) content by id, validated, in file-name order."""
    out: dict[str, dict] = {}
    files = sorted((f for f in _res.files(__package__).iterdir() if f.name.endswith(".json")),
                   key=lambda f: f.name)
    for f in files:
        name = f.name[:-len(".json")]
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SampleError(f"sample file {f.name}: cannot be read as JSON: {exc}") from None
        problems = _validate(name, doc)
        if problems:
            raise SampleError(f"sample file {f.name}: " + "; ".join(problems))
        out[name] = doc
    return out


def _doc(sample_id: str) -> dict:
    docs = _raw()
    if sample_id not in docs:
        raise KeyError(f"no sample patient {sample_id!r}")
    return docs[sample_id]


def _patient_id(doc: dict) -> str:
    for entry in doc["bundle"]["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            return entry["resource"]["id"]
    raise SampleError(f"sample {doc['id']}: no Patient")  # pragma: no cover - validated at load


def _sample(doc: dict, now: datetime) -> Sample:
    return Sample(id=doc["id"], description=doc["description"], description_nl=doc["description_nl"],
                  patient_id=_patient_id(doc), hooks=tuple(doc["hooks"]),
                  draft_orders=tuple(resolve_dates(doc["draftOrders"], now)),
                  expect=copy.deepcopy(doc["expect"]))


# --------------------------------------------------------------------------- public API

def list_samples(now: datetime | None = None) -> list[Sample]:
    """Every sample patient, in file-name order (draft order dates resolved against ``now``)."""
    moment = _now(now)
    return [_sample(doc, moment) for doc in _raw().values()]


def get_sample(sample_id: str, now: datetime | None = None) -> Sample:
    return _sample(_doc(sample_id), _now(now))


def load_bundle(sample_id: str, now: datetime | None = None) -> dict:
    """The sample's FHIR R4 transaction Bundle, dates resolved against ``now`` (a fresh copy)."""
    return resolve_dates(_doc(sample_id)["bundle"], _now(now))


def resources(sample_id: str, now: datetime | None = None) -> list[dict]:
    """The resources of the sample's Bundle."""
    return [e["resource"] for e in load_bundle(sample_id, now)["entry"]]


def prefetch(sample_id: str, keys: Iterable[str], now: datetime | None = None) -> dict:
    """CDS Hooks prefetch for the given keys of ``services.TEMPLATES``.

    ``patient`` -> the Patient resource; every other key -> a searchset Bundle
    with this patient's resources of the template's type (possibly empty).
    """
    res = resources(sample_id, now)
    out: dict[str, Any] = {}
    for key in keys:
        if key not in TEMPLATES:
            raise KeyError(f"unknown prefetch key {key!r}")
        rtype = template_resource_type(TEMPLATES[key])
        matching = [r for r in res if r["resourceType"] == rtype]
        if rtype == "Patient" and key == "patient":
            out[key] = matching[0]
            continue
        out[key] = {"resourceType": "Bundle", "type": "searchset", "total": len(matching),
                    "entry": [{"fullUrl": f"{FHIR_BASE}/{r['resourceType']}/{r['id']}", "resource": r,
                               "search": {"mode": "match"}} for r in matching]}
    return out


def draft_orders_bundle(sample: Sample) -> dict:
    """The sample's draft orders as the CDS Hooks ``context.draftOrders`` Bundle."""
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": copy.deepcopy(r)} for r in sample.draft_orders]}
