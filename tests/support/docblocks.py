"""The code blocks of the documentation (docs/*.md and README.md), as the docs tests see them.

A fenced ``python`` block is one of:

- a **file** block, preceded by ``<!-- file: NAME -->``: written out as ``NAME`` and run by
  pytest with the other file blocks of its page (docs/testing.md);
- a **not-run** block, preceded by ``<!-- not-run: reason -->``: shown only (kept rare; the
  reason says where the same code is exercised or why it cannot run here);
- otherwise a **page** block: the page's page blocks, joined in order, make one module that is
  executed (and type-checked); its ``test_*`` functions are then called. A block whose first
  line names a file (``# lark_asgi.py``) starts a module of its own, as the file it names.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from .servers import ROOT

DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)(?P<attrs>[^\n]*)\n"
    r"(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.DOTALL | re.MULTILINE,
)
_MARKER = re.compile(r"<!--\s*(?P<kind>file|not-run):\s*(?P<value>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int
    lang: str
    source: str
    kind: str  # "page", "file" or "not-run"
    value: str = ""  # the file name, or the reason

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page`` with the marker on the line before it."""
    text = page.read_text(encoding="utf-8")
    found: list[Block] = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        kind, value = ("page", "") if marker is None else (marker["kind"], marker["value"])
        body = textwrap.dedent(match["body"])
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page, line, match["lang"], body, kind, value))
    return found


def python_blocks(page: Path) -> list[Block]:
    """The ``python`` blocks of ``page``."""
    return [b for b in blocks(page) if b.lang == "python"]


_FILE_COMMENT = re.compile(r"#\s*[\w./-]+\.py\b")


def page_modules(page: Path) -> dict[str, str]:
    """Module name → source: the page blocks of ``page``, joined in order (``docs_readme``,
    ``docs_long_connection``, ...; ``docs_fastapi_2`` for the second file-named module)."""
    base = "docs_" + re.sub(r"\W", "_", page.stem.lower())
    modules: list[list[str]] = []
    for block in python_blocks(page):
        if block.kind != "page":
            continue
        if not modules or _FILE_COMMENT.match(block.source):
            modules.append([])
        modules[-1].append(block.source)
    return {
        base if i == 0 else f"{base}_{i + 1}": "\n\n".join(parts) for i, parts in enumerate(modules)
    }
