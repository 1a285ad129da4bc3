"""E-mail proofs: header fields fill what the depositor left out, recorded with their source; odd input never fails."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from vault.lre.eml import eml_fields

EML = (b"Received: from mx.example.org\r\nDKIM-Signature: v=1; a=rsa-sha256; d=example.org\r\n"
       b"From: Alice Martin <alice@example.org>\r\nTo: bob@example.net\r\n"
       b"Date: Sun, 29 Nov 2026 09:30:00 +0100\r\nMessage-ID: <lre-42@example.org>\r\n"
       b"Subject: Mise en demeure\r\n\r\nBonjour,\r\n")


def test_header_fields():
    found = eml_fields(EML)
    assert found["sender"].value == "alice@example.org" and found["sender"].source == "eml header From"
    assert found["recipient"].value == "bob@example.net"
    assert found["event_time"].value == datetime(2026, 11, 29, 8, 30, tzinfo=timezone.utc)
    assert found["message_id"].value == "<lre-42@example.org>"


def test_unreadable_fields_are_left_out():
    found = eml_fields(b"From: not an address\r\nDate: yesterday\r\nTo: \r\n\r\n")
    assert "sender" not in found and "event_time" not in found and "recipient" not in found


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=600), st.sampled_from([b"", b"From: ", b"Date: ", b"To: a@b, ", b"Message-ID: "]))
def test_never_raises(noise, prefix):
    eml_fields(prefix + noise)


def test_deposit_fills_missing_metadata_from_the_headers(vault_at):
    # the next day, on a fixed clock: the Date read under email-proof sets the retention, within max_backdate
    _vault, _clock, admin = vault_at(datetime(2026, 11, 30, tzinfo=timezone.utc))
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    response = depositor.deposit(EML, filename="proof.eml", media_type="message/rfc822", policy="email-proof",
                                 sender="declared@example.org")
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["format"] == {"detected": "message/rfc822", "check": "match"}
    assert receipt["retention_until"].startswith("2036-11-29T08:30")  # email-proof runs from the sending
    shown = depositor.get(f"/v1/objects/{receipt['id']}").json()
    assert shown["sender"] == "declared@example.org"  # declared wins
    assert shown["recipient"] == "bob@example.net" and shown["event_time"] == "2026-11-29T08:30:00Z"
    assert shown["extracted"] == {"recipient": "eml header To", "event_time": "eml header Date",
                                  "kind": "eml format",
                                  "message_id": {"value": "<lre-42@example.org>", "source": "eml header Message-ID"}}
    assert shown["kind"] == "email-proof"  # not declared: an e-mail is an e-mail proof


def test_other_formats_are_not_read_as_mail(depositor):
    shown = depositor.deposit(b"%PDF-1.7 From: x@y.z", media_type="application/pdf").json()
    assert depositor.get(f"/v1/objects/{shown['id']}").json()["extracted"] == {}
