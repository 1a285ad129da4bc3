# A throwaway RFC 3161 Time-Stamp Authority on loopback for tests: OpenSSL's 'openssl ts -reply' behind the HTTP front
# in tests/interop/openssl_tsa.py, with its own test PKI in a private directory; stopped by stop_test_tsa.
# Exports VAULT_TEST_TSA_URL (POST a DER TimeStampReq there), VAULT_TEST_TSA_ROOTS (the root CA, PEM) and
# VAULT_TEST_TSA_DIR (root.pem, tsa.pem, tsa.cnf, tsa.log). Needs .venv (ensure_venv) and the openssl tool.

start_test_tsa() {
    command -v openssl >/dev/null 2>&1 || { echo "vault: openssl not found (Debian package openssl)" >&2; return 1; }
    TSA_WORK="$(mktemp -d /tmp/vault-tsa.XXXXXX)"
    if ! .venv/bin/python tests/interop/openssl_tsa.py pki "$TSA_WORK" >"$TSA_WORK/tsa.log" 2>&1; then
        cat "$TSA_WORK/tsa.log" >&2
        echo "vault: creating the test TSA's PKI failed" >&2
        stop_test_tsa
        return 1
    fi
    .venv/bin/python tests/interop/openssl_tsa.py serve "$TSA_WORK" --port 0 --ready-file "$TSA_WORK/port" \
        >>"$TSA_WORK/tsa.log" 2>&1 &
    TSA_PID=$!
    local i port=""
    for i in $(seq 100); do
        if [ -s "$TSA_WORK/port" ]; then port="$(cat "$TSA_WORK/port")"; break; fi
        kill -0 "$TSA_PID" 2>/dev/null || break
        sleep 0.1
    done
    case "$port" in
        ''|*[!0-9]*)
            cat "$TSA_WORK/tsa.log" >&2
            echo "vault: the test TSA did not start within 10 s (log above)" >&2
            stop_test_tsa
            return 1
            ;;
    esac
    export VAULT_TEST_TSA_URL="http://127.0.0.1:$port/"
    export VAULT_TEST_TSA_ROOTS="$TSA_WORK/root.pem"
    export VAULT_TEST_TSA_DIR="$TSA_WORK"
    echo "vault: test TSA ($(openssl version | awk '{print $1, $2}') ts -reply) on 127.0.0.1:$port" >&2
}

stop_test_tsa() {
    if [ -n "${TSA_PID:-}" ]; then
        kill "$TSA_PID" 2>/dev/null || true
        local i
        for i in $(seq 50); do
            kill -0 "$TSA_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$TSA_PID" 2>/dev/null; then kill -9 "$TSA_PID" 2>/dev/null || true; fi
        wait "$TSA_PID" 2>/dev/null || true
        TSA_PID=""
    fi
    if [ -n "${TSA_WORK:-}" ]; then
        rm -rf "$TSA_WORK"
        TSA_WORK=""
    fi
    unset VAULT_TEST_TSA_URL VAULT_TEST_TSA_ROOTS VAULT_TEST_TSA_DIR
}
