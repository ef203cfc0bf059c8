"""Secrets that never show their value in ``repr``, ``str`` or logs."""

from __future__ import annotations

import hmac

__all__ = ["Secret", "matches_any"]


class Secret:
    """A string secret (an Encrypt Key or a verification token).

    ``repr()`` and ``str()`` print a mask, so a secret that ends up in a log line,
    a traceback or a debugger prints nothing useful to an attacker.
    Call :meth:`reveal` where the raw value is really needed.
    """

    # ``_encoded``: the value as UTF-8 ("surrogatepass": a lone surrogate is kept, not a crash),
    # encoded once for the signature and token checks of every request.
    __slots__ = ("_encoded", "_value")

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a secret must be a str")
        self._value = value
        self._encoded = value.encode("utf-8", "surrogatepass")

    def reveal(self) -> str:
        """Return the raw value."""
        return self._value

    def matches(self, candidate: str) -> bool:
        """Compare with ``candidate`` in constant time."""
        # "surrogatepass": a lone surrogate in untrusted input is a mismatch, never a crash.
        return hmac.compare_digest(self._encoded, candidate.encode("utf-8", "surrogatepass"))

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


def matches_any(secrets: tuple[Secret, ...], candidate: str) -> bool:
    """Whether ``candidate`` equals any of ``secrets``, each compared in constant time.

    Every secret is compared (no early exit), so the time taken does not depend on which matched.
    """
    encoded = candidate.encode("utf-8", "surrogatepass")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(secret._encoded, encoded)
    return matched
