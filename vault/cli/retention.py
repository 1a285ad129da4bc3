"""``vault policies``, ``vault holds``, ``vault disposal`` and ``vault certificate verify``.

``policies check DIR`` and ``certificate verify FILE`` work offline; the others talk to the server.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vault.cli.client import ApiClient, CliError, verify_pdf_file


def _show(args, data, human) -> int:
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human(data)
    return 0


def cmd_policies_check(args) -> int:
    from vault.retention.policy import PolicyError, load_policies

    try:
        book = load_policies(Path(args.directory))
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    return _show(args, {"ok": True, "policies": [p.describe() for p in book]},
                 lambda d: print("\n".join(f"ok  {p['id']}@{p['version']}  {p['duration']} from {p['start']}, then "
                                           f"{p['final_action']}  ({p['source']})" for p in d["policies"])))


def cmd_policies_list(args, client: ApiClient) -> int:
    data = client.json("GET", "/v1/policies")
    return _show(args, data, lambda d: print("\n".join(
        f"{p['id']}@{p['version']}{'  (in force)' if p['in_force'] else ''}  {p['duration']} from {p['start']}, "
        f"then {p['final_action']} — {p['title']}" for p in d["policies"])))


def cmd_policies_show(args, client: ApiClient) -> int:
    found = [p for p in client.json("GET", "/v1/policies")["policies"] if p["id"] == args.policy
             and (args.version is None or p["version"] == args.version)]
    if not found:
        raise CliError(f"no policy {args.policy!r}" + (f" version {args.version}" if args.version else ""))
    policy = found[-1] if args.version is None else found[0]
    return _show(args, policy, lambda p: print("\n".join(f"{k:16} {v}" for k, v in p.items())))


def cmd_holds_create(args, client: ApiClient) -> int:
    body = {"reason": args.reason, "reference": args.reference}
    if args.tenant:
        body["tenant"] = args.tenant
    if args.object:
        body["object_ids"] = args.object
    if args.case_ref:
        body["case_ref"] = args.case_ref
    if args.query:
        body["query"] = dict(pair.split("=", 1) for pair in args.query)
    hold = client.json("POST", "/v1/holds", json=body)
    return _show(args, hold, lambda h: print(f"hold {h['id']} set ({h['scope']}, {h['reference']})"))


def cmd_holds_list(args, client: ApiClient) -> int:
    data = client.json("GET", "/v1/holds", params={"active": str(not args.all).lower()})
    return _show(args, data, lambda d: print("\n".join(
        f"{h['id']}  {'active' if h['active'] else 'released'}  {h['scope']} {json.dumps(h['selector'])}  "
        f"{h['reference']}: {h['reason']}" for h in d["holds"]) or "no holds"))


def cmd_holds_release(args, client: ApiClient) -> int:
    hold = client.json("DELETE", f"/v1/holds/{args.hold_id}")
    return _show(args, hold, lambda h: print(f"hold {h['id']} released"))


def cmd_disposal_due(args, client: ApiClient) -> int:
    params = {k: v for k, v in (("policy", args.policy), ("tenant", args.tenant)) if v}
    data = client.json("GET", "/v1/disposal/due", params=params)

    def human(d):
        for section in ("destroy", "review", "held"):
            print(f"{section}: {len(d[section])}")
            for item in d[section]:
                held = f"  held by {', '.join(item['holds'])}" if item["holds"] else ""
                print(f"  {item['id']}  {item['policy']}  ended {item['retention_until']}{held}")

    return _show(args, data, human)


def cmd_disposal_propose(args, client: ApiClient) -> int:
    body = {"object_ids": args.object} if args.object else {"all_due": True}
    if args.policy:
        body["policy"] = args.policy
    if args.tenant:
        body["tenant"] = args.tenant
    batch = client.json("POST", "/v1/disposal/batches", json=body)
    return _show(args, batch, lambda b: print(f"batch {b['id']} proposed: {len(b['object_ids'])} objects; another "
                                              "archivist must approve it"))


def cmd_disposal_approve(args, client: ApiClient) -> int:
    batch = client.json("POST", f"/v1/disposal/batches/{args.batch_id}/approve")
    return _show(args, batch, lambda b: print(f"batch {b['id']} approved; executable from {b['executable_after']} "
                                              "(until then an archivist or auditor may veto it)"))


def cmd_disposal_veto(args, client: ApiClient) -> int:
    batch = client.json("POST", f"/v1/disposal/batches/{args.batch_id}/veto", json={"reason": args.reason})
    return _show(args, batch, lambda b: print(f"batch {b['id']} vetoed: it will never be executed"))


def cmd_disposal_execute(args, client: ApiClient) -> int:
    signed = client.json("POST", f"/v1/disposal/batches/{args.batch_id}/execute")
    if args.output:
        Path(args.output).write_text(json.dumps(signed, indent=2) + "\n")
    return _show(args, signed, lambda s: print(
        f"batch {args.batch_id} executed: {len(s['certificate']['objects'])} objects destroyed"
        + (f"; certificate written to {args.output}" if args.output else "")))


def cmd_certificate_verify(args) -> int:
    from vault.retention.certificate import verify_certificate

    try:
        data = Path(args.file).read_bytes()
        pinned = Path(args.key).read_text().strip() if args.key and Path(args.key).is_file() else args.key
    except OSError as exc:
        raise CliError(str(exc)) from None
    if data.startswith(b"%PDF"):
        return verify_pdf_file(args, data, "certificate")
    verdict = verify_certificate(data, pinned)
    if args.json:
        print(json.dumps({"valid": verdict.ok, "reason": verdict.reason, "pinned_key": verdict.pinned}, indent=2))
    elif verdict.ok:
        certificate = verdict.certificate
        print(f"certificate VALID ({'pinned key' if verdict.pinned else 'key carried by the file: pass --key to pin it'})")
        print(f"batch {certificate['batch']}: {len(certificate['objects'])} objects; journal indexes: proposal "
              f"{certificate['proposal']['journal_index']}, approval {certificate['approval']['journal_index']}, "
              f"execution {certificate['execution']['journal_index']}")
    else:
        print(f"certificate INVALID: {verdict.reason}")
    return 0 if verdict.ok else 1


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    policies = sub.add_parser("policies", help="retention policies").add_subparsers(dest="policies_command",
                                                                                    required=True)
    listing = policies.add_parser("list", parents=[common], help="the policies the server knows")
    listing.set_defaults(remote=cmd_policies_list)
    show = policies.add_parser("show", parents=[common], help="one policy in full")
    show.add_argument("policy")
    show.add_argument("--version", type=int)
    show.set_defaults(remote=cmd_policies_show)
    check = policies.add_parser("check", help="validate a directory of policy files offline (exit 1 on the first "
                                              "bad file, naming it)")
    check.add_argument("directory")
    check.add_argument("--json", action="store_true")
    check.set_defaults(local=cmd_policies_check)

    holds = sub.add_parser("holds", help="legal holds (archivist)").add_subparsers(dest="holds_command", required=True)
    create = holds.add_parser("create", parents=[common], help="put objects, a case or a search under legal hold")
    create.add_argument("--object", action="append", help="an object id (repeatable)")
    create.add_argument("--case-ref")
    create.add_argument("--query", action="append", metavar="FIELD=VALUE",
                        help="a search field: case_ref, contract_number, sender, recipient, event_type, kind, from, to")
    create.add_argument("--reason", required=True)
    create.add_argument("--reference", required=True, help="the dispute or court reference")
    create.add_argument("--tenant")
    create.set_defaults(remote=cmd_holds_create)
    listed = holds.add_parser("list", parents=[common], help="active holds (--all: released ones too)")
    listed.add_argument("--all", action="store_true")
    listed.set_defaults(remote=cmd_holds_list)
    release = holds.add_parser("release", parents=[common], help="release a hold")
    release.add_argument("hold_id")
    release.set_defaults(remote=cmd_holds_release)

    disposal = sub.add_parser("disposal", help="four-eyes destruction (archivists)").add_subparsers(
        dest="disposal_command", required=True)
    due = disposal.add_parser("due", parents=[common], help="objects whose retention ended")
    due.add_argument("--policy")
    due.add_argument("--tenant")
    due.set_defaults(remote=cmd_disposal_due)
    propose = disposal.add_parser("propose", parents=[common], help="propose a destruction batch")
    propose.add_argument("--object", action="append", help="an object id (repeatable; default: every due object)")
    propose.add_argument("--policy")
    propose.add_argument("--tenant")
    propose.set_defaults(remote=cmd_disposal_propose)
    approve = disposal.add_parser("approve", parents=[common], help="approve another archivist's batch")
    approve.add_argument("batch_id")
    approve.set_defaults(remote=cmd_disposal_approve)
    veto = disposal.add_parser("veto", parents=[common], help="stop a proposed or approved batch for good "
                               "(archivist or auditor)")
    veto.add_argument("batch_id")
    veto.add_argument("--reason", required=True, help="why (kept with the batch, a pseudonym in the journal)")
    veto.set_defaults(remote=cmd_disposal_veto)
    execute = disposal.add_parser("execute", parents=[common], help="destroy an approved batch after its notice")
    execute.add_argument("batch_id")
    execute.add_argument("-o", "--output", help="write the signed certificate here")
    execute.set_defaults(remote=cmd_disposal_execute)

    certificate = sub.add_parser("certificate", help="destruction certificates").add_subparsers(
        dest="certificate_command", required=True)
    verify = certificate.add_parser("verify", help="check a destruction certificate (signed JSON or PDF) offline")
    verify.add_argument("file")
    verify.add_argument("--key", help="the archive's public key (GET /v1/archive/key), or a file holding it")
    verify.add_argument("--cert", help="for a PDF: the archive's PDF signing certificate (PEM)")
    verify.add_argument("--tsa-roots", help="for a PDF: PEM roots to check its signature timestamp against")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(local=cmd_certificate_verify)
