"""spine-cds: a CDS Hooks 2.0 service for the Dutch guideline on spinal metastases
and the VP/BK protocol. ``create_app`` is the Flask application factory."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask import Flask, Response, g, jsonify, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from fhir_mappings import MappingSettings
from spine_guideline.policy import Policy

from . import config as config_mod
from . import errors, logs
from .config import read_settings
from .i18n import Catalogs
from .ids import new_uuid
from .jsonio import FastJSONProvider
from .prefetch import gather
from .runtime import Clock, Runtime, build_runtime
from .security import demo_host_allowed
from .storage import Storage, make_storage

__all__ = ["create_app"]

log = logging.getLogger("spine_cds.app")


@dataclass
class AppState:
    """Everything built once at start-up and shared by requests (read-only)."""

    policy: Policy
    catalogs: Catalogs
    storage: Storage
    mapping_settings: MappingSettings
    fhir_client: Any
    security: Any
    runtime: Runtime

    def gather(self, service, body, caller):
        return gather(service, body, client=self.fhir_client,
                      fhir_server_allowed=self.security.fhir_server_allowed(caller, request.url_root),
                      budget_seconds=self._budget)

    _budget: float = 3.0


def create_app(test_config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """The app. Settings come from ``SPINE_CDS_*`` variables, then ``test_config``;
    ``clock`` (default: the system clock) is what "now" means for the rules."""
    app = Flask(__name__, instance_relative_config=False)
    app.json = FastJSONProvider(app)
    settings = read_settings(None, test_config)
    app.config.update(settings.flask_config())
    logs.configure(settings.log_level)
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    runtime = build_runtime(settings, clock)
    if settings.database_url.startswith("sqlite:///"):
        os.makedirs(settings.data_dir, exist_ok=True)
    storage = make_storage(app.config["DATABASE_URL"])
    storage.create_schema()
    engine = storage.engine

    from .fhir_client import FhirClient
    from .security import Security
    client = FhirClient(connect_timeout=app.config["FHIR_CONNECT_TIMEOUT"],
                        read_timeout=app.config["FHIR_READ_TIMEOUT"],
                        total_budget=app.config["FHIR_TOTAL_BUDGET"],
                        max_pages=app.config["FHIR_MAX_PAGES"], max_bytes=app.config["FHIR_MAX_BYTES"])
    security = config_mod.loading("TRUST", lambda: Security.from_config(app.config, engine))
    state = AppState(runtime.policy, runtime.catalogs, storage, runtime.mapping_settings, client, security, runtime)
    state._budget = app.config["FHIR_TOTAL_BUDGET"]
    app.extensions["spine_cds"] = state

    errors.register(app)
    _install_request_hooks(app)

    from .hooks import bp as hooks_bp
    app.register_blueprint(hooks_bp)
    from .guideline import bp as guideline_bp
    app.register_blueprint(guideline_bp)
    _install_ops_routes(app)
    # --- issue 18: the data-capture app (/app/) and the published Questionnaires (/fhir/Questionnaire)
    from .capture import bp as capture_bp
    app.register_blueprint(capture_bp)
    # --- end issue 18
    if app.config["DEMO"]:
        from .demo import bp as demo_bp
        app.register_blueprint(demo_bp)

        @app.get("/")
        def demo_root() -> WerkzeugResponse:
            return redirect("/demo/", code=302)
    if app.config["AUTH"] == "off":
        log.warning("authentication is OFF (SPINE_CDS_AUTH=off): every caller is trusted; "
                    "use only for demos and tests")
    return app


def _cors_origin(app: Flask) -> str | None:
    origin = request.headers.get("Origin")
    if not origin:
        return None
    allowed = app.config["CORS_ORIGINS"]
    if "*" in allowed:
        return "*"
    return origin if origin.rstrip("/") in allowed else None


def _install_request_hooks(app: Flask) -> None:
    cds_paths = ("/cds-services",)

    @app.before_request
    def _start():
        req, store = request, g
        store.t_start = time.perf_counter()
        store.timing = {}
        store.log_fields = {"requestId": req.headers.get("X-Request-ID", "")[:64] or new_uuid()}
        if app.config["DEMO"] and not demo_host_allowed(req.host):
            # DNS rebinding (issue 19): the demo is for this machine's browser only
            raise errors.ServiceError(421, "The demo answers only requests addressed to localhost, 127.0.0.1 "
                                           "or [::1].", code="security")
        if req.method == "OPTIONS":
            resp = Response(status=204)
            origin = _cors_origin(app)
            if origin:
                resp.headers["Access-Control-Allow-Origin"] = origin
                resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Accept, Accept-Language"
                resp.headers["Access-Control-Max-Age"] = "600"
                if origin != "*":
                    resp.headers["Vary"] = "Origin"
            return resp
        if req.path.startswith(cds_paths):
            store.caller = app.extensions["spine_cds"].security.authenticate(request)
        return None

    @app.after_request
    def _finish(resp: Response):
        req, store = request, g
        origin = _cors_origin(app)
        if origin and req.method != "OPTIONS":
            resp.headers["Access-Control-Allow-Origin"] = origin
            if origin != "*":
                resp.headers["Vary"] = "Origin"
        resp.headers.setdefault("Cache-Control", "no-store")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        duration = time.perf_counter() - store.get("t_start", time.perf_counter())
        fields = dict(store.get("log_fields", {}))
        path = req.path
        fields.update(method=req.method, path=path[:200], status=resp.status_code,
                      durationMs=round(duration * 1000, 2),
                      timingMs={k: round(v * 1000, 2) for k, v in store.get("timing", {}).items()})
        if path.startswith("/cds-services/"):
            fields["service"] = path.split("/")[2][:100]
        # Written when the server closes the response, i.e. after the body went out: the
        # clinician's EHR does not wait for the log line (measured: ~50 us per request).
        resp.call_on_close(partial(logs.request_line, fields))
        return resp


def _install_ops_routes(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz():
        state = app.extensions["spine_cds"]
        checks = {"storage": state.storage.ping(), "rules": bool(state.policy.sections),
                  "catalogs": bool(state.catalogs.messages.get("nl"))}
        ok = all(checks.values())
        return jsonify({"status": "ready" if ok else "not-ready", "checks": checks,
                        "internalErrors": errors.INTERNAL_ERRORS.snapshot()}), (200 if ok else 503)

    @app.get("/openapi.json")
    def openapi():
        from .openapi import build_openapi
        from .services import SERVICES
        return jsonify(build_openapi([s.discovery() for s in SERVICES]))
