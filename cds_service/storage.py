"""Durable storage: the log of cards returned and the feedback on them.

SQLite file by default (WAL, synchronous=FULL: a 200 means the row is on
disk), PostgreSQL when ``SPINE_CDS_DATABASE_URL`` says so. The card log holds
no patient identifiers: card uuid, service, topic, rule IDs, guideline
version, time and hookInstance, so feedback can be joined to the advice.

The card log is written before the cards are sent (``write_card_log``): a card
the EHR received is in the log even if the worker is killed a moment later. A
row the database refuses is set aside on its own (sanitised and tried once
more), never taking the other rows with it; a write that fails for another
reason (the database away) is queued and retried in the background. Every
such event is counted (``Storage.card_log_stats``) and logged; on exit the
queue is flushed.
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
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, StatementError

from . import jsonio

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


def _row_error(exc: BaseException) -> bool:
    """Whether the database refused a write because of the data (a bad or duplicate row),
    not because it is unreachable or busy."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return False
    return isinstance(exc, (StatementError, UnicodeError, ValueError, TypeError))


def _sanitised(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every text made valid UTF-8 and cut to its column's length (a lone
    surrogate or an overlong value is what the database refuses in a card-log row)."""
    limits = {c.name: getattr(c.type, "length", None) for c in card_log.columns}

    def clean(key: str, value: Any) -> Any:
        if isinstance(value, str):
            value = value.encode("utf-8", "replace").decode("utf-8")
            limit = limits.get(key)
            return value[:limit] if limit else value
        if isinstance(value, (dict, list)):
            return json.loads(json.dumps(value, ensure_ascii=True, default=str).encode("utf-8", "replace"))
        return value

    return {k: clean(k, v) for k, v in row.items()}


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
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False},
                               json_serializer=jsonio.dumps)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised via SQLite tests
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, json_serializer=jsonio.dumps)


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
        """Write card-log rows now (before the response goes out); what cannot be written
        now for a reason other than the row itself is queued and retried in the background.
        ``flush()`` waits until everything queued is written."""
        rows = [dict(r, created_at=datetime.now(UTC)) for r in rows]
        if not rows:
            return
        try:
            self.write_card_rows(rows)
        except Exception as exc:  # noqa: BLE001 - counted, logged and retried, never dropped silently
            self.card_log_stats["deferred"] += len(rows)
            log.error("card log write failed; queued for retry",
                      extra={"error_type": type(exc).__name__, "rows": len(rows)})
            self._writer().put(rows)

    def write_card_rows(self, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows``; when the database refuses the batch because of a row (a data
        error, a duplicate key), each row is written on its own, so one bad row costs only
        itself. Other errors (the database unreachable) propagate to the caller."""
        self._ensure()
        try:
            self._insert(rows)
            self.card_log_stats["written"] += len(rows)
            return
        except Exception as exc:  # noqa: BLE001 - a row's fault is handled row by row, anything else raised
            if not _row_error(exc):
                raise
        for row in rows:
            self._insert_alone(row)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        with self.log_engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            conn.execute(insert(card_log), rows)

    def _insert_alone(self, row: dict[str, Any]) -> None:
        error = "?"
        for attempt in (row, _sanitised(row)):
            try:
                self._insert([attempt])
            except IntegrityError as exc:
                if self.card(str(row.get("card_uuid"))) is not None:  # a retried batch written in part before
                    self.card_log_stats["duplicate"] += 1
                    return
                error = type(exc).__name__
                continue
            except Exception as exc:  # noqa: BLE001 - as in write_card_rows
                if not _row_error(exc):
                    raise
                error = type(exc).__name__
                continue
            self.card_log_stats["written"] += 1
            if attempt is not row:
                self.card_log_stats["sanitised"] += 1
                log.warning("card log row sanitised", extra={"card_uuid": str(row.get("card_uuid"))[:64]})
            return
        self.card_log_stats["rejected"] += 1
        log.error("card log row rejected", extra={"card_uuid": str(row.get("card_uuid"))[:64], "error_type": error})

    def flush(self, timeout: float = 10.0) -> bool:
        writer = self._card_writer
        return writer.flush(timeout) if writer is not None and writer.pid == os.getpid() else True

    _card_writer: _CardLogWriter | None = None

    @property
    def card_log_stats(self) -> dict[str, int]:
        """Counts of this process: rows written, sanitised, rejected (the database refused
        the row even sanitised), deferred (queued after a failed write), retried, dropped."""
        stats = self.__dict__.get("_stats")
        if stats is None or stats.get("pid") != os.getpid():
            stats = self.__dict__["_stats"] = {"pid": os.getpid(), "written": 0, "sanitised": 0, "rejected": 0,
                                               "deferred": 0, "retried": 0, "dropped": 0,
                                               "duplicate": 0}
        return stats

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
        self.flush(2.0)  # a card whose first write failed may still be queued
        self._ensure()
        with self.engine.begin() as conn:
            # A card is known to the service it was returned by, not to any other.
            known = set(conn.execute(select(card_log.c.card_uuid).where(
                card_log.c.card_uuid.in_(uuids), card_log.c.service_id == service_id)).scalars()) if uuids else set()
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
            self.storage.card_log_stats["dropped"] += len(rows)
            log.error("card log queue full: rows dropped", extra={"dropped": self.dropped})

    #: seconds between attempts at a batch that could not be written, and how many attempts
    RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

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
                self._write_with_retries(rows)
            finally:
                for _ in batches:
                    self.queue.task_done()

    def _write_with_retries(self, rows: list[dict[str, Any]]) -> None:
        for delay in (*self.RETRY_DELAYS, None):
            try:
                self.storage.write_card_rows(rows)
                return
            except Exception as exc:  # noqa: BLE001 - counted and logged below
                if delay is None:
                    self.storage.card_log_stats["dropped"] += len(rows)
                    log.error("card log write failed after retries: rows dropped",
                              extra={"error_type": type(exc).__name__, "rows": len(rows)})
                    return
                self.storage.card_log_stats["retried"] += len(rows)
                time.sleep(delay)

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True
