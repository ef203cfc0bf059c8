"""The demo: a sample aiohttp app with generated keys, and a simulated platform sending it events.

Everything runs in one process on a free local port; nothing outside the machine is contacted.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .. import Dispatcher, Event, _extras

try:
    from aiohttp import web
except ImportError as exc:
    _extras.missing_extra(exc, "cli", __name__)

from ..http import Request
from ..results import Toast
from ..testing import LarkSimulator, SignedRequest
from ._console import make_streams_safe
from ._http import Outcome, new_session, post

__all__ = ["build_app", "run_demo"]


@dataclass
class Journal:
    """What the sample app's handlers received and what lark-events logged, in order."""

    lines: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        """Record what a handler received."""
        self.lines.append(line)

    def take(self) -> tuple[list[str], list[str]]:
        """Everything recorded since the last call."""
        lines, logs = self.lines, self.logs
        self.lines, self.logs = [], []
        return lines, logs


class _JournalHandler(logging.Handler):
    """Keeps lark-events' log messages (no tracebacks) for the demo's output."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(logging.INFO)
        self.journal = journal

    def emit(self, record: logging.LogRecord) -> None:
        self.journal.logs.append(f"{record.levelname.lower()}: {record.getMessage()}")


def _short(value: str | None, size: int = 10) -> str:
    if not value:
        return "-"
    return value if len(value) <= size else value[:size] + "…"


def sample_dispatcher(encrypt_key: str, token: str, journal: Journal) -> Dispatcher:
    """The sample app's handlers: each records, in one line, what it received."""
    dispatcher = Dispatcher(encrypt_key=encrypt_key, verification_token=token)
    say = journal.say

    @dispatcher.on("im.message.receive_v1")
    async def on_message(event: Event[Any]) -> None:
        message = event.event.message
        sender = event.event.sender.sender_id.open_id
        say(f'message from {_short(sender)} in a {message.chat_type} chat: "{message.text}"')

    @dispatcher.on("im.chat.member.bot.added_v1")
    async def on_bot_added(event: Event[Any]) -> None:
        say(f'the bot joined "{event.event.name}" ({_short(event.event.chat_id)})')

    @dispatcher.on("contact.user.created_v3")
    async def on_user_created(event: Event[Any]) -> None:
        user = event.event.object
        say(f"new colleague: {user.name} <{user.email}>, {user.job_title} in {user.city}")

    @dispatcher.on("message")
    async def on_v1_message(event: Event[Any]) -> None:
        say(f'v1 message from {_short(event.event.open_id)}: "{event.event.text}"')

    @dispatcher.on("application.bot.menu_v6")
    async def on_menu(event: Event[Any]) -> None:
        say(f'menu item "{event.event.event_key}" clicked by {event.event.operator.operator_name}')

    @dispatcher.on("card.action.trigger")
    async def on_card(event: Event[Any]) -> Toast:
        value = event.event.action.value
        say(f"card button {value} clicked by {_short(event.event.operator.open_id)}")
        return Toast("Approved!", type="success")

    @dispatcher.on_legacy_card
    async def on_legacy_card(event: Event[Any]) -> dict[str, Any]:
        say(f"legacy card button {event.event.action.value} clicked")
        return {"toast": {"type": "info", "content": "Got it"}}

    @dispatcher.on("im.message.message_read_v1")
    async def on_read(event: Event[Any]) -> None:
        say(f"read receipt for {len(event.event.message_id_list)} messages; now failing on purpose")
        raise RuntimeError("simulated bug in a handler")

    return dispatcher


def build_app(dispatcher: Dispatcher) -> tuple[web.Application, str]:
    """The aiohttp app, through ``lark_events_aiohttp.setup`` when installed; and what it is."""
    app = web.Application()
    try:
        from lark_events_aiohttp import setup
    except ImportError:  # the adapter is not installed: the same thing in three lines
        for path, card in (("/webhook/event", False), ("/webhook/card", True)):
            app.router.add_post(path, _core_handler(dispatcher, card))
        return app, "aiohttp + Dispatcher.handle_async"
    setup(app, dispatcher)
    return app, "aiohttp + lark_events_aiohttp.setup()"


def _core_handler(
    dispatcher: Dispatcher, card: bool
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        core = Request.build("POST", request.headers.items(), await request.read(), request.path)
        answer = await dispatcher.handle_async(core, card=card)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

    return handle


@dataclass
class Step:
    """One request of the demo and the answer it must get."""

    title: str
    request: SignedRequest
    expect: int
    explain: str = ""
    check: Callable[[Outcome], str | None] | None = None
    calls: int = 1  # how many times a handler must run


def _steps(sim: LarkSimulator, forger: LarkSimulator) -> list[Step]:
    challenge = f"demo-{secrets.token_hex(4)}"

    def challenge_ok(outcome: Outcome) -> str | None:
        body = outcome.json()
        answered = isinstance(body, dict) and body.get("challenge") == challenge
        if answered and outcome.elapsed < 1.0:
            return "answered by lark-events before any handler, well within the console's 1 s"
        return None

    text = {"event.message.content": '{"text":"Hi bot! Is the release still on for Friday?"}'}
    message = sim.payload("im.message.receive_v1", set=text)
    return [
        Step("URL verification (encrypted)", sim.challenge(challenge, encrypt=True), 200,
             check=challenge_ok, calls=0),
        Step("text message", sim.request(message), 200),
        Step("same message again (a retry)", sim.request(message), 200,
             "duplicate event_id: acknowledged, handler not called again", calls=0),
        Step("bot added to a group chat", sim.request("im.chat.member.bot.added_v1"), 200),
        Step("new user in the directory", sim.request("contact.user.created_v3"), 200),
        Step("v1 message (older format)", sim.request("message"), 200),
        Step("bot menu click", sim.request("application.bot.menu_v6"), 200),
        Step("card button click", sim.request("card.action.trigger"), 200,
             "the toast in the answer is shown to the user who clicked"),
        Step("legacy card click (SHA-1)", sim.request("legacy_card"), 200),
        Step("forged event (bad signature)", forger.request("im.message.receive_v1"), 401,
             "refused before decryption; no handler ran", calls=0),
        Step("handler raises an exception", sim.request("im.message.message_read_v1"), 500,
             "the exception went to the log, never into the answer"),
    ]  # fmt: skip


async def run_demo(host: str = "127.0.0.1") -> int:
    """Run the demo; 0 when every answer was the expected one."""
    make_streams_safe()  # ✓ and … get ASCII stand-ins on a terminal that cannot show them
    encrypt_key, token = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
    journal = Journal()
    log = logging.getLogger("lark_events")
    capture = _JournalHandler(journal)
    old_level, old_propagate = log.level, log.propagate
    log.addHandler(capture)
    log.setLevel(logging.INFO)
    log.propagate = False
    app, kind = build_app(sample_dispatcher(encrypt_key, token, journal))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = runner.addresses[0][1]
        return await _play(f"http://{host}:{port}", kind, encrypt_key, token, journal)
    finally:
        await runner.cleanup()
        log.removeHandler(capture)
        log.setLevel(old_level)
        log.propagate = old_propagate


async def _play(base: str, kind: str, encrypt_key: str, token: str, journal: Journal) -> int:
    sim = LarkSimulator(encrypt_key, token, app_id="cli_demo_app", tenant_key="tenant_demo")
    forger = LarkSimulator(secrets.token_urlsafe(24), token, app_id="cli_demo_app")
    steps = _steps(sim, forger)
    print("lark-events demo: a sample app and a simulated Lark platform, on your machine\n")
    print(f"  app        {kind}, listening on {base}")
    print("  endpoints  /webhook/event (events, callbacks)   /webhook/card (legacy cards)")
    print("  keys       a fresh Encrypt Key and verification token for this run (not shown)")
    print("  requests   encrypted with AES-256-CBC and signed, exactly as the platform does\n")
    print(f"  {'#':>2}  {'what the platform sends':<31} {'status':>6} {'time':>9}  answer")
    journal.take()  # forget the startup messages
    failures: list[str] = []
    handled = 0
    start = time.perf_counter()
    async with new_session(1) as session:
        for number, step in enumerate(steps, 1):
            outcome = await post(session, base + sim.path_for(step.request), step.request, 10.0)
            received, logs = journal.take()
            handled += len(received)
            good = outcome.status == step.expect and len(received) == step.calls
            note = step.check(outcome) if step.check is not None else step.explain
            if step.check is not None and note is None:
                good = False
            mark = "✓" if good else "✗"
            status = str(outcome.status) if outcome.status is not None else "---"
            answer = outcome.body_text(60) if outcome.error is None else outcome.error
            print(
                f"{mark} {number:>2}  {step.title:<31} {status:>6} "
                f"{outcome.elapsed * 1000:6.1f} ms  {answer}"
            )
            for line in received:
                print(f"        handler  {line}")
            for line in logs:
                if "failed" in line or "rejected" in line or "duplicate" in line:
                    print(f"        log      {line if len(line) <= 90 else line[:89] + '…'}")
            if note:
                print(f"        why      {note}")
            if not good:
                failures.append(
                    f"{step.title}: expected {step.expect} and {step.calls} handler call(s), "
                    f"got {status} and {len(received)}"
                )
    elapsed = time.perf_counter() - start
    print()
    if failures:
        print(f"demo finished with {len(failures)} unexpected answer(s):")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    print(
        f"all {len(steps)} requests answered as expected in {elapsed:.2f} s: {handled} handler "
        "calls, 1 duplicate ignored, 1 forgery refused, 1 handler failure contained"
    )
    print("\nnext: run a sample app from sample_projects/, then try")
    print("  lark-events send im.message.receive_v1 --url http://127.0.0.1:8000/webhook/event")
    print("  lark-events verify-url --url http://127.0.0.1:8000/webhook/event")
    return 0
