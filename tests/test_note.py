"""C2SP signed notes and checkpoints, against the spec's own examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.journal.note import Checkpoint, Note, NoteError, Signer, Verifier, open_checkpoint, sign_note

C2SP = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "c2sp"
needs_vectors = pytest.mark.skipif(not C2SP.is_dir(), reason="../shared/vectors/c2sp is absent (not a CI checkout)")


@needs_vectors
def test_spec_example_note_verifies_and_any_change_breaks_it():
    verifier = Verifier.parse((C2SP / "signed-note/example.com-foo.vkey").read_text())
    assert verifier.key_hash.hex() == "530d903a"
    data = (C2SP / "signed-note/example.com-foo.note").read_bytes()
    note = Note.parse(data)
    assert note.text == b"This is an example message.\n"
    assert note.verified_by([verifier]) == [verifier]
    with pytest.raises(NoteError):
        Note.parse(data.replace(b"example message", b"exemple message")).verified_by([verifier])


@needs_vectors
def test_text_ends_at_the_last_blank_line_and_unknown_keys_are_ignored():
    note = Note.parse((C2SP / "signed-note/quasimodo.note").read_bytes())
    assert note.text.endswith(b"ed \xc3\xa8 subito sera.\n") and b"\n\n" in note.text
    stranger = Signer.generate("quasimodo.example/salvatore").verifier
    assert note.verified_by([]) == []
    assert note.verified_by([stranger]) == []  # same name, other key: its hash differs, so the line is ignored


@needs_vectors
@pytest.mark.parametrize("name", ["tlog-checkpoint/behind-the-sofa.checkpoint",
                                  "tlog-cosignature/behind-the-sofa-cosigned.checkpoint"])
def test_spec_checkpoints_parse_but_do_not_verify_with_another_key(name):
    data = (C2SP / name).read_bytes()
    checkpoint = Checkpoint.parse_text(Note.parse(data).text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    with pytest.raises(NoteError, match="no signature"):
        open_checkpoint(data, Signer.generate("example.com/behind-the-sofa").verifier)


def test_sign_and_open_our_checkpoint():
    signer = Signer.generate("vault.test/journal")
    checkpoint = Checkpoint("vault.test/journal", 42, bytes(range(32)))
    signed = sign_note(checkpoint.text(), signer)
    vkey = signer.verifier.vkey()
    assert open_checkpoint(signed, Verifier.parse(vkey)) == checkpoint
    forged = signed.replace(b"\n42\n", b"\n43\n")
    with pytest.raises(NoteError):
        open_checkpoint(forged, Verifier.parse(vkey))
    with pytest.raises(NoteError):
        open_checkpoint(signed, Signer.generate("vault.test/journal").verifier)


@pytest.mark.parametrize("vkey", ["", "a+b", "name+00000000+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                                  "example.com/foo+530d903a+notbase64!"])
def test_bad_verifier_keys(vkey):
    with pytest.raises(NoteError):
        Verifier.parse(vkey)
