"""Models shared by several events."""

from __future__ import annotations

import msgspec

__all__ = ["UserId"]


class UserId(msgspec.Struct, frozen=True, gc=False):
    """The three ids of one user: ``open_id`` (per app), ``user_id`` (per tenant), ``union_id``."""

    open_id: str | None = None
    user_id: str | None = None
    union_id: str | None = None
