"""Keep the Encrypt Key and the verification token inside the process.

Payloads are stored and shown with the token replaced by :data:`REDACTED`; the token goes back
in only when a request is signed. :class:`Scrubber` is the last line: it removes any secret
still present from a text before it is answered.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from .._secrets import Secret

__all__ = ["REDACTED", "Scrubber", "redact_token", "restore_token"]

#: What the page shows in place of the verification token.
REDACTED = "[verification token]"


def _token_holder(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The object that carries the verification token: the v2 header, or the body itself."""
    header = payload.get("header")
    if isinstance(header, dict) and "schema" in payload:
        return header
    if "action" in payload and "schema" not in payload and "type" not in payload:
        return None  # a legacy card callback: its token is the card's, not the app's
    return payload


def redact_token(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``payload`` with the verification token (when it has one) replaced."""
    redacted = copy.deepcopy(payload)
    holder = _token_holder(redacted)
    if holder is not None and "token" in holder:
        holder["token"] = REDACTED
    return redacted


def restore_token(payload: dict[str, Any], token: Secret | None) -> dict[str, Any]:
    """A copy of ``payload`` carrying the real token, as the platform sends it.

    The inspector plays the platform, so the token is always the configured one: whatever the
    page put there (the placeholder, nothing, another value) is replaced; without a configured
    token the field is removed.
    """
    restored = copy.deepcopy(payload)
    holder = _token_holder(restored)
    if holder is not None:
        if token is not None:
            holder["token"] = token.reveal()
        else:
            holder.pop("token", None)
    return restored


class Scrubber:
    """Replaces every form of the secrets (raw and JSON-escaped) in a text."""

    def __init__(self, secrets: Iterable[Secret | None]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret is None or not secret.reveal():
                continue
            raw = secret.reveal()
            forms.add(raw)
            forms.add(json.dumps(raw)[1:-1])
            forms.add(json.dumps(raw, ensure_ascii=False)[1:-1])
        # Longest first, so a secret containing another is replaced whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, "[secret]")
        return text

    def __bool__(self) -> bool:
        return bool(self._forms)
