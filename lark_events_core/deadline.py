"""The callback deadline guard: answer a slow callback with a fallback and let it finish.

A callback's response body is its handler's result, so it cannot be deferred. When the handler has
not finished within ``deadline`` seconds, the guard answers with the configured fallback (for
example a toast) and the handler goes on in the background; its claim is settled when it ends.
Sync callers run the handler on a small thread pool, asyncio callers as a task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._log import logger, safe
from .claims import Claims
from .handlers import HandlerCall
from .http import Response

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future

    from .background import Executors

__all__ = ["CallbackGuard"]

Finish = Callable[[HandlerCall, Any, "BaseException | None"], Response]


class CallbackGuard:
    """Runs callback handlers under a deadline; ``fallback`` answers the ones that miss it."""

    __slots__ = ("_ainvoke", "_executors", "_finish", "_invoke", "claims", "deadline", "fallback")

    def __init__(
        self,
        deadline: float,
        fallback: Response,
        *,
        executors: Executors,
        claims: Claims,
        invoke: Callable[[HandlerCall], Any],
        ainvoke: Callable[[HandlerCall], Awaitable[Any]],
        finish: Finish,
    ) -> None:
        self.deadline = deadline
        self.fallback = fallback
        self.claims = claims
        self._executors = executors
        self._invoke = invoke
        self._ainvoke = ainvoke
        self._finish = finish

    def run(self, call: HandlerCall) -> Response:
        """Call the handler on the callback pool and wait up to the deadline (sync callers)."""
        future = self._executors.callbacks().submit_call(lambda: self._invoke(call), timeout=0)
        if future is None:  # every callback worker busy: run here, unguarded, rather than drop
            logger.warning(
                "callback workers busy; %s handled without a deadline guard (event_id=%s)",
                safe(call.event.type),
                safe(call.event.event_id),
            )
            try:
                result = self._invoke(call)
            except Exception as exc:
                return self._answer(call, None, exc)
            return self._answer(call, result, None)
        try:
            result = future.result(timeout=self.deadline)
        except Exception as exc:
            if future.done():
                return self._answer(call, None, exc)
            future.add_done_callback(lambda f: self._late(call, f))
            return self._missed(call)
        return self._answer(call, result, None)

    async def run_async(self, call: HandlerCall) -> Response:
        """Run the handler as a task and wait up to the deadline (asyncio callers)."""
        import asyncio

        task = asyncio.ensure_future(self._ainvoke(call))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.deadline)
        except asyncio.CancelledError:  # the client went away: let the handler finish anyway
            self._executors.tasks().track(asyncio.ensure_future(self._alate(call, task)))
            raise
        if task not in done:
            self._executors.tasks().track(asyncio.ensure_future(self._alate(call, task)))
            return self._missed(call)
        try:
            result = task.result()
        except Exception as exc:
            await self.claims.asettle(call, ok=False)
            return self._finish(call, None, exc)
        await self.claims.asettle(call, ok=True)
        return self._finish(call, result, None)

    def _answer(self, call: HandlerCall, result: Any, error: BaseException | None) -> Response:
        self.claims.settle(call, ok=error is None)
        return self._finish(call, result, error)

    def _missed(self, call: HandlerCall) -> Response:
        logger.warning(
            "callback %s not answered within %.1fs; answered with the fallback, the handler "
            "goes on in the background (event_id=%s, request_id=%s)",
            safe(call.event.type),
            self.deadline,
            safe(call.event.event_id),
            safe(call.event.request_id),
        )
        return self.fallback

    def _late(self, call: HandlerCall, future: Future[Any]) -> None:
        error = future.exception()
        if error is not None:
            _log_late_failure(call, error)
        self.claims.settle(call, ok=error is None)

    async def _alate(self, call: HandlerCall, task: asyncio.Future[Any]) -> None:
        try:
            await task
        except Exception as exc:
            _log_late_failure(call, exc)
            await self.claims.asettle(call, ok=False)
            return
        await self.claims.asettle(call, ok=True)


def _log_late_failure(call: HandlerCall, error: BaseException) -> None:
    logger.error(
        "callback handler for %s failed after the fallback answer (event_id=%s)",
        safe(call.event.type),
        safe(call.event.event_id),
        exc_info=error,
    )
