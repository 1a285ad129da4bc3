"""Signed deposit receipts: the JSON receipt as a JWS (EdDSA, RFC 7515/8037) and as a PAdES-signed PDF, checked
with the archive's published key and certificate, offline and through the ``vault receipt`` command."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import httpx
import pytest
from starlette.testclient import TestClient

from vault.api.negotiation import negotiate
from vault.cli import client as cli_client
from vault.cli.main import main as vault_main
from vault.documents.jws import b64url, b64url_decode, load_public_key, thumbprint, verify
from vault.documents.pdf import verify_signed_pdf

RECEIPT_FIELDS = ("id", "tenant", "case_ref", "sha256", "sha512", "size", "media_type", "filename", "deposited_at",
                  "policy", "policy_version", "retention_until", "journal_index", "seal", "validation")


@pytest.fixture
def sealed(vault, depositor):
    receipt = depositor.deposit(b"%PDF-1.7 proof of sending", case_ref="RCPT-1", event_type="sending").json()
    vault.seal_scheduler.seal_all_pending()
    return receipt


def archive_key(api) -> dict:
    return api.client.get("/v1/archive/key").json()


def flip(text: str, position: int) -> str:
    return text[:position] + ("A" if text[position] != "A" else "B") + text[position + 1:]


def test_jws_receipt_verifies_with_the_published_key(vault, depositor, sealed):
    response = depositor.get(f"/v1/objects/{sealed['id']}/receipt", params={"format": "jws"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/jose"
    compact = response.text
    published = archive_key(depositor)
    for form in (published["public_key_pem"], json.dumps(published["jwk"]), published["public_key"],
                 json.dumps(published)):
        verdict = verify(compact, load_public_key(form))
        assert verdict.ok, verdict.reason
    receipt = verdict.payload
    assert verdict.header == {"alg": "EdDSA", "cty": "vault-deposit-receipt+json", "typ": "JOSE",
                              "kid": published["jwk"]["kid"]}
    assert published["jwk"]["kid"] == thumbprint(load_public_key(published["public_key_pem"]))
    assert receipt["type"] == "vault-deposit-receipt" and receipt["version"] == 1 and receipt["issuer"] == "vault.local"
    for field in RECEIPT_FIELDS:
        assert field in receipt, field
    assert {k: receipt[k] for k in ("id", "sha256", "sha512", "size", "journal_index")} == \
        {k: sealed[k] for k in ("id", "sha256", "sha512", "size", "journal_index")}
    assert receipt["policy"] == "lre-proof" and receipt["retention_until"].startswith(sealed["retention_until"][:10])
    seal = receipt["seal"]
    assert seal["status"] == "sealed" and seal["batch_id"] and seal["token_gen_time"] and seal["tsa"]
    assert receipt["validation"] == sealed["validation"]  # the deposit-time verdict summaries

    # the signed bytes are the RFC 8785 canonical JSON of the receipt
    _header, payload, _signature = compact.split(".")
    assert b64url_decode(payload) == json.dumps(receipt, sort_keys=True, separators=(",", ":"),
                                                ensure_ascii=False).encode()

    # same receipt by Accept, in both serializations; the plain JSON answer is unchanged
    by_accept = depositor.get(f"/v1/objects/{sealed['id']}/receipt", headers={"Accept": "application/jose"})
    assert by_accept.headers["content-type"] == "application/jose" and verify(by_accept.text, load_public_key(
        published["public_key"])).ok
    flattened = depositor.get(f"/v1/objects/{sealed['id']}/receipt", headers={"Accept": "application/jose+json"})
    assert flattened.headers["content-type"] == "application/jose+json"
    assert set(flattened.json()) == {"protected", "payload", "signature"}
    assert verify(flattened.content, load_public_key(published["public_key"])).ok
    plain = depositor.get(f"/v1/objects/{sealed['id']}/receipt").json()
    assert "type" not in plain and plain["seal"] == seal and plain["id"] == sealed["id"]

    # every download is journaled, with its format
    entries = depositor.as_key(vault.settings.admin_key).get(
        "/v1/journal/entries", params={"object": sealed["id"], "action": "receipt_read"}).json()["entries"]
    assert [e["detail"]["format"] for e in entries] == ["jws", "jws", "jws-json", "json"]


def test_a_changed_byte_breaks_the_jws(depositor, sealed):
    compact = depositor.get(f"/v1/objects/{sealed['id']}/receipt", params={"format": "jws"}).text
    key = load_public_key(archive_key(depositor)["public_key"])
    header, payload, signature = compact.split(".")
    document = bytearray(b64url_decode(payload))
    at = document.index(sealed["sha256"].encode())
    document[at] = ord("0") if document[at] != ord("0") else ord("1")
    forged_payload = ".".join((header, b64url(bytes(document)), signature))
    assert not verify(forged_payload, key).ok
    assert "signature does not match" in verify(forged_payload, key).reason
    raw_signature = bytearray(b64url_decode(signature))
    raw_signature[10] ^= 0x01
    assert not verify(".".join((header, payload, b64url(bytes(raw_signature)))), key).ok
    assert not verify(".".join((header, flip(payload, len(payload) // 2), signature)), key).ok
    # another key, another algorithm, a critical extension: refused
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    assert "not the pinned key" in verify(compact, Ed25519PrivateKey.generate().public_key()).reason
    for changed in ({"alg": "none"}, {"crit": ["exp"]}):
        bad_header = b64url(json.dumps({**json.loads(b64url_decode(header)), **changed}).encode())
        assert not verify(".".join((bad_header, payload, signature)), key).ok
    assert not verify("not.a-jws", key).ok


def test_pending_seal_is_signed_as_pending(depositor):
    receipt = depositor.deposit(b"%PDF-1.7 not sealed yet").json()
    compact = depositor.get(f"/v1/objects/{receipt['id']}/receipt", params={"format": "jws"}).text
    verdict = verify(compact, load_public_key(archive_key(depositor)["public_key"]))
    assert verdict.ok and verdict.payload["seal"] == {"status": "pending"}


def test_pdf_receipt_is_signed_by_the_archive(vault, depositor, sealed, tmp_path):
    response = depositor.get(f"/v1/objects/{sealed['id']}/receipt", headers={"Accept": "application/pdf"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pdf = response.content
    signer = archive_key(depositor)["pdf_signing_certificate"].encode()
    roots = depositor.client.get("/v1/tsa/roots").content
    ok, reason = verify_signed_pdf(pdf, signer, roots)
    assert ok and "timestamp valid" in reason, reason  # PAdES B-T: the archive's TSA timestamped the signature
    assert sealed["id"].encode() in pdf and sealed["sha256"].encode() in pdf  # readable text, uncompressed
    forged = pdf.replace(sealed["sha256"].encode(), sealed["sha256"][:-1].encode() + b"0"
                         if not sealed["sha256"].endswith("0") else sealed["sha256"][:-1].encode() + b"1", 1)
    assert not verify_signed_pdf(forged, signer, roots)[0]
    if shutil.which("pdftotext"):
        target = tmp_path / "receipt.pdf"
        target.write_bytes(pdf)
        text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True, check=True).stdout
        for value in (sealed["id"], sealed["sha256"], sealed["sha512"][:64], "lre-proof", "RCPT-1",
                      str(sealed["journal_index"]), "sealed in batch"):
            assert value in text, value


def test_receipt_formats_are_negotiated(depositor, sealed):
    path = f"/v1/objects/{sealed['id']}/receipt"
    assert depositor.get(path, headers={"Accept": "text/html"}).status_code == 406
    assert depositor.get(path, headers={"Accept": "text/html"}, params={"format": "json"}).status_code == 200
    assert depositor.get(path, headers={"Accept": "*/*"}).headers["content-type"] == "application/json"
    assert depositor.get(path, params={"format": "xml"}).status_code == 422
    assert negotiate("application/pdf;q=0.5, application/jose", ["application/json", "application/jose",
                                                                  "application/pdf"]) == "application/jose"
    assert negotiate("application/*;q=0.2, application/pdf", ["application/json", "application/pdf"]) == \
        "application/pdf"
    assert negotiate("application/json;q=0, */*", ["application/json", "application/pdf"]) == "application/pdf"
    assert negotiate(None, ["application/json"]) == "application/json"


@pytest.fixture
def cli_against(monkeypatch, client):
    """``vault`` commands in process, their HTTP going to the test app."""

    def make(base_url, headers, timeout):
        return TestClient(client.app, base_url=base_url, headers=headers)

    monkeypatch.setattr(cli_client.httpx, "Client",
                        lambda base_url, headers, timeout, **_pool: make(base_url, headers, timeout))
    yield lambda *args, key: vault_main([*args, "--url", "http://testserver", "--key", key])


def test_receipt_cli_get_and_verify(depositor, sealed, tmp_path, capsys, cli_against):
    jws_file, pdf_file, json_file = tmp_path / "r.jws", tmp_path / "r.pdf", tmp_path / "r.json"
    assert cli_against("receipt", "get", sealed["id"], "--jws", "-o", str(jws_file), key=depositor.key) == 0
    assert cli_against("receipt", "get", sealed["id"], "--pdf", "-o", str(pdf_file), key=depositor.key) == 0
    assert cli_against("receipt", "get", sealed["id"], "-o", str(json_file), key=depositor.key) == 0
    assert json.loads(json_file.read_text())["seal"]["status"] == "sealed"
    assert pdf_file.read_bytes().startswith(b"%PDF")
    published = archive_key(depositor)
    key_file = tmp_path / "archive-key.pem"
    key_file.write_text(published["public_key_pem"])
    capsys.readouterr()

    assert vault_main(["receipt", "verify", str(jws_file), "--key", str(key_file)]) == 0
    out = capsys.readouterr().out
    assert "receipt VALID" in out and sealed["id"] in out and sealed["sha256"] in out
    assert vault_main(["receipt", "verify", str(jws_file), "--key", published["public_key"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["receipt"]["id"] == sealed["id"]

    header, payload, signature = jws_file.read_text().split(".")
    tampered = tmp_path / "tampered.jws"
    tampered.write_text(".".join((header, flip(payload, 40), signature)))
    assert vault_main(["receipt", "verify", str(tampered), "--key", str(key_file)]) == 1
    assert "receipt INVALID" in capsys.readouterr().out
    other = tmp_path / "other.pem"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.PEM,
                                                                             PublicFormat.SubjectPublicKeyInfo))
    assert vault_main(["receipt", "verify", str(jws_file), "--key", str(other)]) == 1
    assert "not the pinned key" in capsys.readouterr().out
    assert vault_main(["receipt", "verify", str(jws_file)]) == 1  # no key: a usage error, never "valid"
    assert "--key" in capsys.readouterr().err
    assert vault_main(["receipt", "verify", str(tmp_path / "absent.jws"), "--key", str(key_file)]) == 1

    cert = tmp_path / "archive-signing.pem"
    cert.write_text(published["pdf_signing_certificate"])
    roots = tmp_path / "roots.pem"
    roots.write_bytes(depositor.client.get("/v1/tsa/roots").content)
    assert vault_main(["receipt", "verify", str(pdf_file), "--cert", str(cert), "--tsa-roots", str(roots)]) == 0
    assert "PDF receipt VALID" in capsys.readouterr().out


def test_receipt_of_an_unknown_or_foreign_object(admin, depositor, sealed):
    assert depositor.get("/v1/objects/01900000-0000-7000-8000-000000000000/receipt",
                         params={"format": "jws"}).status_code == 404
    other = admin.as_key(admin.new_key("depositor", "other"))
    assert other.get(f"/v1/objects/{sealed['id']}/receipt", params={"format": "pdf"}).status_code == 403


def test_jws_module_refuses_malformed_input():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError):
        load_public_key("not a key")
    with pytest.raises(ValueError):
        load_public_key(base64.b64encode(b"short").decode())
    assert not verify('{"protected": "x"}', key.public_key()).ok
    assert not verify(b"\xff\xfe", key.public_key()).ok
    assert httpx  # the CLI's HTTP client is what cli_against replaces
