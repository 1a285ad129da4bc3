"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and C2SP checkpoints (c2sp.org/tlog-checkpoint).

A note is UTF-8 text ending in a newline, a blank line, then one line per signature:
``— <key name> <base64(key hash[4] ‖ signature)>``. The Ed25519 signature covers the text bytes; the key hash is
the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), 0x01 being the Ed25519 signature type.
A verifier key is written ``<name>+<hex key hash>+<base64(0x01 ‖ public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # EM DASH and a space


class NoteError(ValueError):
    """A note, key or checkpoint is malformed or does not verify."""


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> "Verifier":
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not _valid_name(parts[0]):
            raise NoteError("a verifier key reads name+hash+key")
        name, hash_hex, key_b64 = parts
        try:
            key = base64.b64decode(key_b64, validate=True)
            wanted = bytes.fromhex(hash_hex)
        except (binascii.Error, ValueError):
            raise NoteError("verifier key hash or key is not valid hex/base64") from None
        if len(key) != 33 or key[0] != ED25519:
            raise NoteError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
        if len(wanted) != 4 or key_hash(name, key[1:]) != wanted:
            raise NoteError("verifier key hash does not match its name and key")
        return cls(name, wanted, Ed25519PublicKey.from_public_bytes(key[1:]))

    def vkey(self) -> str:
        raw = _raw(self.public_key)
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(bytes([ED25519]) + raw).decode()}"

    def valid_at(self, size: int) -> list["Verifier"]:
        """The keys that may sign a checkpoint of ``size`` entries: this one, at every size (a single pinned key;
        :class:`vault_verify.journalkeys.KeySequence` answers for a journal whose key changed)."""
        return [self]

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
            return True
        except InvalidSignature:
            return False


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> "Signer":
        if not _valid_name(name):
            raise NoteError(f"key name {name!r} must be non-empty, without '+' or spaces")
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def verifier(self) -> Verifier:
        public = self.private_key.public_key()
        return Verifier(self.name, key_hash(self.name, _raw(public)), public)

    def sign(self, text: bytes) -> bytes:
        return self.private_key.sign(text)


@dataclass(frozen=True)
class Signature:
    name: str
    key_hash: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    text: bytes
    signatures: tuple[Signature, ...]

    @classmethod
    def parse(cls, data: bytes) -> "Note":
        """Split text and signature lines; the text ends at the last blank line (c2sp.org/signed-note §Format)."""
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("a note must be UTF-8") from None
        split = data.rfind(b"\n\n")
        if split < 0 or not data.endswith(b"\n"):
            raise NoteError("a note needs text, a blank line and signature lines")
        text, lines = data[:split + 1], data[split + 2:].decode().splitlines()
        signatures = []
        for line in lines:
            if not line.startswith(SIGNATURE_PREFIX):
                raise NoteError(f"malformed signature line {line[:40]!r}")
            name, _, value = line[len(SIGNATURE_PREFIX):].partition(" ")
            try:
                raw = base64.b64decode(value, validate=True)
            except binascii.Error:
                raise NoteError(f"signature by {name!r} is not base64") from None
            if not _valid_name(name) or len(raw) < 5:
                raise NoteError(f"malformed signature line for {name!r}")
            signatures.append(Signature(name, raw[:4], raw[4:]))
        if not signatures:
            raise NoteError("a note needs at least one signature")
        return cls(text, tuple(signatures))

    def verified_by(self, verifiers: list[Verifier]) -> list[Verifier]:
        """The known verifiers with a valid signature; signatures by unknown keys are ignored, as the spec says."""
        ok = []
        for verifier in verifiers:
            for sig in self.signatures:
                if sig.name == verifier.name and sig.key_hash == verifier.key_hash:
                    if not verifier.verify(self.text, sig.signature):
                        raise NoteError(f"invalid signature by {verifier.name}")
                    ok.append(verifier)
        return ok


def sign_note(text: bytes, signer: Signer) -> bytes:
    if not text.endswith(b"\n") or text.endswith(b"\n\n"):
        raise NoteError("note text must end with exactly one newline")
    signature = base64.b64encode(signer.verifier.key_hash + signer.sign(text)).decode()
    return text + b"\n" + f"{SIGNATURE_PREFIX}{signer.name} {signature}\n".encode()


def cosign_note(note: bytes, signer: Signer) -> bytes:
    """``note`` with one more signature line, by ``signer``, over the same text (c2sp.org/signed-note allows
    several; a verifier ignores the lines of keys it does not know)."""
    text = Note.parse(note).text
    signature = base64.b64encode(signer.verifier.key_hash + signer.sign(text)).decode()
    return note + f"{SIGNATURE_PREFIX}{signer.name} {signature}\n".encode()


@dataclass(frozen=True)
class Checkpoint:
    """c2sp.org/tlog-checkpoint body: origin, tree size, base64 root hash, optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def parse_text(cls, text: bytes) -> "Checkpoint":
        lines = text.decode().split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0]:
            raise NoteError("a checkpoint has an origin, a size and a root hash, each on its own line")
        size_text = lines[1]
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise NoteError(f"checkpoint size {size_text!r} is not a decimal number")
        try:
            root = base64.b64decode(lines[2], validate=True)
        except binascii.Error:
            raise NoteError("checkpoint root hash is not base64") from None
        if len(root) != 32:
            raise NoteError("checkpoint root hash is not 32 bytes")
        return cls(lines[0], int(size_text), root, tuple(lines[3:-1]))


def open_checkpoint(data: bytes, verifier) -> Checkpoint:
    """Parse a signed checkpoint and require a valid signature by a key that ``verifier`` (a :class:`Verifier`,
    or a :class:`vault_verify.journalkeys.KeySequence`) holds valid at its tree size, named as its origin."""
    note = Note.parse(data)
    checkpoint = Checkpoint.parse_text(note.text)
    keys = verifier.valid_at(checkpoint.size)
    signed = note.verified_by(keys)
    if not signed:
        if isinstance(verifier, Verifier):
            raise NoteError(f"no signature by {verifier.name} on this checkpoint")
        raise NoteError(f"no signature by the key valid at tree size {checkpoint.size} "
                        f"({' or '.join(key.vkey() for key in keys)}) on this checkpoint")
    if checkpoint.origin != signed[0].name:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not the key name {signed[0].name!r}")
    return checkpoint


def claimed_size(data: bytes) -> int | None:
    """The tree size a checkpoint claims, read before its signature is checked (None when malformed)."""
    try:
        return Checkpoint.parse_text(Note.parse(data).text).size
    except (NoteError, UnicodeDecodeError):
        return None
