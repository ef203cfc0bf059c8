"""Where the Open API lives: the Feishu and Lark domains, or any base URL (a fake, a proxy)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..domains import FEISHU, LARK, resolve_domain

__all__ = ["FEISHU", "LARK", "resolve_base_url"]


def resolve_base_url(domain: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The base URL for ``domain``: ``"feishu"``, ``"lark"`` or a URL.

    Without ``domain``: ``LARK_OPENAPI_BASE_URL``, then ``LARK_DOMAIN``, then Feishu — the same
    meaning as for the long-connection client (:func:`lark_events_core.domains.resolve_domain`).
    """
    env = os.environ if environ is None else environ
    value = domain or env.get("LARK_OPENAPI_BASE_URL") or env.get("LARK_DOMAIN") or "feishu"
    return resolve_domain(value)
