"""Test secrets derived from the test's node id: the same on every run, different per test.

Random keys made a test fail about one run in six (a ``secrets.token_urlsafe`` key that starts
with ``-``); a key derived from the node id is the same on every run, so a test either always
passes or always fails.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

__all__ = ["derived_secret", "secrets_for"]


def derived_secret(node_id: str, label: str, length: int = 22) -> str:
    """A URL-safe secret of ``length`` characters, fixed for (``node_id``, ``label``)."""
    digest = hashlib.sha256(f"lark-events-tests\0{node_id}\0{label}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:length]


def secrets_for(request: pytest.FixtureRequest) -> tuple[str, str]:
    """An (Encrypt Key, verification token) pair for the requesting test or fixture scope."""
    node_id = request.node.nodeid
    return derived_secret(node_id, "encrypt-key"), derived_secret(node_id, "token", 16)
