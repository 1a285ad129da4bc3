"""The offline verifier installed alone, as an expert would on another machine (issue 9).

A fresh virtual environment gets ``verifier/`` and nothing else (pip brings asn1crypto and cryptography, the two
declared dependencies); the evidence record, its data and the TSA root are copied next to it first. vault, its
web framework, its database layer and its signature libraries must not be importable there.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

from tests.conftest import SHARED_VECTORS
from tests.verifier_venv import run_in, verifier_venv

ERS = SHARED_VECTORS / "ers"
VECTOR = ERS / "bc-java" / "rfc4998-1Chain1ATS"  # manifest row bc/1Chain1ATS-ca: valid, TSA chains to exceet CA2
ROOT_PEM = ERS / "bc-java" / "certs" / "exceet-trustcenter-CA2.pem"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    """A directory standing for another machine, and the fresh venv with only the verifier installed."""
    return tmp_path_factory.mktemp("elsewhere"), verifier_venv(tmp_path_factory)


def _run(machine, *args: str) -> subprocess.CompletedProcess:
    return run_in(machine[0], *args)


def test_only_the_declared_dependencies_are_there(machine):
    _, venv = machine
    python = str(venv / "bin" / "python")
    done = _run(machine, python, "-c", "import vault_verify, vault_verify.ers, vault_verify.tokens, "
                "vault_verify.merkle, vault_verify.note, vault_verify.canonical, vault_verify.cli, "
                "vault_verify.package, vault_verify.tiles, vault_verify.tenantjournal, vault_verify.replay, "
                "vault_verify.anchors, vault_verify.report, vault_verify.journalcli")
    assert done.returncode == 0, done.stderr
    for name in ("vault", "fastapi", "sqlalchemy", "sqlmodel", "pyhanko", "boto3", "signxml", "lxml"):
        absent = _run(machine, python, "-c", f"import importlib.util, sys; "
                      f"sys.exit(importlib.util.find_spec({name!r}) is not None)")
        assert absent.returncode == 0, f"{name} is importable in the verifier's environment"
    listed = _run(machine, python, "-m", "pip", "list", "--format=freeze")
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert {"vault-verify", "asn1crypto", "cryptography"} <= installed
    # cryptography brings cffi (and cffi pycparser); pip and setuptools come with the venv itself.
    assert installed <= {"vault-verify", "asn1crypto", "cryptography", "cffi", "pycparser", "pip", "setuptools",
                         "wheel"}, installed
    version = _run(machine, str(venv / "bin" / "vault-verify"), "--version")
    assert version.returncode == 0 and version.stdout.startswith("vault-verify ")


@pytest.mark.skipif(not ERS.exists(), reason="../shared/vectors/ers is absent")
def test_an_evidence_record_verifies_and_a_tampered_one_names_its_step(machine):
    home, venv = machine
    for source in (VECTOR / "BIN_ER.ers", VECTOR / "BIN.bin", ROOT_PEM):
        shutil.copy(source, home / source.name)
    command = str(venv / "bin" / "vault-verify")

    ok = _run(machine, command, "ers", "BIN_ER.ers", "--data", "BIN.bin", "--roots", ROOT_PEM.name)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().endswith("VALID") and "FAIL" not in ok.stdout

    # One bit of the data's hash in the record's first partial hash tree flipped.
    record = bytearray((home / "BIN_ER.ers").read_bytes())
    digest = hashlib.sha256((home / "BIN.bin").read_bytes()).digest()
    at = bytes(record).index(digest)
    record[at + 31] ^= 0x01
    (home / "tampered.ers").write_bytes(bytes(record))
    bad = _run(machine, command, "ers", "tampered.ers", "--data", "BIN.bin", "--roots", ROOT_PEM.name)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "INVALID: chain 1 (sha256) ATS 1 covers the data: data hash is not in the first partial hash tree" \
        in bad.stdout

    missing = _run(machine, command, "ers", "BIN_ER.ers", "--data", "nope.bin")
    assert missing.returncode == 1 and "vault-verify: nope.bin: no such file" in missing.stderr
    usage = _run(machine, command, "ers", "BIN_ER.ers", "--frobnicate")
    assert usage.returncode == 2
