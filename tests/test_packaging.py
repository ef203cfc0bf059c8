"""The installed distribution's metadata: what pip and a package index show a user.

Read from ``importlib.metadata``, so the same tests check an editable install and, under
``nox -s sdist``, the built wheel.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from trove_classifiers import classifiers as known_classifiers

import lark_events_core
from lark_events_core._extras import EXTRA_MODULES

ROOT = Path(__file__).resolve().parents[1]
DIST = "lark-events"
META = md.metadata(DIST)
#: The import name of each runtime dependency.
MODULE_OF = {
    "aiohttp": "aiohttp",
    "celery": "celery",
    "cryptography": "cryptography",
    "django": "django",
    "flask": "flask",
    "msgspec": "msgspec",
    "opentelemetry-api": "opentelemetry",
    "orjson": "orjson",
    "prometheus-client": "prometheus_client",
    "protobuf": "google",
    "redis": "redis",
}


def _requirements() -> list[Requirement]:
    return [Requirement(r) for r in md.requires(DIST) or []]


def _extra_of(req: Requirement) -> str | None:
    found = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", str(req.marker or ""))
    return found.group(1) if found else None


def _floors() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints" / "floors.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_the_version_is_the_package_version() -> None:
    assert META["Version"] == lark_events_core.__version__


def test_every_lower_bound_is_pinned_in_constraints_floors() -> None:
    bounds: dict[str, set[str]] = {}
    for req in _requirements():
        if req.name == DIST:
            continue  # [all] names the other extras
        lower = [s.version for s in req.specifier if s.operator == ">="]
        assert lower, f"{req} has no lower bound"
        bounds.setdefault(req.name.lower(), set()).update(lower)
    assert all(len(v) == 1 for v in bounds.values()), f"two floors for one package: {bounds}"
    floors = {name: Version(v) for name, v in _floors().items()}
    assert {name: Version(v.pop()) for name, v in bounds.items()} == floors


def test_every_extra_is_known_to_the_import_guards_and_all_brings_them() -> None:
    extras = set(META.get_all("Provides-Extra") or [])
    assert extras - {"all"} == set(EXTRA_MODULES)
    by_extra: dict[str, set[str]] = {}
    for req in _requirements():
        extra = _extra_of(req)
        if extra is not None:
            by_extra.setdefault(extra, set()).add(f"{req.name}{req.specifier}")
            if extra != "all":
                assert MODULE_OF[req.name.lower()] in EXTRA_MODULES[extra], (extra, req.name)
    assert by_extra.pop("all") == set().union(*by_extra.values())


def test_test_dev_and_bench_are_not_public_extras() -> None:
    extras = set(META.get_all("Provides-Extra") or [])
    assert not extras & {"test", "dev", "bench"}
    assert all(r.name != "pytest" for r in _requirements())


def test_classifiers_are_valid_and_match_the_python_and_django_ranges() -> None:
    classifiers = META.get_all("Classifier") or []
    assert set(classifiers) <= known_classifiers, set(classifiers) - known_classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    pythons = sorted(
        (
            tuple(map(int, c.rsplit(" ", 1)[1].split(".")))
            for c in classifiers
            if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
        ),
    )
    requires_python = SpecifierSet(META["Requires-Python"])
    assert f"{pythons[0][0]}.{pythons[0][1]}" in requires_python
    assert f"{pythons[0][0]}.{pythons[0][1] - 1}" not in requires_python
    (django, *_) = [r for r in _requirements() if r.name.lower() == "django"]
    for c in classifiers:
        if c.startswith("Framework :: Django :: "):
            assert c.rsplit(" ", 1)[1] in django.specifier, c
    for framework in ("Flask", "Django", "aiohttp", "Celery", "AsyncIO"):
        assert f"Framework :: {framework}" in classifiers


def test_project_urls_and_license() -> None:
    urls = dict(u.split(", ", 1) for u in META.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Repository", "Issues", "Changelog"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    assert META["License-Expression"] == "MIT"
    files = [str(f) for f in md.files(DIST) or []]
    assert any(f.endswith("licenses/LICENSE") for f in files), files


def test_readme_links_work_on_a_package_index_page() -> None:
    # The README is the index page's description: a relative link there leads nowhere.
    assert META["Description-Content-Type"].startswith("text/markdown")
    readme = (ROOT / "README.md").read_text()
    assert 'pip install "lark-events[' in readme
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets
    assert [t for t in targets if not t.startswith("https://")] == []


def test_the_readme_install_table_lists_every_extra() -> None:
    readme = (ROOT / "README.md").read_text()
    for extra in META.get_all("Provides-Extra") or []:
        assert f"| `{extra}` |" in readme, extra


def test_modules_come_from_where_the_run_expects() -> None:
    # Under `nox -s sdist` the tests must exercise the installed wheel, not a source tree.
    installed = os.environ.get("LARK_EVENTS_TEST_INSTALLED") == "1"
    for name in (
        "lark_events_core",
        "lark_events_flask",
        "lark_events_django",
        "lark_events_aiohttp",
    ):
        module = importlib.import_module(name)
        in_tree = Path(module.__file__ or "").resolve().is_relative_to(ROOT)
        assert in_tree is not installed, (name, module.__file__)


@pytest.mark.parametrize("path", ["LICENSE", "CHANGELOG.md", "constraints/floors.txt"])
def test_the_files_the_package_promises_exist(path: str) -> None:
    assert (ROOT / path).is_file()
