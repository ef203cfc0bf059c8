"""Registered handlers, the registry that holds them, and one prepared call of a handler."""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Callable, Mapping
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar, overload

import msgspec

from . import _invoke
from . import blocking as _blocking
from ._log import logger, safe
from .blocking import watch
from .context import HandlerContext
from .errors import ConfigurationError
from .events import LEGACY_CARD_TYPE, MODELS
from .events._model import is_model
from .events.base import Event
from .observe import timed_call

if TYPE_CHECKING:
    # Imported on first registration: importing the package stays cheap.
    from .middleware import Middleware
    from .observe import Observer
    from .routing import Endpoint, Matcher, Router

__all__ = [
    "PLATFORM_DEADLINE",
    "Handler",
    "HandlerCall",
    "HandlerRegistry",
    "Registrar",
    "ainvoke",
    "invoke",
]

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=Callable[[Any, Callable[[], Any]], Any])

#: The platform counts a push as failed when it is not answered within this many seconds.
PLATFORM_DEADLINE = 3.0


# A frozen Struct, not a dataclass (cheaper to import); a changed copy is
# ``msgspec.structs.replace(handler, fn=...)``.
class Handler(msgspec.Struct, frozen=True):
    """A registered handler and how to call it."""

    event_type: str
    fn: Callable[[Any], Any]
    is_async: bool
    model: type[Any] | None
    callback: bool
    deferred: bool = False
    #: ``False``: a sync handler known not to block, called on the event loop (no thread hop).
    blocking: bool = True


class HandlerCall(msgspec.Struct, eq=False):
    """One handler call prepared by :meth:`Dispatcher.prepare`: the handler, its event, its key.

    ``owner`` is the token of the deduplication claim this call holds (``None``: no claim): an
    owner string, or the float ``MemoryDedupStore.hold()`` returned for a call that is not deferred.
    ``trace``, ``started``, ``outcome`` and ``queued`` are observer bookkeeping (:mod:`.observe`):
    the observer's token, the start time, an outcome decided before the answer (``duplicate``),
    and whether this process counted it as queued.
    """

    # A Struct (mutable, compared by identity: eq=False): one call per event, and its C-level
    # __init__ costs less than half of a Python one.
    handler: Handler
    event: Event[Any]
    dedup_key: str | None = None
    owner: str | float | None = None
    trace: object = None
    started: float = 0.0
    outcome: str | None = None
    queued: bool = False

    def __repr__(self) -> str:
        return (
            f"HandlerCall(handler={self.handler!r}, event={self.event!r}, "
            f"dedup_key={self.dedup_key!r}, owner={self.owner!r})"
        )

    @property
    def claimed(self) -> bool:
        """Whether this call holds a deduplication claim that must be settled."""
        return self.owner is not None


class HandlerRegistry:
    """The handler entry of each plain event type, routes, middleware and the catch-all.

    ``by_type`` holds the one :class:`Handler` the dispatcher calls per type (routes and
    middleware composed into it); ``callback_types`` grows when a custom type is registered with
    ``callback=True`` (kept in a set: registering is constant time, the frozen view is rebuilt
    once when it is next read).
    """

    __slots__ = (
        "_callback_frozen",
        "_callback_set",
        "_catch_all",
        "_catch_all_calls",
        "_entries",
        "bot_open_id",
        "by_type",
        "defer",
        "middlewares",
        "openapi",
    )

    def __init__(self, callback_types: frozenset[str], *, defer: bool, openapi: Any = None) -> None:
        self.by_type: dict[str, Handler] = {}
        self._callback_set = set(callback_types)
        self._callback_frozen: frozenset[str] | None = frozenset(callback_types)
        self.defer = defer
        self.openapi = openapi
        self.bot_open_id: str | None = None
        self.middlewares: list[Middleware] = []
        self._entries: dict[str, _Entry] = {}
        self._catch_all: Endpoint | None = None
        self._catch_all_calls: tuple[Callable[[Any], Any], bool] | None = None

    @property
    def callback_types(self) -> frozenset[str]:
        """The v2 types answered with their handler's result."""
        frozen = self._callback_frozen
        if frozen is None:
            frozen = self._callback_frozen = frozenset(self._callback_set)
        return frozen

    def is_callback(self, event_type: str) -> bool:
        """Whether ``event_type`` is answered with its handler's result."""
        return event_type in self._callback_set or event_type == LEGACY_CARD_TYPE

    def register(
        self,
        event_type: str,
        fn: Callable[..., Any],
        *,
        model: type[Any] | None = None,
        callback: bool | None = None,
        deferred: bool | None = None,
        blocking: bool = True,
    ) -> Handler:
        """Validate and add a handler; a second handler for one type is an error."""
        from .routing import Endpoint, Router

        _check_type(event_type)
        endpoint = _endpoint(fn)
        entry = self._entries.get(event_type)
        if entry is not None and (isinstance(entry.target, Endpoint) or entry.fallback_set):
            raise ConfigurationError(
                f"a handler for {event_type!r} is already registered: {entry.where}"
            )
        if model is None and not callback and entry is None:
            _refuse_near_miss(event_type, self._callback_set)
        is_callback = bool(callback) or self.is_callback(event_type)
        if is_callback and deferred:
            raise ConfigurationError(
                f"{event_type!r} is a callback: its answer is the handler's result, so it cannot "
                "be deferred (callback_deadline answers slow callbacks with a fallback instead)"
            )
        if callback and event_type not in self._callback_set:
            self._callback_set.add(event_type)
            self._callback_frozen = None
        chosen = model or _annotated_model(fn) or MODELS.get(event_type)
        defer = not is_callback and (self.defer if deferred is None else deferred)
        if entry is not None:  # routes came first: this handler is their fallback
            assert isinstance(entry.target, Router)
            entry.target.fallback = endpoint
            entry.fallback_set = True
            entry.model, entry.deferred, entry.where = chosen, defer, endpoint.where
        else:
            entry = _Entry(endpoint, chosen, is_callback, defer, endpoint.where)
            entry.blocking = blocking
            self._entries[event_type] = entry
        return self._build(event_type)

    def add_route(self, event_type: str, matcher: Matcher, fn: Callable[..., Any]) -> Handler:
        """Add a route of ``event_type`` (a built-in type: message or card action)."""
        from .routing import Endpoint, Router

        endpoint = _endpoint(fn)
        entry = self._entries.get(event_type)
        if entry is None:
            router = Router()
            entry = _Entry(
                router,
                MODELS.get(event_type),
                self.is_callback(event_type),
                not self.is_callback(event_type) and self.defer,
                endpoint.where,
            )
        elif isinstance(entry.target, Endpoint):
            router = Router(fallback=entry.target)
            entry.target, entry.fallback_set = router, True
        else:
            router = entry.target
        entry.blocking = True  # routes cannot promise not to block: the type's calls hop again
        router.add(matcher, endpoint)
        self._entries[event_type] = entry
        return self._build(event_type)

    def use(self, fn: Callable[[Any, Callable[[], Any]], Any]) -> None:
        """Add a middleware around every handler (registered before or after it)."""
        if not callable(fn):
            raise ConfigurationError("a middleware must be callable: fn(event, call_next)")
        from .middleware import Middleware

        self.middlewares.append(Middleware(fn, _invoke.is_async_callable(fn)))
        for event_type in self._entries:
            self._build(event_type)
        self._catch_all_calls = None

    def set_catch_all(self, fn: Callable[..., Any]) -> None:
        """The handler of every type that has none of its own."""
        if self._catch_all is not None:
            raise ConfigurationError(f"a catch-all is already registered: {self._catch_all.where}")
        self._catch_all = _endpoint(fn)
        self._catch_all_calls = None

    def catch_all_for(self, event_type: str, is_callback: bool) -> Handler | None:
        """The catch-all's handler for an event of ``event_type`` (``None``: no catch-all)."""
        if self._catch_all is None:
            return None
        calls = self._catch_all_calls
        if calls is None:
            calls = self._catch_all_calls = self._compose(self._catch_all)
        return Handler(
            event_type=event_type,
            fn=calls[0],
            is_async=calls[1],
            model=MODELS.get(event_type),
            callback=is_callback,
            deferred=not is_callback and self.defer,
        )

    def _compose(self, target: Endpoint | Router) -> tuple[Callable[[Any], Any], bool]:
        from .middleware import compose

        return compose(target, self.middlewares, self._context, self._bot)

    def _context(self, event: Event[Any]) -> HandlerContext:
        return HandlerContext(event, self.openapi)

    def _bot(self) -> str | None:
        return self.bot_open_id

    def _build(self, event_type: str) -> Handler:
        entry = self._entries[event_type]
        fn, is_async = self._compose(entry.target)
        handler = Handler(
            event_type=event_type,
            fn=fn,
            is_async=is_async,
            model=entry.model,
            callback=entry.callback,
            deferred=entry.deferred,
            blocking=entry.blocking,
        )
        self.by_type[event_type] = handler
        return handler


class _Entry:
    # A plain class: a dataclass brings nothing here and costs about 0.5 ms to build at import.
    __slots__ = ("blocking", "callback", "deferred", "fallback_set", "model", "target", "where")

    def __init__(
        self,
        target: Endpoint | Router,
        model: type[Any] | None,
        callback: bool,
        deferred: bool,
        where: str,
        fallback_set: bool = False,
    ) -> None:
        self.target = target
        self.model = model
        self.callback = callback
        self.deferred = deferred
        self.where = where
        self.fallback_set = fallback_set
        self.blocking = True


def _check_type(event_type: Any) -> None:
    if callable(event_type) and not isinstance(event_type, str):
        raise TypeError(
            'the event type is missing: write @dispatcher.on("im.message.receive_v1") '
            "(with parentheses and the type), not @dispatcher.on"
        )
    if not isinstance(event_type, str) or not event_type:
        raise ConfigurationError("event_type must be a non-empty string")


def _where(fn: Callable[..., Any]) -> str:
    """``module.qualname (file:line)`` of a handler, for error messages."""
    target = getattr(fn, "func", fn)  # functools.partial
    code = getattr(target, "__code__", None)
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    module = getattr(target, "__module__", None)
    label = f"{module}.{name}" if module else name
    if code is None:
        return label
    return f"{label} ({code.co_filename}:{code.co_firstlineno})"


def _endpoint(fn: Callable[..., Any]) -> Endpoint:
    if isinstance(fn, str) or not callable(fn):
        raise ConfigurationError("a handler must be callable")
    from .routing import Endpoint

    return Endpoint(fn, _takes_context(fn), _invoke.is_async_callable(fn), _where(fn))


def _takes_context(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` takes a second positional parameter (the :class:`HandlerContext`).

    The second parameter counts when it has no default, or is named ``ctx`` or ``context``
    (so ``def handler(event, retries=3)`` keeps being called with the event alone).
    """
    func: Any = fn
    skip = 0
    if isinstance(func, types.MethodType):
        func, skip = func.__func__, 1
    if isinstance(func, types.FunctionType):  # the common case, without inspect.signature
        code = func.__code__
        names = code.co_varnames[skip : code.co_argcount]
        if code.co_flags & _CO_VARARGS or len(names) < 2:
            return False
        required = code.co_argcount - skip - len(func.__defaults__ or ())
        return required >= 2 or names[1] in ("ctx", "context")
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2:
        return False
    second = positional[1]
    return second.default is second.empty or second.name in ("ctx", "context")


_CO_VARARGS = 0x04  # inspect.CO_VARARGS, without importing inspect on this path


def _annotated_model(fn: Callable[..., Any]) -> type[Any] | None:
    """``X`` when the handler's first parameter is annotated ``Event[X]``, X a model class."""
    annotations = getattr(getattr(fn, "func", fn), "__annotations__", None)
    if not annotations:
        return None
    import inspect
    import typing

    try:
        hints = typing.get_type_hints(fn)
        first = next(iter(inspect.signature(fn).parameters))
    except Exception:  # an annotation that does not resolve: the type decides
        return None
    hint = hints.get(first)
    if typing.get_origin(hint) is not Event:
        return None
    (arg,) = typing.get_args(hint)
    return arg if is_model(arg) else None


_BY_SERVICE: dict[str, list[str]] = {}


def _refuse_near_miss(event_type: str, callback_types: set[str]) -> None:
    """Raise for an unknown type close to a known one (a typo, a lark-oapi ``p2.`` name)."""
    if event_type in MODELS or event_type in callback_types:
        return
    suggestion = _suggest(event_type)
    if suggestion is not None:
        raise ConfigurationError(
            f"unknown event type {event_type!r}: did you mean {suggestion!r}? "
            "(pass model= or callback=True to register a custom type of that name)"
        )


def _suggest(event_type: str) -> str | None:
    import difflib

    for prefix in ("p2.", "p1."):
        rest = event_type.removeprefix(prefix)
        if rest != event_type and rest in MODELS:
            return rest
    if not _BY_SERVICE:
        for known in MODELS:
            _BY_SERVICE.setdefault(known.split(".")[0], []).append(known)
    service = event_type.split(".")[0]
    if service not in _BY_SERVICE:
        close = difflib.get_close_matches(service, list(_BY_SERVICE), n=1, cutoff=0.8)
        if not close:
            return None
        service = close[0]
    found = difflib.get_close_matches(event_type, _BY_SERVICE[service], n=1, cutoff=0.85)
    return found[0] if found else None


class Registrar:
    """The registration API of :class:`~lark_events_core.Dispatcher`, over its registry."""

    _registry: HandlerRegistry

    @property
    def callback_types(self) -> frozenset[str]:
        """The v2 types answered with their handler's result (built-in plus custom ones)."""
        return self._registry.callback_types

    @property
    def defer(self) -> bool:
        """Whether event handlers run after the response unless registered otherwise."""
        return self._registry.defer

    @property
    def openapi(self) -> Any:
        """The Open API client handlers' contexts use (``ctx.reply``), or ``None``."""
        return self._registry.openapi

    @openapi.setter
    def openapi(self, client: Any) -> None:
        self._registry.openapi = client

    @property
    def bot_open_id(self) -> str | None:
        """The bot's ``open_id``, which tells its @-mention from others (``None``: guess)."""
        return self._registry.bot_open_id

    @bot_open_id.setter
    def bot_open_id(self, value: str | None) -> None:
        self._registry.bot_open_id = value

    # -- registration -----------------------------------------------------------------------

    @overload
    def on(
        self,
        event_type: str,
        fn: F,
        *,
        model: type[Any] | None = ...,
        callback: bool | None = ...,
        deferred: bool | None = ...,
        blocking: bool = ...,
    ) -> F: ...

    @overload
    def on(
        self,
        event_type: str,
        fn: None = ...,
        *,
        model: type[Any] | None = ...,
        callback: bool | None = ...,
        deferred: bool | None = ...,
        blocking: bool = ...,
    ) -> Callable[[F], F]: ...

    def on(
        self,
        event_type: str,
        fn: F | None = None,
        *,
        model: type[Any] | None = None,
        callback: bool | None = None,
        deferred: bool | None = None,
        blocking: bool = True,
    ) -> F | Callable[[F], F]:
        """Register ``fn`` for the plain ``event_type``; usable as ``@dispatcher.on("type")``.

        ``model`` overrides the typed body (a msgspec Struct or a dataclass) for custom or newer
        types (so does an ``Event[X]`` annotation of the handler's parameter); ``callback`` marks
        a custom type as a callback (answered with the handler's result); ``deferred`` runs the
        handler after the 200 answer (default: the dispatcher's ``defer``). ``blocking=False``
        promises that a sync handler never blocks (no I/O, no sleep, no lock held for long):
        under asyncio it is then called on the event loop, without the hop to a worker thread
        (docs/dispatcher.md). A handler taking two parameters gets a
        :class:`~lark_events_core.HandlerContext` as the second.
        """
        _check_type(event_type)

        def register(func: F) -> F:
            self.register(
                event_type,
                func,
                model=model,
                callback=callback,
                deferred=deferred,
                blocking=blocking,
            )
            return func

        return register if fn is None else register(fn)

    def register(
        self,
        event_type: str,
        fn: Callable[..., Any],
        *,
        model: type[Any] | None = None,
        callback: bool | None = None,
        deferred: bool | None = None,
        blocking: bool = True,
    ) -> Handler:
        """Register ``fn`` for ``event_type``; a second handler for one type is an error."""
        return self._registry.register(
            event_type, fn, model=model, callback=callback, deferred=deferred, blocking=blocking
        )

    def on_legacy_card(self, fn: F) -> F:
        """Register the handler of legacy message-card callbacks (the card request URL)."""
        self.register(LEGACY_CARD_TYPE, fn)
        return fn

    def message(
        self,
        text: str | re.Pattern[str] | None = None,
        *,
        prefix: str | None = None,
        regex: str | re.Pattern[str] | None = None,
        chat_type: str | None = None,
        mentioned: bool | None = None,
        message_type: str | None = None,
    ) -> Callable[[F], F]:
        """Route ``im.message.receive_v1`` messages (docs/routing.md) to the decorated handler.

        ``text`` is the whole text (a compiled pattern: a ``regex``), ``prefix`` its start,
        ``regex`` searched in it (the match is ``ctx.match``); the bot's @-mention is removed
        first (``ctx.text``). ``chat_type`` is ``"p2p"`` or ``"group"``, ``mentioned`` whether
        the bot was @-mentioned, ``message_type`` ``"text"``, ``"image"``, ...
        """
        from .routing import MessageMatcher

        _check_route_argument(text)
        if isinstance(text, re.Pattern):
            if regex is not None:
                raise ConfigurationError("pass the pattern as text or as regex, not both")
            text, regex = None, text
        matcher = MessageMatcher(
            text=text,
            prefix=prefix,
            regex=re.compile(regex) if isinstance(regex, str) else regex,
            chat_type=chat_type,
            mentioned=mentioned,
            message_type=message_type,
        )

        def register(func: F) -> F:
            self._registry.add_route("im.message.receive_v1", matcher, func)
            return func

        return register

    def action(
        self,
        value: Mapping[str, Any] | None = None,
        *,
        tag: str | None = None,
        name: str | None = None,
        legacy: bool = True,
    ) -> Callable[[F], F]:
        """Route card actions (``card.action.trigger``, and legacy cards unless ``legacy=False``).

        ``value``: key/value pairs the action's ``value`` must contain; ``tag``: the component
        (``"button"``, ``"select_static"``, ...); ``name``: the component's name. The handler's
        result is the callback's answer (a toast, a new card).
        """
        from .routing import ActionMatcher

        _check_route_argument(value)
        if value is not None and not isinstance(value, Mapping):
            raise ConfigurationError("value must be a dict of the key/value pairs to match")
        matcher = ActionMatcher(value=dict(value) if value else None, tag=tag, name=name)

        def register(func: F) -> F:
            self._registry.add_route("card.action.trigger", matcher, func)
            if legacy:
                self._registry.add_route(LEGACY_CARD_TYPE, matcher, func)
            return func

        return register

    def catch_all(self, fn: F) -> F:
        """Register the handler of every type without one of its own (events and callbacks)."""
        _check_route_argument(fn, decorator="catch_all")
        self._registry.set_catch_all(fn)
        return fn

    def use(self, middleware: M) -> M:
        """Add a middleware ``fn(event, call_next)`` around every handler call."""
        self._registry.use(middleware)
        return middleware

    def handler_for(self, event_type: str) -> Handler | None:
        """The handler registered for ``event_type``, if any."""
        return self._registry.by_type.get(event_type)

    @property
    def event_types(self) -> frozenset[str]:
        """The types that have a handler."""
        return frozenset(self._registry.by_type)


def _check_route_argument(arg: Any, *, decorator: str = "") -> None:
    if decorator:
        if not callable(arg):
            raise TypeError(f"@dispatcher.{decorator} decorates a handler function")
    elif callable(arg) and not isinstance(arg, (str, re.Pattern, Mapping)):
        raise TypeError(
            "the route's conditions are missing: write @dispatcher.message(...) or "
            "@dispatcher.action(...) with parentheses"
        )


def invoke(call: HandlerCall, slow_after: float | None, observer: Observer | None = None) -> Any:
    """Call the handler from a thread; warn when it takes longer than ``slow_after`` seconds.

    With an ``observer``, the call is reported to it as one inline attempt (:func:`.timed_call`).
    """
    if observer is not None:
        return timed_call(observer, call, False, invoke, call, slow_after)
    handler = call.handler
    fn = handler.fn
    if handler.is_async:  # on the background event loop; a sync handler is called right here
        fn = functools.partial(_invoke.call_sync, fn, True)
    if slow_after is None:
        return fn(call.event)
    start = monotonic()
    try:
        return fn(call.event)
    finally:
        elapsed = monotonic() - start
        if elapsed > slow_after:
            _warn_slow(call, elapsed)


async def ainvoke(call: HandlerCall, slow_after: float | None, pool: Any = None) -> Any:
    """Call the handler from a coroutine (a sync one in a thread of ``pool``, default: the loop's
    executor); warn when it is slow. A sync handler is timed in its thread, so the time it waited
    for a free thread does not count against it."""
    handler = call.handler
    if not handler.is_async:
        if not handler.blocking:  # promised not to block: no hop, but named if it does
            return _on_loop(call, slow_after)
        return await _invoke.call_async(lambda _: invoke(call, slow_after), False, None, pool)
    if slow_after is None:
        return await watch(handler.fn(call.event), handler.fn)
    start = monotonic()
    try:
        return await watch(handler.fn(call.event), handler.fn)
    finally:
        elapsed = monotonic() - start
        if elapsed > slow_after:
            _warn_slow(call, elapsed)


def _on_loop(call: HandlerCall, slow_after: float | None) -> Any:
    """Call a sync ``blocking=False`` handler on the running loop; warn (once per handler) when
    it held the loop longer than :data:`~lark_events_core.blocking.BLOCKING_WARNING`."""
    start = monotonic()
    try:
        return invoke(call, slow_after)
    finally:
        elapsed = monotonic() - start
        limit = _blocking.BLOCKING_WARNING
        if limit is not None and elapsed > limit:
            _blocking.held_loop(call.handler.event_type, elapsed)


def _warn_slow(call: HandlerCall, elapsed: float) -> None:
    logger.warning(
        "handler for %s took %.1fs, over the platform's %.0fs deadline: the platform "
        "counts the push as failed and sends it again; consider deferred=True "
        "(event_id=%s, request_id=%s)",
        safe(call.event.type),
        elapsed,
        PLATFORM_DEADLINE,
        safe(call.event.event_id),
        safe(call.event.request_id),
    )
