"""gunicorn settings for spine-cds (overridable with GUNICORN_CMD_ARGS).

Forwarded headers (``X-Forwarded-Proto`` and the like) are believed only from the
addresses in ``SPINE_CDS_TRUSTED_PROXIES`` (comma-separated IPs or networks;
default: none, not even loopback). Slow clients are bounded by the worker class
(``cds_service.gunicorn_worker``): ``SPINE_CDS_REQUEST_READ_TIMEOUT`` seconds to
send a request's headers and body, and an unread body is not drained.
"""
import multiprocessing
import os

workers = int(os.environ.get("SPINE_CDS_WORKERS", min(4, multiprocessing.cpu_count() * 2 + 1)))
worker_class = "cds_service.gunicorn_worker.BoundedThreadWorker"
threads = int(os.environ.get("SPINE_CDS_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = None  # the app writes structured request logs itself
errorlog = "-"
loglevel = os.environ.get("SPINE_CDS_LOG_LEVEL", "info").lower()
limit_request_line = 8190
limit_request_fields = 50
limit_request_field_size = 16384
forwarded_allow_ips = os.environ.get("SPINE_CDS_TRUSTED_PROXIES", "")


def worker_exit(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    """On a worker's orderly exit (SIGTERM, max_requests), write what the card log still queues."""
    app = getattr(worker, "wsgi", None)
    state = getattr(app, "extensions", {}).get("spine_cds") if app is not None else None
    if state is not None:
        state.storage.flush(10.0)
