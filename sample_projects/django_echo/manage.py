#!/usr/bin/env python
"""django_echo's command line; ``python manage.py runserver`` listens on ``$PORT`` (def. 9999)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run a Django management command with the sample's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "echo_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
