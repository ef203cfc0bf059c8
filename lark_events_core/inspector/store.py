"""The inspector's history: one SQLite row per exchange (a request sent and the app's answer).

The store is bounded (the oldest rows go first) and on disk, so a restart keeps the history. It
never holds a secret in clear: bodies are stored as sent (encrypted) and decrypted with the
verification token replaced by :data:`REDACTED` (see :mod:`.secrets`).
"""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_MAX_EXCHANGES", "Exchange", "ExchangeStore", "default_path"]

#: Rows kept by default; older ones are deleted as new ones arrive.
DEFAULT_MAX_EXCHANGES = 2000
#: Bodies longer than this are cut before they are stored (the platform's own limit is lower).
MAX_BODY = 1024 * 1024
SOURCES = ("forwarded", "composed", "replayed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_id TEXT NOT NULL,
    url TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    request_body BLOB NOT NULL,
    payload TEXT,
    status INTEGER,
    error TEXT,
    latency_ms REAL NOT NULL,
    answer BLOB NOT NULL,
    replay_of INTEGER,
    attempt INTEGER NOT NULL DEFAULT 1,
    duplicate_of INTEGER
);
CREATE INDEX IF NOT EXISTS exchanges_event_id ON exchanges (event_id);
"""


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/lark-events/inspector.sqlite3`` (``~/.cache`` when unset)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lark-events" / "inspector.sqlite3"


@dataclass(frozen=True)
class Exchange:
    """One request delivered to the app and what came back.

    ``kind`` is ``event``, ``callback`` or ``legacy_card``; ``payload`` the decrypted body with
    the token redacted (``None`` when the body was not JSON); ``status`` ``None`` when the app
    gave no answer (``error`` says why). ``duplicate_of`` is an earlier exchange with the same
    event id that the app had acknowledged: the app should have answered this one as a duplicate.
    """

    source: str
    kind: str
    event_type: str
    event_id: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    payload: dict[str, Any] | None
    status: int | None
    latency_ms: float
    answer: bytes
    error: str | None = None
    replay_of: int | None = None
    attempt: int = 1
    id: int = 0
    created: float = field(default_factory=time.time)
    duplicate_of: int | None = None

    @property
    def is_callback(self) -> bool:
        """Whether the app's answer is shown to the user (a toast or a card)."""
        return self.kind in ("callback", "legacy_card")

    def answer_json(self) -> Any:
        """The answer parsed, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.answer)
        except ValueError:
            return None

    def seen(self) -> dict[str, str] | None:
        """What a callback's answer shows the user: ``{"toast": type, "text": ...}`` or a card."""
        answer = self.answer_json()
        if not isinstance(answer, dict):
            return None
        toast = answer.get("toast")
        if isinstance(toast, dict):
            text = toast.get("content")
            i18n = toast.get("i18n") or toast.get("i18n_content")
            if not text and isinstance(i18n, dict) and i18n:
                text = next(iter(i18n.values()))
            return {"toast": str(toast.get("type") or "info"), "text": str(text or "")}
        if "card" in answer:
            return {"card": "updated", "text": "the card is updated"}
        return None

    def summary(self) -> dict[str, Any]:
        """The list columns, JSON-ready."""
        return {
            "id": self.id,
            "created": self.created,
            "source": self.source,
            "kind": self.kind,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "status": self.status,
            "error": self.error,
            "latency_ms": round(self.latency_ms, 1),
            "answer": _text(self.answer, 200) if self.is_callback else None,
            "seen": self.seen() if self.is_callback else None,
            "replay_of": self.replay_of,
            "attempt": self.attempt,
            "duplicate_of": self.duplicate_of,
        }

    def detail(self) -> dict[str, Any]:
        """Everything about the exchange, JSON-ready."""
        data = asdict(self)
        data["request_body"] = _text(self.request_body)
        data["answer"] = _text(self.answer)
        data["answer_json"] = self.answer_json()
        data["latency_ms"] = round(self.latency_ms, 1)
        return data


def _text(raw: bytes, limit: int | None = None) -> str:
    text = raw.decode("utf-8", "replace")
    if limit is not None and len(text) > limit:
        return text[:limit] + "…"
    return text


class ExchangeStore:
    """Exchanges in one SQLite file, newest first, at most ``max_exchanges`` of them.

    Safe to share between threads (one connection behind a lock); each call is one short
    transaction, fast enough to run on the event loop for a developer tool.
    """

    def __init__(self, path: str | Path, *, max_exchanges: int = DEFAULT_MAX_EXCHANGES) -> None:
        if max_exchanges < 1:
            raise ValueError("max_exchanges must be at least 1")
        self.path = Path(path)
        self.max_exchanges = max_exchanges
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def add(self, exchange: Exchange) -> Exchange:
        """Store ``exchange``; returns it with its ``id`` and ``duplicate_of`` filled in."""
        with self._lock:
            duplicate_of = None
            if exchange.event_id:
                row = self._db.execute(
                    "SELECT id FROM exchanges WHERE event_id = ? AND status = 200 "
                    "ORDER BY id LIMIT 1",
                    (exchange.event_id,),
                ).fetchone()
                duplicate_of = int(row["id"]) if row is not None else None
            cursor = self._db.execute(
                "INSERT INTO exchanges (created, source, kind, event_type, event_id, url, "
                "request_headers, request_body, payload, status, error, latency_ms, answer, "
                "replay_of, attempt, duplicate_of) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    exchange.created,
                    exchange.source,
                    exchange.kind,
                    exchange.event_type,
                    exchange.event_id,
                    exchange.url,
                    json.dumps(exchange.request_headers),
                    exchange.request_body[:MAX_BODY],
                    None if exchange.payload is None else json.dumps(exchange.payload),
                    exchange.status,
                    exchange.error,
                    exchange.latency_ms,
                    exchange.answer[:MAX_BODY],
                    exchange.replay_of,
                    exchange.attempt,
                    duplicate_of,
                ),
            )
            new_id = int(cursor.lastrowid or 0)
            self._db.execute("DELETE FROM exchanges WHERE id <= ?", (new_id - self.max_exchanges,))
        return _replace(exchange, id=new_id, duplicate_of=duplicate_of)

    def get(self, exchange_id: int) -> Exchange | None:
        """The exchange with this id, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM exchanges WHERE id = ?", (exchange_id,)
            ).fetchone()
        return None if row is None else _from_row(row)

    def list(
        self,
        *,
        event_type: str | None = None,
        status: str | None = None,
        search: str | None = None,
        limit: int = 200,
    ) -> builtins.list[Exchange]:
        """Newest first. ``status`` is a code, ``ok`` (200), ``failed`` (not 200) or ``none``.

        ``search`` matches part of the event id or the whole exchange number; ``#N`` only
        the exchange number.
        """
        where: list[str] = []
        params: list[Any] = []
        if event_type:
            where.append("event_type = ?")
            params.append(event_type)
        if status == "ok":
            where.append("status = 200")
        elif status == "failed":
            where.append("(status IS NULL OR status != 200)")
        elif status == "none":
            where.append("status IS NULL")
        elif status:
            where.append("status = ?")
            params.append(int(status))
        if search and search.startswith("#"):
            where.append("CAST(id AS TEXT) = ?")
            params.append(search[1:])
        elif search:
            where.append("(event_id LIKE ? ESCAPE '\\' OR CAST(id AS TEXT) = ?)")
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.extend([f"%{escaped}%", search])
        sql = "SELECT * FROM exchanges"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_from_row(r) for r in rows]

    def since(self, exchange_id: int, limit: int = 200) -> builtins.list[Exchange]:
        """The exchanges after ``exchange_id``, oldest first (what a reconnecting page missed)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM exchanges WHERE id > ? ORDER BY id LIMIT ?", (exchange_id, limit)
            ).fetchall()
        return [_from_row(r) for r in rows]

    def event_types(self) -> builtins.list[str]:
        """Every event type in the history, sorted."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT event_type FROM exchanges").fetchall()
        return sorted(str(r[0]) for r in rows)

    def count(self) -> int:
        """How many exchanges are kept."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0])


def _replace(exchange: Exchange, **changes: Any) -> Exchange:
    from dataclasses import replace

    return replace(exchange, **changes)


def _from_row(row: sqlite3.Row) -> Exchange:
    payload = row["payload"]
    return Exchange(
        id=int(row["id"]),
        created=float(row["created"]),
        source=str(row["source"]),
        kind=str(row["kind"]),
        event_type=str(row["event_type"]),
        event_id=str(row["event_id"]),
        url=str(row["url"]),
        request_headers=json.loads(row["request_headers"]),
        request_body=bytes(row["request_body"]),
        payload=None if payload is None else json.loads(payload),
        status=None if row["status"] is None else int(row["status"]),
        error=row["error"],
        latency_ms=float(row["latency_ms"]),
        answer=bytes(row["answer"]),
        replay_of=row["replay_of"],
        attempt=int(row["attempt"]),
        duplicate_of=row["duplicate_of"],
    )
