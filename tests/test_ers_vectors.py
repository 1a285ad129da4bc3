"""Our RFC 4998 verifier against the real evidence records in ../shared/vectors/ers (read in place).

The expected verdict is the RFC 4998 one from the manifest (third column): we accept the RFC-valid n-ary trees
that Bouncy Castle 1.72 rejects, and the literal one-value-tree reading ("valid?") that the BSI tool accepts.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from vault.evidence.verify import DataObject, verify_evidence_record
from vault.timestamping.tokens import load_pem_roots

ERS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "ers"


def _rows():
    manifest = ERS / "manifest.tsv"
    if not manifest.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason="../shared/vectors/ers is absent (not a CI checkout)"))]
    rows = []
    for line in manifest.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        vector_id, _bc, rfc, args, *_ = line.split("\t")
        rows.append(pytest.param((rfc.startswith("valid"), shlex.split(args)), id=vector_id))
    return rows


def _run(args: list[str]):
    ers, data, roots, group, structure_only = None, [], None, False, False
    it = iter(args)
    for arg in it:
        if arg == "--ers":
            ers = (ERS / next(it)).read_bytes()
        elif arg == "--data":
            data.append(DataObject(path=str(ERS / next(it))))
        elif arg == "--hash-only":
            data.append(DataObject.from_hashes(next(it).split(",")))
        elif arg == "--ca":
            roots = (roots or []) + load_pem_roots((ERS / next(it)).read_bytes())
        elif arg == "--group":
            group = True
        elif arg == "--structure-only":
            structure_only = True
        else:
            raise AssertionError(f"unknown manifest argument {arg}")
    return verify_evidence_record(ers, data, roots=roots, group=group, structure_only=structure_only)


@pytest.mark.parametrize("row", _rows())
def test_manifest_verdict(row):
    valid, args = row
    verdict = _run(args)
    failure = verdict.first_failure
    assert verdict.ok == valid, f"{failure.name}: {failure.detail}" if failure else "accepted but should fail"
    if not valid:
        assert failure.detail, "a rejection names its reason"


def test_failure_names_the_step():
    if not ERS.exists():
        pytest.skip("../shared/vectors/ers is absent")
    verdict = _run(["--ers", "bc-java/bsi-tr-esor-c2/ER_NOK_CHAIN.ers", "--hash-only",
                    "9CE2D7D350F9418407439F0CA11DCC12AB9F7CDB15F9ECC5ECA935482602B872"])
    assert verdict.first_failure.name == "chain 1 (sha256) ATS 2 covers the previous timestamp"


def test_no_roots_is_noted_not_silently_trusted():
    if not ERS.exists():
        pytest.skip("../shared/vectors/ers is absent")
    verdict = _run(["--ers", "bc-java/rfc4998-1Chain1ATS/BIN_ER.ers", "--data", "bc-java/rfc4998-1Chain1ATS/BIN.bin"])
    assert verdict.ok
    assert any("trust not checked" in note for note in verdict.notes)
