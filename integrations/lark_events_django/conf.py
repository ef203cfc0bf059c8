"""``settings.LARK_EVENTS``, the handler registry and the default dispatcher built from both.

::

    LARK_EVENTS = {
        "ENCRYPT_KEY": os.environ.get("LARK_ENCRYPT_KEY"),         # one, a list (rotation) or None
        "VERIFICATION_TOKEN": os.environ.get("LARK_VERIFICATION_TOKEN"),
        "HANDLERS": ["myapp.lark_handlers"],   # modules imported before the first request
    }

Every other :class:`~lark_events_core.Dispatcher` option is a key too, upper-cased:
``MAX_BODY_BYTES``, ``TIMESTAMP_TOLERANCE``, ``DEDUP`` (a store, or the dotted path of one or of
its class), ``DEFER``, ``EXECUTOR`` (likewise), ``RETRIES``, ``CALLBACK_DEADLINE``,
``BACKGROUND_CONTEXT`` and ``ON_GIVE_UP`` (dotted paths of functions), ...; an unknown key is an
error (``manage.py check``: ``lark_events.E001``). ``"ASYNC"`` forces async (or sync) views.

Handlers registered with :func:`on` / :func:`on_legacy_card` go to the default dispatcher, built
once from these settings (and rebuilt when a test overrides ``LARK_EVENTS``). ``"DISPATCHER"``
instead names your own :class:`~lark_events_core.Dispatcher` (or a function returning one).
"""

from __future__ import annotations

import atexit
import difflib
import functools
import inspect
import logging
import threading
import warnings
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any, TypeVar

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from lark_events_core import ConfigurationError, Dispatcher
from lark_events_core.events import LEGACY_CARD_TYPE

__all__ = [
    "DOCS_PAGE",
    "configure",
    "dispatcher_options",
    "get_dispatcher",
    "lark_settings",
    "on",
    "on_legacy_card",
    "option_keys",
    "registered_types",
    "reset",
    "warn_if_not_installed",
]

logger = logging.getLogger("lark_events.django")

#: The page of the documentation that lists every ``LARK_EVENTS`` key (check hints point at it).
DOCS_PAGE = "docs/django.md"

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=Callable[[Dispatcher], Any])

#: ``LARK_EVENTS`` keys that may name an object by its dotted path: an instance, or a class or
#: function that builds one (``DEDUP``, ``EXECUTOR``), or a function used as it is.
BUILT_FROM_PATH = frozenset({"dedup", "executor", "openapi"})
USED_FROM_PATH = frozenset({"background_context", "on_give_up"})
#: Keys that configure the adapter itself.
ADAPTER_KEYS = frozenset({"HANDLERS", "DISPATCHER", "ASYNC", "METRICS", "HEALTH"})

_lock = threading.RLock()
_dispatcher: Dispatcher | None = None
_registry: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}
_configurers: list[Callable[[Dispatcher], Any]] = []


def lark_settings() -> Mapping[str, Any]:
    """``settings.LARK_EVENTS`` (``{}`` when unset); not a dict is a configuration error."""
    value = getattr(settings, "LARK_EVENTS", None)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError("settings.LARK_EVENTS must be a dict")
    return value


@functools.cache
def option_keys() -> Mapping[str, str]:
    """``LARK_EVENTS`` keys for :class:`Dispatcher` options: each keyword argument, upper-cased
    (``ENCRYPT_KEY``, ``MAX_BODY_BYTES``, ``DEFER``, ``CALLBACK_DEADLINE``, ...)."""
    params = inspect.signature(Dispatcher.__init__).parameters
    return {name.upper(): name for name in params if name != "self"}


def dispatcher_options(conf: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`Dispatcher` keyword arguments that ``conf`` sets; unknown keys are errors."""
    keys = option_keys()
    unknown = sorted(str(k) for k in conf if k not in keys and k not in ADAPTER_KEYS)
    if unknown:
        raise ConfigurationError(
            "unknown LARK_EVENTS keys: " + ", ".join(_with_suggestion(k) for k in unknown)
        )
    if conf.get("ASYNC") not in (None, True, False):
        raise ConfigurationError("LARK_EVENTS['ASYNC'] must be True, False or None")
    if not isinstance(conf.get("DISPATCHER", ""), str):
        raise ConfigurationError("LARK_EVENTS['DISPATCHER'] must be a dotted path (a str)")
    options = {keys[k]: v for k, v in conf.items() if k in keys}
    for name, value in options.items():
        if isinstance(value, str) and name in BUILT_FROM_PATH | USED_FROM_PATH:
            target = import_string(value)
            if name in BUILT_FROM_PATH and (isinstance(target, type) or _is_factory(target)):
                target = target()
            options[name] = target
    return options


def _with_suggestion(key: str) -> str:
    """``KEY``, or ``KEY (did you mean CLOSEST?)`` when a known key is close to it."""
    known = [*option_keys(), *sorted(ADAPTER_KEYS)]
    close = difflib.get_close_matches(key.upper(), known, n=1, cutoff=0.6)
    if not close and key.upper() in known:
        close = [key.upper()]  # right name, wrong case
    return f"{key} (did you mean {close[0]}?)" if close else key


def warn_if_not_installed() -> None:
    """Say loudly that ``lark_events_django`` is routed but not installed: its system checks do
    not run and no ``<app>.lark_handlers`` module is imported, so events would be acknowledged
    without a handler. Called when ``lark_events_django.urls`` is loaded."""
    if apps.is_installed("lark_events_django"):
        return
    message = (
        "lark_events_django.urls is included but 'lark_events_django' is not in "
        "INSTALLED_APPS: lark_handlers modules are not imported and lark-events' system checks "
        "do not run, so events are acknowledged without reaching a handler. Add "
        f"'lark_events_django' to INSTALLED_APPS (see {DOCS_PAGE})."
    )
    warnings.warn(message, RuntimeWarning, stacklevel=2)
    logger.error(message)


def _is_factory(obj: object) -> bool:
    """A plain function (a factory), not an object that has the methods of a store/executor."""
    return inspect.isfunction(obj)


def import_handlers(conf: Mapping[str, Any]) -> None:
    """Import the ``HANDLERS`` modules, whose decorators register handlers."""
    modules = conf.get("HANDLERS", ())
    if isinstance(modules, str) or not all(isinstance(m, str) for m in modules):
        raise ConfigurationError("LARK_EVENTS['HANDLERS'] must be a list of module paths")
    for module in modules:
        import_module(module)


def custom_dispatcher(path: str) -> Dispatcher:
    """The dispatcher ``DISPATCHER`` names: an instance, or a function that returns one."""
    target = import_string(path)
    if not isinstance(target, Dispatcher) and callable(target):
        target = target()
    if not isinstance(target, Dispatcher):
        raise ConfigurationError("LARK_EVENTS['DISPATCHER'] must name a lark_events Dispatcher")
    return target


def build_dispatcher() -> Dispatcher:
    """A new dispatcher from the settings and the registered handlers."""
    conf = lark_settings()
    import_handlers(conf)
    path = conf.get("DISPATCHER")
    if path is not None:
        if _registry:
            raise ConfigurationError(
                "LARK_EVENTS['DISPATCHER'] is set, so handlers registered with "
                "lark_events_django.on() would be ignored; register them on your dispatcher"
            )
        return _observed(custom_dispatcher(str(path)), conf)
    dispatcher = Dispatcher(**dispatcher_options(conf))
    with _lock:
        for event_type, (fn, kwargs) in _registry.items():
            dispatcher.register(event_type, fn, **kwargs)
        for configure_ in _configurers:
            configure_(dispatcher)
    return _observed(dispatcher, conf)


def _observed(dispatcher: Dispatcher, conf: Mapping[str, Any]) -> Dispatcher:
    """With ``LARK_EVENTS["METRICS"]``, the dispatcher reports to Prometheus."""
    if conf.get("METRICS"):
        from lark_events_core.metrics import instrument

        instrument(dispatcher)
    return dispatcher


def get_dispatcher() -> Dispatcher:
    """The default dispatcher, built on first use from ``settings.LARK_EVENTS``."""
    global _dispatcher
    found = _dispatcher
    if found is not None:
        return found
    with _lock:
        if _dispatcher is None:
            _dispatcher = build_dispatcher()
            _register_exit_drain()
        return _dispatcher


def reset() -> None:
    """Forget the default dispatcher; the next request builds it again from the settings."""
    global _dispatcher
    with _lock:
        _dispatcher = None


def on(
    event_type: str, *, model: type[Any] | None = None, callback: bool | None = None
) -> Callable[[F], F]:
    """Register the decorated function for ``event_type`` on the default dispatcher."""

    def register(fn: F) -> F:
        kwargs: dict[str, Any] = {"model": model, "callback": callback}
        with _lock:
            if event_type in _registry:
                raise ConfigurationError(f"a handler for {event_type!r} is already registered")
            if _dispatcher is not None:
                _dispatcher.register(event_type, fn, **kwargs)
            _registry[event_type] = (fn, kwargs)
        return fn

    return register


def on_legacy_card(fn: F) -> F:
    """Register the handler of legacy message-card callbacks on the default dispatcher."""
    return on(LEGACY_CARD_TYPE)(fn)


def configure(fn: C) -> C:
    """Call ``fn(dispatcher)`` on the default dispatcher (now and whenever it is rebuilt), to add
    routes, middleware or a catch-all (docs/routing.md)."""
    with _lock:
        _configurers.append(fn)
        if _dispatcher is not None:
            fn(_dispatcher)
    return fn


def registered_types() -> frozenset[str]:
    """The types registered with :func:`on` so far."""
    with _lock:
        return frozenset(_registry)


def unregister(event_type: str) -> None:
    """Remove a registration made with :func:`on` (for tests); the dispatcher is rebuilt."""
    with _lock:
        _registry.pop(event_type, None)
    reset()


def close_at_exit() -> None:
    """On process exit (gunicorn worker, uvicorn, runserver), drain the dispatcher's background
    work; Django has no shutdown signal of its own. Registered with ``atexit`` when the first
    dispatcher is built."""
    found = _dispatcher
    if found is not None:
        found.close()


_exit_hook = False


def _register_exit_drain() -> None:
    # atexit runs hooks last-registered-first. The executors module registers its own exit drain
    # (which waits but does not cut retry back-offs short) when first imported, which is often
    # after this module: importing it before registering makes close_at_exit() run first, as
    # lark_events_core.wsgi.close_at_exit() does. Called under _lock.
    global _exit_hook
    if not _exit_hook:
        from lark_events_core import executors  # noqa: F401

        atexit.register(close_at_exit)
        _exit_hook = True


@receiver(setting_changed)
def _settings_changed(*, setting: str, **_: Any) -> None:
    if setting == "LARK_EVENTS":
        reset()
