"""``vault receipt get|verify`` and ``vault report``.

``receipt verify`` works offline: a JWS receipt and the archive's public key (``GET /v1/archive/key``: its
``public_key_pem``, ``jwk`` or ``public_key``, or the whole document) are enough; a PDF receipt is checked against
the archive's PDF signing certificate.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from vault.cli.client import ApiClient, CliError, verify_pdf_file

RECEIPT_ACCEPT = {"json": "application/json", "jws": "application/jose", "pdf": "application/pdf"}


def _write(target: Path, data: bytes) -> None:
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, target)


def cmd_receipt_get(args, client: ApiClient) -> int:
    kind = "pdf" if args.pdf else "jws" if args.jws else "json"
    response = client.request("GET", f"/v1/objects/{args.id}/receipt", headers={"Accept": RECEIPT_ACCEPT[kind]})
    body = response.content if kind != "json" else (json.dumps(response.json(), indent=2) + "\n").encode()
    if args.output:
        _write(Path(args.output), body)
        print(json.dumps({"file": args.output, "format": kind, "bytes": len(body)}) if args.json
              else f"wrote {args.output} ({kind}, {len(body)} bytes)")
    elif kind == "pdf":
        raise CliError("a PDF receipt needs -o FILE")
    else:
        print(body.decode().rstrip())
    return 0


def _read_key(value: str) -> str:
    path = Path(value)
    try:
        return path.read_text() if path.is_file() else value
    except OSError as exc:
        raise CliError(str(exc)) from None


def cmd_receipt_verify(args) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise CliError(str(exc)) from None
    if data.startswith(b"%PDF"):
        return verify_pdf_file(args, data, "receipt")
    from vault.documents.jws import load_public_key, verify

    if not args.key:
        raise CliError("a JWS receipt is checked against the archive's public key: pass --key (a PEM file, a JWK, "
                       "or the document GET /v1/archive/key answers)")
    try:
        key = load_public_key(_read_key(args.key))
    except (ValueError, KeyError, TypeError) as exc:
        raise CliError(f"--key: {exc}") from None
    verdict = verify(data, key)
    receipt = verdict.payload or {}
    if verdict.ok and receipt.get("type") != "vault-deposit-receipt":
        verdict.fail("receipt type", f"signed, but not a vault deposit receipt (type {receipt.get('type')!r})")
    if args.json:
        print(json.dumps({"valid": verdict.ok, "reason": verdict.reason, "kid": verdict.header.get("kid"),
                          "receipt": receipt if verdict.ok else None}, indent=2, ensure_ascii=False))
    elif verdict.ok:
        seal = receipt.get("seal") or {}
        print(f"receipt VALID: signed by the archive key {verdict.header['kid']}, issued {receipt['issued_at']} "
              f"by {receipt['issuer']}")
        print(f"object {receipt['id']}  tenant {receipt['tenant']}  case {receipt['case_ref']}")
        print(f"sha256 {receipt['sha256']}  size {receipt['size']}  deposited {receipt['deposited_at']}")
        print(f"policy {receipt['policy']}@{receipt['policy_version']}  retention until {receipt['retention_until']}  "
              f"journal index {receipt['journal_index']}")
        print(f"seal {seal.get('status')}" + (f": batch {seal['batch_id']}, genTime {seal['token_gen_time']}, "
                                              f"TSA {seal['tsa']}" if seal.get("status") == "sealed" else ""))
    else:
        print(f"receipt INVALID: {verdict.reason}")
    return 0 if verdict.ok else 1


def cmd_report(args, client: ApiClient) -> int:
    from urllib.parse import quote

    if bool(args.id) == bool(args.case_ref):
        raise CliError("give an object id, or --case-ref REF")
    path = f"/v1/cases/{quote(args.case_ref, safe='')}/report" if args.case_ref else f"/v1/objects/{args.id}/report"
    params = {"tenant": args.tenant} if args.tenant else {}
    accept = "application/pdf" if args.pdf else "application/json"
    response = client.request("GET", path, params=params, headers={"Accept": accept})
    if args.pdf:
        if not args.output:
            raise CliError("a PDF report needs -o FILE")
        _write(Path(args.output), response.content)
        print(f"wrote {args.output}")
        return 0
    report = response.json()
    if args.output:
        _write(Path(args.output), (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode())
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for child in [report] + report.get("objects", []):
            label = child["object"]["id"] if child["scope"] == "object" else f"case {child['case']['case_ref']}"
            print(f"{label}: {child['verdict']['result'].upper()} - {child['verdict']['summary']}")
            for line in child["checks"]:
                print(f"  {line['result']:14} {line['id']}: {line['detail']}")
    return 0 if report["verdict"]["result"] != "fail" else 1


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    receipt = sub.add_parser("receipt", help="deposit receipts, signed").add_subparsers(
        dest="receipt_command", required=True)
    get = receipt.add_parser("get", parents=[common], help="download an object's receipt (JSON, JWS or PDF)")
    get.add_argument("id")
    which = get.add_mutually_exclusive_group()
    which.add_argument("--jws", action="store_true", help="signed with the archive's key, compact JWS")
    which.add_argument("--pdf", action="store_true", help="a PDF signed by the archive (PAdES)")
    get.add_argument("-o", "--output", help="file to write (default: print JSON or JWS)")
    get.set_defaults(remote=cmd_receipt_get)

    verify = receipt.add_parser("verify", help="check a JWS (or PDF) receipt offline; exit 0 only when valid")
    verify.add_argument("file")
    verify.add_argument("--key", help="the archive's public key: a PEM or JWK file, the GET /v1/archive/key "
                                      "document, or the raw key in base64")
    verify.add_argument("--cert", help="for a PDF: the archive's PDF signing certificate (PEM)")
    verify.add_argument("--tsa-roots", help="for a PDF: PEM roots to check its signature timestamp against")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(local=cmd_receipt_verify)

    report = sub.add_parser("report", parents=[common],
                            help="probative-value report of an object or a case (every check re-run now)")
    report.add_argument("id", nargs="?")
    report.add_argument("--case-ref")
    report.add_argument("--tenant")
    report.add_argument("--pdf", action="store_true", help="the signed PDF (needs -o)")
    report.add_argument("-o", "--output")
    report.set_defaults(remote=cmd_report)
