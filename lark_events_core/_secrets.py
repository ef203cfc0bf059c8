"""Secrets that never show their value in ``repr``, ``str`` or logs."""

from __future__ import annotations

import hmac

__all__ = ["Secret"]


class Secret:
    """A string secret (an Encrypt Key or a verification token).

    ``repr()`` and ``str()`` print a mask, so a secret that ends up in a log line,
    a traceback or a debugger prints nothing useful to an attacker.
    Call :meth:`reveal` where the raw value is really needed.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a secret must be a str")
        self._value = value

    def reveal(self) -> str:
        """Return the raw value."""
        return self._value

    def matches(self, candidate: str) -> bool:
        """Compare with ``candidate`` in constant time."""
        # "surrogatepass": a lone surrogate in untrusted input is a mismatch, never a crash.
        return hmac.compare_digest(
            self._value.encode("utf-8", "surrogatepass"),
            candidate.encode("utf-8", "surrogatepass"),
        )

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self.matches(other._value)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)
