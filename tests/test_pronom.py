"""PRONOM formats (issue 23): our PUIDs against FIDO's own command line on the signature corpus, the PDF/A claim,
and the background pass with its search filter, facet, ``GET /v1/formats`` and the inventory.

The corpus (``../shared/vectors/signatures``: PDFs, XML, REM evidences, RFC 3161 tokens) is read in place; an
e-mail and an empty file are made here.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import SHARED_VECTORS, make_settings
from tests.server_process import ServerProcess
from vault.app import Vault
import random

from vault.pronom import Identifier, IdentifierDied, PronomMatch, _fido, _signatures, edges_of, matches
from vault.pronom_signatures import _plan

CORPUS = SHARED_VECTORS / "signatures"
PDFA_1B = CORPUS / "pades/dss/not_signed_pdfa.pdf"
EMAIL = (b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: LRE proof\r\n"
         b"Date: Sun, 6 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe proof of sending.\r\n")


def _ours(path: Path):
    with path.open("rb") as stream:
        edges = edges_of(iter(lambda: stream.read(50_000), b""))  # chunks unaligned with FIDO's 128 KiB windows
    return [m.puid for m in matches(edges.bof, edges.eof)], edges


def _fido_cli(paths: list[Path]) -> dict[str, list[str]]:
    """``fido -noextension -nocontainer`` (the deposit's name is not evidence; no container formats here) in its
    own process: one CSV line per match (``OK``) or per file without one (``KO``)."""
    fido = Path(sys.executable).with_name("fido")
    out = subprocess.run([str(fido), "-noextension", "-nocontainer", *map(str, paths)], capture_output=True,
                         text=True, check=True, timeout=300).stdout
    found: dict[str, list[str]] = {}
    for row in csv.reader(out.splitlines()):
        found.setdefault(row[6], [])
        if row[0] == "OK":
            found[row[6]].append(row[2])
    return found


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared signature corpus is not present")
def test_puids_match_the_fido_command_line(tmp_path):
    (tmp_path / "mail.eml").write_bytes(EMAIL)
    (tmp_path / "empty.bin").write_bytes(b"")
    paths = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".md", ".tsv"))
    paths += [tmp_path / "mail.eml", tmp_path / "empty.bin"]
    cli = _fido_cli(paths)
    ours = {str(p): _ours(p)[0] for p in paths}
    assert ours == {str(p): cli.get(str(p), []) for p in paths}
    kinds = {puid for found in ours.values() for puid in found}
    # PDF 1.3–1.7, PDF/A-1a/1b, XML, e-mail and DER (the tokens) are all among them
    assert {"fmt/18", "fmt/276", "fmt/354", "fmt/95", "fmt/101"} <= kinds
    assert ours[str(tmp_path / "mail.eml")] and ours[str(tmp_path / "empty.bin")] == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared signature corpus is not present")
def test_compiled_signatures_answer_what_fidos_own_matching_does():
    """vault.pronom_signatures against ``Fido.match_formats`` itself, signature names and order included: the corpus,
    its truncations (every first byte, short EOF windows for the ``\\Z`` tails) and bytes changed at random."""
    fido, compiled, rng = _fido(), _signatures(), random.Random(23)
    windows = [(b"", b""), (EMAIL, EMAIL)] + [(bytes(rng.randrange(256) for _ in range(n)),) * 2 for n in (1, 9, 4096)]
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        edges = _ours(path)[1]
        windows.append((edges.bof, edges.eof))
        windows += [(edges.bof[:n], edges.eof[-n:]) for n in (1, 8, 64, 1024)]
        mutated = bytearray(edges.bof[:4096])
        for _ in range(4 if mutated else 0):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        windows.append((bytes(mutated), bytes(mutated)))

    def named(found):
        return [(fido.get_puid(fmt), signature) for fmt, signature in found]

    assert len(windows) > 500
    for bof, eof in windows:
        assert named(compiled.match_formats(bof, eof)) == named(fido.match_formats(bof, eof)), bof[:32]


def test_unusable_patterns_and_priorities_are_handled_as_fido_does(tmp_path):
    """A signature file of FIDO's own format, loaded by FIDO: a regex ``re`` refuses after a matching signature
    (FIDO keeps that match and gives up the rest of the format), one before it, a position FIDO ignores, and a
    format with priority over another."""
    from fido.fido import Fido

    from vault.pronom_signatures import CompiledSignatures

    def fmt(puid, signatures, over=()):
        sigs = "".join(f"<signature><name>{puid} {n}</name>" + "".join(
            f"<pattern><position>{pos}</position><regex>{regex}</regex></pattern>" for pos, regex in patterns)
            + "</signature>" for n, patterns in enumerate(signatures))
        return (f"<format><puid>{puid}</puid><name>{puid}</name>{sigs}"
                + "".join(f"<has_priority_over>{o}</has_priority_over>" for o in over) + "</format>")

    (tmp_path / "sigs.xml").write_text("<formats>" + "".join([
        fmt("t/1", [[("BOF", r"(?s)\Aab")], [("BOF", r"(?s)\Aa(")], [("BOF", r"(?s)\Aa")]]),
        fmt("t/2", [[("BOF", r"(?s)\Aa(")], [("BOF", r"(?s)\Aa")]]),
        fmt("t/3", [[("XYZ", r"(?s)zz"), ("EOF", r"(?s)yz\Z")]]),
        fmt("t/4", [[("VAR", r"(?s)b.{0,3}y")]], over=["t/5"]),
        fmt("t/5", [[("BOF", r"(?s)\A.{0,9}xyz")]]),
        fmt("t/6", [[("EOF", r"(?s)nomatch.{0,9}\Z")], [("IFB", r"(?s)[a-c]b")]])]) + "</formats>")
    fido = Fido(quiet=True, handle_matches=lambda *_: None, conf_dir=str(tmp_path), format_files=["sigs.xml"])
    compiled = CompiledSignatures(fido)
    for data in (b"abxyz", b"a", b"ab", b"xyz", b"zzyz", b"b--y", b"cbxyz"):
        expected = [(fido.get_puid(f), name) for f, name in fido.match_formats(data, data)]
        assert [(fido.get_puid(f), name) for f, name in compiled.match_formats(data, data)] == expected, data
    assert [name for _f, name in compiled.match_formats(b"abxyz", b"abxyz")] == ["t/1 0", "t/3 0", "t/4 0", "t/6 1"]  # t/5 inferior


def test_only_tests_that_cannot_change_an_answer_are_added():
    """A ``\\Z`` pattern is searched in its tail only when nothing in it looks outside the match; literals are
    required only where they are outside any alternative, repetition or case folding."""
    assert _plan(rb"(?s)\A%PDF-1\.[0-7]") == (b"%PDF-1.", ((b"%PDF-1.", 7),), None)
    assert _plan(rb"(?s)\A.{0,144}%PDF") == (b"", ((b"%PDF", 148),), None)  # found by offset 148 or no match
    assert _plan(rb"(?s)\A.*%PDF")[1] == ((b"%PDF", None),)
    assert _plan(rb"(?s)%%EOF(?:\r|\n)\Z") == (b"", ((b"%%EOF", 5),), 6)
    assert _plan(rb"(?s)ab.{0,2048}\Z")[2] == 2050
    assert _plan(rb"(?s)ab.*\Z")[2] is None  # unbounded
    assert _plan(rb"(?s)(?<=x)ab\Z")[2] is None and _plan(rb"(?s)\bab\Z")[2] is None  # looks before the match
    assert _plan(rb"(?i)\Aab") == (b"", (), None)
    assert _plan(rb"(?s)\A(?:ab|cd)ef")[:2] == (b"", ((b"ef", 4),))


def test_the_pass_sends_batches_and_identifies_identical_content_once(vault, depositor):
    batches = []

    class Batched:
        def many(self, windows):
            batches.append([bof for bof, _eof in windows])
            return [PronomMatch("fmt/950", "MIME Email", "1.0", "message/rfc822")] * len(windows)

    ids = [depositor.deposit(EMAIL + tail, filename="m.eml", case_ref=f"B-{n}").json()["id"]
           for n, tail in enumerate([b"", b"", b"1", b""])]
    vault.formats._identify = Batched()
    assert vault.formats.catch_up() == 4
    assert batches == [[EMAIL, EMAIL + b"1"]]
    assert {depositor.get(f"/v1/objects/{i}").json()["format"]["puid"] for i in ids} == {"fmt/950"}


def test_pdfa_claim_is_read_from_the_xmp():
    assert _ours(PDFA_1B)[1].pdfa() == "1b"
    assert _ours(CORPUS / "pades/dss/pades-5-signatures-and-1-document-timestamp.pdf")[1].pdfa() == "1a"
    assert _ours(CORPUS / "pades/dss/hello_signed_INCSAVE_signed_EDITED.pdf")[1].pdfa() is None
    # a claim split across chunks is still found; an XML that mentions pdfaid is no PDF
    xmp = b'<rdf:Description pdfaid:part="2" pdfaid:conformance="U"/>'
    assert edges_of([b"%PDF-1.7\n" + xmp[:20], xmp[20:], b"%%EOF"]).pdfa() == "2u"
    assert edges_of([b"<?xml version='1.0'?>" + xmp]).pdfa() is None
    assert edges_of([b"%PDF-1.7\n<pdfaid:part>4</pdfaid:part>"]).pdfa() == "4"


def test_formats_are_pending_then_identified_searchable_and_counted(vault, admin, depositor):
    pdfa = depositor.deposit(PDFA_1B.read_bytes(), case_ref="F-1")
    mail = depositor.deposit(EMAIL, filename="m.eml", media_type="message/rfc822", case_ref="F-1")
    other = admin.as_key(admin.new_key("depositor", "globex")).deposit(PDFA_1B.read_bytes(), case_ref="F-2")
    assert {pdfa.status_code, mail.status_code, other.status_code} == {201}
    auditor = admin.as_key(admin.new_key("auditor", "acme"))
    view = depositor.get(f"/v1/objects/{pdfa.json()['id']}").json()["format"]
    assert view["puid"] == "pending" and view["check"] == "match"
    assert auditor.get("/v1/formats").json()["pending"] == 2

    assert vault.formats.catch_up() == 3
    assert vault.formats.catch_up() == 0  # the watermark moved
    view = depositor.get(f"/v1/objects/{pdfa.json()['id']}").json()["format"]
    assert (view["puid"], view["version"], view["pdfa"]) == ("fmt/354", "1b", "1b")

    found = depositor.get("/v1/objects", params={"format_puid": "fmt/354", "facets": "format_puid"}).json()
    assert [o["id"] for o in found["items"]] == [pdfa.json()["id"]]  # not globex's
    assert found["facets"]["format_puid"] == {"fmt/354": 1}
    every = depositor.get("/v1/objects/count", params={"facets": "format_puid"}).json()["facets"]["format_puid"]
    assert every == {"fmt/354": 1, "fmt/950": 1}
    assert depositor.get("/v1/objects/count", params={"format_puid": "pending"}).json()["count"] == 0

    held = auditor.get("/v1/formats")
    assert held.status_code == 200, held.text
    body = held.json()
    assert body["tenant"] == "acme" and body["pending"] == 0 and body["unidentified"] == 0
    assert {(f["puid"], f["version"], f["pdfa"], f["objects"]) for f in body["formats"]} == {
        ("fmt/354", "1b", "1b", 1), ("fmt/950", "1.0", None, 1)}  # PDF/A-1b; MIME e-mail
    assert depositor.get("/v1/formats").status_code == 403
    everyone = admin.get("/v1/formats").json()
    assert everyone["tenant"] is None and everyone["formats"][0] == {**everyone["formats"][0], "puid": "fmt/354",
                                                                       "objects": 2}
    inventory = admin.get("/v1/admin/crypto-inventory").json()
    assert inventory["formats"] == {k: everyone[k] for k in ("formats", "pending", "unidentified")}
    journaled = admin.get("/v1/journal/entries", params={"action": "formats_view"})
    assert [(e["role"], e["tenant"]) for e in journaled.json()["entries"]] == [
        ("auditor", "acme"), ("auditor", "acme"), ("admin", None)]  # the depositor's 403 is an access_denied



def test_the_background_pass_identifies_deposits_by_itself(vault, depositor):
    """The job as the server runs it: a thread on a tick, FIDO in its low-priority child process."""
    stored = depositor.deposit(EMAIL, filename="m.eml", media_type="message/rfc822")
    assert stored.status_code == 201
    vault.formats.start(0.05)
    deadline = time.monotonic() + 60
    while depositor.get(f"/v1/objects/{stored.json()['id']}").json()["format"]["puid"] == "pending":
        assert time.monotonic() < deadline, "the format pass identified nothing in 60 s"
        time.sleep(0.1)
    assert depositor.get(f"/v1/objects/{stored.json()['id']}").json()["format"]["puid"] == "fmt/950"


@pytest.mark.parametrize("enabled", [True, False])
def test_the_format_pass_starts_with_the_jobs_unless_switched_off(tmp_path, database_url, enabled):
    """``VAULT_FORMAT_IDENTIFICATION=false`` (bench/ingest.py ``--formats off``): the other jobs run, not this one."""
    opened = Vault.open(make_settings(tmp_path, database_url, format_identification=enabled),
                        sweep_in_background=False)
    try:
        mine = {thread for thread in threading.enumerate() if thread in (opened.formats.follower._thread,
                                                                          opened.cases.follower._thread)}
        assert {thread.name for thread in mine} == ({"vault-formats", "vault-cases"} if enabled else {"vault-cases"})
    finally:
        opened.close()
def test_stopping_ends_a_long_pass_at_the_next_object_and_keeps_what_it_identified(vault, depositor):
    """A server's shutdown waits for no backlog: the pass stops after the object in hand, commits it, and the
    watermark resumes after it (a stop used to wait up to 10 s for the batch, then abandon it)."""
    ids = [depositor.deposit(EMAIL + str(n).encode(), filename="m.eml", media_type="message/rfc822").json()["id"]
           for n in range(6)]
    started, seen = threading.Event(), []

    def slow(bof: bytes, eof: bytes):
        seen.append(bof)
        started.set()
        time.sleep(0.3)  # fault injection: an identification that takes long
        return None

    vault.formats._identify = slow
    vault.formats.start(0.01)
    assert started.wait(30)
    began = time.monotonic()
    vault.formats.stop()
    assert time.monotonic() - began < 1, "stop waited for the whole backlog"
    pending = [i for i in ids if depositor.get(f"/v1/objects/{i}").json()["format"]["puid"] == "pending"]
    assert 0 < len(pending) < len(ids) and len(seen) == len(ids) - len(pending)  # the identified ones kept
    vault.formats._identify = lambda bof, eof: None
    vault.formats.follower._stop.clear()
    assert vault.formats.catch_up() == len(pending)  # resumed after them, none identified twice


def test_a_killed_identifier_child_is_replaced_at_the_next_call():
    identifier = Identifier()
    try:
        assert identifier(b"%PDF-1.4\n", b"%%EOF").puid == "fmt/18"
        assert [m and m.puid for m in identifier.many([(b"%PDF-1.4\n", b"%%EOF"), (b"\0", b"\0"), (EMAIL, EMAIL)])
                ] == ["fmt/18", None, "fmt/950"] and identifier.many([]) == []
        os.kill(identifier._child.pid, signal.SIGKILL)
        with pytest.raises(IdentifierDied):  # this pass fails (logged, retried at the next tick)
            identifier(b"%PDF-1.4\n", b"%%EOF")
        assert identifier(b"%PDF-1.4\n", b"%%EOF").puid == "fmt/18"
    finally:
        identifier.close()


def test_a_live_server_identifies_its_deposits(tmp_path):
    """``vault serve`` as operators run it: the job starts with the server and its child answers."""
    with ServerProcess(tmp_path / "data") as server, server.client() as http:
        key = http.post("/v1/keys", json={"role": "depositor", "tenant": "acme"}).json()["key"]
        files = {"file": ("p.pdf", PDFA_1B.read_bytes(), "application/pdf"),
                 "metadata": (None, json.dumps({"case_ref": "LIVE-1", "policy": "lre-proof"}), "application/json")}
        stored = http.post("/v1/objects", files=files, headers={"Authorization": f"Bearer {key}"})
        assert stored.status_code == 201, stored.text
        deadline = time.monotonic() + 60
        while (held := http.get("/v1/formats").json())["pending"]:
            assert time.monotonic() < deadline, held
            time.sleep(0.2)
        assert [(f["puid"], f["pdfa"], f["objects"]) for f in held["formats"]] == [("fmt/354", "1b", 1)]


def test_the_child_reads_local_files_itself_with_the_same_answers(tmp_path):
    """:meth:`Identifier.files` (the pass on the local store): the same PUIDs as the bytes sent over the pipe, the
    PDF/A claim read in the child, None for a file that does not exist."""
    paths = [PDFA_1B, CORPUS / "pades/dss/hello_signed_INCSAVE_signed_EDITED.pdf", tmp_path / "gone"]
    (tmp_path / "random").write_bytes(bytes(range(256)) * 700)  # over 128 KiB: BOF and EOF differ
    paths.insert(2, tmp_path / "random")
    identifier = Identifier()
    try:
        found = identifier.files([str(path) for path in paths])
        windows = [(edges.bof, edges.eof) for edges in (edges_of([path.read_bytes()]) for path in paths[:3])]
        assert [f and f[0] for f in found[:3]] == identifier.many(windows) and found[3] is None
        assert [f[1] for f in found[:3]] == ["1b", None, None]
    finally:
        identifier.close()


def test_content_missing_from_the_local_store_is_read_from_a_copy_or_recorded_unidentified(vault, depositor, caplog):
    """The child reads the local store's files; what is not there (another host's deposit, a lost local copy) is
    read from the other stores (the S3 copies of the PostgreSQL + Ceph variant); what no store holds is recorded
    unidentified."""
    stored = depositor.deposit(EMAIL, filename="m.eml", media_type="message/rfc822").json()
    kept = depositor.deposit(EMAIL + b"2", filename="m.eml", media_type="message/rfc822").json()
    vault.store.path_for(stored["sha256"]).unlink()
    copied = len(vault.copies.stores) > 1 and any(s.exists(stored["sha256"]) for s in vault.copies.stores[1:])
    assert vault.formats.catch_up() == 2
    assert depositor.get(f"/v1/objects/{stored['id']}").json()["format"]["puid"] == ("fmt/950" if copied else None)
    assert depositor.get(f"/v1/objects/{kept['id']}").json()["format"]["puid"] == "fmt/950"
    assert (f"the content of {stored['id']} is missing from the store" in caplog.text) is not copied
