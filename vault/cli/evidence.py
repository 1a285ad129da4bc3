"""``vault evidence export|verify``, ``vault verify-package``, ``vault reseal`` and ``vault crypto inventory``.

``evidence verify`` needs no server and no database: an ``.ers`` file, the data (or its digests) and the TSA
roots are enough (RFC 4998 §5.3). It is ``vault-verify ers`` of the standalone verifier (``verifier/``);
``verify-package`` is its ``vault-verify package``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from vault.cli.client import ApiClient, CliError
from vault_verify.cli import UsageError, add_ers_arguments, run_ers


def cmd_evidence_export(args, client: ApiClient) -> int:
    response = client.request("GET", f"/v1/objects/{args.object_id}/evidence-record")
    target = Path(args.output or f"{args.object_id}.ers")
    partial = target.with_name(target.name + ".tmp")
    partial.write_bytes(response.content)
    os.replace(partial, target)
    print(json.dumps({"file": str(target), "bytes": len(response.content)}) if args.json else f"wrote {target}")
    return 0


def cmd_evidence_verify(args) -> int:
    """The ``vault-verify ers`` command of the standalone verifier, under vault's own name and error style."""
    try:
        return run_ers(args)
    except UsageError as exc:
        raise CliError(str(exc)) from None


def cmd_verify_package(args) -> int:
    """``vault-verify package`` of the standalone verifier: a whole export package checked offline."""
    from vault_verify.package import run

    try:
        return run(args)
    except UsageError as exc:
        raise CliError(str(exc)) from None


def cmd_reseal(args, client: ApiClient) -> int:
    body = {"kind": args.kind}
    if args.hash:
        body["hash"] = args.hash
    result = client.json("POST", "/v1/admin/reseal", json=body)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.kind}: {len(result.get('batches', []))} batch(es)"
              + (f", {result['renewed']} renewed" if "renewed" in result else ""))
        for failure in result.get("failures", []):
            print(f"failed: {failure}")
    return 0 if not result.get("failures") else 1


def cmd_crypto_inventory(args, client: ApiClient) -> int:
    data = client.json("GET", "/v1/admin/crypto-inventory")
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print("objects by algorithm: " + (", ".join(f"{k} {v}" for k, v in data["objects_by_algorithm"].items()) or "none"))
    print(f"sealing with {data['sealing_algorithm']}; weak: {', '.join(data['weak_algorithms']) or 'none'}")
    lag = data["seal_lag"]
    print(f"seal lag: {lag['pending']} pending, oldest since {lag['oldest_pending_deposited_at'] or '-'}")
    for cert in data["tsa_certificates"]:
        print(f"TSA certificate {cert['subject']} expires {cert['not_after']} ({cert['tokens']} tokens)")
    for chain in data["chains"]:
        print(f"chain {chain['chain']} {chain['algorithm']} {chain['objects']} objects, "
              f"next renewal {chain['next_renewal_due'] or 'hash-tree renewal'}")
    held = data.get("formats") or {"formats": [], "pending": 0, "unidentified": 0}
    for fmt in held["formats"]:
        print(f"format {fmt['puid']} {fmt['name'] or ''} {fmt['version'] or ''}"
              f"{' PDF/A-' + fmt['pdfa'] if fmt['pdfa'] else ''}: {fmt['objects']} objects")
    print(f"formats: {held['pending']} pending identification, {held['unidentified']} unidentified")
    for alert in data["alerts"]:
        print(f"ALERT {alert}")
    return 0


def cmd_audit_run(args, client: ApiClient) -> int:
    summary = client.json("POST", "/v1/admin/audits", json={"sample": args.sample} if args.sample else {})
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['mode']} audit: {summary['blobs']} blobs, {summary['copies_checked']} copies read; "
              f"{len(summary['bad'])} bad, {len(summary['repaired'])} repaired, {len(summary['lost'])} lost "
              f"(journal index {summary.get('journal_index')})")
        for bad in summary["bad"]:
            print(f"  {bad['problem']} {bad['sha256'][:16]}… on {bad['store']}{' — ' + bad['repair_failed'] if 'repair_failed' in bad else ''}")
        for waiting in summary.get("waiting_for_other_host", []):
            print(f"  not made yet {waiting['sha256'][:16]}… on {waiting['store']}: waiting for host "
                  f"{', '.join(waiting['hosts'])}")
        for lost in summary["lost"]:
            print(f"ALERT no good copy left of object {lost['object']}")
    return 1 if summary["lost"] else 0


def cmd_audit_status(args, client: ApiClient) -> int:
    status = client.json("GET", "/v1/admin/audits/status")
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"stores: {', '.join(status['stores'])}; quorum {status['quorum']}; {status['blobs']} blobs")
    for store, info in status["per_store"].items():
        elsewhere = " (another host's local store: not read here)" if store in status.get("other_hosts_stores", ()) else ""
        print(f"  {store}: {info['copies']} copies, oldest verification {info['oldest_verification'] or 'never'}"
              + elsewhere)
    last = status["last_audit"]
    print(f"last audit: {last['finished_at']} ({last['mode']}), {len(last['bad'])} bad" if last else "last audit: none since start")
    for alert in status["alerts"]:
        print(f"ALERT {alert}")
    return 0


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    evidence = sub.add_parser("evidence", help="RFC 4998 evidence records").add_subparsers(
        dest="evidence_command", required=True)
    export = evidence.add_parser("export", parents=[common], help="download an object's evidence record (.ers)")
    export.add_argument("object_id")
    export.add_argument("-o", "--output", help="file to write (default: ID.ers)")
    export.set_defaults(remote=cmd_evidence_export)

    verify = evidence.add_parser("verify", help="verify an .ers file offline (no server needed)")
    add_ers_arguments(verify)
    verify.set_defaults(local=cmd_evidence_verify)

    package = sub.add_parser("verify-package", help="verify an export package (PKG.zip) offline: bag, objects, "
                                                    "journal (no server needed)")
    from vault_verify.package import add_arguments as add_package_arguments

    add_package_arguments(package)
    package.set_defaults(local=cmd_verify_package)

    reseal = sub.add_parser("reseal", parents=[common], help="seal now, or force a renewal (admin)")
    reseal.add_argument("--kind", choices=["seal", "timestamp-renewal", "hash-tree-renewal"],
                        default="timestamp-renewal")
    reseal.add_argument("--hash", help="target algorithm of a hash-tree renewal (e.g. sha512, sha3-512)")
    reseal.set_defaults(remote=cmd_reseal)

    audit = sub.add_parser("audit", help="fixity audits of every copy (admin)").add_subparsers(
        dest="audit_command", required=True)
    run = audit.add_parser("run", parents=[common], help="re-read every copy now, repair what is bad")
    run.add_argument("--sample", type=int, help="only this many blobs, least recently verified first")
    run.set_defaults(remote=cmd_audit_run)
    audit.add_parser("status", parents=[common], help="copies per store, last audit, alerts").set_defaults(
        remote=cmd_audit_status)

    crypto = sub.add_parser("crypto", help="crypto policy").add_subparsers(dest="crypto_command", required=True)
    inventory = crypto.add_parser("inventory", parents=[common],
                                  help="hash algorithms, TSA certificates, renewals due, alerts (admin)")
    inventory.set_defaults(remote=cmd_crypto_inventory)
