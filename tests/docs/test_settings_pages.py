"""Each framework's page lists every setting its adapter reads: a key added to the code and not
to the page fails here."""

from __future__ import annotations

import inspect
import re

import pytest

from lark_events_core import Dispatcher
from tests.support.servers import ROOT

DOCS = ROOT / "docs"


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _listed(page: str, names: set[str]) -> list[str]:
    return sorted(n for n in names if f"`{n}`" not in page)


def test_every_dispatcher_option_is_on_the_dispatcher_page() -> None:
    options = {p for p in inspect.signature(Dispatcher.__init__).parameters if p != "self"}
    assert _listed(_page("dispatcher.md"), options) == []


def test_every_flask_config_key_is_on_the_flask_page() -> None:
    from lark_events_flask import extension

    source = inspect.getsource(extension)
    in_code = set(re.findall(r'"(LARK_[A-Z_]+)"', source))
    assert {"LARK_ENCRYPT_KEY", "LARK_EVENTS_OPTIONS", "LARK_EVENTS_SHUTDOWN_TIMEOUT"} <= in_code
    assert set(extension.CONFIG_KEYS) | set(extension.PLACEMENT_KEYS) <= in_code
    assert _listed(_page("flask.md"), in_code) == []


def test_every_django_key_is_on_the_django_page() -> None:
    pytest.importorskip("django")
    from lark_events_django import conf

    keys = set(conf.option_keys()) | set(conf.ADAPTER_KEYS)
    source = inspect.getsource(conf)
    keys |= set(re.findall(r'conf\.get\("([A-Z_]+)"', source))
    assert _listed(_page("django.md"), keys) == []


def test_every_aiohttp_setup_option_is_on_the_aiohttp_page() -> None:
    from lark_events_aiohttp import setup

    params = set(inspect.signature(setup).parameters) - {"options"}
    page = _page("aiohttp.md")
    assert _listed(page, params) == []
    assert "`**options`" in page
