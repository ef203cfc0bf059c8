"""The interop tier: the official SDKs run against our parts, as oracles of the real platform.

The SDKs come from the registries through the project's own files: ``lark-oapi`` from PyPI (the
``test`` extra), ``@larksuiteoapi/node-sdk`` from npm, pinned in ``node/package-lock.json`` and
installed with ``npm ci`` by :func:`node_sdk_dir` when ``node/node_modules`` is missing or stale.
Every test here carries the ``interop`` marker. A missing Node.js (or SDK) skips with the reason,
and fails instead under ``LARK_EVENTS_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets it). The Go SDK
is not part of the tier: this machine has no Go toolchain nor module proxy to fetch it from.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.services import services_required

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
NODE_SDK = "@larksuiteoapi/node-sdk"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``interop``."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.interop)


def missing(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail when ``LARK_EVENTS_REQUIRE_SERVICES=1``."""
    if services_required():
        pytest.fail(f"{reason}, and LARK_EVENTS_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


def _locked_version() -> str:
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    version: str = lock["packages"][f"node_modules/{NODE_SDK}"]["version"]
    return version


def _installed_version() -> str | None:
    manifest = NODE_DIR / "node_modules" / NODE_SDK / "package.json"
    try:
        version: str = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return version


@pytest.fixture(scope="session")
def node_executable() -> str:
    """The path of ``node``; skips (or fails) when Node.js is not installed."""
    node = shutil.which("node")
    if node is None:
        missing("Node.js is not installed (no 'node' on PATH): the node-sdk interop tests need it")
    return node


@pytest.fixture(scope="session")
def node_sdk_dir(node_executable: str) -> Path:
    """``tests/interop/node`` with the pinned node-sdk installed (``npm ci`` when needed)."""
    if _installed_version() != _locked_version():
        npm = shutil.which("npm")
        if npm is None:
            missing("npm is not installed: it installs the pinned node-sdk (npm ci)")
        try:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=NODE_DIR,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            missing("npm ci in tests/interop/node did not finish within 600 s")
        if done.returncode != 0:
            missing(f"npm ci in tests/interop/node failed: {done.stderr.strip()[-500:]}")
        if _installed_version() != _locked_version():
            missing(f"npm ci did not install {NODE_SDK} {_locked_version()}")
    return NODE_DIR


@pytest.fixture(scope="session")
def lark_oapi_installed() -> None:
    """Skip (or fail) when the official Python SDK is not installed (the ``test`` extra has it)."""
    if importlib.util.find_spec("lark_oapi") is None:
        missing("lark-oapi is not installed: pip install -e '.[test]'")
