"""``lark_events_core.asgi`` stays framework-free and exports exactly its public names."""

from __future__ import annotations

import subprocess
import sys
import types

import lark_events_core.asgi as asgi_module

FRAMEWORKS = ("aiohttp", "starlette", "fastapi", "uvicorn", "flask", "django", "httpx", "anyio")


def test_importing_the_asgi_app_imports_no_framework() -> None:
    code = (
        "import sys, lark_events_core.asgi\n"
        f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_all_lists_exactly_the_public_names() -> None:
    assert sorted(asgi_module.__all__) == ["ASGIApp", "Receive", "Scope", "Send", "route_path"]
    defined_here = {
        name
        for name, value in vars(asgi_module).items()
        if not name.startswith("_")
        and isinstance(value, (type, types.FunctionType))
        and value.__module__ == asgi_module.__name__
    }
    assert defined_here <= set(asgi_module.__all__)
    for name in defined_here:
        assert (getattr(asgi_module, name).__doc__ or "").strip(), name
