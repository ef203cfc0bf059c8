"""``manage.py runserver`` on ``$PORT`` (default 9999) instead of Django's 8000."""

from __future__ import annotations

import os

from django.core.management.commands.runserver import Command as RunserverCommand


class Command(RunserverCommand):
    """Django's development server; an address given on the command line still wins."""

    default_port = os.environ.get("PORT") or "9999"
