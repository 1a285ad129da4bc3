"""``vault`` — deposit, fetch, inspect and search archived proofs; run the service.

Every client command talks to a running server (``--url`` / ``VAULT_URL``) with an API key (``--key`` /
``VAULT_KEY``; the embedded default's ``$VAULT_DATA_DIR/admin.key`` when neither is given).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import quote

from vault.cli.client import ApiClient, CliError, cli_errors, resolve_key
from vault.cli.cases import OBJECT_HEADERS, object_rows, table, validation_lines
from vault.cli.backup import add_parsers as add_backup_parsers
from vault.cli.batch import add_parsers as add_batch_parsers
from vault.cli.rowcheck import add_parsers as add_rowcheck_parsers
from vault.cli.cases import add_parsers as add_case_parsers
from vault.cli.doctor import add_parsers as add_doctor_parsers
from vault.cli.evidence import add_parsers as add_evidence_parsers
from vault.cli.packages import add_parsers as add_package_parsers
from vault.cli.identity import add_parsers as add_identity_parsers
from vault.cli.journal import add_parsers as add_journal_parsers
from vault.cli.receipts import add_parsers as add_receipt_parsers
from vault.cli.reversibility import add_parsers as add_reversibility_parsers
from vault.cli.retention import add_parsers as add_retention_parsers

METADATA_KEYS = ("contract_number", "kind", "event_type", "event_time", "sender", "recipient", "expected_sha256",
                 "tenant")


def _print(args, data, human) -> None:
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human(data)


def _show_object(data: dict) -> None:
    for key, value in data.items():
        if key == "validation" and isinstance(value, list):
            for line in validation_lines(value):
                print(f"{key:16} {line}")
        elif value not in (None, {}, "", []):
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
            print(f"{key:16} {shown}")


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
    with cli_errors():
        receipt = client.api.deposit(path, metadata, media_type=args.media_type,
                                     idempotency_key=args.idempotency_key)
    _print(args, receipt.raw, _show_object)
    return 0


def cmd_get(args, client: ApiClient) -> int:
    try:
        with cli_errors():
            got = client.api.download(args.id, args.output)
    except OSError as exc:
        raise CliError(f"{args.output}: {exc.strerror or exc}") from None
    _print(args, {"id": args.id, "file": str(got.path), "sha256": got.sha256},
           lambda d: print(f"{d['file']}  sha256 {d['sha256']} (verified)"))
    return 0


def cmd_info(args, client: ApiClient) -> int:
    _print(args, client.json("GET", f"/v1/objects/{args.id}"), _show_object)
    return 0


def cmd_search(args, client: ApiClient) -> int:
    params = {name: getattr(args, name) for name in ("case_ref", "contract_number", "sender", "recipient",
                                                      "event_type", "etsi_event", "tenant", "party", "kind", "verdict",
                                                      "format")
              if getattr(args, name)}
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
        table(object_rows(data["items"]), OBJECT_HEADERS)
        if data["next_cursor"]:
            print(f"(more: --all, or --cursor {data['next_cursor']})")

    _print(args, {"items": items, "next_cursor": cursor}, human)
    return 0


def cmd_keys_create(args, client: ApiClient) -> int:
    body = {"role": args.role, "tenant": args.tenant, "label": args.label, "holder": args.holder,
            "expires_at": args.expires_at}
    issued = client.json("POST", "/v1/keys", json={k: v for k, v in body.items() if v is not None})
    _print(args, issued, lambda d: print(d["key"]) if args.quiet else _show_object(d))
    return 0


def cmd_keys_list(args, client: ApiClient) -> int:
    params = {"revoked": "true"} if args.revoked else {}
    if args.tenant:
        params["tenant"] = args.tenant
    listed = client.json("GET", "/v1/keys", params=params)

    def table(data: dict) -> None:
        print(f"{'KEY':18} {'ROLE':10} {'TENANT':12} {'HOLDER':28} {'CREATED':21} {'EXPIRES':21} STATUS")
        for k in data["keys"]:
            print(f"{k['key_id']:18} {k['role']:10} {k['tenant']:12} {(k['holder'] or '-')[:28]:28} "
                  f"{k['created_at'][:19]:21} {(k['expires_at'] or '-')[:19]:21} {k['status']}")

    _print(args, listed, table)
    return 0


def cmd_keys_revoke(args, client: ApiClient) -> int:
    revoked = client.json("DELETE", f"/v1/keys/{quote(args.key_id, safe='')}")
    _print(args, revoked, lambda d: print(f"revoked {d['key_id']} at {d['revoked_at']}"))
    return 0


def cmd_keys_rotate(args, client: ApiClient) -> int:
    body = {"overlap": args.overlap} if args.overlap else {}
    rotated = client.json("POST", f"/v1/keys/{quote(args.key_id, safe='')}/rotate", json=body)
    _print(args, rotated, lambda d: print(d["key"]) if args.quiet else _show_object(d))
    return 0


def cmd_serve(args) -> int:
    from vault.server import serve

    if args.workers < 1:
        print(f"vault: --workers {args.workers}: give 1 or more processes", file=sys.stderr)
        return 2
    return serve(host=args.host, port=args.port, data_dir=args.data_dir, workers=args.workers)


def cmd_worker(args) -> int:
    from vault.server import work

    return work(args.data_dir)


def cmd_db_upgrade(args) -> int:
    from vault.db.engine import make_engine
    from vault.app import make_private
    from vault.db.migrate import current_revision, upgrade
    from vault.settings import Settings

    settings = Settings.from_env()
    make_private(settings.data_dir)
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    print(f"schema at revision {current_revision(engine)}")
    return 0


def cmd_settings(args) -> int:
    from vault.settings import Settings, SettingsError
    from vault.settings_doc import listing

    try:
        print(listing(Settings.from_env() if args.values else None))
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vault", description=__doc__.splitlines()[0])
    from vault import __version__

    parser.add_argument("--version", action="version", version=f"vault {__version__}")
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
    serve.add_argument("--workers", type=int, default=1,
                       help="processes serving the port, each a full replica (default 1)")
    serve.set_defaults(local=cmd_serve)

    worker = sub.add_parser("worker", help="run the background jobs (seals, renewals, anchors, copies, audits) "
                                           "without serving HTTP; safe to run several")
    worker.add_argument("--data-dir")
    worker.set_defaults(local=cmd_worker)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the Alembic migrations").set_defaults(local=cmd_db_upgrade)

    settings = sub.add_parser("settings", help="the VAULT_* settings: default and meaning of each")
    settings.add_argument("--values", action="store_true", help="show the values in use too (secrets: only whether set)")
    settings.set_defaults(local=cmd_settings)

    add_journal_parsers(sub, common)
    add_identity_parsers(sub, common)
    add_doctor_parsers(sub)

    add_evidence_parsers(sub, common)
    add_retention_parsers(sub, common)
    add_case_parsers(sub, common)
    add_package_parsers(sub, common)
    add_receipt_parsers(sub, common)
    add_reversibility_parsers(sub, common)
    add_backup_parsers(sub, common)
    add_rowcheck_parsers(sub, common)
    add_batch_parsers(sub, common)

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
    search.add_argument("--etsi-event", help="evidence event in ETSI terms (ConsignmentAcceptance, "
                        "DeliveryNonDeliveryToRecipient/Delivery; none: objects without one)")
    search.add_argument("--tenant")
    search.add_argument("--party", help="sender or recipient")
    search.add_argument("--kind", choices=["lre-evidence", "email-proof", "consent-record", "attachment", "other"])
    search.add_argument("--verdict", choices=["valid", "invalid", "indeterminate", "none"],
                        help="worst signature verdict (none: no signature)")
    search.add_argument("--format", help="detected media type, e.g. application/pdf")
    search.add_argument("--from", dest="period_from")
    search.add_argument("--to", dest="period_to")
    search.add_argument("--limit", type=int, default=100)
    search.add_argument("--all", action="store_true", help="follow every page")
    search.set_defaults(remote=cmd_search)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", parents=[common], help="issue a key (admin)")
    create.add_argument("--role", required=True, choices=["depositor", "archivist", "auditor", "admin"])
    create.add_argument("--tenant", required=True)
    create.add_argument("--holder", help="the person holding the key (required for admin, archivist, auditor)")
    create.add_argument("--label")
    create.add_argument("--expires-at", help="ISO 8601 time with an offset after which the key stops working")
    create.add_argument("--quiet", action="store_true", help="print only the secret")
    create.set_defaults(remote=cmd_keys_create)
    listing = keys.add_parser("list", parents=[common], help="the keys you manage (never their secrets)")
    listing.add_argument("--tenant")
    listing.add_argument("--revoked", action="store_true", help="include revoked keys")
    listing.set_defaults(remote=cmd_keys_list)
    revoke = keys.add_parser("revoke", parents=[common], help="revoke a key (effective within 5 s)")
    revoke.add_argument("key_id")
    revoke.set_defaults(remote=cmd_keys_revoke)
    rotate = keys.add_parser("rotate", parents=[common], help="a new secret for a key; the old one works for --overlap")
    rotate.add_argument("key_id")
    rotate.add_argument("--overlap", help="ISO 8601 duration the old secret keeps working (default PT24H, max P30D)")
    rotate.add_argument("--quiet", action="store_true", help="print only the new secret")
    rotate.set_defaults(remote=cmd_keys_rotate)
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
