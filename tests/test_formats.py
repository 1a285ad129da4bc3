"""Format identification from the bytes, and the declared media type checked against it (recorded, not trusted)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.formats import identify

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
XML = b'<?xml version="1.0" encoding="UTF-8"?><Evidence xmlns="http://uri.etsi.org/19522/v1#"/>'
EML = b"Received: from mx.example.org\r\nDKIM-Signature: v=1; a=rsa-sha256\r\nFrom: a@example.org\r\n\r\nbody"


@pytest.mark.parametrize("head,declared,detected,check", [
    (PDF, "application/pdf", "application/pdf", "match"),
    (PDF, "image/png", "application/pdf", "mismatch"),
    (PNG, "application/pdf", "image/png", "mismatch"),
    (XML, "text/xml", "application/xml", "match"),
    (XML, "application/vnd.etsi.erds+xml", "application/xml", "match"),
    (EML, "message/rfc822", "message/rfc822", "match"),
    (b'{"event": "consent", "at": "2026-11-29T09:00:00Z"}', "application/json", "application/json", "match"),
    (b'{"event": "consent"}', "application/pdf", "application/json", "mismatch"),
    (PDF, "application/octet-stream", "application/pdf", "unknown"),
    (b"nothing recognisable in here", "application/pdf", None, "unknown"),
    # XML without a declaration (signed evidences are often written so): recognised by its first start tag
    (b'<ns3:Evidence xmlns:ns3="urn:x"><a/></ns3:Evidence>', "application/xml", "application/xml", "match"),
    (b"<3 is not a tag>", "application/xml", None, "unknown"),
    # an e-mail whose first field is not one the magic tables know
    (b"DKIM-Signature: v=1; d=example.org;\r\n s=sel\r\nFrom: a@example.org\r\nTo: b@example.net\r\n"
     b"Subject: x\r\n\r\nbody", "message/rfc822", "message/rfc822", "match"),
    (b"Name: x\nAge: 3\n\nnot a mail", "text/plain", None, "unknown"),
])
def test_identify(head, declared, detected, check):
    verdict = identify(head, declared)
    assert (verdict.detected, verdict.check) == (detected, check)
    assert verdict.ok == (check != "mismatch") and verdict.checks[0].name == "media type"


def test_a_mismatch_is_recorded_and_the_proof_kept(depositor):
    response = depositor.deposit(PDF, filename="receipt.png", media_type="image/png")
    assert response.status_code == 201
    receipt = response.json()
    assert receipt["media_type"] == "image/png"
    assert receipt["format"] == {"detected": "application/pdf", "check": "mismatch"}
    shown = depositor.get(f"/v1/objects/{receipt['id']}").json()
    assert shown["format"] == {**receipt["format"], "puid": "pending", "version": None, "pdfa": None}  # issue 23
    assert depositor.get(f"/v1/objects/{receipt['id']}/content").content == PDF


def _puremagic_finds(data: bytes) -> bool:
    import puremagic

    try:
        return bool(puremagic.magic_string(data))
    except puremagic.PureError:
        return False


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=600), st.sampled_from([b"", b"%PDF-1.7", b"PK\x03\x04", b"\x89PNG", b"\x1f\x8b",
                                                             b"<?xml", b"GIF89a", b"\xff\xd8\xff", b"OggS"]))
def test_the_signature_prefilter_never_hides_a_match(data, prefix):
    """Skipping puremagic when no signature prefix matches must never change what is identified."""
    from vault.formats import magic_may_match

    sample = prefix + data
    if not magic_may_match(sample):
        assert not _puremagic_finds(sample)


def test_the_prefilter_on_every_corpus_file():
    from tests.conftest import SHARED_VECTORS
    from vault.formats import magic_may_match

    files = [p for p in (SHARED_VECTORS / "signatures").rglob("*") if p.is_file()]
    assert len(files) > 50
    for path in files:
        head = path.read_bytes()[:8192]
        if head and not magic_may_match(head):
            assert not _puremagic_finds(head), path
