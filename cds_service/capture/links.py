"""Card links to the capture app: a ``smart`` link carrying the signed ``appContext`` and, when
the request's ``fhirServer`` is an open server, an ``absolute`` link to the same app.

Called once per card by ``cards.render_card``. Links need a hook request (the base URL, the
request's ``fhirServer`` and ``userId``) and a configured app secret; without either (the
offline ``evaluate`` command, a service without ``SPINE_CDS_APP_SECRET``) there are none.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import current_app, g, has_request_context, request

from .. import jsonio
from .context import LaunchContext, sign

LABEL = {"en": "Record the missing data", "nl": "Ontbrekende gegevens vastleggen"}
OPEN_LABEL = {"en": "Record the missing data (open server)", "nl": "Ontbrekende gegevens vastleggen (open server)"}


def _request_fields() -> tuple[str | None, str | None]:
    """(fhirServer, userId) of the hook request, read once per request from its kept body."""
    found = g.get("capture_request_fields")
    if found is None:
        server = user = None
        raw = request.get_data(cache=True) if request.content_length is not None else b""  # see _keep_hook_body
        try:
            body = jsonio.loads(raw) if raw else None
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            server = body.get("fhirServer") if isinstance(body.get("fhirServer"), str) else None
            context = body.get("context")
            if isinstance(context, dict) and isinstance(context.get("userId"), str):
                user = context["userId"][:200]
        found = g.capture_request_fields = (server, user)
    return found


def capture_links(finding: Any, ctx: Any) -> list[dict[str, Any]]:
    """The capture links of a card (``[]`` when the finding misses nothing)."""
    if not finding.missing or not has_request_context():
        return []
    settings = current_app.extensions.get("spine_cds_capture")
    service_id = (request.view_args or {}).get("service_id")
    patient_id = getattr(ctx.suggestions, "patient_id", None)
    if settings is None or not settings.enabled or not service_id or not patient_id:
        return []
    from . import service as svc  # here, not at import: cards.py imports this module
    server, user = _request_fields()
    missing = tuple(dict.fromkeys(f"{m.code}@{m.level}" if m.level else m.code for m in finding.missing))
    token = sign(LaunchContext(patient_id=str(patient_id), topic=finding.topic, service_id=service_id,
                               missing=missing, level=finding.vertebra,
                               fhir_server=server, user=user), settings.secret)
    base = (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")
    lang = ctx.lang if ctx.lang in LABEL else "en"
    links = [{"label": LABEL[lang], "url": f"{base}/app/launch", "type": "smart", "appContext": token}]
    if server and svc.server_allowed(server, settings, base_url=base):
        links.append({"label": OPEN_LABEL[lang], "url": f"{base}/app/open?appContext={quote(token, safe='')}",
                      "type": "absolute"})
    return links
