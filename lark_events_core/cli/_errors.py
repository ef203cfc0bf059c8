"""The errors the commands raise: a message for the user, a hint, an exit code."""

from __future__ import annotations

from .._extras import install_hint

__all__ = ["CliError", "UsageError", "need_aiohttp"]


class CliError(Exception):
    """A failure explained in one line (``message``) with what to try (``hint``); exit code 1."""

    def __init__(self, message: str, hint: str | None = None, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


class UsageError(CliError):
    """The command line itself is wrong (a bad value or combination): exit code 2, as argparse."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint, code=2)


def need_aiohttp() -> None:
    """Fail with an install hint when aiohttp (the ``cli`` extra) is missing."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise CliError(
            "this command needs aiohttp, which is not installed",
            install_hint("cli"),
        ) from None
