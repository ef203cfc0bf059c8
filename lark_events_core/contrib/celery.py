"""Run deferred handlers on Celery workers (the ``celery`` extra).

The web process claims the event, enqueues it and answers 200; a Celery worker runs the handler.
The task is declared with ``acks_late=True`` and ``reject_on_worker_lost=True``: the broker
keeps the message until the handler has finished, so a worker killed mid-task does not lose the
event — another worker runs it again. A failing handler is retried with Celery's ``retry``
(exponential back-off); after the last attempt the failure is logged with the event id, the
deduplication claim is released and the task fails (visible in Celery's monitoring).

Usage — the module that builds the dispatcher is also the one the worker imports::

    # myproject/lark.py
    from celery import Celery
    from lark_events_core import Dispatcher
    from lark_events_core.contrib.celery import CeleryExecutor
    from lark_events_core.redis_store import RedisDedupStore

    celery_app = Celery("myproject", broker="amqp://...")
    dispatcher = Dispatcher.from_env(
        defer=True,
        dedup=RedisDedupStore("redis://..."),  # shared by the web processes and the workers
        executor=CeleryExecutor(celery_app),
    )

    @dispatcher.on("im.message.receive_v1")
    def on_message(event): ...

    # celery -A myproject.lark:celery_app worker

The queued message holds the event body encrypted with the dispatcher's Encrypt Key when one is
configured (base64 plaintext otherwise), its request id and the claim's owner token. With
observers, the message headers carry what they send along (``lark_events_carrier``: the W3C trace
context with :class:`~lark_events_core.tracing.TracingObserver`), restored in the worker around
the handler, so the worker's spans are children of the web process's event span.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import logging
from typing import Any

from .. import _extras

try:
    from celery import Celery, Task
except ImportError as exc:
    _extras.missing_extra(exc, "celery", __name__)

from .._log import safe
from ..dedup import MemoryDedupStore
from ..dispatcher import Dispatcher, HandlerCall
from ..errors import BadRequest
from ..executors import DeferredJob
from ..observe import Observer

__all__ = ["CARRIER_HEADER", "DEFAULT_TASK_NAME", "CeleryExecutor"]

logger = logging.getLogger("lark_events")

DEFAULT_TASK_NAME = "lark_events.handle_event"
#: The message header holding the observers' carrier (the W3C trace context, with tracing).
CARRIER_HEADER = "lark_events_carrier"
_FORMAT = 1


class CeleryExecutor:
    """An executor that enqueues each deferred event as a Celery task.

    ``dispatcher`` is the dispatcher whose handlers the worker runs: the object itself (it is set
    for you when the executor is passed to ``Dispatcher(executor=...)``) or an import path
    ``"package.module:attribute"`` resolved on first use in the worker.
    """

    #: The job runs in a worker process, not this one: observers count it as done once enqueued.
    in_process = False

    def __init__(
        self,
        app: Celery,
        dispatcher: Dispatcher | str | None = None,
        *,
        name: str = DEFAULT_TASK_NAME,
        queue: str | None = None,
        max_retries: int = 3,
        retry_backoff: float = 2.0,
        retry_backoff_max: float = 600.0,
    ) -> None:
        if max_retries < 0 or retry_backoff < 0:
            raise ValueError("max_retries and retry_backoff must be >= 0")
        self.app = app
        self.name = name
        self.queue = queue
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        self._dispatcher: Dispatcher | str | None = dispatcher
        self.task: Task[Any, Any] = self._register()

    def bind(self, dispatcher: Dispatcher) -> None:
        """Called by ``Dispatcher(executor=...)``: run that dispatcher's handlers."""
        if self._dispatcher is None:
            self._dispatcher = dispatcher
        if isinstance(dispatcher.dedup, MemoryDedupStore):
            logger.warning(
                "CeleryExecutor with the in-memory deduplication store: claims taken by the web "
                "process are invisible to the workers; use RedisDedupStore"
            )

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher, imported from its path on first use."""
        target = self._dispatcher
        if target is None:
            raise RuntimeError("CeleryExecutor has no dispatcher: pass it, or its import path")
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            if not isinstance(target, Dispatcher):
                raise TypeError(f"{self._dispatcher!r} is not a Dispatcher")
            self._dispatcher = target
        return target

    # -- the web side ----------------------------------------------------------------------------

    def submit(self, job: DeferredJob) -> bool:
        """Publish the event; ``False`` (→ 503, the platform retries) when the broker refuses."""
        return self._publish(job, self._carrier(job))

    def _carrier(self, job: DeferredJob) -> dict[str, str]:
        """What the dispatcher's observers send along (the trace context), on the caller's side."""
        observer = self.dispatcher.observer
        return {} if observer is None else observer.carrier(job.call.trace)

    def _publish(self, job: DeferredJob, carrier: dict[str, str]) -> bool:
        options: dict[str, Any] = {} if self.queue is None else {"queue": self.queue}
        if carrier:
            options["headers"] = {CARRIER_HEADER: carrier}
        try:
            self.task.apply_async(
                args=(encode(self.dispatcher, job.call),),
                **options,
                retry=True,
                retry_policy={
                    "max_retries": 2,
                    "interval_start": 0.0,
                    "interval_step": 0.2,
                    "interval_max": 0.5,
                },
            )
        except Exception:
            logger.exception(
                "could not enqueue %s (event_id=%s)", safe(job.call.event.type), safe(job.event_id)
            )
            return False
        return True

    async def submit_async(self, job: DeferredJob) -> bool:
        """:meth:`submit` in a thread: publishing is blocking I/O."""
        carrier = self._carrier(job)  # here: the thread does not see this task's context
        return await asyncio.get_running_loop().run_in_executor(None, self._publish, job, carrier)

    def close(self, timeout: float | None = None) -> bool:
        """Nothing to drain here: the broker holds queued events until a worker acknowledges."""
        return True

    async def aclose(self, timeout: float | None = None) -> bool:
        """See :meth:`close`."""
        return True

    # -- the worker side -------------------------------------------------------------------------

    def _register(self) -> Task[Any, Any]:
        executor = self

        @self.app.task(
            name=self.name,
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            max_retries=self.max_retries,
            ignore_result=True,
        )
        def handle_event(task: Task[Any, Any], message: dict[str, Any]) -> None:
            executor.run(task, message)

        return handle_event

    def run(self, task: Task[Any, Any], message: dict[str, Any]) -> None:
        """One attempt in the worker; retried through Celery, settled after the last one.

        With observers, the attempt runs inside what the sender's observers put in the message
        headers (:meth:`~lark_events_core.observe.Observer.resume`: the trace context), and the
        worker's event is finished with ``done``, ``failed`` or ``retry``.
        """
        dispatcher = self.dispatcher
        observer = dispatcher.observer
        if observer is None:
            self._attempt(task, message, dispatcher, None)
            return
        with observer.resume(_carrier_of(task)):
            self._attempt(task, message, dispatcher, observer)

    def _attempt(
        self,
        task: Task[Any, Any],
        message: dict[str, Any],
        dispatcher: Dispatcher,
        observer: Observer | None,
    ) -> None:
        call = decode(dispatcher, message)
        if call is None:
            return
        retries = int(task.request.retries or 0)
        try:
            dispatcher.background.invoke(call)
        except Exception as exc:
            attempts = self.max_retries + 1
            if retries < self.max_retries:
                delay = min(self.retry_backoff * 2**retries, self.retry_backoff_max)
                dispatcher.background.log_retry(call, retries + 1, attempts, delay, exc)
                _finished(observer, call, "retry")
                raise task.retry(exc=exc, countdown=delay) from exc
            dispatcher.background.give_up(call, attempts, exc)
            dispatcher.settle(call, ok=False)
            _finished(observer, call, "failed")
            raise
        dispatcher.settle(call, ok=True)
        _finished(observer, call, "done")


def _finished(observer: Observer | None, call: HandlerCall, outcome: str) -> None:
    if observer is not None:
        observer.event_finished(call.event, outcome, call.trace)


def _carrier_of(task: Task[Any, Any]) -> dict[str, str]:
    """The observers' carrier from the running task's message headers (``{}``: none)."""
    found = getattr(task.request, CARRIER_HEADER, None)
    if not isinstance(found, dict):
        headers = getattr(task.request, "headers", None)  # where older Celery kept them
        found = headers.get(CARRIER_HEADER) if isinstance(headers, dict) else None
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


def encode(dispatcher: Dispatcher, call: HandlerCall) -> dict[str, Any]:
    """The task message for ``call``: the body encrypted when the dispatcher has a key."""
    event = call.event
    message: dict[str, Any] = {
        "v": _FORMAT,
        "type": event.type,
        "event_id": event.event_id,
        "request_id": event.request_id,
        "owner": call.owner,
    }
    ciphers = dispatcher.settings.ciphers
    if ciphers:
        message["encrypted"] = ciphers[0][1].encrypt(event.raw)
    else:
        message["raw"] = base64.b64encode(event.raw).decode("ascii")
    return message


def decode(dispatcher: Dispatcher, message: Any) -> HandlerCall | None:
    """The handler call a task message stands for, or ``None`` (logged) when it cannot be run."""
    if not isinstance(message, dict):
        logger.error("dropped a task message that is not an object")
        return None
    event_id = message.get("event_id")
    try:
        if message.get("v") != _FORMAT:
            raise BadRequest("unknown message format")
        raw = _plaintext(dispatcher, message)
    except (BadRequest, ValueError, TypeError):
        logger.error("dropped an unreadable task message (event_id=%s)", safe(event_id))
        return None
    step = dispatcher.prepare_plaintext(raw, request_id=message.get("request_id"))
    if not isinstance(step, HandlerCall):
        logger.error(
            "no handler for the queued %s in this worker's dispatcher (event_id=%s)",
            safe(message.get("type")),
            safe(event_id),
        )
        return None
    call = step
    owner = message.get("owner")
    call.owner = owner if isinstance(owner, str) and owner else None
    return call


def _plaintext(dispatcher: Dispatcher, message: dict[str, Any]) -> bytes:
    if "raw" in message:
        return base64.b64decode(message["raw"], validate=True)
    encrypted = message.get("encrypted")
    if not isinstance(encrypted, str):
        raise BadRequest("no body")
    for _, cipher in dispatcher.settings.ciphers:
        try:
            return cipher.decrypt(encrypted)
        except BadRequest:
            continue
    raise BadRequest("the worker's Encrypt Keys do not decrypt the queued event")
