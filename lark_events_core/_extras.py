"""Optional dependencies: which extra brings which module, and the error that says so.

A module that needs an extra imports its dependencies in a guard::

    try:
        import redis
    except ImportError as exc:
        missing_extra(exc, "redis", __name__)

so that ``import lark_events_core.redis_store`` without Redis fails with ``ModuleNotFoundError:
lark_events_core.redis_store needs the 'redis' extra: pip install 'lark-events[redis]'`` instead
of a bare ``No module named 'redis'``. An ``ImportError`` about any other module (a bug, a broken
install) is raised unchanged.
"""

from __future__ import annotations

from typing import NoReturn

__all__ = ["EXTRA_MODULES", "install_hint", "missing_extra"]

#: The top-level modules each extra installs, as ``import`` names.
EXTRA_MODULES: dict[str, frozenset[str]] = {
    "flask": frozenset({"flask", "werkzeug"}),
    "django": frozenset({"django", "asgiref"}),
    "aiohttp": frozenset({"aiohttp"}),
    "redis": frozenset({"redis"}),
    "celery": frozenset({"celery", "kombu"}),
    "longconn": frozenset({"aiohttp", "google"}),  # google.protobuf
    "outbound": frozenset({"aiohttp"}),
    "cli": frozenset({"aiohttp"}),
    "fast": frozenset({"orjson"}),
    "metrics": frozenset({"prometheus_client"}),
    "otel": frozenset({"opentelemetry"}),
}


def install_hint(extra: str) -> str:
    """The command that installs ``extra``: ``pip install 'lark-events[extra]'``."""
    if extra not in EXTRA_MODULES:
        raise ValueError(f"unknown extra {extra!r}")
    return f"pip install 'lark-events[{extra}]'"


def missing_extra(exc: ImportError, extra: str, needed_by: str) -> NoReturn:
    """Raise the error for ``exc``: which extra to install when it brings the missing module.

    Call it in the ``except ImportError`` of a module's guarded imports; ``needed_by`` is the
    importing module's ``__name__``. The original error stays attached as ``__cause__``.
    """
    hint = install_hint(extra)
    missing = exc.name or ""
    if missing.partition(".")[0] not in EXTRA_MODULES[extra]:
        raise exc
    raise ModuleNotFoundError(
        f"{needed_by} needs the '{extra}' extra (no module named {missing!r}): {hint}",
        name=missing,
    ) from exc
