# shellcheck shell=bash
# ensure_venv EXTRA: create .venv (Python >= 3.10) and install the project with EXTRA, once per
# change of pyproject.toml.
ensure_venv() {
    local extra="$1" py="${PYTHON:-python3}" stamp=".venv/.installed-$1"
    if [ ! -x .venv/bin/python ]; then
        "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
            || { echo "lark-events needs Python 3.10 or newer (found: $("$py" --version))" >&2; exit 1; }
        "$py" -m venv .venv
        .venv/bin/python -m pip install -q --upgrade pip
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install -q -e ".[$extra]"
        touch "$stamp"
    fi
}
