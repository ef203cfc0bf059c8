"""The Python blocks of docs/routing.md and docs/events.md run, and mypy --strict accepts them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```python\n(.*?)\n```", re.DOTALL)
DOCS = ["routing.md", "events.md"]


def _source(name: str) -> str:
    return "\n\n".join(BLOCK.findall((ROOT / "docs" / name).read_text("utf-8"))) + "\n"


@pytest.mark.parametrize("name", DOCS)
def test_doc_blocks_run_in_order(name: str, tmp_path: Path) -> None:
    if name == "routing.md":
        pytest.importorskip("aiohttp", reason="the reply example needs the 'outbound' extra")
    script = tmp_path / "example.py"
    script.write_text(_source(name) + "print('doc ok')\n", "utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("doc ok\n")


def test_doc_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is in the dev extra")
    for name in DOCS:
        (tmp_path / name.replace(".md", "_example.py")).write_text(_source(name), "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".cache"),
         "--config-file", "/dev/null", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
