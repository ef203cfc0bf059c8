"""The dispatcher reports every step to its observers, exactly once, with fixed outcome words."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections import Counter
from typing import Any

import pytest

from lark_events_core import Dispatcher, Event
from lark_events_core.observe import Observer, Observers, reason_slug

from .mix import (
    EXPECTED_OUTCOMES,
    KEY,
    TOKEN,
    event_request,
    handle_and_drain,
    register,
    requests_of_the_mix,
)


class Recorder(Observer):
    """Keeps every report."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.handlers: list[tuple[str, bool, bool]] = []
        self.finished: list[tuple[str, str, object]] = []
        self.background: list[tuple[int, int]] = []
        self.store_errors: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def request_rejected(self, reason: str, status: int) -> None:
        self.outcomes["rejected"] += 1
        self.rejections[f"{reason}/{status}"] += 1

    def event_received(self, event: Event[Any]) -> object:
        return ("token", event.event_id)

    def handler_finished(
        self,
        event: Event[Any],
        seconds: float,
        error: BaseException | None,
        *,
        deferred: bool,
        token: object,
    ) -> None:
        assert seconds >= 0
        assert token == ("token", event.event_id)
        with self.lock:
            self.handlers.append((event.type, error is None, deferred))

    def answered(self, event_type: str | None, outcome: str, status: int, seconds: float) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def event_finished(self, event: Event[Any], outcome: str, token: object) -> None:
        with self.lock:
            self.finished.append((event.event_id or "", outcome, token))
        if outcome == "done":
            self.done.set()

    def background_changed(self, queued: int, running: int) -> None:
        with self.lock:
            self.background.append((queued, running))

    def store_error(self, action: str) -> None:
        self.store_errors.append(action)


def _check(rec: Recorder) -> None:
    assert rec.done.wait(5), "the deferred handler never finished"
    assert dict(rec.outcomes) == EXPECTED_OUTCOMES
    assert dict(rec.rejections) == {"signature_mismatch/401": 2}
    assert sorted(rec.handlers) == sorted(
        [("im.message.receive_v1", True, False)] * 3
        + [("contact.user.created_v3", False, False), ("app_ticket", True, True)]
    )
    finished = Counter(outcome for _, outcome, _ in rec.finished)
    assert finished == {"accepted": 3, "duplicate": 2, "handler_error": 1, "done": 1}
    # queued +1, then queued -1 / running +1, then running -1: the gauges return to zero
    assert sum(q for q, _ in rec.background) == 0
    assert sum(r for _, r in rec.background) == 0
    assert (1, 0) in rec.background
    assert (-1, 1) in rec.background


def test_sync_path_reports_the_known_mix() -> None:
    rec = Recorder()
    dispatcher = Dispatcher(KEY, TOKEN, observers=[rec])
    register(dispatcher)
    for request in requests_of_the_mix():
        dispatcher.handle(request)
    _check(rec)
    dispatcher.close(5)


def test_async_path_reports_the_known_mix() -> None:
    rec = Recorder()
    dispatcher = Dispatcher(KEY, TOKEN, observers=rec)
    register(dispatcher)

    async def main() -> None:
        for request in requests_of_the_mix():
            await dispatcher.handle_async(request)
        for _ in range(100):
            if rec.done.is_set():
                break
            await asyncio.sleep(0.02)
        await dispatcher.aclose(5)

    asyncio.run(main())
    _check(rec)


def test_url_verification_is_reported() -> None:
    rec = Recorder()
    dispatcher = Dispatcher(None, TOKEN, observers=[rec])
    from lark_events_core import Request
    from lark_events_core.testing import make_challenge, sign_event

    req = sign_event(make_challenge("challenge-1", token=TOKEN))
    dispatcher.handle(Request.build("POST", req.headers, req.body))
    assert dict(rec.outcomes) == {"url_verification": 1}


def test_store_errors_are_reported() -> None:
    class Broken:
        def claim(self, key: str, owner: str, ttl: float) -> bool:
            raise ConnectionError("down")

        def complete(self, key: str, owner: str, ttl: float) -> None:
            raise ConnectionError("down")

        def release(self, key: str, owner: str) -> None:
            raise ConnectionError("down")

    rec = Recorder()
    dispatcher = Dispatcher(KEY, TOKEN, dedup=Broken(), observers=[rec])  # type: ignore[arg-type]
    register(dispatcher)
    dispatcher.handle(event_request("im.message.receive_v1", "ev-store"))
    assert rec.store_errors == ["claim"]  # no claim held, so nothing to settle
    assert dict(rec.outcomes) == {"accepted": 1}

    retry = Dispatcher(KEY, TOKEN, dedup=Broken(), on_store_error="retry", observers=[rec])  # type: ignore[arg-type]
    register(retry)
    assert retry.handle(event_request("im.message.receive_v1", "ev-store-2")).status == 503
    assert rec.outcomes["store_unavailable"] == 1


def test_a_failing_observer_does_not_break_the_request_or_the_others() -> None:
    class Failing(Observer):
        def answered(self, *args: Any) -> None:
            raise RuntimeError("observer bug")

    rec = Recorder()
    dispatcher = Dispatcher(KEY, TOKEN, observers=[Failing(), rec])
    register(dispatcher)
    response = dispatcher.handle(event_request("im.message.receive_v1", "ev-x"))
    assert response.status == 200
    assert rec.outcomes["accepted"] == 1


def test_observers_can_be_added_after_construction() -> None:
    dispatcher = Dispatcher(KEY, TOKEN)
    register(dispatcher)
    assert dispatcher.observer is None
    first, second = Recorder(), Recorder()
    dispatcher.add_observer(first)
    dispatcher.add_observer(second)
    assert isinstance(dispatcher.observer, Observers)
    dispatcher.handle(event_request("im.message.receive_v1", "ev-add"))
    assert first.outcomes == second.outcomes == {"accepted": 1}


def test_not_an_observer_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Observer"):
        Dispatcher(KEY, TOKEN, observers=[object(), object()])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("message", "slug"),
    [
        ("signature mismatch", "signature_mismatch"),
        ("request body too large", "request_body_too_large"),
        ("", "bad_request"),
    ],
)
def test_reason_slug(message: str, slug: str) -> None:
    assert reason_slug(message) == slug


def test_no_observer_means_no_call_and_no_state() -> None:
    dispatcher = Dispatcher(KEY, TOKEN)
    register(dispatcher)
    step = dispatcher.prepare(event_request("im.message.receive_v1", "ev-none"))
    assert not isinstance(step, type(None))
    assert getattr(step, "trace", "x") is None
    assert getattr(step, "started", 1.0) == 0.0


def test_a_job_handed_to_another_process_is_finished_at_its_answer() -> None:
    from lark_events_core.executors import DeferredJob

    class OtherProcess:
        """Accepts every job and runs none here, as CeleryExecutor does."""

        in_process = False

        def submit(self, job: DeferredJob) -> bool:
            return True

        async def submit_async(self, job: DeferredJob) -> bool:
            return True

        def close(self, timeout: float | None = None) -> bool:
            return True

        async def aclose(self, timeout: float | None = None) -> bool:
            return True

    rec = Recorder()
    dispatcher = Dispatcher(KEY, TOKEN, executor=OtherProcess(), observers=[rec])
    register(dispatcher)
    assert dispatcher.handle(event_request("app_ticket", "ev-remote")).status == 200
    assert rec.background == []  # never counted as queued here: no gauge left at +1
    assert [(event_id, outcome) for event_id, outcome, _ in rec.finished] == [
        ("ev-remote", "accepted")
    ]


def test_observers_give_each_member_its_own_token_whichever_hooks_it_overrides() -> None:
    # The composite calls a hook only on the members that override it; tokens stay aligned.
    class AnswersOnly(Observer):
        def __init__(self) -> None:
            self.answers: list[str] = []

        def answered(
            self, event_type: str | None, outcome: str, status: int, seconds: float
        ) -> None:
            self.answers.append(outcome)

    answers, first, second = AnswersOnly(), Recorder(), Recorder()
    patched = Observer()
    seen: list[str] = []
    patched.store_error = seen.append  # type: ignore[method-assign]  # an instance override
    dispatcher = Dispatcher(KEY, TOKEN, observers=[answers, first, patched, second])
    register(dispatcher)
    dispatcher.handle(event_request("im.message.receive_v1", "ev-align"))
    assert answers.answers == ["accepted"]
    for rec in (first, second):  # Recorder asserts its token in handler_finished
        assert rec.handlers == [("im.message.receive_v1", True, False)]
        assert rec.finished == [("ev-align", "accepted", ("token", "ev-align"))]
    assert isinstance(dispatcher.observer, Observers)
    dispatcher.observer.store_error("claim")
    assert seen == ["claim"]
    assert first.store_errors == ["claim"]


def test_with_one_token_maker_its_tokens_pass_straight_through_and_the_others_get_none() -> None:
    # Metrics beside one tracer: the composite's token is the maker's own (no tuple), and the
    # members that make none get ``None`` in every hook, also when the maker's hook fails.
    class Attempts(Recorder):
        def handler_started(self, event: Event[Any], *, deferred: bool, token: object) -> object:
            assert token == ("token", event.event_id)
            if event.event_id == "ev-fails":
                raise RuntimeError("observer bug")
            return ("attempt", event.event_id)

        def handler_finished(
            self, event: Event[Any], seconds: float, error: Any, *, token: object, **kw: Any
        ) -> None:
            expected = None if event.event_id == "ev-fails" else ("attempt", event.event_id)
            assert token == expected
            self.handlers.append((event.type, error is None, kw["deferred"]))

        def carrier(self, token: object) -> dict[str, str]:
            return {"maker": repr(token)}

    class Passive(Observer):
        def __init__(self) -> None:
            self.tokens: list[object] = []

        def handler_finished(self, *args: Any, token: object, **kw: Any) -> None:
            self.tokens.append(token)

        def event_finished(self, event: Event[Any], outcome: str, token: object) -> None:
            self.tokens.append(token)

    passive, maker = Passive(), Attempts()
    dispatcher = Dispatcher(KEY, TOKEN, observers=[passive, maker])
    register(dispatcher)
    for event_id in ("ev-one", "ev-fails"):
        assert dispatcher.handle(event_request("im.message.receive_v1", event_id)).status == 200
    assert maker.handlers == [("im.message.receive_v1", True, False)] * 2
    assert maker.finished == [
        ("ev-one", "accepted", ("token", "ev-one")),
        ("ev-fails", "accepted", ("token", "ev-fails")),
    ]
    assert passive.tokens == [None] * 4
    composite = dispatcher.observer
    assert isinstance(composite, Observers)
    token = composite.event_received(maker_event := _event("ev-carried"))
    assert token == ("token", maker_event.event_id)  # the maker's own, not a tuple
    assert composite.carrier(token) == {"maker": repr(("token", "ev-carried"))}


def _event(event_id: str) -> Event[Any]:
    seen: list[Event[Any]] = []
    dispatcher = Dispatcher(KEY, TOKEN)
    dispatcher.on("im.message.receive_v1", seen.append)
    dispatcher.handle(event_request("im.message.receive_v1", event_id))
    return seen[0]


def test_with_no_observer_no_observer_code_runs_at_all() -> None:
    # "Off" is free: the known mix, sync and async (deferred work included), never enters
    # observe.py (nor the backends), in any thread.
    import sys
    import threading

    from lark_events_core import observe

    entered: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename == observe.__file__:
            entered.append(frame.f_code.co_name)

    dispatcher = Dispatcher(KEY, TOKEN)
    register(dispatcher)
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        for request in requests_of_the_mix():
            dispatcher.handle(request)

        async def main() -> None:
            for request in requests_of_the_mix():
                await dispatcher.handle_async(request)
            await dispatcher.aclose(5)

        asyncio.run(main())
        dispatcher.close(5)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    assert entered == []


class Attempts(Observer):
    """Overrides handler_started: logs the hooks in order, with the thread each one runs in."""

    def __init__(self, name: str, log: list[tuple[str, str, int]], *, broken: bool = False):
        self.name = name
        self.log = log
        self.broken = broken

    def event_received(self, event: Event[Any]) -> object:
        return f"{self.name}:{event.event_id}"

    def handler_started(self, event: Event[Any], *, deferred: bool, token: object) -> object:
        self.log.append((f"{self.name} started", str(token), threading.get_ident()))
        if self.broken:
            raise RuntimeError("observer bug")
        return f"{self.name}:attempt"

    def handler_finished(
        self,
        event: Event[Any],
        seconds: float,
        error: BaseException | None,
        *,
        deferred: bool,
        token: object,
    ) -> None:
        self.log.append((f"{self.name} finished", str(token), threading.get_ident()))


def test_handler_started_hands_each_member_its_attempt_token_and_finishes_in_reverse() -> None:
    log: list[tuple[str, str, int]] = []
    plain = Recorder()  # no handler_started: handler_finished still gets its event token
    dispatcher = Dispatcher(
        KEY,
        TOKEN,
        observers=[Attempts("a", log), plain, Attempts("b", log, broken=True), Attempts("c", log)],
    )
    ran_in: list[int] = []
    dispatcher.on("im.message.receive_v1", lambda event: ran_in.append(threading.get_ident()))
    assert dispatcher.handle(event_request("im.message.receive_v1", "ev-att")).status == 200
    assert [(what, token) for what, token, _ in log] == [
        ("a started", "a:ev-att"),
        ("b started", "b:ev-att"),  # raises: logged once, skipped; its finish gets None
        ("c started", "c:ev-att"),
        ("c finished", "c:attempt"),
        ("b finished", "None"),
        ("a finished", "a:attempt"),
    ]
    assert plain.handlers == [("im.message.receive_v1", True, False)]
    assert {thread for _, _, thread in log} == set(ran_in)


_ATTEMPT: contextvars.ContextVar[str] = contextvars.ContextVar("attempt", default="none")


class SetsContext(Observer):
    """Sets a context variable around each attempt, as tracing makes its span current."""

    def __init__(self) -> None:
        self.resets: list[str] = []

    def handler_started(self, event: Event[Any], *, deferred: bool, token: object) -> object:
        return _ATTEMPT.set(f"attempt of {event.event_id}")

    def handler_finished(
        self,
        event: Event[Any],
        seconds: float,
        error: BaseException | None,
        *,
        deferred: bool,
        token: object,
    ) -> None:
        _ATTEMPT.reset(token)  # type: ignore[arg-type]  # raises if in another context
        self.resets.append(_ATTEMPT.get())


@pytest.mark.parametrize("deferred", [False, True])
@pytest.mark.parametrize("handler", ["sync", "async"])
@pytest.mark.parametrize("caller", ["sync", "async"])
def test_what_handler_started_sets_in_the_context_the_handler_sees(
    caller: str, handler: str, deferred: bool
) -> None:
    # In every executor (the caller's thread or task, a worker thread, the background loop, the
    # thread pool, an asyncio task) the handler sees the context variable set by handler_started,
    # and handler_finished resets it in the context where it was set.
    observer = SetsContext()
    dispatcher = Dispatcher(KEY, TOKEN, observers=[observer])
    seen: list[str] = []

    def sync_handler(event: Event[Any]) -> None:
        seen.append(_ATTEMPT.get())

    async def async_handler(event: Event[Any]) -> None:
        seen.append(_ATTEMPT.get())

    fn = async_handler if handler == "async" else sync_handler
    dispatcher.on("im.message.receive_v1", fn, deferred=deferred)
    request = event_request("im.message.receive_v1", "ev-ctx")

    def unset() -> None:  # in the caller's thread or task, once the attempt is over
        assert _ATTEMPT.get() == "none"

    assert handle_and_drain(dispatcher, request, caller, unset) == 200
    assert seen == ["attempt of ev-ctx"]
    assert observer.resets == ["none"]
    assert _ATTEMPT.get() == "none"


def test_every_hook_is_listed_on_the_observability_page() -> None:
    from pathlib import Path

    page = (Path(__file__).parents[2] / "docs" / "observability.md").read_text(encoding="utf-8")
    hooks = [name for name in vars(Observer) if not name.startswith("_")]
    assert "handler_started" in hooks
    assert [name for name in hooks if f"- `{name}(" not in page] == []
