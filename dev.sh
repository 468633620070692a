#!/usr/bin/env bash
# The two commands of the README:
#   ./dev.sh serve [--host H] [--port P]   start the server on the embedded default store
#   ./dev.sh test  [pytest args]           run the whole test suite (ruff, the dependency audit, pytest)
#   ./dev.sh audit                         check the installed dependencies for known vulnerabilities
# Each creates .venv and installs what is missing first, so a fresh clone needs only python3
# (and, for the browser tests, Debian's chromium, which `test` installs with apt-get when missing).
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
        # setuptools too: the one venv bundles is years old, and the audit checks every installed release.
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
        touch "$stamp"
    fi
}

# The browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download does not work here). Install it when missing; without it the suite cannot pass.
chromium=/usr/bin/chromium

ensure_chromium() {
    [ -x "$chromium" ] && return
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || {
            echo "$chromium is missing and this user cannot install it: run 'apt-get install chromium' as root" >&2
            exit 2
        }
        sudo="sudo"
    fi
    echo "installing Debian's chromium for the browser tests" >&2
    if ! { $sudo apt-get update -q && $sudo env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends chromium; } >&2 || [ ! -x "$chromium" ]; then
        echo "could not install chromium ($chromium); the browser tests need it: apt-get install chromium" >&2
        exit 2
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
        ensure_chromium
        "$venv/bin/ruff" check .
        "$venv/bin/python" .ci/audit.py
        exec "$venv/bin/python" -m pytest "$@"
        ;;
    audit)
        ensure_venv
        # pip-audit where its advisory sources answer (PyPI's per-version records or OSV); --strict
        # fails when a package could not be checked rather than pass it unchecked. From this
        # workplace neither answers: `test` runs .ci/audit.py, which reads PyPI's project records.
        exec "$venv/bin/pip-audit" --strict --skip-editable --progress-spinner off "$@"
        ;;
    *)
        echo "usage: ./dev.sh serve [--host H] [--port P] | ./dev.sh test [pytest args] | ./dev.sh audit" >&2
        exit 2
        ;;
esac
