"""``vault-verify journal DIR``: replay a journal export offline (``vault journal verify DIR`` runs this code).

The export (written by ``vault journal export``) holds ``checkpoint``, ``vkey``, ``tile/…`` (c2sp.org/tlog-tiles),
``anchors/NNNNNNNN.checkpoint`` and ``.tsr`` and ``tsa-roots.pem``; a tenant's export holds hash tiles and
``tenant-entries.json`` in place of the entry bundles (:mod:`vault_verify.tenantjournal`). The key and the TSA
roots should be pinned from elsewhere: those found in the export itself are used with a warning.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from vault_verify.note import NoteError, Verifier
from vault_verify.replay import JournalReport, verify_export, verify_tenant_export
from vault_verify.tenantjournal import EXPORT_NAME
from vault_verify.tokens import load_pem_roots


class JournalInputError(Exception):
    """An input the user must fix (a missing directory, key or PEM file): one line, exit status 1."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", help="a journal export directory (written by `vault journal export`)")
    add_trust_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_trust_arguments(parser: argparse.ArgumentParser) -> None:
    """What the replay trusts, given from outside the export (``vault journal verify`` takes the same)."""
    parser.add_argument("--vkey", help="the note verifier key (or a file holding it) to trust")
    parser.add_argument("--trusted-checkpoint", help="an earlier checkpoint the log must still contain")
    parser.add_argument("--tsa-roots", help="PEM file of the TSA roots the anchors must chain to")


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def verify_directory(directory: Path, vkey: str | None = None, trusted_checkpoint: str | None = None,
                     tsa_roots: str | None = None, warn: Callable[[str], None] = _warn) -> JournalReport:
    """Replay the export in ``directory`` (the whole log, or a tenant's view) with the pinned key ``vkey`` (its
    text or a file holding it), an earlier ``trusted_checkpoint`` file and a ``tsa_roots`` PEM file."""
    directory = Path(directory)
    if not directory.is_dir():
        raise JournalInputError(f"{directory}: not a directory")
    vkey_text = Path(vkey).read_text() if vkey and Path(vkey).is_file() else vkey
    if not vkey_text:
        if not (directory / "vkey").is_file():
            raise JournalInputError("no verifier key: pass --vkey KEY (or a file holding it)")
        vkey_text = (directory / "vkey").read_text()
        warn("using the verifier key found in the export itself; pass --vkey to pin it")
    roots_file = tsa_roots
    if not roots_file and (directory / "tsa-roots.pem").is_file():
        roots_file = directory / "tsa-roots.pem"
        warn("using the TSA roots found in the export itself; pass --tsa-roots to pin them")
    try:
        verifier = Verifier.parse(vkey_text)
    except NoteError as exc:
        raise JournalInputError(f"verifier key: {exc}") from None
    try:
        roots = load_pem_roots(Path(roots_file).read_bytes()) if roots_file else None
    except (OSError, ValueError) as exc:
        raise JournalInputError(f"TSA roots {roots_file}: {exc}") from None
    try:
        trusted = Path(trusted_checkpoint).read_bytes() if trusted_checkpoint else None
    except OSError as exc:
        raise JournalInputError(f"trusted checkpoint: {exc}") from None
    check = verify_tenant_export if (directory / EXPORT_NAME).is_file() else verify_export
    return check(directory, verifier, trusted, roots)


def print_report(report: JournalReport, as_json: bool) -> int:
    """The verdict (JSON, or a line on stdout when OK, the problems on stderr when not); the exit status."""
    if as_json:
        print(report.render_json())
    elif report.ok:
        anchored = (f", {report.anchors} TSA anchors (newest: {report.newest_anchor})" if report.anchors
                    else ", no TSA anchor yet")
        scope = "" if report.scope == "*" else f" as seen by tenant {report.scope}"
        print(f"journal OK{scope}: {report.size} entries, {report.checkpoints} signed checkpoints verified{anchored}")
        for note in report.notes:
            print(f"note: {note}")
    else:
        where = "" if report.first_bad_index is None else f" at index {report.first_bad_index}"
        print(f"journal FAILED{where}:", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
    return 0 if report.ok else 1


def run(args: argparse.Namespace) -> int:
    """``vault-verify journal DIR``."""
    from vault_verify.cli import UsageError

    try:
        report = verify_directory(Path(args.directory), args.vkey, args.trusted_checkpoint, args.tsa_roots)
    except JournalInputError as exc:
        raise UsageError(str(exc)) from None
    return print_report(report, args.json)
