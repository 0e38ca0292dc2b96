"""gunicorn's threaded worker with bounded reading (issue 19, item 3).

gunicorn's ``gthread`` worker commits a thread to a connection as soon as its
first byte arrives and then reads the request head without a time limit; a
client sending one header line per second holds that thread for as long as it
likes, and a few dozen such clients hold them all (``/healthz`` included). After
the answer it drains an unread body to keep the connection alive, so a client
trickling a body after its 401 holds the thread again.

This worker bounds both:

* reading one request (its head and its body) may take at most
  ``SPINE_CDS_REQUEST_READ_TIMEOUT`` seconds (default 10) from the moment a
  thread takes the connection; past it the connection is dropped (the service
  answers 408 if the application was reading the body);
* an unread body (a refusal: 401, 413, 415, ...) is not drained: the
  connection closes after the answer.

This bounds the harm of one slow client; it cannot make the service outlast a
flood of them, which is the job of a buffering reverse proxy in front
(docs/deployment.md).
"""
from __future__ import annotations

import errno
import os
import socket
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

DEFAULT_READ_TIMEOUT = 10.0


def read_timeout() -> float:
    raw = os.environ.get("SPINE_CDS_REQUEST_READ_TIMEOUT", "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_READ_TIMEOUT
    except ValueError:
        value = DEFAULT_READ_TIMEOUT
    return value if value > 0 else DEFAULT_READ_TIMEOUT


class ReadDeadline(ConnectionResetError):
    """The client took longer than the read deadline to send its request."""

    def __init__(self) -> None:
        super().__init__(errno.ECONNRESET, "request not received within the read deadline")


class DeadlineSocket:
    """A client socket whose reads stop at ``deadline`` (``time.monotonic()``), when set."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline: float | None = None

    def recv(self, size: int, flags: int = 0) -> bytes:
        return self._bounded(self._sock.recv, size, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        return self._bounded(self._sock.recv_into, buffer, nbytes, flags)

    def _bounded(self, read: Any, *args: Any) -> Any:
        if self.deadline is None:
            return read(*args)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ReadDeadline()
        prior = self._sock.gettimeout()
        self._sock.settimeout(remaining if prior is None else min(prior, remaining))
        try:
            return read(*args)
        except TimeoutError:
            if time.monotonic() >= self.deadline:
                raise ReadDeadline() from None
            raise
        finally:
            self._sock.settimeout(prior)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class BoundedThreadWorker(ThreadWorker):
    """``gthread`` with a read deadline per request and no draining of unread bodies."""

    def init_process(self) -> None:
        self.read_timeout = read_timeout()
        super().init_process()

    def handle(self, conn: Any) -> Any:
        if not isinstance(conn.sock, DeadlineSocket):
            if conn.initialized:  # the parser already holds the plain socket (cannot happen before the first request)
                return super().handle(conn)
            conn.sock = DeadlineSocket(conn.sock)
        conn.sock.deadline = time.monotonic() + self.read_timeout
        try:
            return super().handle(conn)
        finally:
            conn.sock.deadline = None

    def _keepalive_after(self, conn: Any, keepalive: bool) -> bool:
        """Keep the connection only when the body was read to its end: an unread body
        (the answer was a refusal) is not drained, the connection closes instead."""
        if not keepalive:
            return False
        return bool(conn.parser.finish_body(deadline=time.monotonic() + 0.05, max_bytes=64 * 1024))
