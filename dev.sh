#!/usr/bin/env bash
# The two commands of the README:
#   ./dev.sh serve [--host H] [--port P]   start the server on the embedded default store
#   ./dev.sh test  [pytest args]           run the whole test suite
# Each creates .venv and installs what is missing first, so a fresh clone needs only python3.
set -euo pipefail
cd "$(dirname "$0")"

venv=.venv
stamp="$venv/.installed"

ensure_venv() {
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" || {
            echo "python3 -m venv failed: install the venv module (Debian: apt-get install python3-venv)" >&2
            exit 2
        }
    fi
    # Reinstall when pyproject.toml changed since the last install.
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
        touch "$stamp"
    fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    serve)
        ensure_venv
        exec "$venv/bin/python" serve.py "$@"
        ;;
    test)
        ensure_venv
        "$venv/bin/ruff" check .
        exec "$venv/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: ./dev.sh serve [--host H] [--port P] | ./dev.sh test [pytest args]" >&2
        exit 2
        ;;
esac
