"""The test matrix: every supported Python, the dependency floors, and the built package.

    .venv/bin/nox -l                       # list the sessions
    .venv/bin/nox -s tests                 # the suite on every supported Python found here
    .venv/bin/nox -s floors                # on the oldest Python and every dependency's floor
    .venv/bin/nox -s "compat(lib='django', bound='newest')"  # one framework's tests, one bound
    .venv/bin/nox -s sdist                 # build sdist + wheel, test the wheel from the sdist

Arguments after ``--`` go to pytest (``nox -s floors -- -m "not e2e"``). The floors are the
lower bounds of pyproject.toml, pinned in constraints/floors.txt; every other package resolves
to its newest release, as it does for a user who pins one framework. Interpreters are looked up
on PATH and in pyenv's versions; a Python this machine lacks is skipped.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
FLOORS = ROOT / "constraints" / "floors.txt"
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "floors"]


def _add_pyenv_pythons() -> None:
    """Put pyenv's interpreters on PATH ahead of its shims (which refuse inactive versions)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    dirs = sorted(str(p.parent) for p in root.glob("3.*/bin/python") if p.is_file())
    if dirs:
        os.environ["PATH"] = os.pathsep.join([*reversed(dirs), os.environ.get("PATH", "")])


def _available(versions: tuple[str, ...]) -> list[str]:
    return [v for v in versions if shutil.which(f"python{v}")]


_add_pyenv_pythons()
FOUND = _available(SUPPORTED) or [f"{sys.version_info.major}.{sys.version_info.minor}"]
OLDEST, NEWEST = FOUND[0], FOUND[-1]


def floors() -> dict[str, str]:
    """``{distribution: version}`` pinned in constraints/floors.txt."""
    pins = {}
    for line in FLOORS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


# The tests that exercise each library (what `compat` runs).
COMPAT_TESTS: dict[str, tuple[str, ...]] = {
    "flask": ("tests/integrations/flask", "tests/e2e/test_flask_e2e.py", "tests/testing"),
    "django": ("tests/integrations/django", "tests/e2e/test_django_e2e.py"),
    "aiohttp": (
        "tests/integrations/aiohttp",
        "tests/longconn",
        "tests/outbound",
        "tests/cli",
        "tests/e2e/test_aiohttp_e2e.py",
    ),
    "redis": ("tests/delivery", "tests/outbound/test_store_app.py"),
    "celery": ("tests/delivery/test_celery_executor.py", "tests/e2e/test_delivery_e2e.py"),
    "protobuf": ("tests/longconn",),
}


def _install(session: nox.Session, *constraints: str) -> None:
    session.install("pip>=25.1")  # dependency groups
    session.install("-e", ".[all]", "--group", "test", *constraints)


def _assert_version(session: nox.Session, dist: str, version: str) -> None:
    session.run(
        "python",
        "-c",
        "import importlib.metadata as m, sys; v = m.version(sys.argv[1]); "
        "assert v == sys.argv[2], f'{sys.argv[1]} {v} installed, {sys.argv[2]} expected'",
        dist,
        version,
    )


@nox.session(python=FOUND)
def tests(session: nox.Session) -> None:
    """The whole suite on one Python, every dependency at its newest."""
    _install(session)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(name="floors", python=OLDEST)
def floors_session(session: nox.Session) -> None:
    """The whole suite on the oldest Python with every runtime dependency at its floor."""
    _install(session, "-c", str(FLOORS))
    for dist, version in floors().items():
        _assert_version(session, dist, version)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
@nox.parametrize(
    ("python", "lib", "bound"),
    [(OLDEST, lib, "oldest") for lib in COMPAT_TESTS]
    + [(NEWEST, lib, "newest") for lib in COMPAT_TESTS],
    ids=[f"{lib}-{bound}" for bound in ("oldest", "newest") for lib in COMPAT_TESTS],
)
def compat(session: nox.Session, lib: str, bound: str) -> None:
    """One library's tests at its floor (on the oldest Python) or its newest (on the newest).

    Only that library is pinned: the others resolve to their newest releases.
    """
    if bound == "oldest":
        floor = floors()[lib]
        _install(session, f"{lib}=={floor}")
        _assert_version(session, lib, floor)
    else:
        _install(session, "--upgrade", lib)
    session.run(
        "python",
        "-c",
        "import importlib.metadata as m, sys; print(sys.argv[1], m.version(sys.argv[1]))",
        lib,
    )
    session.run("python", "-m", "pytest", *COMPAT_TESTS[lib], *session.posargs)


# What the sdist must hold for its tests to run (and for the license to travel with it).
SDIST_MUST_HOLD = (
    "LICENSE",
    "CHANGELOG.md",
    "README.md",
    "pyproject.toml",
    "noxfile.py",
    "constraints/floors.txt",
    "docs/testing.md",
    "scripts/test.sh",
    "tests/conftest.py",
    "tests/vectors",
    "sample_projects/flask_echo",
    "lark_events_core/py.typed",
)


@nox.session(python=NEWEST)
def sdist(session: nox.Session) -> None:
    """Build sdist and wheel; install the wheel here; run the sdist's tests against it.

    The unpacked sdist loses its source packages first, so that every import (the tests', and
    the servers' they start) can only come from the installed wheel.
    """
    session.install("pip>=25.1", "build>=1.2")
    tmp = Path(session.create_tmp()).resolve()
    dist, unpacked = tmp / "dist", tmp / "src"
    for path in (dist, unpacked):
        shutil.rmtree(path, ignore_errors=True)
    session.run(
        "python", "-m", "build", "--outdir", str(dist), str(ROOT)
    )  # the wheel from the sdist
    (archive,) = dist.glob("lark_events-*.tar.gz")
    (wheel,) = dist.glob("lark_events-*.whl")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        top = names[0].split("/", 1)[0]
        missing = [m for m in SDIST_MUST_HOLD if not any(n.startswith(f"{top}/{m}") for n in names)]
        if missing:
            session.error(f"the sdist lacks {missing}")
        if any("node_modules" in n or "__pycache__" in n for n in names):
            session.error("the sdist holds node_modules or __pycache__")
        tar.extractall(unpacked, filter="data")
    tree = unpacked / top
    shutil.rmtree(tree / "lark_events_core")
    shutil.rmtree(tree / "integrations")
    session.install(f"{wheel}[all]", "--group", f"{tree / 'pyproject.toml'}:test")
    session.chdir(tree)
    env = {"LARK_EVENTS_TEST_INSTALLED": "1"}  # tests/test_packaging.py checks where imports go
    session.run("python", "-m", "pytest", *session.posargs, env=env)
