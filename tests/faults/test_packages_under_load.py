"""Export packages while deposits arrive (issue 19, item 1): two depositors and two exporters against a live server on
the embedded default (SQLite + files) for 30 s. Every package must arrive whole (a 200 that is cut mid-way is the
bug this guards against: the journal's object index took the writer's lock on the package's read path), pass the
standalone verifier, and the server log must hold no traceback.

``VAULT_TEST_LOAD_SECONDS`` shortens the run while iterating.
"""

from __future__ import annotations

import dataclasses
import io
import multiprocessing
import os
import signal
import threading
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.server_process import ServerProcess, deposit
from vault_verify.package import verify_package

SECONDS = float(os.environ.get("VAULT_TEST_LOAD_SECONDS", "30"))
CASE = "LOAD-1"


@pytest.fixture
def server(tmp_path):
    with ServerProcess(tmp_path / "data", env={"VAULT_SEAL_INTERVAL": "1", "VAULT_CHECKPOINT_INTERVAL": "1",
                                               "VAULT_ANCHOR_INTERVAL": "2"}) as live:
        yield live


def _depositor(server: ServerProcess, key: str, until: float, counts: list[int], errors: list[str], n: int) -> None:
    with server.client(key) as http:
        i = 0
        while time.monotonic() < until:
            i += 1
            response = deposit(http, f"depositor {n} proof {i} ".encode() * 200, case_ref=CASE,
                               event_type="sending")
            if response.status_code != 201:
                errors.append(f"deposit {response.status_code}: {response.text[:200]}")
                return
            counts[n] += 1


def _exporter(server: ServerProcess, key: str, until: float, packages: list, errors: list[str], n: int,
              directory) -> None:
    with server.client(key) as http:
        i = 0
        while time.monotonic() < until:
            i += 1
            target = directory / f"exporter-{n}-{i}.zip"
            try:
                with http.stream("GET", f"/v1/cases/{CASE}/package", timeout=120) as response:
                    if response.status_code != 200:
                        errors.append(f"package {response.status_code}: {response.read()[:200]!r}")
                        return
                    with target.open("wb") as out:
                        for chunk in response.iter_bytes():
                            out.write(chunk)
                    packages.append((target, int(response.headers["X-Package-Objects"])))
            except httpx.HTTPError as exc:  # a 200 cut mid-way: IncompleteRead, peer closed connection
                errors.append(f"package {i} of exporter {n} cut: {exc!r}")


def _check(path: Path) -> tuple:
    """In a worker process: the ZIP's CRCs (``testzip``) and the standalone verifier's verdict on one package."""
    with zipfile.ZipFile(path) as archive:
        bad_member = archive.testzip()
    verdict = verify_package(path)
    return bad_member, verdict.ok, str(verdict.first_failure), len(verdict.objects)


@pytest.mark.serial("a 30 s load test: two depositors and two exporters against one server")
def test_two_depositors_two_exporters_every_package_whole(server, tmp_path):
    depositor = server.new_key("depositor", "acme")
    archivist = server.new_key("archivist", "acme")
    with server.client(depositor) as http:  # the case exists before the exporters start
        for i in range(20):
            assert deposit(http, f"seed {i}".encode() * 300, case_ref=CASE, event_type="sending").status_code == 201
    until = time.monotonic() + SECONDS
    counts, packages, errors = [0, 0], [], []
    threads = [threading.Thread(target=_depositor, args=(server, depositor, until, counts, errors, n))
               for n in range(2)]
    threads += [threading.Thread(target=_exporter, args=(server, archivist, until, packages, errors, n, tmp_path))
                for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SECONDS + 180)
    assert not errors, errors[:5]
    assert sum(counts) > 20 and len(packages) >= 4, (counts, len(packages))
    sizes = []
    # every package checked, on both cores (this test runs alone: the verifications took a minute in one process)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        verdicts = pool.map(_check, [path for path, _ in packages])
        for (path, objects), (bad_member, ok, failure, verified) in zip(packages, verdicts):
            assert bad_member is None and ok, (path.name, bad_member, failure)
            assert verified == objects
            sizes.append(objects)
    assert max(sizes) > min(sizes), sizes  # the case grew while it was exported
    log = server.output()
    assert "Traceback" not in log and "database is locked" not in log, log[-3000:]


def test_a_stream_that_fails_leaves_an_unreadable_zip_and_says_why(vault, depositor, monkeypatch, caplog):
    """If a package cannot be finished after its 200 went out, the client must hold a broken ZIP (never a readable
    shorter one), the reason is logged in one line, and the package's snapshot is released."""
    from vault.db import snapshot as snapshot_module

    ids = [depositor.deposit(f"cut {i} ".encode() * 8000, case_ref="CUT-1").json()["id"] for i in range(3)]
    closed = []
    real_close = snapshot_module.Snapshot.close
    monkeypatch.setattr(snapshot_module.Snapshot, "close", lambda self: (closed.append(1), real_close(self)))

    def failing(*_args, **_kwargs):
        raise RuntimeError("the journal could not be read")

    monkeypatch.setattr(vault.journal_objects, "entries", failing)  # fault injection: the last step fails
    response = depositor.get("/v1/cases/CUT-1/package")
    assert response.status_code == 200 and len(response.content) > 0
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(response.content))
    assert not verify_package(io.BytesIO(response.content)).ok
    assert closed == [1]
    cut = [r for r in caplog.records if "cut after" in r.getMessage()]
    assert len(cut) == 1 and "the journal could not be read" in cut[0].getMessage() and not cut[0].exc_info
    assert len(ids) == 3


def _big_case(depositor, case_ref: str, count: int, size: int) -> list[str]:
    return [depositor.deposit(os.urandom(size), case_ref=case_ref).json()["id"] for _ in range(count)]


def test_a_package_built_in_a_child_that_fails_is_cut_and_says_why(vault, depositor, monkeypatch, caplog):
    """A large package is built in a child process; if it fails there (here: the last object's blob is gone), the
    parent ends the stream short — an unreadable ZIP — and logs the child's reason in one line."""
    from vault.api.routes import packages

    monkeypatch.setattr(packages, "CHILD_MIN_OBJECTS", 1)
    ids = _big_case(depositor, "CHILD-CUT-1", 3, 700_000)
    last = vault.catalog.get(ids[-1])
    vault.store.path_for(last["sha256"]).unlink()
    # gone from every store the child reads: on the scaled configuration the S3 copies (COMPLIANCE-locked, not
    # deletable) would serve it, so the child is given the local store alone
    monkeypatch.setattr(vault, "settings", dataclasses.replace(vault.settings, stores=()))
    response = depositor.get("/v1/cases/CHILD-CUT-1/package")
    assert response.status_code == 200 and len(response.content) > 1_000_000  # the first objects went out
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(response.content))
    cut = [r for r in caplog.records if "cut after" in r.getMessage()]
    assert len(cut) == 1 and "BlobNotFound" in cut[0].getMessage() and not cut[0].exc_info, cut
    assert not vault.package_builds.running


def _after_first_piece(vault, monkeypatch, act):
    """Wrap the child builds' stream: after the first piece reached the parent, ``act(pid, stream)``."""
    real = type(vault.package_builds).stream
    seen = []

    def stream(self, job):
        chunks = real(self, job)
        yield next(chunks)
        (pid,) = self.running
        seen.append(pid)
        act(pid, chunks)
        yield from chunks

    monkeypatch.setattr(type(vault.package_builds), "stream", stream)
    return seen


def test_a_package_child_killed_mid_way_leaves_an_unreadable_zip(vault, depositor, monkeypatch, caplog):
    """A child killed while it builds (OOM killer, operator) ends the stream short too, naming its exit."""
    from vault.api.routes import packages

    monkeypatch.setattr(packages, "CHILD_MIN_OBJECTS", 1)
    _big_case(depositor, "CHILD-KILL-1", 8, 2_000_000)
    killed = _after_first_piece(vault, monkeypatch, lambda pid, _chunks: os.kill(pid, signal.SIGKILL))
    response = depositor.get("/v1/cases/CHILD-KILL-1/package")
    assert response.status_code == 200 and killed
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(response.content))
    cut = [r for r in caplog.records if "cut after" in r.getMessage()]
    assert len(cut) == 1 and "exited (-9)" in cut[0].getMessage(), cut
    assert not vault.package_builds.running


def test_a_client_leaving_stops_the_child(vault, depositor, monkeypatch):
    """A client that goes away mid-package (the server closes the response's iterator) leaves no child building
    for nobody."""
    from vault.api.routes import packages

    monkeypatch.setattr(packages, "CHILD_MIN_OBJECTS", 1)
    _big_case(depositor, "CHILD-LEAVE-1", 8, 2_000_000)
    left = _after_first_piece(vault, monkeypatch, lambda _pid, chunks: chunks.close())
    depositor.get("/v1/cases/CHILD-LEAVE-1/package")
    (pid,) = left
    assert not vault.package_builds.running
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
