# shellcheck shell=bash
# ensure_venv [GROUP]: create .venv (Python >= 3.10) and install the project with every extra
# (`.[all]`), plus the PEP 735 dependency group GROUP when given (test, dev or bench), once per
# change of pyproject.toml. PYTHON picks the interpreter (default: python3).
ensure_venv() {
    local group="${1:-}" py="${PYTHON:-python3}" stamp=".venv/.installed-all${1:+-$1}"
    if [ ! -x .venv/bin/python ]; then
        "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
            || { echo "lark-events needs Python 3.10 or newer (found: $("$py" --version))" >&2; exit 1; }
        "$py" -m venv .venv
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        # Dependency groups need pip >= 25.1.
        .venv/bin/python -m pip install -q --upgrade "pip>=25.1"
        .venv/bin/python -m pip install -q -e ".[all]" ${group:+--group "$group"}
        touch "$stamp"
    fi
}
