# A throwaway Ceph RGW (S3 with Object Lock) on loopback for tests: one monitor, one RAM-backed (memstore) OSD and one
# radosgw, no authentication inside the cluster, everything (config, data, logs, sockets, pid files) in a private
# directory; stopped by stop_ceph_rgw. Needs the Debian packages radosgw, ceph-mon and ceph-osd, and python3.
# Exports VAULT_TEST_S3_ENDPOINT (path-style addressing), VAULT_TEST_S3_ACCESS_KEY, VAULT_TEST_S3_SECRET_KEY,
# VAULT_TEST_S3_REGION and VAULT_TEST_CEPH_DIR (ceph.conf, log/*.log).

_ceph_free_ports() {
    # Two distinct free loopback ports (both sockets are held open together, so they differ).
    python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))'
}

_ceph_fail() {
    # _ceph_fail MESSAGE LOG...: print the given logs (their ends), the message, stop what started; the caller returns 1.
    local msg="$1" f
    shift
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "==> $f <==" >&2
        tail -n 200 "$f" >&2
    done
    echo "vault: $msg" >&2
    stop_ceph_rgw
}

_ceph_pids() {
    # The live processes started with our ceph.conf: from the pid files, and anything whose command line names it.
    local conf="$CEPH_RGW_WORK/ceph.conf" f pid
    {
        for f in "$CEPH_RGW_WORK"/run/*.pid; do
            [ -s "$f" ] && cat "$f"
        done
        pgrep -f -- "$conf" 2>/dev/null || true
    } | sort -un | while read -r pid; do
        case "$pid" in ''|*[!0-9]*) continue ;; esac
        # Only ours: the command line must name our ceph.conf (a pid from a stale file may have been reused).
        tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$conf" && echo "$pid"
    done
    return 0
}

_ceph_alive() {
    # Running, not exited: a daemon that exited may linger as a zombie (state Z) until reaped; that counts as stopped.
    local state
    state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
    case "$state" in ''|Z*) return 1 ;; esac
    return 0
}

start_ceph_rgw() {
    local tool
    for tool in monmaptool ceph-mon ceph-osd ceph radosgw radosgw-admin python3; do
        command -v "$tool" >/dev/null 2>&1 \
            || { echo "vault: $tool not found (Debian packages radosgw ceph-mon ceph-osd)" >&2; return 1; }
    done
    CEPH_RGW_WORK="$(mktemp -d /tmp/vault-ceph.XXXXXX)" || { echo "vault: mktemp failed" >&2; return 1; }
    local dir="$CEPH_RGW_WORK"
    local conf="$dir/ceph.conf" ports mon_port rgw_port fsid osd_uuid
    ports="$(_ceph_free_ports)" || { _ceph_fail "no free port for Ceph"; return 1; }
    read -r mon_port rgw_port <<<"$ports"
    fsid="$(python3 -c 'import uuid; print(uuid.uuid4())')"
    osd_uuid="$(python3 -c 'import uuid; print(uuid.uuid4())')"
    mkdir -p "$dir/mon" "$dir/osd" "$dir/rgw" "$dir/run" "$dir/log" "$dir/crash"

    # Ceph expands $cluster, $name and $id itself: they are escaped here.
    cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = 127.0.0.1:$mon_port
auth cluster required = none
auth service required = none
auth client required = none
osd objectstore = memstore
memstore device bytes = 1073741824
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 2000
paxos propose interval = 0.05
paxos min wait = 0.01
mon data avail crit = 0
run dir = $dir/run
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/cluster.log
crash dir = $dir/crash
keyring = $dir/keyring

[mon]
mon data = $dir/mon
admin socket = $dir/run/\$name.asok

[osd]
osd data = $dir/osd
public addr = 127.0.0.1
cluster addr = 127.0.0.1
admin socket = $dir/run/\$name.asok

[client.rgw.vault]
ms mon client mode = crc
auth client required = none
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
admin socket = $dir/run/\$name.asok
EOF

    # Every step is bounded (timeout): a daemon that cannot reach the monitor would otherwise wait in the foreground
    # for 'client mount timeout' (300 s) before failing. The daemons fork into the background once ready.
    local out="$dir/log/setup.out"
    monmaptool --create --add a "127.0.0.1:$mon_port" --fsid "$fsid" "$dir/monmap" >"$out" 2>&1 \
        || { _ceph_fail "monmaptool failed (output above)" "$out"; return 1; }
    timeout 30 ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >>"$out" 2>&1 \
        || { _ceph_fail "ceph-mon --mkfs failed (output above)" "$out" "$dir/log/mon.a.log"; return 1; }
    timeout 30 ceph-mon -c "$conf" -i a >>"$out" 2>&1 \
        || { _ceph_fail "ceph-mon did not start (log above)" "$out" "$dir/log/mon.a.log"; return 1; }
    timeout 30 ceph -c "$conf" --connect-timeout 25 osd create "$osd_uuid" >>"$out" 2>&1 \
        || { _ceph_fail "ceph osd create failed (log above)" "$out" "$dir/log/mon.a.log"; return 1; }
    timeout 30 ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$out" 2>&1 \
        || { _ceph_fail "ceph-osd --mkfs failed (log above)" "$out" "$dir/log/osd.0.log"; return 1; }
    timeout 30 ceph-osd -c "$conf" -i 0 >>"$out" 2>&1 \
        || { _ceph_fail "ceph-osd did not start (log above)" "$out" "$dir/log/osd.0.log"; return 1; }
    timeout 30 radosgw -c "$conf" -n client.rgw.vault >>"$out" 2>&1 \
        || { _ceph_fail "radosgw did not start (log above)" "$out" "$dir/log/client.rgw.vault.log"; return 1; }

    # The gateway creates its pools, then serves: wait up to 30 s for any HTTP answer, giving up early if it exited.
    python3 - "http://127.0.0.1:$rgw_port/" "$dir/run/client.rgw.vault.pid" <<'PY' \
        || { _ceph_fail "Ceph RGW did not answer on 127.0.0.1:$rgw_port (it exited, or not within 30 s; logs above)" \
                 "$out" "$dir/log/mon.a.log" "$dir/log/osd.0.log" "$dir/log/client.rgw.vault.log"; return 1; }
import sys, time, urllib.error, urllib.request
url, pid_file = sys.argv[1:]
def exited():
    try:
        pid = open(pid_file).read().strip()
    except OSError:
        return False  # not written yet
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except OSError:
        pass
    if exited():
        sys.exit(1)
    time.sleep(0.05)
sys.exit(1)
PY

    local access_key secret_key
    access_key="$(python3 -c 'import secrets, string; print("".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(20)))')"
    secret_key="$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')"
    timeout 60 radosgw-admin -c "$conf" -n client.admin user create --uid=vault-test --display-name=vault-test \
        --access-key="$access_key" --secret-key="$secret_key" >"$dir/log/user-create.out" 2>&1 \
        || { _ceph_fail "radosgw-admin user create failed (output above)" "$dir/log/user-create.out" \
                 "$dir/log/client.admin.log"; return 1; }

    export VAULT_TEST_S3_ENDPOINT="http://127.0.0.1:$rgw_port"
    export VAULT_TEST_S3_ACCESS_KEY="$access_key"
    export VAULT_TEST_S3_SECRET_KEY="$secret_key"
    export VAULT_TEST_S3_REGION="us-east-1"
    export VAULT_TEST_CEPH_DIR="$dir"
    echo "vault: Ceph RGW (ceph version $(ceph --version | awk '{print $3}')) on 127.0.0.1:$rgw_port" >&2
}

stop_ceph_rgw() {
    if [ -n "${CEPH_RGW_WORK:-}" ] && [ -d "$CEPH_RGW_WORK" ]; then
        local pids pid i left
        pids="$(_ceph_pids)"
        if [ -n "$pids" ]; then
            # SIGKILL: the cluster is thrown away with its directory, and on SIGTERM the OSD would first save its
            # memstore to disk and wait up to 5 s to tell the (also stopping) monitor it is going down.
            for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
            for i in $(seq 100); do
                left=""
                for pid in $pids; do _ceph_alive "$pid" && left="$left $pid"; done
                [ -n "$left" ] || break
                sleep 0.05
            done
            [ -z "$left" ] || echo "vault: Ceph processes still running after SIGKILL:$left" >&2
        fi
        rm -rf "$CEPH_RGW_WORK"
    fi
    CEPH_RGW_WORK=""
    unset VAULT_TEST_S3_ENDPOINT VAULT_TEST_S3_ACCESS_KEY VAULT_TEST_S3_SECRET_KEY VAULT_TEST_S3_REGION \
        VAULT_TEST_CEPH_DIR
    return 0
}
