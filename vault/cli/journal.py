"""``vault journal export|verify``: the journal as C2SP tlog tiles plus its TSA anchors, replayed offline.

What an export holds is :mod:`vault.journal.export`'s (the console's and ``GET /v1/journal/export``'s ZIP too);
here its source is the API over HTTP and its sink a directory.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

from vault.cli.client import ApiClient, CliError, data_dir_settings, load_tsa_roots, resolve_key


class ApiSource:
    """The export source over HTTP (:class:`vault.journal.export.ExportSource`): each method one API read."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    def vkey(self) -> str:
        return self._client.request("GET", "/v1/journal/key").text

    def entries_page(self, start: int, limit: int) -> dict:
        return self._client.json("GET", "/v1/journal/entries", params={"from": start, "limit": limit})

    def checkpoint(self) -> bytes:
        return self._client.request("GET", "/journal/checkpoint").content

    def tile(self, path: str) -> bytes:
        return self._client.request("GET", "/journal/" + path).content

    def anchors(self) -> list[dict]:
        return self._client.json("GET", "/v1/journal/anchors")["anchors"]

    def handovers(self) -> list[dict]:
        return self._client.json("GET", "/v1/journal/handovers")["handovers"]

    def tsa_roots_pem(self) -> bytes:
        return self._client.request("GET", "/v1/tsa/roots").content


def cmd_journal_export(args, client: ApiClient) -> int:
    """Write every tile and entry bundle, the anchors and TSA roots, then the checkpoint that names the tiles. A
    tenant's key, refused the entry bundles, gets the hash tiles and its own entries with their proofs instead."""
    from vault.journal.export import open_export, write_directory

    target = Path(args.directory)
    export = open_export(ApiSource(client))
    summary = export.summary(write_directory(export, target), str(target))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        own = ("" if export.pages is None
               else f" (tenant {export.scope}: hash tiles and its {export.own_entries} own entries)")
        print(f"exported {summary['size']} entries{own} and {summary['anchors']} anchors "
              f"({summary['files']} files) to {summary['directory']}")
    return 0


def cmd_journal_verify(args) -> int:
    """Verify an exported journal (DIR or a server URL: :mod:`vault_verify.journalcli`, the code of
    ``vault-verify journal``) or, with --data-dir, a live database."""
    from vault_verify.journalcli import print_report

    if args.data_dir:
        report = _audit_data_dir(args.data_dir, args.tsa_roots)
    else:
        if not args.source:
            raise CliError("give an export directory, a server URL, or --data-dir")
        report = _verify_source(args)
    return print_report(report, args.json)


def _audit_data_dir(data_dir: str, tsa_roots: str | None):
    from vault.db.engine import make_engine
    from vault.journal.audit import audit_journal
    from vault.journal.checkpoints import load_or_create_signer

    settings = data_dir_settings(data_dir)
    verifier = load_or_create_signer(settings.effective_keys_dir, settings.journal_origin).verifier
    default_roots = settings.tsa_roots or (settings.tsa_dir / "root.pem")
    roots = load_tsa_roots(tsa_roots or (default_roots if Path(default_roots).exists() else None))
    engine = make_engine(settings.effective_database_url)
    try:
        if not tsa_roots:  # the service's roots, and every root that ever issued a token here (a TSA switch)
            from vault.timestamping.history import TsaHistory

            roots = [published.certificate for published in TsaHistory(engine, None).published(roots or [])] or None
        return audit_journal(engine, verifier, tsa_roots=roots)
    finally:
        engine.dispose()


def cmd_journal_accept_fork(args) -> int:
    """Accept the fork the service refuses writes for: a journaled act with a reason, the only way on."""
    from vault.app import Vault
    from vault.journal.fork import accept_fork

    reason = (args.reason or "").strip()
    if not reason:
        raise CliError("say why the fork is accepted: --reason TEXT (it is journaled)")
    settings = data_dir_settings(args.data_dir)
    vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    try:
        fork = vault.fork
        if fork is None:
            raise CliError("the journal shows no fork: nothing to accept")
        seq = accept_fork(vault.journal, fork, reason)
    finally:
        vault.close()
    summary = {"accepted": fork.detail(), "journal_index": seq, "reason": reason}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"fork accepted (journal entry {seq}): {fork.describe()}; restart the service to resume writes")
    return 0


def _verify_source(args):
    """An export directory, or a server URL exported first into a scratch directory, replayed offline."""
    from vault_verify.journalcli import JournalInputError, verify_directory

    directory = Path(args.source)
    with tempfile.TemporaryDirectory(prefix="vault-journal-") as scratch:
        if args.source.startswith(("http://", "https://")):
            client = ApiClient(args.source, resolve_key(args.key, args.key_file))
            try:
                directory = Path(scratch)
                with contextlib.redirect_stdout(io.StringIO()):
                    cmd_journal_export(argparse.Namespace(directory=str(directory), json=True), client)
            finally:
                client.close()
        try:
            return verify_directory(directory, args.vkey, args.trusted_checkpoint, args.tsa_roots,
                                    warn=lambda message: print(f"vault: warning: {message}", file=sys.stderr))
        except JournalInputError as exc:
            raise CliError(str(exc)) from None


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    from vault_verify.journalcli import add_trust_arguments

    journal = sub.add_parser("journal", help="the access journal").add_subparsers(dest="journal_command", required=True)
    verify = journal.add_parser("verify", parents=[common],
                                help="replay an exported journal (DIR or URL), or check a data directory's database")
    verify.add_argument("source", nargs="?", help="an export directory or a server URL")
    verify.add_argument("--data-dir", help="check this data directory's live database against its checkpoints")
    add_trust_arguments(verify)
    verify.set_defaults(local=cmd_journal_verify)

    accept = journal.add_parser("accept-fork", parents=[common],
                                help="accept a detected journal fork (journaled, with a reason) so writes resume")
    accept.add_argument("--data-dir", required=True, help="the data directory whose journal forked")
    accept.add_argument("--reason", required=True, help="why (journaled): the investigation's conclusion")
    accept.set_defaults(local=cmd_journal_accept_fork)

    export = journal.add_parser("export", parents=[common], help="download the journal as C2SP tlog tiles + anchors")
    export.add_argument("directory")
    export.set_defaults(remote=cmd_journal_export)
