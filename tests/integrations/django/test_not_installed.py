"""``include("lark_events_django.urls")`` without ``"lark_events_django"`` in INSTALLED_APPS: the
handlers never load and the checks never run, so loading the URLs says so, loudly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.servers import ROOT

PROJECT = """
import django
from django.conf import settings
from django.urls import include, path

settings.configure(
    INSTALLED_APPS={apps!r},
    ROOT_URLCONF=__name__,
    SECRET_KEY="x" * 50,
    LARK_EVENTS={{"ENCRYPT_KEY": "k"}},
)
django.setup()
urlpatterns = [path("webhook/", include("lark_events_django.urls"))]

from django.core.management import call_command

call_command("check")
"""


def _check(tmp_path: Path, apps: list[str]) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "project.py"
    script.write_text(textwrap.dedent(PROJECT.format(apps=apps)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LARK_", "DJANGO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "integrations")])
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_manage_py_check_says_the_app_is_missing_from_installed_apps(tmp_path: Path) -> None:
    result = _check(tmp_path, ["django.contrib.contenttypes"])
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("'lark_events_django' is not in INSTALLED_APPS") >= 1
    assert "RuntimeWarning" in result.stderr
    assert "docs/django.md" in result.stderr


def test_an_installed_app_gets_no_such_warning(tmp_path: Path) -> None:
    result = _check(tmp_path, ["django.contrib.contenttypes", "lark_events_django"])
    assert result.returncode == 0, result.stderr
    assert "INSTALLED_APPS" not in result.stderr
    assert "lark_events.W002" in result.stderr  # the app's own checks ran: no handler yet
