"""The docs name only files that exist: relative links, and the file names they mention."""

from __future__ import annotations

import re
from pathlib import Path

import lark_events_core
from tests.support.docblocks import PAGES
from tests.support.servers import ROOT

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
MENTION = re.compile(r"`((?:[\w.-]+/)*[\w.-]+\.(?:md|json|py))`")


def test_every_relative_link_points_at_a_file_that_exists() -> None:
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.name}: {target}")
    assert broken == []


def test_every_file_named_in_backquotes_exists() -> None:
    """``docs/protocol.md``, ``tests/vectors/webhook.json``, ``delivery.md``: found from the root
    or the page (``LONG_CONNECTION.md`` was not)."""
    # Where lark_events_core/... is: the checkout, or site-packages when the tests run from the
    # unpacked sdist against the installed wheel (nox -s sdist).
    installed = Path(lark_events_core.__file__).resolve().parents[1]
    missing = []
    for page in PAGES:
        for name in MENTION.findall(page.read_text(encoding="utf-8")):
            if "/" not in name and not name.endswith(".md"):
                continue  # a bare main.py or body.json is the reader's file; a page is ours
            if not any((base / name).exists() for base in (ROOT, page.parent, installed)):
                missing.append(f"{page.name}: {name}")
    assert missing == []
