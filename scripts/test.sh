#!/usr/bin/env bash
# Run the whole test suite. Creates .venv and installs the project with its test and dev extras
# on first use (and again whenever pyproject.toml changes). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv dev
exec .venv/bin/python -m pytest "$@"
