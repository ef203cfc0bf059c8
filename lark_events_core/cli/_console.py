"""Output that survives any terminal: characters the stream cannot encode get ASCII stand-ins.

``PYTHONIOENCODING=ascii`` (or a Latin-1 console) used to make ``print("← 200")`` raise
``UnicodeEncodeError``. Instead of avoiding every non-ASCII character (bodies and challenges
hold user text), the standard streams get an error handler that writes a readable stand-in for
the few symbols the commands use and a ``\\uXXXX`` escape for anything else.
"""

from __future__ import annotations

import codecs
import io
import sys

__all__ = ["ERRORS", "make_streams_safe"]

#: The name of the codec error handler registered by :func:`make_streams_safe`.
ERRORS = "lark_events_console"

_STAND_INS = {
    "\u2190": "<-",  # ← an answer
    "\u2192": "->",
    "\u2026": "...",  # … a shortened value
    "\u2713": "+",  # ✓ an expected answer (demo; one column, like the mark)
    "\u2717": "x",  # ✗ an unexpected one
    "\u2588": "#",  # █ the progress bar
    "\u00b7": ".",  # · its empty part
}


def _stand_in(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    out = "".join(
        _STAND_INS.get(ch) or ch.encode("ascii", "backslashreplace").decode("ascii") for ch in text
    )
    return out, error.end


def make_streams_safe() -> None:
    """Give ``sys.stdout`` and ``sys.stderr`` the stand-in error handler (idempotent)."""
    try:
        codecs.lookup_error(ERRORS)
    except LookupError:
        codecs.register_error(ERRORS, _stand_in)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", "backslashreplace"):
            stream.reconfigure(errors=ERRORS)
