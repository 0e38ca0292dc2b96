"""A Flask app on a threaded loopback server, for tests where the service must
fetch over HTTP from itself (the demo's FHIR endpoint)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def live(app, port: int = 0) -> Iterator[str]:
    """Yields the server's base URL (``http://127.0.0.1:<port>``); stops it afterwards.
    ``port``: a port chosen beforehand (e.g. named in the app's settings), else any free one."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
