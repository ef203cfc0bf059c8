"""The examples in docs/testing.md are tests: each file block is written out and run by pytest."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.servers import ROOT

DOC = ROOT / "docs" / "testing.md"
BLOCK = re.compile(r"<!-- file: (\S+) -->\n```(?:python|ini)\n(.*?)\n```", re.DOTALL)


def doc_files() -> dict[str, str]:
    """File name → source of every ``<!-- file: NAME -->`` block in docs/testing.md."""
    return dict(BLOCK.findall(DOC.read_text(encoding="utf-8")))


def run_pytest(
    directory: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``directory`` in a fresh process, without the caller's ``LARK_*`` variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LARK_")}
    env = {**clean, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(directory)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_doc_has_an_example_per_framework() -> None:
    names = set(doc_files())
    assert {
        "conftest.py",
        "test_flask_example.py",
        "test_django_example.py",
        "test_aiohttp_example.py",
        "test_http_example.py",
        "test_fastapi_example.py",
        "example_settings.py",
        "example_urls.py",
        "pytest.ini",
    } <= names


def test_every_doc_example_passes(tmp_path: Path) -> None:
    files = doc_files()
    for name, source in files.items():
        (tmp_path / name).write_text(source + "\n", encoding="utf-8")
    result = run_pytest(tmp_path)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout + result.stderr
    expected = sum(src.count("\ndef test_") + src.startswith("def test_") for src in files.values())
    assert re.match(rf"{expected} passed\b", summary), summary
