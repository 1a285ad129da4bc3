"""Issue #18: a file part whose ``Content-Type`` carries a control character (``text/plain\\x0bX``) was stored, and
from then on ``GET …/content`` dropped the connection. Part headers are now checked against RFC 9110."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import update

from vault.db.tables import ArchivedObject

BOUNDARY = "vault-test-boundary"
CONTENT = b"%PDF-1.7 proof of an injection attempt"


def raw_deposit(api, part_headers: bytes):
    """A multipart body built by hand, so the part headers go out byte for byte as given."""
    metadata = json.dumps({"case_ref": "CASE-INJ", "policy": "lre-proof"}).encode()
    body = (f"--{BOUNDARY}\r\n".encode() + part_headers + b"\r\n\r\n" + CONTENT + b"\r\n"
            + f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
              "Content-Type: application/json\r\n\r\n".encode() + metadata + f"\r\n--{BOUNDARY}--\r\n".encode())
    return api.post("/v1/objects", content=body,
                    headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})


def file_part(content_type: bytes, filename: bytes = b"proof.pdf") -> bytes:
    return (b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
            b"Content-Type: " + content_type)


def assert_nothing_stored(api, vault):
    assert api.get("/v1/objects").json()["items"] == []
    assert not vault.store.exists(hashlib.sha256(CONTENT).hexdigest())


@pytest.mark.parametrize("content_type", [b"text/plain\x0bX", b"text/plain\x00", b"text/plain\x7f", b"text/plain\x1b[31m",
                                          b"text/plain; charset=\"a\x01\"", b"text", b"text/", b"/plain",
                                          b"text/plain, text/html", b"text/pl ain", b"text/plain; a b=c",
                                          b"text/plain; name=\"unterminated", "text/plain; n=é".encode("latin-1"),
                                          b"text/plain; x=" + b"y" * 255])
def test_a_content_type_outside_the_media_type_grammar_is_refused(depositor, vault, content_type):
    response = raw_deposit(depositor, file_part(content_type))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:vault:problem:invalid-part-header" and problem["header"] == "Content-Type"
    assert_nothing_stored(depositor, vault)


@pytest.mark.parametrize("filename", [b"proof\x0b.pdf", b"proof\t.pdf", b"a\x00b", "b\u0085c".encode(),
                                      b"x" * 256])
def test_a_filename_with_a_control_character_is_refused(depositor, vault, filename):
    response = raw_deposit(depositor, file_part(b"application/pdf", filename))
    assert response.status_code == 422, response.text
    assert response.json()["header"] == "filename"
    assert_nothing_stored(depositor, vault)


@pytest.mark.parametrize("content_type, stored", [
    (b"application/pdf", "application/pdf"),
    (b"  text/plain;charset=utf-8 \t", "text/plain;charset=utf-8"),
    (b'text/plain ; charset="utf-8"; format=flowed', 'text/plain ; charset="utf-8"; format=flowed'),
    (b"application/vnd.example+json;", "application/vnd.example+json;"),
])
def test_a_normal_object_still_downloads_with_its_type(depositor, content_type, stored):
    response = raw_deposit(depositor, file_part(content_type, "d\u00e9p\u00f4t.pdf".encode()))
    assert response.status_code == 201, response.text
    object_id = response.json()["id"]
    assert depositor.get(f"/v1/objects/{object_id}").json()["media_type"] == stored
    content = depositor.get(f"/v1/objects/{object_id}/content")
    assert content.status_code == 200 and content.content == CONTENT
    assert content.headers["content-type"].startswith(stored.split(";")[0].strip())
    shown = "inline" if stored.split(";")[0].strip() in ("application/pdf", "text/plain") else "attachment"
    assert content.headers["content-disposition"] == f"{shown}; filename*=UTF-8''d%C3%A9p%C3%B4t.pdf"


def test_a_type_stored_before_the_check_is_served_as_octet_stream(depositor, vault):
    """Rows deposited before this check may hold such a type: the content still downloads, as bytes."""
    object_id = raw_deposit(depositor, file_part(b"application/pdf")).json()["id"]
    with vault.writer_engine.begin() as connection:
        connection.execute(update(ArchivedObject.__table__).where(ArchivedObject.__table__.c.id == object_id)
                           .values(media_type="text/plain\x0bX"))
    content = depositor.get(f"/v1/objects/{object_id}/content")
    assert content.status_code == 200 and content.content == CONTENT
    assert content.headers["content-type"] == "application/octet-stream"


def test_the_grammar():
    from vault.api.part_headers import is_media_type

    assert is_media_type("message/rfc822") and is_media_type('a/b;q="x\\"y"') and is_media_type("a/b ;\t;c=d")
    assert not any(map(is_media_type, ["", "a/b\n", "a/b\r\nX-Evil: 1", "a/b;=c", "a/b;c=", 'a/b;c="\x7f"', None]))
