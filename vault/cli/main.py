"""``vault`` — deposit, fetch, inspect and search archived proofs; run the service.

Every client command talks to a running server (``--url`` / ``VAULT_URL``) with an API key (``--key`` /
``VAULT_KEY``; the embedded default's ``$VAULT_DATA_DIR/admin.key`` when neither is given).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
from pathlib import Path

from vault.cli.client import ApiClient, CliError, resolve_key
from vault.cli.evidence import add_parsers as add_evidence_parsers

METADATA_KEYS = ("contract_number", "kind", "event_type", "event_time", "sender", "recipient", "expected_sha256",
                 "tenant")


def _print(args, data, human) -> None:
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human(data)


def _show_object(data: dict) -> None:
    for key, value in data.items():
        if value not in (None, {}, ""):
            print(f"{key:16} {json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value}")


def _parse_meta(pairs: list[str]) -> dict:
    metadata: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--meta expects key=value, got {pair!r}")
        if key.startswith("extra."):
            metadata.setdefault("extra", {})[key[len("extra."):]] = value
        else:
            metadata[key] = value
    return metadata


def cmd_deposit(args, client: ApiClient) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    metadata = _parse_meta(args.meta or [])
    metadata.update({"case_ref": args.case_ref, "policy": args.policy})
    for key in METADATA_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            metadata[key] = value
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}
    with path.open("rb") as handle:
        files = {"file": (path.name, handle, args.media_type or "application/octet-stream"),
                 "metadata": (None, json.dumps(metadata), "application/json")}
        receipt = client.json("POST", "/v1/objects", files=files, headers=headers)
    _print(args, receipt, _show_object)
    return 0


def cmd_get(args, client: ApiClient) -> int:
    target = Path(args.output)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    with client.stream("GET", f"/v1/objects/{args.id}/content") as response:
        from vault.cli.client import check

        check(response)
        expected = response.headers.get("etag", "").strip('"')
        with partial.open("wb") as out:
            for chunk in response.iter_bytes():
                digest.update(chunk)
                out.write(chunk)
    if expected and digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise CliError(f"downloaded bytes have SHA-256 {digest.hexdigest()}, the archive says {expected}")
    os.replace(partial, target)
    _print(args, {"id": args.id, "file": str(target), "sha256": digest.hexdigest()},
           lambda d: print(f"{d['file']}  sha256 {d['sha256']} (verified)"))
    return 0


def cmd_info(args, client: ApiClient) -> int:
    _print(args, client.json("GET", f"/v1/objects/{args.id}"), _show_object)
    return 0


def cmd_search(args, client: ApiClient) -> int:
    params = {name: getattr(args, name) for name in ("case_ref", "contract_number", "sender", "recipient",
                                                      "event_type", "tenant") if getattr(args, name)}
    if args.period_from:
        params["from"] = args.period_from
    if args.period_to:
        params["to"] = args.period_to
    params["limit"] = args.limit
    items: list = []
    cursor = None
    while True:
        page = client.json("GET", "/v1/objects", params={**params, **({"cursor": cursor} if cursor else {})})
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor or not args.all:
            break

    def human(data):
        for item in data["items"]:
            when = item["event_time"] or item["deposited_at"]
            print(f"{item['id']}  {when}  {item['event_type']:10} {item['case_ref']}  {item['filename'] or ''}")
        if data["next_cursor"]:
            print(f"(more: --all, or --cursor {data['next_cursor']})")

    _print(args, {"items": items, "next_cursor": cursor}, human)
    return 0


def cmd_keys_create(args, client: ApiClient) -> int:
    issued = client.json("POST", "/v1/keys", json={"role": args.role, "tenant": args.tenant, "label": args.label})
    _print(args, issued, lambda d: print(d["key"]) if args.quiet else _show_object(d))
    return 0


def cmd_serve(args) -> int:
    from vault.server import serve

    return serve(host=args.host, port=args.port, data_dir=args.data_dir)


def cmd_db_upgrade(args) -> int:
    from vault.db.engine import make_engine
    from vault.db.migrate import current_revision, upgrade
    from vault.settings import Settings

    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    print(f"schema at revision {current_revision(engine)}")
    return 0


def cmd_journal_verify(args) -> int:
    """Verify an exported journal (DIR or a server URL) or, with --data-dir, a live database."""
    from vault.journal.note import Verifier

    if args.data_dir:
        report = _audit_data_dir(args.data_dir)
    else:
        if not args.source:
            raise CliError("give an export directory, a server URL, or --data-dir")
        report = _verify_source(args)
    summary = {"ok": report.ok, "entries": report.size, "signed_checkpoints": report.checkpoints,
               "first_bad_index": report.first_bad_index, "problems": report.problems}
    if args.json:
        print(json.dumps(summary, indent=2))
    elif report.ok:
        print(f"journal OK: {report.size} entries, {report.checkpoints} signed checkpoints verified")
    if not report.ok and not args.json:
        where = "" if report.first_bad_index is None else f" at index {report.first_bad_index}"
        print(f"journal FAILED{where}:", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
    return 0 if report.ok else 1


def _audit_data_dir(data_dir: str):
    from vault.db.engine import make_engine
    from vault.journal.audit import audit_journal
    from vault.journal.checkpoints import load_or_create_signer
    from vault.settings import Settings

    settings = Settings.from_env(dict(os.environ, VAULT_DATA_DIR=data_dir))
    if not (settings.data_dir / "journal.key").exists():
        raise CliError(f"{settings.data_dir}: no journal.key here; is this a vault data directory?")
    verifier = load_or_create_signer(settings.data_dir, settings.journal_origin).verifier
    engine = make_engine(settings.effective_database_url)
    try:
        return audit_journal(engine, verifier)
    finally:
        engine.dispose()


def _verify_source(args):
    import tempfile

    from vault.journal.note import NoteError, Verifier
    from vault.journal.replay import verify_export

    directory = Path(args.source)
    with tempfile.TemporaryDirectory(prefix="vault-journal-") as scratch:
        if args.source.startswith(("http://", "https://")):
            client = ApiClient(args.source, resolve_key(args.key, args.key_file))
            try:
                directory = Path(scratch)
                export_args = argparse.Namespace(directory=str(directory), json=True)
                with contextlib.redirect_stdout(io.StringIO()):
                    cmd_journal_export(export_args, client)
            finally:
                client.close()
        elif not directory.is_dir():
            raise CliError(f"{directory}: not a directory")
        vkey_text = Path(args.vkey).read_text() if args.vkey and Path(args.vkey).is_file() else args.vkey
        if not vkey_text:
            if not (directory / "vkey").is_file():
                raise CliError("no verifier key: pass --vkey KEY (or a file holding it)")
            vkey_text = (directory / "vkey").read_text()
            print("vault: warning: using the verifier key found in the export itself; pass --vkey to pin it",
                  file=sys.stderr)
        try:
            verifier = Verifier.parse(vkey_text)
        except NoteError as exc:
            raise CliError(f"verifier key: {exc}") from None
        trusted = Path(args.trusted_checkpoint).read_bytes() if args.trusted_checkpoint else None
        return verify_export(directory, verifier, trusted)


def cmd_journal_export(args, client: ApiClient) -> int:
    """Write the checkpoint, its verifier key and every tile and entry bundle in the C2SP tlog-tiles layout."""
    from vault.journal.note import Verifier, open_checkpoint
    from vault.journal.tiles import entry_bundles_for_size, tiles_for_size

    target = Path(args.directory)
    note = client.request("GET", "/journal/checkpoint").content
    vkey = client.request("GET", "/v1/journal/key").text.strip()
    checkpoint = open_checkpoint(note, Verifier.parse(vkey))
    files = 0
    for tile in [*tiles_for_size(checkpoint.size), *entry_bundles_for_size(checkpoint.size)]:
        path = target / tile.path()
        if not path.exists():  # full tiles never change: an export can be resumed
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".tmp")
            partial.write_bytes(client.request("GET", "/journal/" + tile.path()).content)
            os.replace(partial, path)
        files += 1
    target.mkdir(parents=True, exist_ok=True)
    (target / "vkey").write_text(vkey + "\n")
    (target / "checkpoint").write_bytes(note)  # last: tiles first, then the checkpoint that names them
    _print(args, {"directory": str(target), "size": checkpoint.size, "files": files + 2},
           lambda d: print(f"exported {d['size']} entries ({d['files']} files) to {d['directory']}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vault", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=os.environ.get("VAULT_URL", "http://127.0.0.1:8000"),
                        help="server URL (VAULT_URL)")
    common.add_argument("--key", help="API key (VAULT_KEY)")
    common.add_argument("--key-file", help="file holding the API key")
    common.add_argument("--json", action="store_true", help="print JSON")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service (embedded default unless VAULT_DATABASE_URL says otherwise)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir")
    serve.set_defaults(local=cmd_serve)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the Alembic migrations").set_defaults(local=cmd_db_upgrade)

    journal = sub.add_parser("journal", help="the access journal").add_subparsers(dest="journal_command", required=True)
    verify = journal.add_parser("verify", parents=[common],
                                help="replay an exported journal (DIR or URL), or check a data directory's database")
    verify.add_argument("source", nargs="?", help="an export directory or a server URL")
    verify.add_argument("--data-dir", help="check this data directory's live database against its checkpoints")
    verify.add_argument("--vkey", help="the note verifier key (or a file holding it) to trust")
    verify.add_argument("--trusted-checkpoint", help="an earlier checkpoint the log must still contain")
    verify.set_defaults(local=cmd_journal_verify)

    export = journal.add_parser("export", parents=[common], help="download the journal as C2SP tlog tiles")
    export.add_argument("directory")
    export.set_defaults(remote=cmd_journal_export)

    add_evidence_parsers(sub, common)

    deposit = sub.add_parser("deposit", parents=[common], help="archive a file")
    deposit.add_argument("file")
    deposit.add_argument("--case-ref", required=True)
    deposit.add_argument("--policy", required=True)
    deposit.add_argument("--kind")
    deposit.add_argument("--event-type")
    deposit.add_argument("--event-time")
    deposit.add_argument("--sender")
    deposit.add_argument("--recipient")
    deposit.add_argument("--contract-number")
    deposit.add_argument("--expected-sha256")
    deposit.add_argument("--tenant")
    deposit.add_argument("--media-type", help="declared media type of the file")
    deposit.add_argument("--idempotency-key")
    deposit.add_argument("--meta", action="append", metavar="KEY=VALUE",
                         help="a metadata field; extra.NAME=VALUE goes into the free 'extra' object")
    deposit.set_defaults(remote=cmd_deposit)

    get = sub.add_parser("get", parents=[common], help="download an object's bytes (SHA-256 checked)")
    get.add_argument("id")
    get.add_argument("-o", "--output", required=True)
    get.set_defaults(remote=cmd_get)

    info = sub.add_parser("info", parents=[common], help="an object's metadata")
    info.add_argument("id")
    info.set_defaults(remote=cmd_info)

    search = sub.add_parser("search", parents=[common], help="find objects")
    search.add_argument("--case-ref")
    search.add_argument("--contract-number")
    search.add_argument("--sender")
    search.add_argument("--recipient")
    search.add_argument("--event-type")
    search.add_argument("--tenant")
    search.add_argument("--from", dest="period_from")
    search.add_argument("--to", dest="period_to")
    search.add_argument("--limit", type=int, default=100)
    search.add_argument("--all", action="store_true", help="follow every page")
    search.set_defaults(remote=cmd_search)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", parents=[common], help="issue a key (admin)")
    create.add_argument("--role", required=True, choices=["depositor", "archivist", "auditor", "admin"])
    create.add_argument("--tenant", required=True)
    create.add_argument("--label")
    create.add_argument("--quiet", action="store_true", help="print only the secret")
    create.set_defaults(remote=cmd_keys_create)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "local"):
            return args.local(args)
        client = ApiClient(args.url, resolve_key(args.key, args.key_file))
        try:
            return args.remote(args, client)
        finally:
            client.close()
    except CliError as exc:
        print(f"vault: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
