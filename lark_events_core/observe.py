"""One small hook interface through which the core reports what it does (metrics, traces).

The dispatcher, the background runner and the long-connection client call an :class:`Observer`
at each step of a request's path. Backends subclass it and override what they need:
:class:`lark_events_core.metrics.PrometheusObserver` (``metrics`` extra),
:class:`lark_events_core.tracing.TracingObserver` (``otel`` extra), or your own for StatsD or
Datadog. With no observer configured the dispatcher makes no call at all.

Values passed are ids, event types and fixed outcome words, never bodies, keys or tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .events.base import Event

__all__ = ["OUTCOMES", "Observer", "Observers", "members", "reason_slug", "timed"]

#: Every ``outcome`` an :meth:`Observer.answered` call can carry.
OUTCOMES = (
    "accepted",  # the handler ran (or was queued) and the platform got its answer
    "rejected",  # authentication, decryption, size or method check failed (see ``reason``)
    "duplicate",  # the event was handled before
    "unhandled",  # no handler for the event type: acknowledged
    "url_verification",
    "handler_error",  # the handler raised: 500
    "busy",  # the executor refused a deferred job: 503
    "store_unavailable",  # the dedup store failed with on_store_error="retry": 503
)


def reason_slug(public_message: str) -> str:
    """A label-safe word for a rejection's fixed public message (``signature mismatch`` → ...)."""
    out = []
    for ch in public_message.lower()[:48]:
        out.append(ch if ch.isascii() and ch.isalnum() else "_")
    return "".join(out).strip("_") or "bad_request"


class Observer:
    """Receives the core's reports. Every method is a no-op; override the ones you need.

    Methods are called on the request's thread or event loop and must be fast and must not raise
    (an exception is logged and swallowed by :class:`Observers`).
    """

    def request_rejected(self, reason: str, status: int) -> None:
        """A request failed a check before any handler was chosen (``reason`` is a slug)."""

    def event_received(self, event: Event[Any]) -> object:
        """An authenticated event is about to be handled; the return value is handed back.

        Whatever this returns (a span, a start time) comes back as ``token`` in
        :meth:`answered`, :meth:`handler_finished` and the background calls.
        """
        return None

    def handler_finished(
        self,
        event: Event[Any],
        seconds: float,
        error: BaseException | None,
        *,
        deferred: bool,
        token: object,
    ) -> None:
        """One handler attempt ended after ``seconds`` (``error`` is what it raised, if any)."""

    def answered(self, event_type: str | None, outcome: str, status: int, seconds: float) -> None:
        """A response was produced; ``seconds`` since the event was authenticated (or 0)."""

    def event_finished(self, event: Event[Any], outcome: str, token: object) -> None:
        """The dispatcher is done with ``event`` (answered inline, or its background work ended)."""

    def background_changed(self, queued: int, running: int) -> None:
        """Deferred jobs: ``queued`` / ``running`` changed by these amounts (+1, -1, 0)."""

    def store_error(self, action: str) -> None:
        """The deduplication store failed during ``action`` (``claim``, ``complete``, ...)."""

    def connection_changed(self, connected: bool) -> None:
        """The long connection went up (``True``) or down (``False``)."""

    def frame_received(self) -> None:
        """The long connection received a data frame."""

    def ack_sent(self, code: int) -> None:
        """The long connection acknowledged a frame with ``code`` (200, 500)."""

    def carrier(self, token: object) -> dict[str, str]:
        """What to send along with an event handed to another process (a Celery task).

        ``token`` is what :meth:`event_received` returned for the event. The strings returned
        travel in the task message's headers, and the worker hands them to :meth:`resume`
        (tracing puts the W3C ``traceparent`` here). Default: nothing.
        """
        return {}

    def resume(self, carrier: Mapping[str, str]) -> AbstractContextManager[object]:
        """In the worker, around the queued event's handling: restore what :meth:`carrier` sent.

        Tracing makes the sender's event span the parent of the worker's spans. Default: nothing.
        """
        return nullcontext()


class Observers(Observer):
    """Several observers as one; a failing observer is logged once per method and skipped."""

    def __init__(self, observers: Iterable[Observer]) -> None:
        self.members: tuple[Observer, ...] = tuple(observers)
        for member in self.members:
            if not isinstance(member, Observer):
                raise TypeError(f"{type(member).__name__} is not an Observer subclass")

    def _each(self, name: str, *args: Any, **kwargs: Any) -> None:
        for member in self.members:
            try:
                getattr(member, name)(*args, **kwargs)
            except Exception:
                _log_failure(member, name)

    def request_rejected(self, reason: str, status: int) -> None:
        self._each("request_rejected", reason, status)

    def event_received(self, event: Event[Any]) -> object:
        tokens = []
        for member in self.members:
            try:
                tokens.append(member.event_received(event))
            except Exception:
                _log_failure(member, "event_received")
                tokens.append(None)
        return tuple(tokens)

    def handler_finished(
        self,
        event: Event[Any],
        seconds: float,
        error: BaseException | None,
        *,
        deferred: bool,
        token: object,
    ) -> None:
        for member, sub in zip(self.members, _tokens(token, len(self.members)), strict=True):
            try:
                member.handler_finished(event, seconds, error, deferred=deferred, token=sub)
            except Exception:
                _log_failure(member, "handler_finished")

    def answered(self, event_type: str | None, outcome: str, status: int, seconds: float) -> None:
        self._each("answered", event_type, outcome, status, seconds)

    def event_finished(self, event: Event[Any], outcome: str, token: object) -> None:
        for member, sub in zip(self.members, _tokens(token, len(self.members)), strict=True):
            try:
                member.event_finished(event, outcome, sub)
            except Exception:
                _log_failure(member, "event_finished")

    def background_changed(self, queued: int, running: int) -> None:
        self._each("background_changed", queued, running)

    def store_error(self, action: str) -> None:
        self._each("store_error", action)

    def connection_changed(self, connected: bool) -> None:
        self._each("connection_changed", connected)

    def frame_received(self) -> None:
        self._each("frame_received")

    def ack_sent(self, code: int) -> None:
        self._each("ack_sent", code)

    def carrier(self, token: object) -> dict[str, str]:
        out: dict[str, str] = {}
        for member, sub in zip(self.members, _tokens(token, len(self.members)), strict=True):
            try:
                out.update(member.carrier(sub))
            except Exception:
                _log_failure(member, "carrier")
        return out

    def resume(self, carrier: Mapping[str, str]) -> AbstractContextManager[object]:
        return _resume_each(self.members, carrier)


class timed:
    """Report the attempt run inside the block to ``observer.handler_finished``, raised or not.

    A class, not a ``@contextmanager`` generator: it runs on every observed handler call, and a
    generator-based manager costs about a microsecond more.
    """

    __slots__ = ("deferred", "event", "observer", "start", "token")

    def __init__(
        self, observer: Observer, event: Event[Any], *, deferred: bool, token: object
    ) -> None:
        self.observer = observer
        self.event = event
        self.deferred = deferred
        self.token = token
        self.start = 0.0

    def __enter__(self) -> None:
        self.start = perf_counter()

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.observer.handler_finished(
            self.event, perf_counter() - self.start, exc, deferred=self.deferred, token=self.token
        )


@contextmanager
def _resume_each(members: tuple[Observer, ...], carrier: Mapping[str, str]) -> Iterator[None]:
    with ExitStack() as stack:
        for member in members:
            try:
                stack.enter_context(member.resume(carrier))
            except Exception:
                _log_failure(member, "resume")
        yield


def _tokens(token: object, count: int) -> tuple[object, ...]:
    if isinstance(token, tuple) and len(token) == count:
        return token
    return (None,) * count


_failed: set[tuple[int, str]] = set()


def _log_failure(member: Observer, method: str) -> None:
    from ._log import logger

    key = (id(member), method)
    if key in _failed:
        return
    _failed.add(key)
    logger.exception(
        "observer %s failed in %s; later failures are not logged", type(member).__name__, method
    )


def members(observer: Observer | None) -> tuple[Observer, ...]:
    """What ``observer`` stands for: itself, the members of an :class:`Observers`, or nothing."""
    if observer is None:
        return ()
    return observer.members if isinstance(observer, Observers) else (observer,)


def combine(observers: Observer | Iterable[Observer] | None) -> Observer | None:
    """One observer (or ``None``) from what a user passed as ``observers=``."""
    if observers is None:
        return None
    if isinstance(observers, Observer):
        return observers
    members = tuple(observers)
    if not members:
        return None
    return (
        members[0] if len(members) == 1 and isinstance(members[0], Observer) else Observers(members)
    )
