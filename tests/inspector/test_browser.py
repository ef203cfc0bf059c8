"""The inspector in a real browser: Debian's Chromium driven by Playwright.

An event pushed by the fake platform is forwarded (``forward --inspect``) to a real webhook app;
the page shows it without a reload, its detail shows the decrypted JSON, Replay gives a second
row the app answers as a duplicate, and Compose sends an edited template. The screenshots of the
list and of a detail view are saved by every run; with ``LARK_EVENTS_UPDATE_SCREENSHOTS=1`` they
replace the ones in docs/img that docs/inspector.md shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lark_events_core.testing import make_event
from tests.support.servers import ROOT, free_port
from tests.support.services import services_required

from .helpers import KEY, TOKEN, Stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = (
    ROOT / "docs" / "img"
    if os.environ.get("LARK_EVENTS_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="lark-inspector-shots-"))
)
T = TypeVar("T")


def _need_browser(chromium: Path = CHROMIUM) -> None:
    missing = []
    if not chromium.exists():
        missing.append(f"{chromium} (run scripts/install_browser.sh)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if services_required():
            pytest.fail(f"{reason}, and LARK_EVENTS_REQUIRE_SERVICES=1 requires it")
        pytest.skip(reason)


class Loop:
    """An event loop in a thread, for servers beside Playwright's synchronous API."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stack, Loop]]:
    _need_browser()
    monkeypatch.setenv("LARK_EVENTS_INSPECTOR_DB", str(tmp_path / "inspector.sqlite3"))
    loop = Loop()
    stack = Stack(free_port())
    try:
        loop.run(stack.start())
        yield stack, loop
    finally:
        with contextlib.suppress(Exception):
            loop.run(stack.stop())
        loop.stop()


def test_forwarded_replayed_and_composed_events_in_the_browser(
    running: tuple[Stack, Loop],
) -> None:
    stack, loop = running
    from playwright.sync_api import expect, sync_playwright

    base = f"http://127.0.0.1:{stack.inspector_port}"
    message = make_event(
        "im.message.receive_v1",
        {"message": {"message_id": "om_browser", "content": json.dumps({"text": "from the fake"})}},
    )
    event_id = message["header"]["event_id"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(base + "/")
            expect(page.locator("#live")).to_have_text("live")
            page.evaluate("window.notReloaded = true")

            # Forwarded from the fake platform: the row appears live, without a reload.
            assert loop.run(stack.push(message)) == 200
            row = page.locator("#exchanges tbody tr[data-type='im.message.receive_v1']")
            expect(row).to_have_count(1)
            expect(row.locator("td.source")).to_have_text("forwarded")
            expect(row.locator("td.status")).to_have_text("200")
            expect(row).to_contain_text(event_id)
            assert page.evaluate("window.notReloaded") is True
            assert stack.handled[event_id] == 1

            # A forwarded callback: its answer (the toast) is in the list.
            card = make_event("card.action.trigger", {"action": {"value": {"k": "v"}}})
            assert loop.run(stack.push(card)) == 200
            callback = page.locator("#exchanges tbody tr[data-type='card.action.trigger']")
            expect(callback.locator("td.answer .chip")).to_have_text("Clicked card.action.trigger")
            expect(callback.locator("td.answer .chip")).to_have_class("chip toast-success")

            # The detail shows the decrypted event (the token redacted), foldable.
            row.locator("a").click()
            expect(page.locator("#event-json")).to_contain_text(event_id)
            expect(page.locator("#event-json")).to_contain_text("om_browser")
            expect(page.locator("#event-json")).to_contain_text("[verification token]")
            expect(page.locator("#request-body")).to_contain_text('"encrypt"')
            header = page.locator("#event-json details.json details.json").first
            header.locator("summary").first.click()
            assert header.get_attribute("open") is None  # folded
            header.locator("summary").first.click()
            assert TOKEN not in page.content()
            assert KEY not in page.content()

            # Replay with the same id: a second row, which the app answers as a duplicate.
            page.get_by_role("button", name="Replay (same event id)").click()
            expect(page.locator("#action-result")).to_contain_text("duplicate of #1")
            assert stack.handled[event_id] == 1
            page.goto(base + "/")
            rows = page.locator(f"#exchanges tbody tr:has-text('{event_id}')")
            expect(rows).to_have_count(2)
            expect(rows.first.locator("td.source")).to_have_text("replayed")
            expect(rows.first.locator(".dup")).to_have_text("duplicate of #1")

            # Compose: pick a template, edit its JSON, send; the row appears in the list.
            page.goto(base + "/compose")
            page.select_option("#template", "card.action.trigger")
            expect(page.locator("#payload")).to_have_value(re.compile('"card.action.trigger"'))
            page.select_option("#template", "im.message.receive_v1")
            expect(page.locator("#payload")).to_have_value(re.compile('"im.message.receive_v1"'))
            body = json.loads(page.input_value("#payload"))
            body["event"]["message"]["content"] = json.dumps({"text": "edited in the browser"})
            page.fill("#payload", json.dumps(body, indent=2))
            page.click("#send")
            expect(page.locator("#action-result")).to_contain_text(": 200")
            assert stack.handled["text:edited in the browser"] == 1
            page.goto(base + "/")
            composed = page.locator("#exchanges tbody tr:has(td.source.composed)")
            expect(composed).to_have_count(1)
            expect(composed).to_contain_text(body["header"]["event_id"])

            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "inspector-list.png"))
            callback.locator("a").click()
            expect(page.locator("#toast")).to_contain_text("Clicked card.action.trigger")
            page.screenshot(path=str(SCREENSHOTS / "inspector-detail.png"), full_page=False)
        finally:
            browser.close()


def test_a_missing_browser_skips_with_a_reason_or_fails_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = tmp_path / "chromium"
    monkeypatch.delenv("LARK_EVENTS_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"install_browser\.sh"):
        _need_browser(absent)
    monkeypatch.setenv("LARK_EVENTS_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="LARK_EVENTS_REQUIRE_SERVICES=1 requires it"):
        _need_browser(absent)
