"""Deduplication shared by several worker processes, for ``LARK_EVENTS["DEDUP"]``."""

from __future__ import annotations

import os

from lark_events_core.redis_store import RedisDedupStore


def redis_store() -> RedisDedupStore:
    """A Redis store at ``LARK_REDIS_URL``: a re-pushed event is handled once, whichever worker
    process receives it."""
    prefix = os.environ.get("LARK_REDIS_PREFIX", "django-echo:")
    return RedisDedupStore(os.environ["LARK_REDIS_URL"], prefix=prefix)
