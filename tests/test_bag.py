"""The streamed BagIt-in-ZIP writer, checked by the Library of Congress's bagit library (an independent reader)."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone

import bagit
import pytest

from vault.package.bag import BagWriter, Chunks

CREATED = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def build(sink) -> BagWriter:
    bag = BagWriter(sink, "vault-package-test", {"Source-Organization": "vault tests",
                                                 "External-Identifier": "case LRE-1"}, CREATED)
    bag.add("objects/a/content", [b"first part, ", b"second part"], size_hint=23)
    bag.add_bytes("objects/a/metadata.json", b'{"id": "a"}')
    bag.add("objects/b/content", iter([b"\x00" * 70_000, b"tail"]))
    bag.close()
    return bag


def test_the_bagit_library_validates_the_bag(tmp_path):
    buffer = io.BytesIO()
    bag = build(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        archive.extractall(tmp_path)
    read = bagit.Bag(str(tmp_path / "vault-package-test"))
    read.validate()  # raises on any problem: fixity, oxum, completeness
    assert read.info["Payload-Oxum"] == f"{23 + 11 + 70_004}.3"
    assert set(read.payload_files()) == {"data/objects/a/content", "data/objects/a/metadata.json",
                                         "data/objects/b/content"}
    assert [f.size for f in bag.payload] == [23, 11, 70_004]

    (tmp_path / "vault-package-test" / "data" / "objects" / "a" / "content").write_bytes(b"first part, second parT")
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(tmp_path / "vault-package-test")).validate()


def test_streaming_gives_the_same_zip_piece_by_piece():
    sink = Chunks()
    bag = BagWriter(sink, "streamed", {}, CREATED)
    pieces = []
    for n in range(5):
        bag.add(f"objects/{n}/content", [bytes([n]) * 10_000])
        pieces.extend(sink.drain())
    bag.close()
    pieces.extend(sink.drain())
    assert len(pieces) >= 6  # handed out as it goes, not at the end
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as archive:
        assert archive.testzip() is None
        assert archive.read("streamed/data/objects/3/content") == b"\x03" * 10_000


def test_small_members_are_handed_out_together_once_a_piece_is_full():
    sink = Chunks()
    bag = BagWriter(sink, "pieces", {}, CREATED)
    pieces = []
    for n in range(40):
        bag.add_bytes(f"objects/{n}/metadata.json", bytes([n]) * 3_000, compress=False)
        pieces.extend(sink.drain(20_000))
    assert 4 <= len(pieces) <= 6 and all(len(p) >= 20_000 for p in pieces)
    bag.close()
    pieces.extend(sink.drain())  # the rest, however small
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as archive:
        assert archive.testzip() is None and archive.read("pieces/data/objects/39/metadata.json") == b"\x27" * 3_000


@pytest.mark.parametrize("path", ["../escape", "/abs", "a/../../b"])
def test_payload_paths_stay_inside_data(path):
    with pytest.raises(ValueError):
        BagWriter(io.BytesIO(), "bag", {}, CREATED).add(path, [b"x"])
