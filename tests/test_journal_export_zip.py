"""The journal's offline export as one ZIP (``GET /v1/journal/export``, the console's ``/ui/journal/export.zip``):
unpacked, it holds what ``vault journal export DIR`` writes, byte for byte, and ``vault journal verify DIR``
accepts it; a tenant's auditor gets the hash tiles and its own entries only (issue #21)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.test_console import _sign_in
from tests.test_journal_replay import vault_cli
from vault.cli.client import check
from vault.cli.journal import ApiSource
from vault.journal.export import open_export, write_directory


class _Http:
    """The CLI's client calls (``request``, ``json``) over the in-process app, with a key."""

    def __init__(self, client, key: str):
        self.client, self.key = client, key

    def request(self, method: str, path: str, **kwargs):
        return check(self.client.request(method, path, headers={"Authorization": f"Bearer {self.key}"}, **kwargs))

    def json(self, method: str, path: str, **kwargs):
        return self.request(method, path, **kwargs).json()


def _unpack(body: bytes, target: Path) -> Path:
    """Extract the ZIP; its one top directory."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        assert len(tops) == 1, tops
        archive.extractall(target)
    return target / tops.pop()


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def journal(vault, admin):
    """Deposits of two tenants, a signed checkpoint and a TSA anchor of it; the verifier key."""
    acme, globex = (admin.as_key(admin.new_key("depositor", t)) for t in ("acme", "globex"))
    for i in range(6):
        assert acme.deposit(f"%PDF-1.7 acme {i}".encode(), case_ref="ACME-CASE").status_code == 201
        assert globex.deposit(f"%PDF-1.7 globex {i}".encode(), case_ref="GLOBEX-CASE").status_code == 201
    vault.checkpointer.checkpoint_now()
    assert vault.anchorer.anchor_now() is not None
    return {"vkey": vault.checkpointer.signer.verifier.vkey()}


def test_the_zip_is_the_cli_export_and_verifies(journal, client, admin, tmp_path):
    auditor = admin.new_key("auditor", "*")
    answer = admin.as_key(auditor).get("/v1/journal/export")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    unpacked = _unpack(answer.content, tmp_path / "zip")
    size = int(unpacked.name.removeprefix("vault-journal-"))
    assert answer.headers["content-disposition"] == f'attachment; filename="vault-journal-{size}.zip"'
    assert (unpacked / "tile/entries").is_dir() and (unpacked / "anchors/00000000.tsr").is_file()

    cli = tmp_path / "cli"  # the CLI's writer over HTTP: the same files, byte for byte
    export = open_export(ApiSource(_Http(client, auditor)))
    assert write_directory(export, cli) == len(_files(unpacked))
    assert _files(cli) == _files(unpacked)

    done = vault_cli("journal", "verify", str(unpacked), "--vkey", journal["vkey"], "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["entries"] == size and report["scope"] == "*" and report["anchors"] == 1

    (unpacked / "tile/entries/000.p" / str(size)).write_bytes(b"\x00\x02{}" * size)  # the same check fails
    assert vault_cli("journal", "verify", str(unpacked), "--vkey", journal["vkey"]).returncode == 1


def test_a_tenant_auditor_gets_its_own_entries_and_verifies_them(journal, client, admin, tmp_path):
    auditor = admin.new_key("auditor", "acme")
    answer = admin.as_key(auditor).get("/v1/journal/export")
    assert answer.status_code == 200, answer.text
    unpacked = _unpack(answer.content, tmp_path / "zip")
    assert unpacked.name.startswith("vault-journal-acme-")
    assert not (unpacked / "tile/entries").exists() and (unpacked / "tile/0").is_dir()
    listing = (unpacked / "tenant-entries.json").read_text()
    assert '"acme"' in listing and "globex" not in listing
    size = int(unpacked.name.rsplit("-", 1)[1])
    seqs = [e["seq"] for page in json.loads(listing)["pages"] for e in page["entries"]]
    assert seqs and max(seqs) < size  # the auditor's own key_created came after the checkpoint: left out
    assert _files(unpacked) == _files(_cli_export(client, auditor, tmp_path / "cli"))

    done = vault_cli("journal", "verify", str(unpacked), "--vkey", journal["vkey"], "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["scope"] == "acme"
    assert report["entries"] == size and f"{len(seqs)} of its entries" in report["notes"][0]


def test_the_console_download_is_the_same_export(journal, client, admin, tmp_path):
    auditor = admin.new_key("auditor", "acme")
    assert _sign_in(client, auditor).status_code == 303
    page = client.get("/ui/journal")
    assert 'href="/ui/journal/export.zip"' in page.text and "Download the offline export (ZIP)" in page.text
    answer = client.get("/ui/journal/export.zip")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    unpacked = _unpack(answer.content, tmp_path / "zip")
    assert _files(unpacked) == _files(_cli_export(client, auditor, tmp_path / "cli"))
    client.cookies.clear()
    assert _sign_in(client, admin.new_key("archivist", "acme")).status_code == 303
    assert client.get("/ui/journal/export.zip").status_code == 403  # no read_journal: refused (and journaled)


def test_no_checkpoint_yet_is_a_problem(client, admin):
    answer = admin.as_key(admin.new_key("auditor", "*")).get("/v1/journal/export")
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "No checkpoint yet"


def _cli_export(client, key: str, target: Path) -> Path:
    write_directory(open_export(ApiSource(_Http(client, key))), target)
    return target
