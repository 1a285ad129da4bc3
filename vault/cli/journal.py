"""``vault journal export|verify``: the journal as C2SP tlog tiles plus its TSA anchors, replayed offline.

An export holds ``checkpoint``, ``vkey``, ``tile/…`` (c2sp.org/tlog-tiles), ``anchors/NNNNNNNN.checkpoint`` and
``anchors/NNNNNNNN.tsr`` (each anchored checkpoint and its RFC 3161 token) and ``tsa-roots.pem``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

from vault.cli.client import ApiClient, CliError, load_tsa_roots, resolve_key


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_bytes(data)
    os.replace(partial, path)


def cmd_journal_export(args, client: ApiClient) -> int:
    """Write every tile and entry bundle, the anchors and TSA roots, then the checkpoint that names the tiles. A
    tenant's key, refused the entry bundles, gets the hash tiles and its own entries with their proofs instead."""
    from vault_verify.anchors import export_names
    from vault_verify.note import Verifier, open_checkpoint
    from vault_verify.tenantjournal import EXPORT_NAME
    from vault_verify.tiles import entry_bundles_for_size, tiles_for_size

    target = Path(args.directory)
    vkey = client.request("GET", "/v1/journal/key").text.strip()
    scope = client.json("GET", "/v1/journal/entries", params={"limit": 1}).get("scope", "*")
    pages = None if scope == "*" else _own_pages(client)  # first: the checkpoint read next covers every page's
    note = client.request("GET", "/journal/checkpoint").content
    checkpoint = open_checkpoint(note, Verifier.parse(vkey))
    bundles = [] if pages is not None else list(entry_bundles_for_size(checkpoint.size))
    files = 0
    for tile in [*tiles_for_size(checkpoint.size), *bundles]:
        path = target / tile.path()
        if not path.exists():  # full tiles never change: an export can be resumed
            _write(path, client.request("GET", "/journal/" + tile.path()).content)
        files += 1
    if pages is not None:
        _write(target / EXPORT_NAME, json.dumps({"scope": scope, "pages": pages}).encode())
        files += 1
    anchors = client.json("GET", "/v1/journal/anchors")["anchors"]
    for anchor in anchors:
        note_name, token_name = export_names(anchor["seq"])
        _write(target / note_name, anchor["checkpoint"].encode())
        _write(target / token_name, base64.b64decode(anchor["token"]))
        files += 2
    _write(target / "tsa-roots.pem", client.request("GET", "/v1/tsa/roots").content)
    (target / "vkey").write_text(vkey + "\n")
    _write(target / "checkpoint", note)  # last: tiles first, then the checkpoint that names them
    summary = {"directory": str(target), "size": checkpoint.size, "anchors": len(anchors), "files": files + 3,
               "scope": scope}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        own = "" if pages is None else (f" (tenant {scope}: hash tiles and its "
                                        f"{sum(len(p['entries']) for p in pages)} own entries)")
        print(f"exported {summary['size']} entries{own} and {summary['anchors']} anchors "
              f"({summary['files']} files) to {summary['directory']}")
    return 0


def _own_pages(client: ApiClient) -> list[dict]:
    """Every page of ``GET /v1/journal/entries`` for a tenant's key (its entries, proofs and checkpoint)."""
    pages, start = [], 0
    while start is not None:
        pages.append(client.json("GET", "/v1/journal/entries", params={"from": start, "limit": 1000}))
        start = pages[-1]["next_from"]
    return pages


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
    from vault.settings import Settings

    settings = Settings.from_env(dict(os.environ, VAULT_DATA_DIR=data_dir))
    if not (settings.data_dir / "journal.key").exists():
        raise CliError(f"{settings.data_dir}: no journal.key here; is this a vault data directory?")
    verifier = load_or_create_signer(settings.data_dir, settings.journal_origin).verifier
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
    from vault.settings import Settings

    reason = (args.reason or "").strip()
    if not reason:
        raise CliError("say why the fork is accepted: --reason TEXT (it is journaled)")
    settings = Settings.from_env(dict(os.environ, VAULT_DATA_DIR=args.data_dir))
    if not (settings.data_dir / "journal.key").exists():
        raise CliError(f"{settings.data_dir}: no journal.key here; is this a vault data directory?")
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
