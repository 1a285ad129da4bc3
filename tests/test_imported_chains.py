"""Continuing evidence records made by other implementations (vault.evidence.imported): the real records of
../shared/vectors/ers (Bouncy Castle's, read in place) get this archive's timestamp renewal appended to their last
chain, and the result verifies with our verifier and with Bouncy Castle itself; migration 0014 registers the
records imported before it."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from tests.conftest import make_settings
from tests.interop import bc_ers
from vault.app import Vault
from vault.db.engine import make_engine
from vault.db.migrate import upgrade
from vault.db.tables import ImportedChain, ImportedEvidence, ImportedPackage
from vault.evidence.imported import chain_tip, continued_record, register_chain
from vault.evidence.verify import DataObject, verify_evidence_record
from vault_verify.ers import extension_problem
from vault_verify.package import verify_package
from vault.timestamping.tokens import load_pem_roots

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "ers" / "bc-java"
CA2 = VECTORS / "certs" / "exceet-trustcenter-CA2.pem"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def vector(name: str) -> tuple[bytes, bytes]:
    if not VECTORS.is_dir():
        pytest.skip("../shared/vectors/ers is absent")
    folder = VECTORS / name
    return (folder / "BIN_ER.ers").read_bytes(), (folder / "BIN.bin").read_bytes()


@pytest.mark.parametrize("name, tokens, algorithm", [
    ("rfc4998-1Chain1ATS", 1, "sha256"), ("rfc4998-1Chain2ATS", 2, "sha256"),
    ("rfc4998-2Chains3ATS", 1, "sha512")])  # its second chain: a hash-tree renewal to SHA-512
def test_the_last_chain_of_real_records(name, tokens, algorithm):
    der, _data = vector(name)
    tip = chain_tip(der)
    assert len(tip.tokens) == tokens and tip.algorithm == algorithm
    assert tip.gen_time.tzinfo is not None and tip.not_after > tip.gen_time


@pytest.mark.parametrize("name", ["rfc4998-1Chain1ATS", "rfc4998-1Chain2ATS", "rfc4998-2Chains3ATS"])
def test_a_bouncy_castle_record_continued_here(vault, admin, name, bouncy_castle, tmp_path):
    der, data = vector(name)
    key = vault.writer.run(lambda c: register_chain(c, der, vault.clock.now()))
    assert [row.key for row, _ids in vault.sealer.due_imported_chains()] == [key]  # its TSA certificate expired
    inventory = admin.get("/v1/admin/crypto-inventory").json()
    assert [(c["chain"], c["renewals_here"]) for c in inventory["imported_chains"]] == [(key, 0)]
    assert any(a.startswith(f"imported chain {key[:16]}…: timestamp renewal overdue") for a in inventory["alerts"])
    assert vault.sealer.renew_timestamps().renewed == 1
    inventory = admin.get("/v1/admin/crypto-inventory").json()
    assert [c["renewals_here"] for c in inventory["imported_chains"]] == [1]
    assert not any(a.startswith("imported chain") for a in inventory["alerts"])
    with vault.reader.connect() as connection:
        continued, appended = continued_record(connection, der)
    assert appended == 1 and continued.startswith(der[:2]) and len(continued) > len(der)
    assert extension_problem(der, continued) is None
    assert extension_problem(der, der) == "no timestamp appended"
    assert extension_problem(continued, der) == "the last chain's earlier timestamps differ"
    assert extension_problem(der, b"\x30\x00").startswith("not a DER EvidenceRecord")
    roots = load_pem_roots(CA2.read_bytes()) + [vault.dev_tsa.root]
    digests = {n: hashlib.new(n, data).digest() for n in ("sha256", "sha512")}
    verdict = verify_evidence_record(continued, [DataObject(digests=digests)], roots=roots)
    assert verdict.ok, verdict.first_failure
    assert verdict.gen_times[-1] > verdict.gen_times[-2] and len(verdict.gen_times) == (
        len(verify_evidence_record(der, [DataObject(digests=digests)]).gen_times) + 1)
    (tmp_path / "continued.ers").write_bytes(continued)
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "ours.pem").write_bytes(vault.tsa_roots_pem())
    checked = bc_ers.run(bouncy_castle, "verify", "--ers", tmp_path / "continued.ers", "--data", tmp_path / "data.bin",
                         "--ca", CA2, "--ca", VECTORS / "certs" / "baltimore-cybertrust-root.pem",
                         "--ca", tmp_path / "ours.pem")  # every token's signer chains, at its genTime
    assert checked.stdout.strip() == "OK", checked.stdout + checked.stderr


def test_0014_registers_the_records_imported_before_it(database_url, tmp_path):
    der, _data = vector("rfc4998-1Chain2ATS")
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0013")
        with engine.begin() as connection:
            connection.execute(insert(ImportedPackage.__table__).values(
                sha256="a" * 64, name="p", file="p.zip", source_archive="elsewhere", created_at=NOW, object_count=2,
                tsa_roots="", imported_at=NOW))
            for n, record in enumerate((der, der, None)):  # two objects of one source batch, one never sealed
                connection.execute(insert(ImportedEvidence.__table__).values(
                    object_id=f"0190{n:032x}"[:36], package_sha256="a" * 64, der=record, imported_at=NOW,
                    import_journal_index=n))
        upgrade(engine)
        with engine.connect() as connection:
            keys = connection.execute(select(ImportedChain.__table__.c.key)).scalars().all()
        assert keys == [chain_tip(der).key]
    finally:
        engine.dispose()


def test_a_hash_tree_renewal_gives_an_imported_record_a_new_chain(vault, depositor, admin, bouncy_castle, tmp_path):
    """RFC 4998 §5.2 hash-tree renewal of a Bouncy Castle record held here: h' = H(H(d) ‖ H(ATSSeq)) over the data
    re-read from this archive's store; the old chain is closed, the new one renewed like this archive's own."""
    der, data = vector("rfc4998-1Chain2ATS")
    object_id = depositor.deposit(data, case_ref="HTR").json()["id"]

    def imported(connection):
        connection.execute(insert(ImportedPackage.__table__).values(
            sha256="b" * 64, name="p", file="p.zip", source_archive="bc", created_at=NOW, object_count=1,
            tsa_roots="", imported_at=NOW))
        connection.execute(insert(ImportedEvidence.__table__).values(
            object_id=object_id, package_sha256="b" * 64, der=der, imported_at=NOW, import_journal_index=0))
        return register_chain(connection, der, NOW)
    key = vault.writer.run(imported)
    vault.seal_scheduler.seal_all_pending()
    renewed = admin.post("/v1/admin/reseal", json={"kind": "hash-tree-renewal", "hash": "sha512"})
    assert renewed.status_code == 200 and renewed.json()["renewed"] == 2, renewed.text  # its own record, the imported
    assert vault.sealer.due_imported_chains(force=True) == []  # closed: no more tokens over the SHA-256 chain
    digests = {n: hashlib.new(n, data).digest() for n in ("sha256", "sha512")}
    roots = load_pem_roots(CA2.read_bytes()) + [vault.dev_tsa.root]
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "ours.pem").write_bytes(vault.tsa_roots_pem())
    for renewals, chains in ((1, 2), (2, 2)):
        response = depositor.get(f"/v1/objects/{object_id}/evidence-record", params={"source": "import-continued"})
        assert response.status_code == 200 and response.headers["X-Renewals-Here"] == str(renewals)
        continued = response.content
        verdict = verify_evidence_record(continued, [DataObject(digests=digests)], roots=roots)
        assert verdict.ok, verdict.first_failure
        assert len({s.name.split(" ATS")[0] for s in verdict.steps}) == chains
        assert extension_problem(der, continued) is None  # the verbatim chain, then the new one
        assert extension_problem(continued, der) == "1 chain(s), the earlier record has 2"
        (tmp_path / "continued.ers").write_bytes(continued)
        checked = bc_ers.run(bouncy_castle, "verify", "--ers", tmp_path / "continued.ers", "--data",
                             tmp_path / "data.bin", "--ca", CA2, "--ca", tmp_path / "ours.pem")
        assert checked.stdout.strip() == "OK", checked.stdout + checked.stderr
        assert admin.post("/v1/admin/reseal", json={"kind": "timestamp-renewal"}).status_code == 200
    assert [c["renewals_here"] for c in admin.get("/v1/admin/crypto-inventory").json()["imported_chains"]] == [0]
    assert key
    package = depositor.get("/v1/cases/HTR/package")
    assert package.status_code == 200, package.text
    (tmp_path / "package.zip").write_bytes(package.content)
    verdict = verify_package(tmp_path / "package.zip", tsa_roots=[CA2.read_bytes(), vault.tsa_roots_pem()])
    assert verdict.ok, verdict.first_failure
    [checked] = verdict.objects
    assert [c.ok for c in checked.checks if " continues " in c.name] == [True]
