"""The package exports what users need, and nothing that is not there."""

from __future__ import annotations

import lark_events_core.longconn as longconn
import lark_events_core.testing.fake_platform as fake_platform


def test_every_exported_name_exists() -> None:
    for module in (longconn, fake_platform):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], module.__name__


def test_the_public_api_is_exported() -> None:
    expected = {
        "LongConnectionClient",
        "ClientConfig",
        "Delivery",
        "Reply",
        "StopError",
        "RetryableError",
        "TooManyConnections",
        "dispatcher_target",
    }
    assert expected <= set(longconn.__all__)
    assert {"FakePlatform", "Ack", "PushedMessage", "FakeConnection"} <= set(fake_platform.__all__)
