"""A durable journal of deferred events on SQLite: answer first without losing work to a crash.

With ``Dispatcher(journal=SQLiteJournal("lark-events.db"))`` a deferred event is written to the
journal before the 200 is sent, removed when its handler has finished (succeeded, or failed for
the last time), and replayed by any process that opens the same file after the one that took it
stopped (crashed, killed, or shut down before it could run it).

Ownership, so that two processes never run the same event: every journal row names the process
that holds it, and every process renews a heartbeat (``owners`` table) every ``lease / 3``
seconds. A row whose owner has not renewed its heartbeat for ``lease`` seconds is an orphan;
processes claim orphans inside one ``BEGIN IMMEDIATE`` transaction, which SQLite serialises.
A shutdown that cannot run a queued event gives its row up at once, so the next process takes it
without waiting for the lease.

Bodies are stored encrypted with the dispatcher's Encrypt Key when it has one (as the platform
sent them), plaintext otherwise: protect the file as you protect the key. The stdlib ``sqlite3``
is the only dependency (why not a queue library: docs/delivery.md, "Durable journal").
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ._log import safe

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from .dispatcher import Dispatcher
    from .executors import DeferredJob, Executor
    from .handlers import HandlerCall

__all__ = ["JournalEntry", "JournaledExecutor", "SQLiteJournal"]

logger = logging.getLogger("lark_events")
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lark_events_journal (
    key TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    event_id TEXT,
    request_id TEXT,
    claim_owner TEXT,
    encrypted INTEGER NOT NULL,
    body BLOB NOT NULL,
    owner TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS lark_events_owners (owner TEXT PRIMARY KEY, alive_until REAL NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled event, as a replaying process reads it back."""

    key: str
    type: str
    event_id: str | None
    request_id: str | None
    claim_owner: str | None
    encrypted: bool
    body: bytes


class SQLiteJournal:
    """Deferred events kept in an SQLite file until their handler finishes (see the module).

    ``lease`` is how long a silent process keeps its rows (default 30 s: a crashed process's
    events are replayed that long after it died). ``batch`` bounds the orphans claimed per scan.
    """

    def __init__(self, path: str | os.PathLike[str], *, lease: float = 30.0, batch: int = 64):
        if lease <= 0 or batch < 1:
            raise ValueError("lease must be > 0 and batch >= 1")
        self.path = os.fspath(path)
        self.lease = lease
        self.batch = batch
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._replay: Callable[[JournalEntry], bool] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: tuple[int, ThreadPoolExecutor] | None = None
        self._pid = os.getpid()
        self.owner = uuid.uuid4().hex

    def __repr__(self) -> str:
        return f"SQLiteJournal({self.path!r}, lease={self.lease})"

    # -- storage ------------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # forked: a connection must not cross a fork
            self._after_fork()
        if self._conn is None:
            conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # the row is on disk before the 200
            conn.executescript(_SCHEMA)
            self._conn = conn
            self._beat(conn)
        return self._conn

    def _beat(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO lark_events_owners (owner, alive_until) VALUES (?, ?) "
            "ON CONFLICT(owner) DO UPDATE SET alive_until = excluded.alive_until",
            (self.owner, time.time() + self.lease),
        )

    def add(self, key: str, call: HandlerCall, body: bytes, encrypted: bool) -> bool:
        """Write the event before it is acknowledged; ``False`` if ``key`` is journaled already
        (a re-push of an event still waiting for its handler: it must not run twice)."""
        event = call.event
        with self._lock:
            cursor = self._db().execute(
                "INSERT OR IGNORE INTO lark_events_journal (key, type, event_id, request_id, "
                "claim_owner, encrypted, body, owner, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    event.type,
                    event.event_id,
                    event.request_id,
                    call.owner,
                    int(encrypted),
                    body,
                    self.owner,
                    time.time(),
                ),
            )
            return cursor.rowcount == 1

    def remove(self, key: str) -> None:
        """The handler finished: forget the event."""
        with self._lock:
            self._db().execute(
                "DELETE FROM lark_events_journal WHERE key = ? AND owner = ?", (key, self.owner)
            )

    def give_up(self, key: str) -> None:
        """This process will not run the event: any process may take it now."""
        with self._lock:
            self._db().execute(
                "UPDATE lark_events_journal SET owner = NULL WHERE key = ? AND owner = ?",
                (key, self.owner),
            )

    def claim_orphans(self) -> list[JournalEntry]:
        """Take up to ``batch`` rows that no live process holds; they are this process's now."""
        now = time.time()
        with self._lock:
            conn = self._db()
            self._beat(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(
                    "SELECT key, type, event_id, request_id, claim_owner, encrypted, body "
                    "FROM lark_events_journal WHERE owner IS NULL OR owner NOT IN "
                    "(SELECT owner FROM lark_events_owners WHERE alive_until > ?) "
                    "ORDER BY created LIMIT ?",
                    (now, self.batch),
                ).fetchall()
                conn.executemany(
                    "UPDATE lark_events_journal SET owner = ? WHERE key = ?",
                    [(self.owner, row[0]) for row in rows],
                )
                conn.execute("DELETE FROM lark_events_owners WHERE alive_until < ?", (now - 86400,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return [JournalEntry(r[0], r[1], r[2], r[3], r[4], bool(r[5]), bytes(r[6])) for r in rows]

    async def call_async(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a journal call from a coroutine on the journal's own thread: never behind the
        handlers that fill the loop's default executor, never on the loop itself."""
        import asyncio

        pool = self._pool
        if pool is None or pool[0] != os.getpid():
            from concurrent.futures import ThreadPoolExecutor

            pool = self._pool = (os.getpid(), ThreadPoolExecutor(1, "lark-events-journal-io"))
        return await asyncio.get_running_loop().run_in_executor(pool[1], fn, *args)

    def pending(self) -> int:
        """Rows in the journal, whoever holds them."""
        with self._lock:
            row = self._db().execute("SELECT COUNT(*) FROM lark_events_journal").fetchone()
        return int(row[0])

    # -- the heartbeat and replay thread ----------------------------------------------------------

    def start(self, replay: Callable[[JournalEntry], bool]) -> None:
        """Renew this process's heartbeat and replay orphans in a daemon thread (started once per
        process; again in a forked child). ``replay`` returns ``False`` to give a row back."""
        self._replay = replay
        with self._lock:
            if self._pid != os.getpid():
                self._after_fork()
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="lark-events-journal", daemon=True
            )
            self._thread.start()

    def scan(self) -> int:
        """Claim orphans and hand each to the replay function now; how many were taken."""
        replay = self._replay
        if replay is None:
            return 0
        entries = self.claim_orphans()
        for entry in entries:
            try:
                accepted = replay(entry)
            except Exception:
                logger.exception(
                    "replaying a journaled event failed (event_id=%s)", safe(entry.event_id)
                )
                accepted = False
            if not accepted:
                self.give_up(entry.key)
        return len(entries)

    def _loop(self) -> None:
        interval = self.lease / 3
        wait = min(0.5, interval)  # the first scan soon after start: a restart replays at once
        while not self._stop.wait(wait):
            wait = interval
            try:
                if self.scan() == self.batch:
                    wait = 0.0  # more may be waiting
            except sqlite3.Error:
                logger.exception("the journal at %s cannot be read", safe(self.path, 200))

    def close(self) -> None:
        """Stop the thread and close the file (rows stay for the next process)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _after_fork(self) -> None:
        # The parent's connection and thread are not ours; a child is a new owner.
        self._pid = os.getpid()
        self._conn = None
        self._thread = None
        self._lock = threading.Lock()
        self.owner = uuid.uuid4().hex


def journal_key(call: HandlerCall) -> str:
    """The row key of ``call``: its deduplication key, else its event id, else a fresh id."""
    return call.dedup_key or call.event.event_id or f"anonymous:{uuid.uuid4().hex}"


def replayed_call(dispatcher: Dispatcher, entry: JournalEntry) -> HandlerCall | None:
    """The handler call a journal row stands for, or ``None`` when it cannot run here now."""
    from .errors import BadRequest
    from .handlers import HandlerCall

    try:
        raw = _plaintext(dispatcher, entry)
    except BadRequest:
        logger.error(
            "journaled event %s cannot be decrypted with this dispatcher's keys (event_id=%s)",
            safe(entry.type),
            safe(entry.event_id),
        )
        return None
    step = dispatcher.prepare_plaintext(raw, request_id=entry.request_id)
    if not isinstance(step, HandlerCall):
        return None
    step.owner = entry.claim_owner
    return step


def _plaintext(dispatcher: Dispatcher, entry: JournalEntry) -> bytes:
    from .errors import BadRequest

    if not entry.encrypted:
        return entry.body
    for _, cipher in dispatcher.settings.ciphers:
        try:
            return cipher.decrypt(entry.body.decode("ascii"))
        except (BadRequest, UnicodeDecodeError):
            continue
    raise BadRequest("no key decrypts the journaled event")


class JournaledExecutor:
    """Wraps the executor a deferred job goes to: journal first, run, then forget the row."""

    def __init__(self, dispatcher: Dispatcher, journal: SQLiteJournal, inner: Executor) -> None:
        self.dispatcher = dispatcher
        self.journal = journal
        self.inner = inner

    def wrap(self, job: DeferredJob, key: str) -> DeferredJob:
        """``job`` that removes its row when it ends, and gives the row up if never started."""
        from .executors import DeferredJob

        journal = self.journal

        def run() -> None:
            job.run()
            _quietly(journal.remove, key)

        async def run_async() -> None:
            await job.run_async()  # cancelled at shutdown: raises, so the row stays
            await journal.call_async(_quietly, journal.remove, key)

        def abandon(started: bool) -> None:
            if not started:
                _quietly(journal.give_up, key)
            job.report_abandoned(started)

        return DeferredJob(job.call, run, run_async, abandon)

    def _journal(self, job: DeferredJob) -> str | None:
        """Write the row; its key, or ``None`` when the event is journaled already."""
        call = job.call
        ciphers = self.dispatcher.settings.ciphers
        if ciphers:
            body, encrypted = ciphers[0][1].encrypt(call.event.raw).encode("ascii"), True
        else:
            body, encrypted = call.event.raw, False
        key = journal_key(call)
        if self.journal.add(key, call, body, encrypted):
            return key
        logger.info(
            "event %s is journaled already, waiting for its handler; not run again (event_id=%s)",
            safe(call.event.type),
            safe(call.event.event_id),
        )
        self.dispatcher.settle(call, ok=False)  # the journaled copy holds the event
        return None

    def submit(self, job: DeferredJob) -> bool:
        """Journal the event, then hand it to the wrapped executor (row removed if refused)."""
        key = self._journal(job)
        if key is None:
            return True
        try:
            accepted = self.inner.submit(self.wrap(job, key))
        except Exception:
            self.journal.remove(key)
            raise
        if not accepted:
            self.journal.remove(key)
        return accepted

    async def submit_async(self, job: DeferredJob) -> bool:
        """:meth:`submit` from a coroutine; the write happens off the loop."""
        key = await self.journal.call_async(self._journal, job)
        if key is None:
            return True
        try:
            accepted = await self.inner.submit_async(self.wrap(job, key))
        except Exception:
            await self.journal.call_async(self.journal.remove, key)
            raise
        if not accepted:
            await self.journal.call_async(self.journal.remove, key)
        return accepted

    def replay(self, entry: JournalEntry) -> bool:
        """Run a row taken from the journal; ``False`` when it cannot run here (given back)."""
        call = replayed_call(self.dispatcher, entry)
        if call is None:
            return False
        logger.info(
            "replaying journaled event %s (event_id=%s)", safe(entry.type), safe(entry.event_id)
        )
        job = self.dispatcher.background.job(call)
        return self.inner.submit(self.wrap(job, entry.key))

    def close(self, timeout: float | None = None) -> bool:
        """Close the wrapped executor."""
        return self.inner.close(timeout)

    async def aclose(self, timeout: float | None = None) -> bool:
        """Close the wrapped executor."""
        return await self.inner.aclose(timeout)


def _quietly(fn: Callable[[str], None], key: str) -> None:
    try:
        fn(key)
    except sqlite3.Error:
        logger.exception("the journal could not record the end of a job")
