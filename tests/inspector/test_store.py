"""The exchange history: bounded, on disk, duplicates recognised, filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lark_events_core.inspector import Exchange, ExchangeStore, default_path


def exchange(event_id: str = "e1", status: int | None = 200, **changes: Any) -> Exchange:
    values: dict[str, Any] = {
        "source": "composed",
        "kind": "event",
        "event_type": "im.message.receive_v1",
        "event_id": event_id,
        "url": "http://127.0.0.1:8000/webhook/event",
        "request_headers": {"Content-Type": "application/json"},
        "request_body": b'{"encrypt":"..."}',
        "payload": {"schema": "2.0", "header": {"event_id": event_id}},
        "status": status,
        "latency_ms": 1.5,
        "answer": b'{"msg":"success"}',
        **changes,
    }
    return Exchange(**values)


def test_the_history_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "history.sqlite3"
    store = ExchangeStore(path)
    saved = store.add(exchange(answer=b"\xff not utf-8"))
    store.close()
    again = ExchangeStore(path)
    loaded = again.get(saved.id)
    assert loaded == saved
    assert loaded is not None
    assert loaded.answer == b"\xff not utf-8"
    assert loaded.detail()["answer"] == "\ufffd not utf-8"
    again.close()


def test_the_history_is_bounded_oldest_first(tmp_path: Path) -> None:
    store = ExchangeStore(tmp_path / "h.sqlite3", max_exchanges=3)
    ids = [store.add(exchange(f"e{n}")).id for n in range(5)]
    assert store.count() == 3
    assert [x.id for x in store.list()] == ids[:1:-1]
    assert store.get(ids[0]) is None
    store.close()
    with pytest.raises(ValueError):
        ExchangeStore(tmp_path / "x.sqlite3", max_exchanges=0)


def test_a_resent_event_id_that_was_acknowledged_is_a_duplicate(tmp_path: Path) -> None:
    store = ExchangeStore(tmp_path / "h.sqlite3")
    failed = store.add(exchange("same", status=500))
    assert failed.duplicate_of is None
    first_ok = store.add(exchange("same"))
    assert first_ok.duplicate_of is None  # the first failed: the platform retries, not a dup
    again = store.add(exchange("same"))
    assert again.duplicate_of == first_ok.id
    assert store.add(exchange("")).duplicate_of is None
    store.close()


def test_filters_and_a_search_with_wildcard_characters(tmp_path: Path) -> None:
    store = ExchangeStore(tmp_path / "h.sqlite3")
    a = store.add(exchange("abc_1"))
    b = store.add(exchange("abcx1", status=None, error="no answer"))
    c = store.add(exchange("zzz", event_type="card.action.trigger", status=401))
    assert [x.id for x in store.list(search="c_1")] == [a.id]  # "_" is not a wildcard
    assert [x.id for x in store.list(search="%")] == []
    assert [x.id for x in store.list(search=str(c.id))] == [c.id]
    assert [x.id for x in store.list(status="none")] == [b.id]
    assert [x.id for x in store.list(status="failed")] == [c.id, b.id]
    assert [x.id for x in store.list(status="401")] == [c.id]
    assert [x.id for x in store.list(event_type="card.action.trigger")] == [c.id]
    assert store.event_types() == ["card.action.trigger", "im.message.receive_v1"]
    store.close()


def test_the_default_path_is_in_the_cache_dir(tmp_path: Path) -> None:
    assert default_path({"XDG_CACHE_HOME": str(tmp_path)}) == (
        tmp_path / "lark-events" / "inspector.sqlite3"
    )
    assert default_path({}).name == "inspector.sqlite3"
