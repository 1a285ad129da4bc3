# Create or update .venv with the package, the standalone verifier (./verifier, which vault imports) and the test
# extras; re-installs only when a pyproject.toml changed.
ensure_venv() {
    local python="${PYTHON:-python3}"
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "vault: $python not found; install Python 3.11 or newer" >&2
        return 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "vault: Python 3.11 or newer is needed ($("$python" --version))" >&2
        return 1
    fi
    if [ ! -x .venv/bin/python ]; then
        "$python" -m venv .venv
    fi
    local stamp=.venv/.vault-installed
    local want
    want="$(cat pyproject.toml verifier/pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x .venv/bin/vault ] \
       || [ ! -x .venv/bin/vault-verify ]; then
        echo "vault: installing into .venv (a minute on a fresh machine)" >&2
        if ! { .venv/bin/python -m pip install --quiet --upgrade pip && \
               .venv/bin/python -m pip install --quiet -e ./verifier -e '.[test]'; } >.venv/install.log 2>&1; then
            cat .venv/install.log >&2
            echo "vault: installing the package failed (log above, also in .venv/install.log)" >&2
            return 1
        fi
        echo "$want" > "$stamp"
    fi
}
