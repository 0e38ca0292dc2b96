"""What the capture app does with a FHIR server: decide whether it may talk to it, evaluate the
card's service for the patient (the same gather + pipeline as a hook call), parse a submitted
form, and write the transaction."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import requests
from cryptography.fernet import Fernet, InvalidToken

from fhir_mappings import MappingSettings, build_facts
from fhir_mappings.tables import FRESHNESS_CLASSES
from spine_guideline.facts import PatientFacts, Unknown
from spine_guideline.findings import Finding

from .. import pipeline
from ..ids import new_uuid
from ..prefetch import gather
from ..services import BY_ID, SERVICES, ServiceDef
from ..urls import normalise_url
from .context import AppSettings, LaunchContext
from .forms import Form, Item, Registry
from .questionnaire import Answered

WRITE_TIMEOUT = (2.0, 15.0)
LAUNCH_TTL = 3600
_LEVEL = re.compile(r"^[CTLS][0-9]{1,2}$")


class AppError(Exception):
    """A launch or submission the app refuses: shown as a page with ``status``, nothing written."""

    def __init__(self, status: int, title_key: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.title_key = title_key
        self.detail = detail


# ------------------------------------------------------------------ which servers

def demo_endpoint(base_url: str) -> str:
    return normalise_url(base_url.rstrip("/") + "/demo/fhir")


def server_allowed(url: str | None, settings: AppSettings, *, base_url: str, extra: tuple[str, ...] = ()) -> bool:
    """Open mode: ``SPINE_CDS_APP_OPEN_SERVERS`` and, in demo mode, the demo's own FHIR endpoint.
    ``extra``: further base URLs allowed for this use (SMART servers). Exact base URL, normalised."""
    if not url:
        return False
    try:
        norm = normalise_url(url)
    except ValueError:
        return False
    allowed = set(settings.open_servers) | set(extra)
    if settings.demo:
        allowed.add(demo_endpoint(base_url))
    return norm in allowed


# ------------------------------------------------------------------ the launch blob

def _fernet(secret: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"spine-cds capture launch\0" + secret).digest()))


@dataclass(frozen=True)
class Launch:
    """One launch of the app: where it writes, for whom, with which token."""

    app_context: str        # the signed appContext, as the card gave it
    server: str
    patient_id: str
    mode: str               # open | smart
    token: str | None = None
    user: str | None = None


def seal(launch: Launch, secret: bytes) -> str:
    data = {"c": launch.app_context, "s": launch.server, "p": launch.patient_id, "m": launch.mode,
            "t": launch.token, "u": launch.user}
    return _fernet(secret).encrypt(json.dumps(data).encode("utf-8")).decode("ascii")


def unseal(blob: Any, secret: bytes) -> Launch:
    if not isinstance(blob, str) or not blob or len(blob) > 20000:
        raise AppError(400, "error.title.tampered", "The form carries no launch of this app.")
    try:
        data = json.loads(_fernet(secret).decrypt(blob.encode("ascii"), ttl=LAUNCH_TTL))
    except (InvalidToken, ValueError, UnicodeEncodeError):
        raise AppError(400, "error.title.tampered",
                       "The form's launch was altered or has expired (one hour): open the card again.") from None
    return Launch(data["c"], data["s"], data["p"], data["m"], data.get("t"), data.get("u"))


def seal_state(data: Mapping[str, Any], secret: bytes) -> str:
    return _fernet(secret).encrypt(json.dumps(dict(data)).encode("utf-8")).decode("ascii")


def unseal_state(blob: Any, secret: bytes, ttl: int = 600) -> dict[str, Any]:
    if not isinstance(blob, str) or not blob:
        raise AppError(400, "error.title.launch", "The SMART launch state is missing (cookies blocked, or the "
                                                  "authorization took longer than ten minutes).")
    try:
        out = json.loads(_fernet(secret).decrypt(blob.encode("ascii"), ttl=ttl))
    except (InvalidToken, ValueError, UnicodeEncodeError):
        raise AppError(400, "error.title.launch", "The SMART launch state was altered or has expired.") from None
    if not isinstance(out, dict):
        raise AppError(400, "error.title.launch", "The SMART launch state is unreadable.")
    return out


# ------------------------------------------------------------------ evaluation

def service_for(ctx: LaunchContext) -> ServiceDef:
    """The patient-view service that gives the card's topic (order services re-evaluate as the
    patient-view service with that topic: the app has no draft orders)."""
    service = BY_ID.get(ctx.service_id)
    if service is not None and service.hook == "patient-view":
        return service
    for s in SERVICES:
        if s.hook == "patient-view" and ctx.topic in s.topics:
            return s
    modules = service.modules if service is not None else ()
    for s in SERVICES:
        if s.hook == "patient-view" and set(s.modules) & set(modules):
            return s
    raise AppError(400, "error.title.launch", "The card's service is not one this app can evaluate.")


@dataclass
class Evaluation:
    service: ServiceDef
    outcome: pipeline.Outcome
    resources: list[Any] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def finding(self, topic: str, level: str | None) -> Finding | None:
        found = [f for f in self.outcome.findings if f.topic == topic]
        if level is not None:
            at_level = [f for f in found if f.vertebra == level or f.key == level]
            found = at_level or found
        return found[0] if found else None

    def card(self, finding: Finding) -> dict[str, Any]:
        return self.outcome.cards[self.outcome.findings.index(finding)]


def evaluate(state: Any, ctx: LaunchContext, launch: Launch, *, lang: str, allowed: Any,
             request_base: str | None = None) -> Evaluation:
    """Run the card's service for the patient against the launch's FHIR server, as a hook call
    without prefetch would (the service fetches from ``fhirServer``)."""
    from ..errors import ServiceError
    service = service_for(ctx)
    body: dict[str, Any] = {"hook": service.hook, "hookInstance": new_uuid(), "fhirServer": launch.server,
                            "context": {"userId": launch.user or ctx.user or "Practitioner/unknown",
                                        "patientId": launch.patient_id}}
    if launch.token:
        body["fhirAuthorization"] = {"access_token": launch.token, "token_type": "Bearer", "expires_in": 300,
                                     "scope": "patient/*.rs", "subject": "spine-cds-capture"}
    try:
        gathered = gather(service, body, client=state.fhir_client, fhir_server_allowed=allowed,
                          budget_seconds=max(state._budget, 5.0))
    except ServiceError as exc:
        raise AppError(502, "error.title.fetch", exc.diagnostics) from None
    outcome = pipeline.run(service, resources=gathered.resources, searches=gathered.searches,
                           now=state.runtime.clock(), patient_id=launch.patient_id, lang=lang, policy=state.policy,
                           catalogs=state.catalogs, mapping_settings=state.mapping_settings,
                           failed_types=gathered.failed, base_url=state.runtime.base_url(request_base))
    return Evaluation(service, outcome, gathered.resources, gathered.failed)


def recorded_values(ev: Evaluation, settings: MappingSettings) -> PatientFacts:
    """The record read without freshness limits: what a stale fact last said, to pre-fill it."""
    unlimited = MappingSettings(extra_mapping_file=settings.extra_mapping_file,
                                freshness_days=dict.fromkeys(FRESHNESS_CLASSES))
    facts = ev.outcome.facts
    return build_facts(ev.resources, searches=facts.searches, now=facts.now, patient_id=facts.patient_id,
                       settings=unlimited)


# ------------------------------------------------------------------ the form

@dataclass(frozen=True)
class Question:
    """One question on the page: an item of a form, at a level when it is bound to one."""

    form: Form
    item: Item
    level: str | None
    name: str                      # the control's name: the linkId (``linkId@LEVEL`` when one page asks it twice)
    why: str                       # not-recorded, stale, ...
    prefill: Any = None
    prefill_components: Mapping[str, Any] = field(default_factory=dict)

    def field_name(self, child: Item) -> str:
        suffix = self.name[len(self.item.link_id):]
        return child.link_id + suffix


def questions(registry: Registry, missing: list[tuple[str, str | None, str]], default_level: str | None,
              facts: PatientFacts | None, old: PatientFacts | None) -> tuple[list[Question], list[tuple[str, str | None, str]]]:
    """The questions for ``missing`` ((fact, level, why) triples), and the missing facts no form records."""
    picked: dict[tuple[str, str | None], tuple[Form, Item, str | None, str]] = {}
    other: list[tuple[str, str | None, str]] = []
    for fact, level, why in missing:
        found = registry.top_item(fact)
        if found is None:
            if (fact, level, why) not in other:
                other.append((fact, level, why))
            continue
        form, item = found
        lvl = (level or default_level) if item.level_bound else None
        picked.setdefault((item.link_id, lvl), (form, item, lvl, why))
    counts: dict[str, int] = {}
    for link_id, _lvl in picked:
        counts[link_id] = counts.get(link_id, 0) + 1
    out = []
    for (link_id, _lvl), (form, item, level, why) in picked.items():
        name = f"{link_id}@{level}" if counts[link_id] > 1 and level else link_id
        prefill, comps = None, {}
        if facts is not None and old is not None:
            current = facts.obs(item.fact, level)
            if current.unknown is Unknown.STALE:
                before = old.obs(item.fact, level)
                prefill = before.value
                comps = {k: v.value for k, v in before.attrs.items() if v.value is not None}
        out.append(Question(form, item, level, name, why, prefill, comps))
    return out, other


def _parse(item: Item, raw: str) -> Any:
    """One control's value; ValueError with a plain reason."""
    if item.kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError("answer yes or no")
        return raw == "true"
    if item.kind == "integer":
        try:
            num = int(raw)
        except ValueError:
            raise ValueError("a whole number is needed") from None
        _range(item, num)
        return num
    if item.kind == "quantity":
        try:
            value = float(raw.replace(",", "."))
        except ValueError:
            raise ValueError("a number is needed") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a number is needed")
        _range(item, value)
        return value
    if item.kind == "choice":
        if raw not in {a.coding.code for a in item.answers}:
            raise ValueError("choose one of the options")
        return raw
    if item.kind == "date":
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise ValueError("a date (YYYY-MM-DD) is needed") from None
        if day > datetime.now(UTC).date():
            raise ValueError("the date lies in the future")
        return day
    code = raw.strip().upper()
    if item.pattern and not re.match(item.pattern, code):
        raise ValueError("not a valid code")
    return code


def _range(item: Item, value: float) -> None:
    if (item.minimum is not None and value < item.minimum) or (item.maximum is not None and value > item.maximum):
        low = "" if item.minimum is None else f"{item.minimum:g}"
        high = "" if item.maximum is None else f"{item.maximum:g}"
        raise ValueError(f"outside {low}-{high}")


def parse_answers(asked: list[Question], form: Mapping[str, str]) -> tuple[list[Answered], dict[str, str]]:
    """The answered questions of a submitted form, and the problems by control name. A question
    may stay unanswered; a component counts only with its question (SINS: components alone)."""
    answered: list[Answered] = []
    problems: dict[str, str] = {}
    for q in asked:
        raw = (form.get(q.name) or "").strip()
        value = None
        if raw:
            try:
                value = _parse(q.item, raw)
            except ValueError as exc:
                problems[q.name] = str(exc)
                continue
        comps: dict[str, Any] = {}
        for child in q.item.children:
            name = q.field_name(child)
            craw = (form.get(name) or "").strip()
            if not craw:
                continue
            try:
                comps[child.component or child.link_id] = _parse(child, craw)
            except ValueError as exc:
                problems[name] = str(exc)
        if q.item.kind == "boolean" and value is not True:
            comps = {}  # onset / progression / laterality describe a symptom that is present
        if value is None and not comps:
            continue
        if q.item.level_bound and not (q.level and _LEVEL.match(q.level)):
            problems[q.name] = "no vertebral level for this question"
            continue
        answered.append(Answered(q.form, q.item, value, comps, q.level))
    return answered, problems


# ------------------------------------------------------------------ writing

@dataclass(frozen=True)
class WriteResult:
    ok: bool
    status: int | None
    problems: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()


def _outcome_text(body: Any) -> list[str]:
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    out = []
    for iss in body.get("issue") or []:
        if isinstance(iss, dict):
            text = iss.get("diagnostics") or (iss.get("details") or {}).get("text") or iss.get("code")
            if text:
                out.append(str(text)[:500])
    return out


def write(launch: Launch, bundle: dict[str, Any]) -> WriteResult:
    """POST the transaction to the launch's server (no redirects followed). Every refusal is
    reported with what the server said."""
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if launch.token:
        headers["Authorization"] = f"Bearer {launch.token}"
    started = time.monotonic()
    try:
        resp = requests.post(launch.server.rstrip("/"), data=json.dumps(bundle), headers=headers,
                             timeout=WRITE_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        return WriteResult(False, None, (f"the FHIR server could not be reached ({type(exc).__name__}, "
                                         f"{time.monotonic() - started:.1f} s)",))
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code != 200:
        said = _outcome_text(body) or ([resp.text[:300]] if resp.text else [])
        return WriteResult(False, resp.status_code, tuple(said) or (f"HTTP {resp.status_code}",))
    entries = body.get("entry") if isinstance(body, dict) else None
    if not isinstance(entries, list) or len(entries) != len(bundle["entry"]):
        return WriteResult(False, resp.status_code, ("the server's answer is not a transaction-response for "
                                                     "every entry",))
    refused = []
    locations = []
    for sent, got in zip(bundle["entry"], entries, strict=True):
        response = got.get("response") if isinstance(got, dict) else None
        status = str((response or {}).get("status", ""))
        if not status.startswith("2"):
            rtype = sent["resource"]["resourceType"]
            refused.append(f"{rtype}: {status or 'no status'} "
                           + "; ".join(_outcome_text((response or {}).get("outcome"))))
        elif response and response.get("location"):
            locations.append(str(response["location"]))
    if refused:
        return WriteResult(False, resp.status_code, tuple(refused))
    return WriteResult(True, resp.status_code, (), tuple(locations))
