"""BagIt 1.0 (RFC 8493) checks of a bag inside a ZIP, read in place: no extraction, each member streamed once.

What is checked: the ZIP holds exactly one top directory (the bag) and only safe relative names; ``bagit.txt``
says version 1.0 in UTF-8; ``manifest-sha256.txt`` and ``manifest-sha512.txt`` (the algorithms a vault package
always carries; any other ``manifest-<alg>.txt`` is checked too) are complete — every file under ``data/`` listed,
every listed file present — and every digest is right; ``tagmanifest-sha256.txt`` and ``tagmanifest-sha512.txt``
list ``bagit.txt``, ``bag-info.txt`` and the payload manifests with the right digests; ``Payload-Oxum`` in
``bag-info.txt`` states the payload's octets and file count. The ZIP's own CRC-32 of each member is checked by
:mod:`zipfile` as it is read; a mismatch is reported as damage to that member.

While hashing, each payload file's size, SHA-256 and SHA-512 are kept (:attr:`BagResult.payload`) so that the
package checks compare the content's digests without reading it again.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from dataclasses import dataclass, field

from vault_verify.report import Check, Report  # Check: the package checks' type, imported from here too

CHUNK = 1 << 20
REQUIRED = ("sha256", "sha512")
SUPPORTED = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")  # RFC 8493 §2.4 names, as hashlib spells them
MANIFEST = re.compile(r"^(tag)?manifest-([a-z0-9]+)\.txt$")
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError)
SHOWN = 5  # paths named in one completeness failure before "and N more"


@dataclass
class BagResult(Report):
    """The bag's checks and notes (:class:`~vault_verify.report.Report`), with what the package checks reuse."""

    top: str | None = None
    payload: dict[str, dict] = field(default_factory=dict)  # "data/…" → {"size": n, "sha256": hex, "sha512": hex}
    members: dict[str, zipfile.ZipInfo] = field(default_factory=dict)  # path inside the bag → ZIP entry


def hash_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, algorithms) -> tuple[int, dict[str, str]]:
    """Stream one member through every algorithm at once: (size, {algorithm: hex digest})."""
    digests = {a: hashlib.new(a) for a in algorithms}
    size = 0
    with archive.open(info) as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            size += len(chunk)
            for digest in digests.values():
                digest.update(chunk)
    return size, {a: d.hexdigest() for a, d in digests.items()}


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")


def _decode_path(path: str) -> str:
    """RFC 8493 §2.1.3: only %0D, %0A and %25 are encoded in manifest paths."""
    return re.sub(r"%(0[DdAa]|25)", lambda m: {"0d": "\r", "0a": "\n", "25": "%"}[m.group(1).lower()], path)


def _parse_manifest(result: BagResult, name: str, text: bytes) -> dict[str, str] | None:
    """``{path: hex digest}`` of a (tag) manifest, or None (with a failed check naming the line) when malformed."""
    listed: dict[str, str] = {}
    try:
        lines = text.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        result.add(f"manifest {name}", False, "not UTF-8")
        return None
    algorithm = MANIFEST.match(name).group(2)
    width = hashlib.new(algorithm).digest_size * 2
    for number, line in enumerate(lines, 1):
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != width or not re.fullmatch(r"[0-9a-fA-F]+", parts[0]):
            result.add(f"manifest {name}", False, f"line {number} is not '<{algorithm} digest> <path>': {line[:80]!r}")
            return None
        path = _decode_path(parts[1])
        if path in listed:
            result.add(f"manifest {name}", False, f"line {number}: {path} is listed twice")
            return None
        listed[path] = parts[0].lower()
    return listed


def _read_small(result: BagResult, archive: zipfile.ZipFile, path: str) -> bytes | None:
    info = result.members.get(path)
    if info is None:
        return None
    try:
        return archive.read(info)
    except READ_ERRORS as exc:
        result.add(f"zip member {path}", False, f"cannot be read: {exc}")
        return None


def _tag_values(text: bytes) -> dict[str, str]:
    """Labels of a tag file (``Label: value``, continuation lines indented), first occurrence of each."""
    values: dict[str, str] = {}
    last = None
    for line in text.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and last is not None:
            values[last] += " " + line.strip()
            continue
        label, sep, value = line.partition(":")
        if sep:
            last = label.strip()
            values.setdefault(last, value.strip())
    return values


def _layout(result: BagResult, archive: zipfile.ZipFile) -> bool:
    names = [i.filename for i in archive.infolist() if not i.is_dir()]
    tops = {n.split("/", 1)[0] for n in names}
    if not names:
        return result.add("bag structure", False, "the ZIP is empty")
    if len(tops) != 1 or any("/" not in n for n in names):
        return result.add("bag structure", False, f"one top directory expected, found {_listing(sorted(tops))}")
    result.top = tops.pop()
    unsafe = [n for n in names if n.startswith("/") or "\\" in n
              or any(part in ("", ".", "..") for part in n.split("/"))]
    if unsafe:
        return result.add("bag structure", False, f"unsafe member names: {_listing(unsafe)}")
    seen: set[str] = set()
    twice = sorted({n for n in names if n in seen or seen.add(n)})
    if twice:
        return result.add("bag structure", False, f"members stored twice in the ZIP: {_listing(twice)}")
    result.members = {i.filename[len(result.top) + 1:]: i for i in archive.infolist() if not i.is_dir()}
    return result.add("bag structure", True, f"one bag, {result.top}/")


def check_bag(archive: zipfile.ZipFile) -> BagResult:
    """Every BagIt check of the bag in ``archive``; the payload's digests are kept for later checks."""
    result = BagResult()
    if not _layout(result, archive):
        return result
    declaration = _read_small(result, archive, "bagit.txt")
    if declaration is None:
        result.add("bagit.txt", False, "absent")
    else:
        values = _tag_values(declaration)
        ok = values.get("BagIt-Version") == "1.0" and values.get("Tag-File-Character-Encoding") == "UTF-8"
        result.add("bagit.txt", ok, "" if ok else f"BagIt-Version {values.get('BagIt-Version')!r}, "
                   f"Tag-File-Character-Encoding {values.get('Tag-File-Character-Encoding')!r}: "
                   "expected 1.0 and UTF-8")
    manifests: dict[str, dict[str, str] | None] = {}
    tag_manifests: dict[str, dict[str, str] | None] = {}
    for path in sorted(result.members):
        match = MANIFEST.match(path)
        if match is None:
            continue
        algorithm = match.group(2)
        if algorithm not in SUPPORTED:
            result.add(f"manifest {path}", False, f"unknown algorithm {algorithm!r}")
            continue
        text = _read_small(result, archive, path)
        parsed = _parse_manifest(result, path, text) if text is not None else None
        (tag_manifests if match.group(1) else manifests)[algorithm] = parsed
    for algorithm in REQUIRED:
        for kind, found in (("manifest", manifests), ("tagmanifest", tag_manifests)):
            if algorithm not in found:
                result.add(f"manifest {kind}-{algorithm}.txt", False, "absent (a vault package carries it)")
    # Tag files first: a changed manifest is then named as such, not as the payload files it misdescribes.
    _check_tags(result, archive, {a: m for a, m in tag_manifests.items() if m is not None})
    _check_payload(result, archive, {a: m for a, m in manifests.items() if m is not None})
    _check_oxum(result, archive)
    return result


def _check_payload(result: BagResult, archive: zipfile.ZipFile, manifests: dict[str, dict[str, str]]) -> None:
    payload = sorted(p for p in result.members if p.startswith("data/"))
    present = set(payload)
    for algorithm, listed in manifests.items():
        name = f"manifest-{algorithm}.txt"
        missing = sorted(p for p in listed if p not in present)
        unlisted = [p for p in payload if p not in listed]
        outside = [p for p in listed if not p.startswith("data/")]
        problems = ([f"listed but not in the package: {_listing(missing)}"] if missing else []) + \
                   ([f"in the package but not listed: {_listing(unlisted)}"] if unlisted else []) + \
                   ([f"lists files outside data/: {_listing(outside)}"] if outside else [])
        result.add(f"bag completeness {name}", not problems, "; ".join(problems))
    algorithms = sorted(set(REQUIRED) | set(manifests))
    wrong = {a: 0 for a in manifests}
    for path in payload:
        try:
            size, digests = hash_member(archive, result.members[path], algorithms)
        except READ_ERRORS as exc:
            result.add(f"zip member {path}", False, f"damaged in the ZIP: {exc}")
            continue
        result.payload[path] = {"size": size, **digests}
        for algorithm, listed in manifests.items():
            expected = listed.get(path)
            if expected is not None and expected != digests[algorithm]:
                wrong[algorithm] += 1
                result.add(f"bag fixity {path} ({algorithm})", False,
                           f"the file's {algorithm} is {digests[algorithm]}, manifest-{algorithm}.txt says {expected}")
    for algorithm, count in wrong.items():
        result.add(f"bag fixity manifest-{algorithm}.txt", count == 0,
                   f"{len(result.payload)} payload files" if count == 0 else f"{count} payload file(s) differ")


def _check_oxum(result: BagResult, archive: zipfile.ZipFile) -> None:
    info = _read_small(result, archive, "bag-info.txt")
    if info is None:
        result.add("bag-info.txt", False, "absent")
        return
    oxum = _tag_values(info).get("Payload-Oxum")
    octets = sum(f["size"] for f in result.payload.values())
    actual = f"{octets}.{len(result.payload)}"
    if oxum is None:
        result.add("bag-info.txt Payload-Oxum", False, "absent (a vault package states it)")
    else:
        result.add("bag-info.txt Payload-Oxum", oxum == actual,
                   "" if oxum == actual else f"states {oxum} (octets.files), the payload is {actual}")


def _check_tags(result: BagResult, archive: zipfile.ZipFile, tag_manifests: dict[str, dict[str, str]]) -> None:
    tag_files = sorted(p for p in result.members if not p.startswith("data/") and not p.startswith("tagmanifest-"))
    must = [p for p in tag_files if p in ("bagit.txt", "bag-info.txt") or p.startswith("manifest-")]
    for algorithm, listed in tag_manifests.items():
        name = f"tagmanifest-{algorithm}.txt"
        missing = [p for p in listed if p not in result.members]
        unlisted = [p for p in must if p not in listed]
        payload = [p for p in listed if p.startswith("data/")]
        problems = ([f"listed but not in the package: {_listing(missing)}"] if missing else []) + \
                   ([f"does not list {_listing(unlisted)}"] if unlisted else []) + \
                   ([f"lists payload files: {_listing(payload)}"] if payload else [])
        result.add(f"tag completeness {name}", not problems, "; ".join(problems))
    listed_anywhere = set().union(*tag_manifests.values()) if tag_manifests else set()
    extra = [p for p in tag_files if p not in listed_anywhere and p not in must]
    if extra:
        result.note(f"tag files not covered by a tag manifest (nothing vouches for them): {_listing(extra)}")
    for path in tag_files:
        wanted = {a: listed[path] for a, listed in tag_manifests.items() if path in listed}
        if not wanted:
            continue
        try:
            _size, digests = hash_member(archive, result.members[path], sorted(wanted))
        except READ_ERRORS as exc:
            result.add(f"zip member {path}", False, f"damaged in the ZIP: {exc}")
            continue
        for algorithm, expected in sorted(wanted.items()):
            ok = digests[algorithm] == expected
            result.add(f"tag fixity {path} ({algorithm})", ok, "" if ok else
                       f"the file's {algorithm} is {digests[algorithm]}, tagmanifest-{algorithm}.txt says {expected}")
