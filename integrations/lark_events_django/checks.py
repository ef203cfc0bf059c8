"""System checks (``manage.py check``): invalid ``LARK_EVENTS`` is an error, no key and no token
a warning.

========================  ===========================================================
``lark_events.E001``      ``LARK_EVENTS`` is not a dict, has unknown keys or invalid values
``lark_events.E002``      a ``HANDLERS`` module cannot be imported
``lark_events.E003``      ``DISPATCHER`` cannot be imported or is not a Dispatcher
``lark_events.E004``      ``DISPATCHER`` is set and handlers were registered with ``on()``
``lark_events.W001``      neither an Encrypt Key nor a verification token: anyone can post events
``lark_events.W002``      no handler is registered: every event is acknowledged and dropped
========================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from lark_events_core import Dispatcher, LarkEventsError, Settings

from . import conf

__all__ = ["check_lark_events"]

_PLACEHOLDER = "placeholder"  # validates the other options only; never checks a request
_HINT = f"Every LARK_EVENTS key is listed in the lark-events documentation, {conf.DOCS_PAGE}."


@register(Tags.security, deploy=False)
def check_lark_events(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Validate ``settings.LARK_EVENTS`` the way the views will use it."""
    try:
        settings = conf.lark_settings()
        options = conf.dispatcher_options(settings)
        secrets = Settings.build(options.get("encrypt_key"), options.get("verification_token"))
        # The other options, checked without the dispatcher's own "insecure" warning (W001 is it).
        Dispatcher(**{**options, "encrypt_key": None, "verification_token": _PLACEHOLDER})
    except (LarkEventsError, ImportError) as exc:
        return [Error(f"Invalid LARK_EVENTS: {exc}", hint=_HINT, id="lark_events.E001")]
    try:
        conf.import_handlers(settings)
    except (LarkEventsError, ImportError) as exc:
        return [Error(f"LARK_EVENTS['HANDLERS']: {exc}", hint=_HINT, id="lark_events.E002")]
    path = settings.get("DISPATCHER")
    if path is not None:
        try:
            custom = conf.custom_dispatcher(str(path))
        except (LarkEventsError, ImportError) as exc:
            return [Error(f"LARK_EVENTS['DISPATCHER']: {exc}", hint=_HINT, id="lark_events.E003")]
        if conf.registered_types():
            return [
                Error(
                    "LARK_EVENTS['DISPATCHER'] is set and handlers were registered with "
                    "lark_events_django.on(); those would never run.",
                    hint="Register them on your own dispatcher, or drop DISPATCHER.",
                    id="lark_events.E004",
                )
            ]
        secrets, types = custom.settings, custom.event_types
    else:
        types = conf.registered_types()
    return _warnings(secrets.insecure, types)


def _warnings(insecure: bool, types: frozenset[str]) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    if insecure:
        found.append(
            Warning(
                "Neither an Encrypt Key nor a verification token is configured for lark-events: "
                "anyone who knows the URL can post events.",
                hint="Set LARK_EVENTS['ENCRYPT_KEY'] (and VERIFICATION_TOKEN) from the app's "
                "Events and Callbacks page in the Lark developer console.",
                id="lark_events.W001",
            )
        )
    if not types:
        found.append(
            Warning(
                "No lark-events handler is registered: every event is acknowledged and dropped.",
                hint="Register handlers with @lark_events_django.on(...) in a lark_handlers "
                "module of an installed app, or list their modules in LARK_EVENTS['HANDLERS'].",
                id="lark_events.W002",
            )
        )
    return found
