"""The data-capture app and the published Questionnaires (issue 18).

Routes (one blueprint, registered by the app factory):

- ``GET /fhir/Questionnaire`` (searchset Bundle) and ``GET /fhir/Questionnaire/{id}``: the forms
  as FHIR R4 Questionnaires with SDC observation-based extraction, in the caller's language.
- ``GET /app/open?appContext=..``: open mode, for FHIR servers without authorization that are
  on ``SPINE_CDS_APP_OPEN_SERVERS`` (and, in demo mode, the demo's own FHIR endpoint).
- ``GET /app/launch?iss=..&launch=..`` and ``GET /app/callback``: SMART App Launch 2.0 EHR launch
  (discovery, authorization code with PKCE, patient and appContext from the token response).
- ``POST /app/submit``: writes one transaction Bundle (QuestionnaireResponse + Observations) to
  the launch's FHIR server, evaluates the card's service again and shows the new card, or
  exactly what the server refused.

Every page is server-rendered; every value from a request or a FHIR server is escaped.
"""
from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from flask import Blueprint, Response, current_app, g, make_response, render_template, request
from markupsafe import Markup, escape

from spine_guideline.findings import Message

from ..errors import FHIR_JSON, ServiceError, issue, outcome_response
from ..i18n import negotiate
from ..ids import new_uuid
from . import service as svc
from .context import AppSettings, ContextError, LaunchContext, load_settings, verify
from .forms import registry
from .questionnaire import questionnaire, questionnaire_id, search_bundle, transaction

__all__ = ["bp"]

log = logging.getLogger("spine_cds.capture")

bp = Blueprint("capture", __name__, template_folder="templates", static_folder="static",
               static_url_path="/app/static")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; base-uri 'none'; frame-ancestors *")
SMART_COOKIE = "spine_cds_smart"
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@lru_cache(maxsize=1)
def _ui() -> dict[str, dict[str, str]]:
    return json.loads((resources.files(__package__) / "data" / "ui.json").read_text(encoding="utf-8"))


def _lang() -> str:
    return negotiate(request.headers.get("Accept-Language"), current_app.config.get("LANGUAGE", "nl"))


def _t(key: str, lang: str) -> str:
    table = _ui()
    entry = table.get(key)
    if entry is None:
        raise KeyError(f"capture ui text {key!r} is missing")
    return entry[lang]


def settings() -> AppSettings:
    found = current_app.extensions.get("spine_cds_capture")
    if found is None:
        found = current_app.extensions["spine_cds_capture"] = load_settings(current_app.config)
    return found


def base_url() -> str:
    return (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")


@bp.record_once
def _check_at_start(state: Any) -> None:
    # A malformed forms file or app setting stops start-up, not a clinician's request.
    registry()
    state.app.extensions["spine_cds_capture"] = load_settings(state.app.config)


@bp.after_request
def _headers(resp: Response) -> Response:
    if request.path.startswith("/app/"):
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.before_app_request
def _keep_hook_body() -> None:
    """Keep a hook call's raw body readable, so the card links can name the request's
    ``fhirServer`` and ``userId`` (see :mod:`.links`). Only the bytes are kept (the hook reads
    the same bytes); they are parsed only when a card needs a link. A body of declared size
    only: werkzeug refuses one above the limit (413) as the hook would; a chunked body is left
    to the hook's own bounded reader, and its cards get a smart link without server or user."""
    if request.method == "POST" and request.path.startswith("/cds-services/") \
            and not request.path.endswith("/feedback") and request.content_length is not None \
            and settings().enabled:
        try:
            request.get_data(cache=True)
        except (ConnectionResetError, TimeoutError):  # as the hook's reader answers it
            raise ServiceError(408, "The request body did not arrive in time.", code="exception") from None


# ------------------------------------------------------------------ Questionnaires

def _fhir(body: dict[str, Any], status: int = 200) -> Response:
    resp = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status, mimetype=FHIR_JSON)
    resp.headers["Cache-Control"] = "public, max-age=300"
    resp.headers["Vary"] = "Accept-Language"
    return resp


@bp.get("/fhir/Questionnaire")
def questionnaire_search() -> Response:
    lang = _lang()
    reg = registry()
    bundle = search_bundle(reg, base_url(), lang)
    for param, field in (("_id", "id"), ("url", "url"), ("name", "name")):
        wanted = request.args.get(param)
        if wanted is not None:  # what an SDC renderer uses to resolve QuestionnaireResponse.questionnaire
            bundle["entry"] = [e for e in bundle["entry"] if e["resource"][field] == wanted.split("|", 1)[0]]
    bundle["total"] = len(bundle["entry"])
    return _fhir(bundle)


@bp.get("/fhir/Questionnaire/<qid>")
def questionnaire_read(qid: str) -> Response:
    for form in registry().forms:
        if questionnaire_id(form) == qid:
            return _fhir(questionnaire(form, base_url(), _lang()))
    return outcome_response(404, [issue("No Questionnaire with this id; see GET /fhir/Questionnaire.",
                                        code="not-found")])


# ------------------------------------------------------------------ pages

def _inline(s: str) -> str:
    s = str(escape(s))
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    return re.sub(r"(?<![\w])_(.+?)_(?![\w])", r"<em>\1</em>", s)


def markdown_inline(text: str) -> Markup:
    """One line of catalog Markdown as HTML (escaped first, then **bold**, _italic_, `code`)."""
    return Markup(_inline(text))


def markdown_html(text: str) -> Markup:
    """The card's Markdown as HTML: everything escaped first, then the few constructs the
    catalogs use (paragraphs, ``- `` lists, **bold**, _italic_, `code`)."""
    inline = _inline
    out = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        if lines and all(ln.startswith("- ") for ln in lines):
            out.append("<ul>" + "".join(f"<li>{inline(ln[2:])}</li>" for ln in lines) + "</ul>")
        elif lines:
            out.append("<p>" + "<br>".join(inline(ln) for ln in lines) + "</p>")
    return Markup("".join(out))


def _error(exc: svc.AppError, lang: str) -> Response:
    log.warning("capture refused", extra={"reason": exc.title_key, "status": exc.status})
    html = render_template("capture_error.html", lang=lang, t=lambda k: _t(k, lang),
                           title=_t(exc.title_key, lang), detail=exc.detail)
    return make_response(html, exc.status)


def _require_enabled() -> AppSettings:
    s = settings()
    if not s.enabled:
        raise svc.AppError(503, "error.title.disabled", "The capture app is not configured on this service "
                                                        "(SPINE_CDS_APP_SECRET is not set).")
    return s


def _verify_context(raw: Any, s: AppSettings) -> LaunchContext:
    assert s.secret is not None
    try:
        return verify(raw, s.secret)
    except ContextError as exc:
        raise svc.AppError(400, "error.title.tampered", str(exc)) from None


def _allowed_smart(s: AppSettings) -> tuple[str, ...]:
    """SMART launches may name the servers of ``SPINE_CDS_APP_SMART_SERVERS`` (besides the open ones)."""
    return s.smart_servers


def _allow_fn(s: AppSettings, launch: svc.Launch):
    extra = _allowed_smart(s) if launch.mode == "smart" else ()
    return lambda url: svc.server_allowed(url, s, base_url=base_url(), extra=extra)


def _page(ctx: LaunchContext, launch: svc.Launch, s: AppSettings, lang: str, *, saved: svc.WriteResult | None = None,
          answered_count: int = 0, problems: dict[str, str] | None = None, status: int = 200) -> Response:
    """The one page of a launch: the card now, its full reasoning, the form of what is missing."""
    assert s.secret is not None
    state = current_app.extensions["spine_cds"]
    ev = svc.evaluate(state, ctx, launch, lang=lang, allowed=_allow_fn(s, launch), request_base=request.url_root)
    finding = ev.finding(ctx.topic, ctx.level)
    card = ev.card(finding) if finding is not None else None
    missing: list[tuple[str, str | None, str]] = []
    if finding is not None:
        missing = [(m.code, m.level, m.why) for m in finding.missing]
    if saved is None:  # what the card asked, too (it may name facts the new result no longer lists)
        for entry in ctx.missing:
            fact, _, level = entry.partition("@")
            if not any(m[0] == fact and (m[1] or None) == (level or None) for m in missing):
                missing.append((fact, level or None, "not-recorded"))
    old = svc.recorded_values(ev, state.mapping_settings)
    asked, other = svc.questions(registry(), missing, ctx.level or (finding.vertebra if finding else None),
                                 ev.outcome.facts, old)
    catalogs = state.catalogs
    other_rows = [(code, level, catalogs.text(f"missing.{code}", lang) if catalogs.has(f"missing.{code}", lang)
                   else code) for code, level, _why in other]
    html = render_template(
        "capture_page.html", lang=lang, t=lambda k: _t(k, lang), card=card, finding=finding,
        detail=markdown_html(card["detail"]) if card else None, criteria=_criteria(finding, catalogs, lang),
        topic=ctx.topic, level=ctx.level, questions=asked, other=other_rows, problems=problems or {},
        launch_blob=svc.seal(launch, s.secret), patient_id=launch.patient_id, server=launch.server,
        saved=saved, answered_count=answered_count, failed=ev.failed, mode=launch.mode,
        why_text=lambda why: catalogs.text(f"unknown.{why}", lang) if catalogs.has(f"unknown.{why}", lang) else why)
    resp = make_response(html, status)
    return resp


def _criteria(finding: Any, catalogs: Any, lang: str) -> list[dict[str, Any]]:
    """Every criterion of the finding (the card may compress them; the app shows them all)."""
    if finding is None:
        return []
    labels = catalogs.plain_with_prefix(lang, "common.status.")
    out = []
    for crit in finding.criteria:
        refs = []
        for fact in crit.facts:
            for src in fact.sources[:4]:
                refs.append(f"{src.reference}, {src.date[:10]}" if src.date else src.reference)
            if fact.value is None:
                why = fact.unknown.value if fact.unknown else "not-recorded"
                refs.append(catalogs.text(f"unknown.{why}", lang) if catalogs.has(f"unknown.{why}", lang) else why)
        out.append({"status": crit.status.value, "label": labels.get(crit.status.value, crit.status.value),
                    "text": markdown_inline(catalogs.render(Message(crit.key, crit.params), lang)), "rule": crit.rule,
                    "data": "; ".join(dict.fromkeys(refs))})
    return out


@bp.get("/app/open")
def open_mode() -> Response:
    lang = _lang()
    try:
        s = _require_enabled()
        ctx = _verify_context(request.args.get("appContext"), s)
        if not ctx.fhir_server or not svc.server_allowed(ctx.fhir_server, s, base_url=base_url()):
            raise svc.AppError(403, "error.title.server",
                               "The card's FHIR server is not one this app may open without authorization "
                               "(SPINE_CDS_APP_OPEN_SERVERS); launch the app from the EHR (SMART) instead. "
                               "Nothing was read or written.")
        launch = svc.Launch(request.args["appContext"], ctx.fhir_server, ctx.patient_id, "open", None, ctx.user)
        return _page(ctx, launch, s, lang)
    except svc.AppError as exc:
        return _error(exc, lang)


@bp.post("/app/submit")
def submit() -> Response:
    lang = _lang()
    try:
        s = _require_enabled()
        assert s.secret is not None
        launch = svc.unseal(request.form.get("launch"), s.secret)
        ctx = _verify_context(launch.app_context, s)
        if ctx.patient_id != launch.patient_id:
            raise svc.AppError(403, "error.title.patient", "This launch is for another patient than the card.")
        allowed = _allow_fn(s, launch)
        if not allowed(launch.server):
            raise svc.AppError(403, "error.title.server", "The launch's FHIR server is no longer allowed.")
        state = current_app.extensions["spine_cds"]
        ev = svc.evaluate(state, ctx, launch, lang=lang, allowed=allowed, request_base=request.url_root)
        finding = ev.finding(ctx.topic, ctx.level)
        missing = [(m.code, m.level, m.why) for m in finding.missing] if finding is not None else []
        for entry in ctx.missing:
            fact, _, level = entry.partition("@")
            missing.append((fact, level or None, "not-recorded"))
        asked, _other = svc.questions(registry(), missing,
                                      ctx.level or (finding.vertebra if finding else None), None, None)
        answered, problems = svc.parse_answers(asked, request.form)
        if problems:
            return _page(ctx, launch, s, lang, problems=problems, status=400)
        if not answered:
            return _page(ctx, launch, s, lang, problems={"": _t("form.nothing", lang)}, status=400)
        bundle = transaction(answered, base_url=base_url(), patient_id=launch.patient_id,
                             now=state.runtime.clock(),
                             user=launch.user or ctx.user, new_id=new_uuid)
        result = svc.write(launch, bundle)
        g.log_fields.update(captureAnswers=len(answered), captureWritten=result.ok)
        if not result.ok:
            log.warning("capture write refused", extra={"status": result.status})
            html = render_template("capture_refused.html", lang=lang, t=lambda k: _t(k, lang), result=result,
                                   server=launch.server)
            return make_response(html, 502)
        return _page(ctx, launch, s, lang, saved=result, answered_count=len(answered))
    except svc.AppError as exc:
        return _error(exc, lang)


from . import smart as _smart  # noqa: E402,F401  (its routes join this blueprint)
