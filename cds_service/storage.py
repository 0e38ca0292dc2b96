"""Durable storage: the log of cards returned and the feedback on them.

SQLite file by default (WAL, synchronous=FULL: a 200 means the row is on
disk), PostgreSQL when ``SPINE_CDS_DATABASE_URL`` says so. The card log holds
no patient identifiers: card uuid, service, topic, rule IDs, guideline
version, time and hookInstance, so feedback can be joined to the advice.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Engine

log = logging.getLogger("spine_cds.storage")
metadata = MetaData()

card_log = Table(
    "card_log", metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("service_id", String(100), nullable=False),
    Column("hook", String(100), nullable=False),
    Column("hook_instance", String(200)),
    Column("topic", String(100), nullable=False),
    Column("indicator", String(20), nullable=False),
    Column("rules", JSON, nullable=False),
    Column("result", JSON, nullable=False),
    Column("guideline_version", String(100), nullable=False),
    Column("language", String(5), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", String(100), nullable=False),
    Column("card_uuid", String(200), nullable=False, index=True),
    Column("outcome", String(20), nullable=False),
    Column("accepted_suggestions", JSON),
    Column("override_reason", JSON),
    Column("outcome_timestamp", String(64)),
    Column("known_card", Boolean, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("raw", Text, nullable=False),
)


def make_storage(url: str) -> Storage:
    engine = make_engine(url)
    log_engine = make_engine(url, durable=False) if url.startswith("sqlite") else engine
    return Storage(engine, log_engine)


def make_engine(url: str, *, durable: bool = True) -> Engine:
    """An engine; ``durable=False`` (SQLite only) skips the fsync at each commit,
    which still survives a crash of the process, not of the machine."""
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised via SQLite tests
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


class Storage:
    """Feedback is written with a full fsync before the 200. The card log, written
    on every hook call, is the traceability trail rather than an acknowledgement:
    it is committed without waiting for the disk (SQLite synchronous=NORMAL in
    WAL mode, PostgreSQL synchronous_commit off), which survives a crash of the
    service and costs no fsync on the clinician's click path."""

    def __init__(self, engine: Engine, log_engine: Engine | None = None):
        self.engine = engine
        self.log_engine = log_engine or engine
        self.schema_ready = False

    def create_schema(self) -> bool:
        """Create the tables; False (logged) when the database is unreachable, so the
        service still starts and /readyz tells the operator; retried on use."""
        try:
            metadata.create_all(self.engine)
            self.schema_ready = True
        except Exception as exc:  # noqa: BLE001
            log.error("database unavailable at start-up", extra={"error_type": type(exc).__name__})
        return self.schema_ready

    def _ensure(self) -> None:
        if not self.schema_ready:
            metadata.create_all(self.engine)
            self.schema_ready = True

    def ping(self) -> bool:
        try:
            self._ensure()
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - readiness reports, never raises
            return False

    def log_cards(self, rows: Iterable[dict[str, Any]]) -> None:
        """Queue card-log rows; a background writer commits them in batches, off
        the request path. ``flush()`` waits until everything queued is written."""
        rows = list(rows)
        if not rows:
            return
        now = datetime.now(UTC)
        self._writer().put([dict(r, created_at=now) for r in rows])

    def write_card_rows(self, rows: list[dict[str, Any]]) -> None:
        self._ensure()
        with self.log_engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            conn.execute(insert(card_log), rows)

    def flush(self, timeout: float = 10.0) -> bool:
        writer = self._card_writer
        return writer.flush(timeout) if writer is not None and writer.pid == os.getpid() else True

    _card_writer: _CardLogWriter | None = None

    def _writer(self) -> _CardLogWriter:
        # Started lazily, in the process that uses it (gunicorn forks workers).
        writer = self._card_writer
        if writer is None or writer.pid != os.getpid():
            with _WRITER_LOCK:
                writer = self._card_writer
                if writer is None or writer.pid != os.getpid():
                    writer = self._card_writer = _CardLogWriter(self)
                    writer.start()
        return writer

    def store_feedback(self, service_id: str, items: list[dict[str, Any]]) -> int:
        """Write every feedback item in one transaction; returns how many."""
        now = datetime.now(UTC)
        uuids = [str(i.get("card")) for i in items]
        self.flush(2.0)  # a card returned a moment ago must be joinable
        self._ensure()
        with self.engine.begin() as conn:
            known = set(conn.execute(select(card_log.c.card_uuid).where(card_log.c.card_uuid.in_(uuids)))
                        .scalars()) if uuids else set()
            conn.execute(insert(feedback), [{
                "service_id": service_id,
                "card_uuid": str(i.get("card")),
                "outcome": i.get("outcome"),
                "accepted_suggestions": i.get("acceptedSuggestions"),
                "override_reason": i.get("overrideReason"),
                "outcome_timestamp": i.get("outcomeTimestamp"),
                "known_card": str(i.get("card")) in known,
                "received_at": now,
                "raw": json.dumps(i, ensure_ascii=False),
            } for i in items])
        return len(items)

    def feedback_for(self, card_uuid: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feedback).where(feedback.c.card_uuid == card_uuid)
                                .order_by(feedback.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def card(self, card_uuid: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(card_log).where(card_log.c.card_uuid == card_uuid)).mappings().first()
        return dict(row) if row else None


_WRITER_LOCK = threading.Lock()


class _CardLogWriter(threading.Thread):
    """Drains queued card-log rows into the database in batches."""

    def __init__(self, storage: Storage):
        super().__init__(name="spine-cds-card-log", daemon=True)
        self.storage = storage
        self.queue: queue.Queue[list[dict[str, Any]]] = queue.Queue(maxsize=10000)
        self.pid = os.getpid()
        self.dropped = 0
        atexit.register(self.flush, 5.0)

    def put(self, rows: list[dict[str, Any]]) -> None:
        try:
            self.queue.put_nowait(rows)
        except queue.Full:
            self.dropped += len(rows)
            log.error("card log queue full: rows dropped", extra={"dropped": self.dropped})

    #: rows wait at most this long, so one insert serves many requests and the writer
    #: does not compete with every request for the interpreter
    BATCH_WINDOW = 0.1

    def run(self) -> None:
        while True:
            batches = [self.queue.get()]
            # Sleep through the window instead of waiting on the queue: a waiting
            # writer would wake (and take the interpreter) on every request's put.
            time.sleep(self.BATCH_WINDOW)
            while len(batches) < 500:
                try:
                    batches.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            rows = [r for b in batches for r in b]
            try:
                self.storage.write_card_rows(rows)
            except Exception as exc:  # noqa: BLE001 - logged; the advice went out already
                log.error("card log write failed", extra={"error_type": type(exc).__name__, "rows": len(rows)})
            finally:
                for _ in batches:
                    self.queue.task_done()

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True
