"""ASGI entry point, for uvicorn (see the README).

Under ASGI the lark views are async views; sync handlers run in a worker thread, never on the
event loop.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "echo_project.settings")

application = get_asgi_application()
