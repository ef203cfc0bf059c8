#!/usr/bin/env bash
# Run the whole test suite. Creates .venv and installs the project with all its extras and the
# dev dependency group on first use (and again whenever pyproject.toml changes). Extra arguments
# go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv dev
exec .venv/bin/python -m pytest "$@"
