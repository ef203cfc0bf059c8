"""Where the Open API lives: the Feishu and Lark domains, or any base URL (a fake, a proxy)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..errors import ConfigurationError

__all__ = ["FEISHU", "LARK", "resolve_base_url"]

#: Feishu (mainland China).
FEISHU = "https://open.feishu.cn"
#: Lark (international).
LARK = "https://open.larksuite.com"

_NAMED = {"feishu": FEISHU, "lark": LARK, "larksuite": LARK}


def resolve_base_url(domain: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The base URL for ``domain``: ``"feishu"``, ``"lark"`` or a URL.

    Without ``domain``: ``LARK_OPENAPI_BASE_URL``, then ``LARK_DOMAIN``, then Feishu.
    """
    env = os.environ if environ is None else environ
    value = domain or env.get("LARK_OPENAPI_BASE_URL") or env.get("LARK_DOMAIN") or "feishu"
    named = _NAMED.get(value.strip().lower())
    if named is not None:
        return named
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            "the Open API domain must be 'feishu', 'lark' or an http(s) URL such as "
            "'https://open.feishu.cn'"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError("the Open API base URL must not have a query or fragment")
    return value.strip().rstrip("/")
