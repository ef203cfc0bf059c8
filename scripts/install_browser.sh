#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/inspector, marker `browser`), unless it is
# already there. Playwright drives this system browser; it never downloads a browser of its own.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install_browser: /usr/bin/chromium is missing and apt-get is not available" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
test -x /usr/bin/chromium
echo "install_browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)"
