"""Every Python block of the docs runs: each page's blocks as one module, executed in a fresh
process (then its ``test_*`` functions called), and type-checked with mypy --strict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docblocks import PAGES, page_modules, python_blocks
from tests.support.servers import ROOT

#: What the examples read from the environment (``Dispatcher.from_env()``, ``from_env()``s).
ENV = {
    "LARK_ENCRYPT_KEY": "docs-key",
    "LARK_VERIFICATION_TOKEN": "docs-token",
    "LARK_APP_ID": "cli_docs",
    "LARK_APP_SECRET": "docs-secret",
}
#: At most this many blocks may be shown without running (each says why).
MAX_NOT_RUN = 8

RUNNER = """
import asyncio, inspect, runpy, sys
namespace = runpy.run_path(sys.argv[1], run_name="docs_example")
for name, fn in list(namespace.items()):
    if name.startswith("test_") and inspect.isfunction(fn) and fn.__module__ == "docs_example":
        result = fn()
        if inspect.iscoroutine(result):
            asyncio.run(result)
        print("ran", name)
"""

MODULES = {name: src for page in PAGES for name, src in page_modules(page).items()}
#: Independent examples of one page may reuse a name (``on_message``, ``app``).
MYPY_HEADER = '# mypy: disable-error-code="no-redef"\n'


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LARK_", "DJANGO_"))}
    path = [str(ROOT), str(ROOT / "integrations")]
    return {**env, **ENV, "PYTHONPATH": os.pathsep.join(path)}


def test_every_python_block_runs_or_says_why() -> None:
    not_run = []
    for page in PAGES:
        for block in python_blocks(page):
            if block.kind == "not-run":
                assert block.value, f"{block.where}: a not-run marker needs a reason"
                not_run.append(block.where)
    assert len(not_run) <= MAX_NOT_RUN, not_run


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_blocks_of_a_page_run(name: str, tmp_path: Path) -> None:
    module = tmp_path / f"{name}.py"
    module.write_text(MODULES[name] + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(module)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{name}:\n{result.stdout}\n{result.stderr}"


def test_the_examples_pass_mypy_strict(tmp_path: Path) -> None:
    """Typed code is checked strictly; an example may leave a function unannotated (the quick
    starts do), but the bodies are checked all the same."""
    files = []
    for name, source in MODULES.items():
        module = tmp_path / f"{name}.py"
        module.write_text(MYPY_HEADER + source + "\n", encoding="utf-8")
        files.append(str(module))
    for page in PAGES:  # file blocks import each other as top-level modules
        for block in python_blocks(page):
            if block.kind == "file":
                (tmp_path / block.value).write_text(block.source + "\n", encoding="utf-8")
                files.append(str(tmp_path / block.value))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--allow-untyped-defs",
            "--allow-incomplete-defs",
            "--allow-untyped-calls",
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            "--config-file",
            os.devnull,
            "--python-version",
            "3.11",
            *files,
        ],
        cwd=tmp_path,
        env={**_env(), "MYPYPATH": os.pathsep.join([str(ROOT), str(ROOT / "integrations")])},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
