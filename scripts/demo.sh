#!/usr/bin/env bash
# Set up .venv with lark-events and run the demo: a local app, a simulated Lark platform, no
# credentials and no services needed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv
exec .venv/bin/lark-events demo "$@"
