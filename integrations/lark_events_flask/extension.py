"""The blueprint factory and the ``LarkEvents`` extension (application-factory pattern)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app

from lark_events_core import Dispatcher
from lark_events_core.events import LEGACY_CARD_TYPE
from lark_events_core.wsgi import close_at_exit

from .observability import add_routes
from .views import METHODS, make_view

__all__ = [
    "CONFIG_KEYS",
    "EXTENSION_KEY",
    "LarkEvents",
    "LarkEventsState",
    "get_dispatcher",
    "make_blueprint",
]

logger = logging.getLogger("lark_events.flask")

F = TypeVar("F", bound=Callable[..., Any])

#: Where :meth:`LarkEvents.init_app` keeps its :class:`LarkEventsState`: ``app.extensions[...]``.
EXTENSION_KEY = "lark_events"

#: ``app.config`` keys passed to :class:`~lark_events_core.Dispatcher`, and their keyword names.
CONFIG_KEYS: Mapping[str, str] = {
    "LARK_ENCRYPT_KEY": "encrypt_key",
    "LARK_VERIFICATION_TOKEN": "verification_token",
    "LARK_EVENTS_MAX_BODY_BYTES": "max_body_bytes",
    "LARK_EVENTS_TIMESTAMP_TOLERANCE": "timestamp_tolerance",
}
#: Read from the environment when ``app.config`` does not have them (as ``Dispatcher.from_env``).
ENV_FALLBACK = ("LARK_ENCRYPT_KEY", "LARK_VERIFICATION_TOKEN")
#: Every other ``app.config`` key :meth:`LarkEvents.init_app` reads, and its default.
PLACEMENT_KEYS: Mapping[str, Any] = {
    "LARK_EVENTS_OPTIONS": None,
    "LARK_EVENTS_URL_PREFIX": None,
    "LARK_EVENTS_EVENT_PATH": "/webhook/event",
    "LARK_EVENTS_CARD_PATH": "/webhook/card",
    "LARK_EVENTS_SHUTDOWN_TIMEOUT": None,
    "LARK_EVENTS_METRICS": False,
    "LARK_EVENTS_HEALTH": False,
}


def make_blueprint(
    dispatcher: Dispatcher | None = None,
    *,
    name: str = "lark_events",
    url_prefix: str | None = None,
    event_path: str | None = "/webhook/event",
    card_path: str | None = "/webhook/card",
    **options: Any,
) -> Blueprint:
    """A blueprint with the event endpoint and the legacy card endpoint of ``dispatcher``.

    Without a dispatcher, one is built by ``Dispatcher.from_env(**options)``. A ``None`` path
    leaves that endpoint out. Endpoints: ``<name>.event`` and ``<name>.card``.
    """
    if dispatcher is not None and options:
        raise TypeError("pass Dispatcher options only when make_blueprint() builds the dispatcher")
    disp = dispatcher if dispatcher is not None else Dispatcher.from_env(**options)
    disp.warn_if_insecure(stacklevel=3)
    bp = Blueprint(name, __name__, url_prefix=url_prefix)
    for path, card, endpoint in ((event_path, False, "event"), (card_path, True, "card")):
        if path is not None:
            bp.add_url_rule(
                path,
                endpoint,
                make_view(disp, card=card),
                methods=METHODS,
                provide_automatic_options=False,
            )
    return bp


@dataclass(frozen=True)
class LarkEventsState:
    """What ``app.extensions["lark_events"]`` holds for one app."""

    extension: LarkEvents
    dispatcher: Dispatcher
    blueprint: Blueprint


def get_dispatcher(app: Flask | None = None) -> Dispatcher:
    """The dispatcher :meth:`LarkEvents.init_app` set up for ``app`` (default: ``current_app``)."""
    target = app if app is not None else current_app
    state: LarkEventsState = target.extensions[EXTENSION_KEY]
    return state.dispatcher


class LarkEvents:
    """The Flask extension: ``LarkEvents(app)`` or ``lark = LarkEvents()`` + ``lark.init_app(app)``.

    With a ``dispatcher``, every app shares it. Without one, each app gets its own, built from its
    ``app.config`` (``LARK_ENCRYPT_KEY``, ``LARK_VERIFICATION_TOKEN`` — else the environment —,
    ``LARK_EVENTS_MAX_BODY_BYTES``, ``LARK_EVENTS_TIMESTAMP_TOLERANCE``, and any other
    ``Dispatcher`` keyword in the ``LARK_EVENTS_OPTIONS`` dict); handlers registered with
    :meth:`on` go to all of them, before or after ``init_app``. ``LARK_EVENTS_URL_PREFIX``,
    ``LARK_EVENTS_EVENT_PATH`` and ``LARK_EVENTS_CARD_PATH`` place the endpoints.
    """

    def __init__(self, app: Flask | None = None, dispatcher: Dispatcher | None = None) -> None:
        self._dispatcher = dispatcher
        self._handlers: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []
        self._built: list[Dispatcher] = []
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"LarkEvents(handlers={[t for t, _, _ in self._handlers]!r})"

    def on(self, event_type: str, **kwargs: Any) -> Callable[[F], F]:
        """``@lark.on("im.message.receive_v1")``: register a handler (sync or async)."""

        def register(fn: F) -> F:
            self._handlers.append((event_type, fn, kwargs))
            for disp in self._targets():
                disp.register(event_type, fn, **kwargs)
            return fn

        return register

    def on_legacy_card(self, fn: F) -> F:
        """``@lark.on_legacy_card``: the handler of legacy message-card callbacks."""
        return self.on(LEGACY_CARD_TYPE)(fn)

    @property
    def dispatcher(self) -> Dispatcher:
        """The shared dispatcher, or the current app's."""
        if self._dispatcher is not None:
            return self._dispatcher
        return get_dispatcher()

    def init_app(self, app: Flask) -> None:
        """Add the endpoints to ``app`` and keep the state in ``app.extensions["lark_events"]``."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("LarkEvents.init_app() was already called for this app")
        disp = self._dispatcher
        if disp is None:
            disp = self._build(app.config)
            for event_type, fn, kwargs in self._handlers:
                disp.register(event_type, fn, **kwargs)
            self._built.append(disp)
        config = app.config
        bp = make_blueprint(
            disp,
            url_prefix=config.get("LARK_EVENTS_URL_PREFIX"),
            event_path=config.get("LARK_EVENTS_EVENT_PATH", "/webhook/event"),
            card_path=config.get("LARK_EVENTS_CARD_PATH", "/webhook/card"),
        )
        app.register_blueprint(bp)
        add_routes(app, disp, config)
        app.extensions[EXTENSION_KEY] = LarkEventsState(self, disp, bp)
        _exempt_from_csrf(app, bp)
        keys = PLACEMENT_KEYS if self._dispatcher is not None else {**CONFIG_KEYS, **PLACEMENT_KEYS}
        app.before_request(_first_request_check(app, bp, _snapshot(config, keys)))
        # Flask has no shutdown hook; gunicorn workers and the dev server both run atexit.
        close_at_exit(disp, config.get("LARK_EVENTS_SHUTDOWN_TIMEOUT"))

    def _targets(self) -> list[Dispatcher]:
        return [self._dispatcher] if self._dispatcher is not None else list(self._built)

    @staticmethod
    def _build(config: Mapping[str, Any]) -> Dispatcher:
        kwargs: dict[str, Any] = dict(config.get("LARK_EVENTS_OPTIONS") or {})
        for key, name in CONFIG_KEYS.items():
            if key in ENV_FALLBACK:  # unset or empty → None, as Dispatcher.from_env
                kwargs[name] = config.get(key) or os.environ.get(key) or None
            elif key in config:
                kwargs[name] = config[key]
        return Dispatcher(**kwargs)


def _snapshot(config: Mapping[str, Any], keys: Mapping[str, Any]) -> dict[str, Any]:
    return {key: config.get(key) for key in keys}


def _exempt_from_csrf(app: Flask, bp: Blueprint) -> bool:
    """Exempt ``bp`` from Flask-WTF's ``CSRFProtect`` when the app has it: the platform's POSTs
    carry no CSRF token (signature and token authenticate them instead)."""
    csrf = app.extensions.get("csrf")
    exempt = getattr(csrf, "exempt", None)
    if not callable(exempt):
        return False
    exempt(bp)
    return True


def _first_request_check(app: Flask, bp: Blueprint, seen: Mapping[str, Any]) -> Callable[[], None]:
    """An app-level ``before_request`` hook that looks, once, for two set-up mistakes.

    Registered by ``init_app``, it runs before the hook of a ``CSRFProtect`` set up afterwards,
    so the blueprint is exempted in time; and ``app.config`` values set after ``init_app`` (which
    the endpoints never see) are named in one warning. Then it takes itself off the app's hooks,
    so that later requests do not pay for it.
    """
    done = False

    def check() -> None:
        nonlocal done
        if done:
            return
        done = True
        hooks = app.before_request_funcs.get(None)
        if hooks is not None and check in hooks:  # a new list: Flask may be iterating the old one
            app.before_request_funcs[None] = [hook for hook in hooks if hook is not check]
        _exempt_from_csrf(app, bp)
        changed = sorted(k for k, v in _snapshot(app.config, seen).items() if seen[k] != v)
        if changed:
            logger.warning(
                "app.config %s set after LarkEvents.init_app(app) (or LarkEvents(app)): the "
                "lark-events endpoints use the values init_app saw; configure the app first",
                ", ".join(changed),
            )

    return check
