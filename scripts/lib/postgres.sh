# A throwaway PostgreSQL on loopback for tests: private port, private socket directory, stopped by stop_postgres.
# Exports VAULT_TEST_DATABASE_URL (a superuser 'vault' that may create one database per test).
# Durable by default (fsync, full_page_writes, synchronous_commit all on, as in production: benchmarks measure
# that); PG_NOT_DURABLE=1 (scripts/test) turns fsync and full_page_writes off for a throwaway test cluster.

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_pg_as() {
    # initdb and postgres refuse to run as root: use the 'postgres' user then.
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
    ensure_debian_packages postgresql
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [ -x "$PG_BIN/initdb" ] || { echo "vault: PostgreSQL binaries not found under /usr/lib/postgresql" >&2; return 1; }
    PG_WORK="$(mktemp -d /tmp/vault-pg.XXXXXX)"
    chmod 755 "$PG_WORK"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$PG_WORK"
    PG_PORT="$(free_port)"
    local durability="-c synchronous_commit=on"
    [ "${PG_NOT_DURABLE:-0}" = 1 ] && durability="-c fsync=off -c full_page_writes=off"
    _pg_as "$PG_BIN/initdb" -D "$PG_WORK/data" -U vault --auth=trust -E UTF8 --no-locale >"$PG_WORK/initdb.log" 2>&1 \
        || { cat "$PG_WORK/initdb.log" >&2; return 1; }
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_WORK/data" -l "$PG_WORK/server.log" -w -t 60 start \
        -o "-p $PG_PORT -k $PG_WORK -c listen_addresses=127.0.0.1 $durability -c max_connections=200" \
        >/dev/null || { cat "$PG_WORK/server.log" >&2; return 1; }
    export VAULT_TEST_DATABASE_URL="postgresql+psycopg://vault@127.0.0.1:$PG_PORT/postgres"
    echo "vault: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT" >&2
}

stop_postgres() {
    [ -n "${PG_WORK:-}" ] || return 0
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_WORK"
    PG_WORK=""
}
