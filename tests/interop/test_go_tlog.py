"""Interop: a journal exported by ``vault journal export`` is checked by Go's golang.org/x/mod/sumdb/{note,tlog}
(Debian golang-go and golang-golang-x-mod-dev), and Go's own inclusion proofs equal ours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server_process import ROOT, ServerProcess, deposit

GOPATH = Path("/usr/share/gocode")
CHECKER = Path(__file__).with_name("tlogcheck.go")
pytestmark = pytest.mark.slow


def go_tlogcheck(work: Path) -> Path | None:
    """The Go checker built under ``work``; None (a skip) where Go or x/mod is missing, a failure under CI."""
    if not shutil.which("go") or not (GOPATH / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        if os.environ.get("CI"):
            pytest.fail("Go and golang.org/x/mod are missing: scripts/test installs golang-go golang-golang-x-mod-dev")
        return None
    out, cache = work / "tlogcheck", work / "gocache"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": str(cache), "GOFLAGS": ""}
    subprocess.run(["go", "build", "-o", str(out), str(CHECKER)], check=True, env=env, timeout=300,
                   capture_output=True)
    return out


@pytest.fixture(scope="module")
def tlogcheck(tmp_path_factory) -> Path:
    checker = go_tlogcheck(tmp_path_factory.mktemp("go"))
    if checker is None:
        pytest.skip("Go or golang.org/x/mod missing (apt-get install golang-go golang-golang-x-mod-dev)")
    return checker


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("tlog") / "data", env={"VAULT_CHECKPOINT_INTERVAL": "1"}) as running:
        yield running


def export(server, key: str, directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vault.cli.main", "journal", "export", str(directory),
                           "--url", server.url, "--key", key, "--json"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def wait_for_checkpoint(server, key: str, size: int) -> None:
    import time

    with server.client(key) as http:
        for _ in range(100):
            note = http.get("/journal/checkpoint")
            if note.status_code == 200 and int(note.text.split("\n")[1]) >= size:
                return
            time.sleep(0.1)
    raise AssertionError("no checkpoint of the expected size")


def test_go_checks_our_tiles_checkpoint_and_proofs(server, tlogcheck, tmp_path):
    key = server.new_key("depositor", "acme")
    with server.client(key) as http:
        for i in range(300):  # more than one full tile of 256 entries
            assert deposit(http, f"go interop {i}".encode()).status_code == 201
    auditor = server.new_key("auditor", "*")
    wait_for_checkpoint(server, auditor, 301)
    done = export(server, auditor, tmp_path / "export")
    assert done.returncode == 0, done.stderr
    size = json.loads(done.stdout)["size"]
    assert (tmp_path / "export/tile/0/000").stat().st_size == 256 * 32
    indexes = [0, 255, 256, size - 1]
    checked = subprocess.run([str(tlogcheck), str(tmp_path / "export"), *map(str, indexes)], capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["size"] == size and report["origin"] == "vault.local/journal" and report["tiles"] >= 2
    with server.client(auditor) as http:
        for index in indexes:
            ours = http.get("/v1/journal/proof/inclusion", params={"index": index, "size": size}).json()
            assert ours["root"] == report["root"]
            assert ours["proof"] == report["proofs"][str(index)]


def test_go_rejects_a_tampered_export(server, tlogcheck, tmp_path):
    auditor = server.new_key("auditor", "*")
    with server.client(server.new_key("depositor", "acme")) as http:
        assert deposit(http, b"one more").status_code == 201
    wait_for_checkpoint(server, auditor, 3)
    assert export(server, auditor, tmp_path / "export").returncode == 0
    bundle = next((tmp_path / "export/tile/entries").rglob("*"))
    while bundle.is_dir():
        bundle = next(bundle.rglob("*"))
    data = bytearray(bundle.read_bytes())
    data[10] ^= 1
    bundle.write_bytes(bytes(data))
    checked = subprocess.run([str(tlogcheck), str(tmp_path / "export")], capture_output=True, text=True, timeout=60)
    assert checked.returncode != 0 and "differs from the checkpoint" in checked.stderr
