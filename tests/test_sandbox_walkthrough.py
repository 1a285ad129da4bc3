"""docs/sandbox.md's walk-through, run as written against a live sandbox (issue #23): deposit, sending, refusal;
negligence after 15 days; a case overdue; a destruction rehearsed after eleven years of sandbox clock, proposed and
approved by two archivists and executed after the notice period; bad data and its errors.

The blocks are read from the document (editing the walk-through edits this test) and run in one ``bash`` as
tests/test_readme_tour.py runs README's tour; the server is started as the document's first terminal starts it,
in a temporary directory standing for the integrator's, with ``vault`` and ``python3`` on ``PATH``.
"""

from __future__ import annotations

import json
import sys

import pytest

from tests.server_process import ROOT, ServerProcess
from tests.test_readme_tour import output_finder, run_blocks, shell_blocks, tour_blocks
from vault.retention.certificate import verify_certificate
from vault.sandbox import MARKER, NOTICE

pytestmark = pytest.mark.slow

DOC = ROOT / "docs" / "sandbox.md"
WALK = "## Walk-through"
FIRST_TERMINAL = "$ VAULT_SANDBOX=true VAULT_DATA_DIR=sandbox-var vault serve"


def test_the_walk_through_runs_as_written(tmp_path):
    blocks = shell_blocks(tour_blocks(DOC.read_text(), WALK), FIRST_TERMINAL)
    home = tmp_path / "integrator"
    home.mkdir()
    (home / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    with ServerProcess(home / "sandbox-var", admin_key=None,
                       env={"VAULT_SANDBOX": "true", "VAULT_SEAL_INTERVAL": "1", "VAULT_CHECKPOINT_INTERVAL": "1"}
                       ) as server:
        env = {"PATH": f"{home / '.venv' / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path),
               "LANG": "C.UTF-8"}
        output_of = output_finder(blocks, run_blocks(blocks, server, home, env, timeout=240))
    assert json.loads((home / "sandbox-var" / MARKER).read_text())["sandbox"] is True

    # deposit, sending, refusal: a complete case, and the receipt says what it is worth
    assert output_of("deposit SBX-1 refusal").splitlines() == [NOTICE, "complete"]
    receipt = json.loads((home / "receipt.json").read_text())
    assert receipt["sandbox"] is True and receipt["retention_until"] > receipt["deposited_at"]

    # negligence after 15 days: incomplete, then complete without anomaly
    negligence = output_of("deposit SBX-2 negligence").splitlines()
    assert negligence[0] == "incomplete"
    completeness = json.loads(negligence[2])
    assert (completeness["status"], completeness["anomalies"]) == ("complete", [])

    # a case overdue, and its alert
    overdue = output_of("move P17D").splitlines()
    assert overdue[1] == "overdue"
    alerts = json.loads(overdue[2])["alerts"]
    assert [(a["type"], a["case_ref"], a["missing"]) for a in alerts] == [("case-overdue", "SBX-3", ["outcome"])]

    # destruction after eleven years: two archivists, refused before the notice period, then a certificate
    destruction = output_of("move P11Y").splitlines()
    assert destruction[1] == "lre-proof@2"
    assert destruction[2].endswith("same-holder") and destruction[3] == "approved"
    assert destruction[4].endswith("notice-period")
    assert destruction[6] == NOTICE
    signed = json.loads((home / "certificate.json").read_text())
    certificate = signed["certificate"]
    assert certificate["sandbox"] is True and certificate["notice"] == NOTICE
    assert verify_certificate((home / "certificate.json").read_bytes()).ok
    assert len(certificate["objects"]) == 8  # every proof of the three cases (3 + 3 + 2)
    assert certificate["approval"]["by"] != certificate["proposal"]["by"]
    assert certificate["execution"]["at"] >= "2038-"  # eleven years and a month of sandbox clock after 2026
    pdf = (home / "certificate.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"SANDBOX \x97 no probative value" in pdf

    # bad data and its errors
    errors = output_of("no-such-policy").splitlines()
    assert errors[0] == "urn:vault:problem:unknown-policy"
    assert json.loads(errors[1]) == [{"field": "colour",
                                      "problem": "unknown key (put free-form fields under 'extra')"}]
    assert errors[2:] == ["urn:vault:problem:invalid-metadata"] * 2 + [
        "urn:vault:problem:invalid-clock-move", "urn:vault:problem:forbidden"]

    # the journal's origin
    assert output_of("/journal/checkpoint").splitlines() == ["vault.local/sandbox"]
