"""``vault.client`` against a live server, faults injected by a proxy; the CLI's media types and error details."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.fault_proxy import FaultProxy
from tests.server_process import ROOT, ServerProcess
from tests.test_cli import vault
from tests.test_cli_retention import keys  # noqa: F401 (a depositor and an archivist of tenant acme)
from vault.client import ConnectionFailed, DigestMismatch, ProblemError, RetryPolicy, VaultClient
from vault.client.retry import parse_retry_after

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("client") / "data") as running:
        yield running


@pytest.fixture
def proxy(server):
    with FaultProxy(server.url) as running:
        yield running


def client(url, key, attempts=4):
    return VaultClient(url, key, retry=RetryPolicy(attempts=attempts, base=0.01), sleep=lambda s: None)


def count(server, key, case_ref):
    with VaultClient(server.url, key) as api:
        return len(api.json("GET", "/v1/objects", params={"case_ref": case_ref})["items"])


def test_deposit_retried_on_503_507_and_dropped_connections_is_stored_once(server, keys, proxy, tmp_path):
    proof = tmp_path / "proof.pdf"
    proof.write_bytes(b"%PDF-1.7 retried\n" * 100)
    proxy.faults.extend([("POST", "/v1/objects", 503), ("POST", "/v1/objects", "drop"),
                         ("POST", "/v1/objects", 507)])
    with client(proxy.url, keys["depositor"]) as api:
        receipt = api.deposit(proof, {"case_ref": "RETRY-1", "policy": "lre-proof"})
        assert receipt.media_type == "application/pdf" and not receipt.replayed
        assert receipt.sha256 == hashlib.sha256(proof.read_bytes()).hexdigest()  # each retry sent the whole file
        assert [m for m, p in proxy.seen if p == "/v1/objects"] == ["POST"] * 4
        # the answer was lost after the server stored it: the retry with the same key is a replay
        again = api.deposit(proof, {"case_ref": "RETRY-1", "policy": "lre-proof"},
                            idempotency_key=receipt.raw["id"] + "-k")
        proxy.faults.append(("POST", "/v1/objects", 503))
        replay = api.deposit(proof, {"case_ref": "RETRY-1", "policy": "lre-proof"},
                             idempotency_key=receipt.raw["id"] + "-k")
        assert replay.replayed and replay.id == again.id
    assert count(server, keys["depositor"], "RETRY-1") == 2


def test_no_retry_without_idempotency_and_gives_up_after_attempts(server, keys, proxy):
    with client(proxy.url, keys["archivist"], attempts=3) as api:
        proxy.faults.append(("POST", "/v1/holds", 503))
        with pytest.raises(ProblemError) as refused:
            api.json("POST", "/v1/holds", json={"case_ref": "NO-RETRY", "reason": "r"})
        assert refused.value.status == 503 and refused.value.retry_after == 0
        assert [p for m, p in proxy.seen if m == "POST"] == ["/v1/holds"]
        proxy.faults.extend([("GET", "/v1/policies", "drop")] * 3)
        with pytest.raises(ConnectionFailed):
            api.json("GET", "/v1/policies")
        proxy.faults.extend([("GET", "/v1/policies", 503)] * 2)
        assert api.json("GET", "/v1/policies")["policies"]
    assert [p for m, p in proxy.seen if m == "GET"].count("/v1/policies") == 6


def test_download_verifies_the_digest_and_leaves_no_partial_file(server, keys, proxy, tmp_path):
    proof = tmp_path / "a.xml"
    proof.write_bytes(b"<?xml version='1.0'?><proof>download</proof>")
    with client(proxy.url, keys["depositor"]) as api:
        receipt = api.deposit(proof, {"case_ref": "DL-1", "policy": "lre-proof"})
        target = tmp_path / "out" / "copy.xml"
        target.parent.mkdir()
        got = api.download(receipt.id, target)
        assert target.read_bytes() == proof.read_bytes() and got.sha256 == receipt.sha256
        target.unlink()
        proxy.faults.append(("GET", f"/v1/objects/{receipt.id}/content", "corrupt"))
        with pytest.raises(DigestMismatch, match=receipt.sha256):
            api.download(receipt.id, target)
        assert list(target.parent.iterdir()) == []
        with pytest.raises(DigestMismatch):
            api.download(receipt.id, target, expected_sha256="0" * 64)
        assert list(target.parent.iterdir()) == []
    nowhere = vault("get", receipt.id, "-o", str(tmp_path / "no" / "dir.xml"), url=server.url,
                    key=keys["depositor"])
    assert nowhere.returncode == 1 and "No such file" in nowhere.stderr and "Traceback" not in nowhere.stderr


def test_problem_details_are_kept():
    problem = ProblemError.from_body(422, {"type": "urn:vault:problem:invalid-metadata", "title": "Invalid metadata",
                                           "status": 422, "detail": "1 problem", "request_id": "r",
                                           "errors": [{"field": "event_type", "problem": "not one of …"}]})
    assert problem.slug == "invalid-metadata"
    assert str(problem).splitlines() == ["HTTP 422 Invalid metadata: 1 problem", "  errors:",
                                         "    - event_type: not one of …"]
    assert parse_retry_after("7") == 7.0 and parse_retry_after("soon") is None


def test_cli_guesses_the_media_type_and_prints_validation_readably(server, keys, tmp_path):
    proof = tmp_path / "proof.pdf"
    proof.write_bytes(b"%PDF-1.7 a proof\n")
    done = vault("deposit", str(proof), "--case-ref", "MT-1", "--policy", "lre-proof", "--json",
                 url=server.url, key=keys["depositor"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["media_type"] == "application/pdf"
    evidence = tmp_path / "evidence.xml"
    evidence.write_bytes((ROOT / "tests/vectors/erds/submission-acceptance.xml").read_bytes())
    human = vault("deposit", str(evidence), "--case-ref", "MT-2", "--policy", "lre-proof",
                  url=server.url, key=keys["depositor"])
    assert human.returncode == 0, human.stderr
    lines = [line for line in human.stdout.splitlines() if line.startswith("validation")]
    assert lines and all("{" not in line and "'" not in line for line in lines), human.stdout
    assert any(word in lines[0] for word in ("VALID", "INVALID", "INDETERMINATE")), lines
    assert "media_type       application/xml" in human.stdout or "text/xml" in human.stdout


def test_cli_prints_problem_details_and_disposal_reasons(server, keys, tmp_path):
    proof = tmp_path / "p.pdf"
    proof.write_bytes(b"%PDF-1.7 x\n")
    bad = vault("deposit", str(proof), "--case-ref", "E-1", "--policy", "lre-proof", "--event-type", "teleport",
                url=server.url, key=keys["depositor"])
    assert bad.returncode == 1
    assert "HTTP 422 Invalid metadata" in bad.stderr and "event_type" in bad.stderr.split("\n", 1)[1]
    receipt = json.loads(vault("deposit", str(proof), "--case-ref", "E-2", "--policy", "lre-proof", "--json",
                               url=server.url, key=keys["depositor"]).stdout)
    refused = vault("disposal", "propose", "--object", receipt["id"], url=server.url, key=keys["archivist"])
    assert refused.returncode == 1 and "HTTP 409" in refused.stderr
    reason_line = next(line for line in refused.stderr.splitlines() if receipt["id"] in line)
    assert len(reason_line.split(receipt["id"], 1)[1].strip(": ")) > 5, refused.stderr


def test_retry_policy_backoff_and_what_may_be_replayed():
    import random

    from vault.client.retry import replayable

    policy = RetryPolicy(base=1, cap=8, rng=random.Random(7))
    waits = [policy.delay(n, None) for n in range(6)]
    assert all(0 <= w <= min(8, 2 ** n) for n, w in enumerate(waits)) and len(set(waits)) == 6
    assert policy.delay(0, 5) == 5 and policy.delay(0, 600) == 8
    assert replayable("GET", {}) and replayable("post", {"idempotency-key": "k"})
    assert not replayable("POST", {"Content-Type": "application/json"}) and not replayable("DELETE", None)
