"""The package's logger and how ids and types appear in its lines (never bodies or secrets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

__all__ = ["logger", "package_logger", "safe"]


class _PackageLogger:
    """``logging.getLogger("lark_events")``, looked up on first use.

    Importing the core does not import :mod:`logging` (with ``traceback`` and ``tokenize``,
    about 6 ms of a bare ``import lark_events_core``; the web frameworks import it anyway). Every
    attribute (``warning``, ``exception``, ``isEnabledFor``, ...) is the real logger's.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(package_logger(), name)

    def __repr__(self) -> str:
        return repr(package_logger())


_logger: logging.Logger | None = None


def package_logger() -> logging.Logger:
    """The real ``lark_events`` logger (imports :mod:`logging` on first use)."""
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("lark_events")
    return _logger


if TYPE_CHECKING:
    logger: logging.Logger
else:
    logger = _PackageLogger()


def safe(text: object, limit: int = 80) -> str:
    """A wire value (type, id, server text) as it may appear in a log line: bounded, one line.

    At most ``limit`` characters are kept (``...`` marks a cut); backslashes, every control
    character (``\\n``, ``\\r``, ``\\x1b``, ...) and everything outside printable ASCII are
    escaped, so a value can neither start a new line nor pass for another field's text.
    """
    if text is None:
        return "-"
    if not isinstance(text, str):
        text = str(text)
    cut = text[:limit]
    if cut.isascii() and cut.isprintable() and "\\" not in cut:
        shown = cut  # the common case: nothing to escape
    else:
        shown = cut.encode("unicode_escape").decode("ascii")
    return shown + "..." if len(text) > limit else shown
