"""gunicorn settings for spine-cds (overridable with GUNICORN_CMD_ARGS)."""
import multiprocessing
import os

workers = int(os.environ.get("SPINE_CDS_WORKERS", min(4, multiprocessing.cpu_count() * 2 + 1)))
worker_class = "gthread"
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
limit_request_field_size = 16384
