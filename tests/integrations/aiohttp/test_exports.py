"""``lark_events_aiohttp`` exports exactly its public names, each documented."""

from __future__ import annotations

import lark_events_aiohttp


def test_all_is_the_public_api() -> None:
    assert sorted(lark_events_aiohttp.__all__) == [
        "AiohttpHandler",
        "DISPATCHER_KEY",
        "get_dispatcher",
        "make_handler",
        "setup",
    ]
    for name in ("get_dispatcher", "make_handler", "setup"):
        assert (getattr(lark_events_aiohttp, name).__doc__ or "").strip()
