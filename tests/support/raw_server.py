"""A raw loopback TCP server for timing tests of HTTP clients (hanging, slow-drip, huge answers):
each connection is handled by ``handler(conn, server)`` once its request headers are read."""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class RawServer:
    """A loopback TCP server whose connections are handled by ``handler(conn, server)``."""

    def __init__(self, handler: Callable[[socket.socket, RawServer], None]):
        self.handler = handler
        self.stop = threading.Event()
        self.connections = 0
        self.bytes_sent = 0
        self.done = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/fhir"
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            self.handler(conn, self)
        except OSError:
            pass
        finally:
            self.done.set()

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.bytes_sent += len(data)

    def close(self) -> None:
        self.stop.set()
        self._sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass


def hang(conn, server):
    server.stop.wait(10)
