#!/usr/bin/env bash
# Build the documentation site into site/ with warnings as errors (mkdocs build --strict).
# Creates .venv like scripts/test.sh and installs the `docs` dependency group once.
# Extra arguments go to mkdocs build (e.g. --site-dir /tmp/site).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv dev
if [ ! -f .venv/.installed-docs ] || [ pyproject.toml -nt .venv/.installed-docs ]; then
    .venv/bin/python -m pip install -q --group docs
    touch .venv/.installed-docs
fi
export NO_MKDOCS_2_WARNING=1  # Material's notice about its successor, not a problem of ours
exec .venv/bin/mkdocs build --strict "$@"
