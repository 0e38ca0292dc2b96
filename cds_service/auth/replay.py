"""Replay stores: a ``jti`` is accepted once per issuer while its token could still be valid.
:class:`SqlReplayStore` shares this between worker processes (and restarts)."""
from __future__ import annotations

import logging
import math
import threading
import time
from typing import Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    insert,
    inspect,
)
from sqlalchemy.exc import (
    IntegrityError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)

from .errors import ReplayStoreError
from .trust import MAX_ISS_LENGTH

__all__ = ["MAX_JTI_LENGTH", "MemoryReplayStore", "ReplayStore", "SqlReplayStore", "jwt_replay_table"]

log = logging.getLogger("cds_service.auth")

MAX_JTI_LENGTH = 255


class ReplayStore(Protocol):
    def remember(self, iss: str, jti: str, expires_at: float, now: float) -> bool:
        """Record (iss, jti) until ``expires_at``; False when it is already recorded
        and not yet expired (a replay)."""
        ...


class MemoryReplayStore:
    """A replay store for one process (unit tests, single-process demo)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def remember(self, iss: str, jti: str, expires_at: float, now: float) -> bool:
        with self._lock:
            for key in [k for k, exp in self._seen.items() if exp < now]:
                del self._seen[key]
            if (iss, jti) in self._seen:
                return False
            self._seen[(iss, jti)] = expires_at
            return True


replay_metadata = MetaData()

#: (iss, jti) of accepted tokens until they expire; the primary key makes a
#: second insert fail in whichever worker process tries it.
jwt_replay_table = Table(
    "jwt_replay",
    replay_metadata,
    Column("iss", String(MAX_ISS_LENGTH), nullable=False),
    Column("jti", String(MAX_JTI_LENGTH), nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # epoch seconds, rounded up
    PrimaryKeyConstraint("iss", "jti", name="pk_jwt_replay"),
    Index("ix_jwt_replay_expires_at", "expires_at"),
)


def _sqlite_busy(exc: OperationalError) -> bool:
    text = str(exc.orig if exc.orig is not None else exc).lower()
    return "locked" in text or "busy" in text


class SqlReplayStore:
    """A replay store in the database (SQLite file or PostgreSQL), shared by all
    worker processes that use the same database. Creates its table if needed.

    Expired rows of the same (iss, jti) are removed before the insert; all
    expired rows are purged at most once per ``purge_interval`` seconds.
    Database failures raise :class:`ReplayStoreError`.
    """

    _SQLITE_RETRIES = 8

    def __init__(self, engine: Engine, *, purge_interval: float = 60.0) -> None:
        self._engine = engine
        self._purge_interval = purge_interval
        self._last_purge: float | None = None
        self._purge_lock = threading.Lock()
        self._sqlite = engine.dialect.name == "sqlite"
        try:
            replay_metadata.create_all(engine, checkfirst=True)
        except (OperationalError, ProgrammingError):
            # Another worker created it at the same moment.
            if not inspect(engine).has_table(jwt_replay_table.name):
                raise

    def remember(self, iss: str, jti: str, expires_at: float, now: float) -> bool:
        t = jwt_replay_table
        now_s = math.floor(now)
        for attempt in range(self._SQLITE_RETRIES if self._sqlite else 1):
            try:
                with self._engine.begin() as conn:
                    conn.execute(delete(t).where(t.c.iss == iss, t.c.jti == jti, t.c.expires_at < now_s))
                    conn.execute(insert(t).values(iss=iss, jti=jti, expires_at=math.ceil(expires_at)))
                break
            except IntegrityError:
                return False
            except OperationalError as exc:
                # SQLite answers "database is locked" when writers collide (it may
                # refuse at once rather than wait, to avoid a deadlock): retry.
                if self._sqlite and _sqlite_busy(exc) and attempt + 1 < self._SQLITE_RETRIES:
                    time.sleep(0.02 * (attempt + 1))
                    continue
                raise ReplayStoreError(f"replay store unavailable: {type(exc).__name__}") from exc
            except SQLAlchemyError as exc:
                raise ReplayStoreError(f"replay store unavailable: {type(exc).__name__}") from exc
        self._maybe_purge(now_s)
        return True

    def _maybe_purge(self, now_s: int) -> None:
        with self._purge_lock:
            if self._last_purge is not None and now_s - self._last_purge < self._purge_interval:
                return
            self._last_purge = now_s
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(jwt_replay_table).where(jwt_replay_table.c.expires_at < now_s))
        except SQLAlchemyError as exc:  # purging is housekeeping: never fail a request for it
            log.warning("jwt_replay purge failed: %s", type(exc).__name__)
