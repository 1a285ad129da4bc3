"""``vault case``, ``vault alerts``, ``vault consent`` and ``vault validation``: what the proofs of a sending
say, read as an archivist reads them (tables by default, JSON with ``--json``)."""

from __future__ import annotations

import argparse
import json
import sys

from vault.cli.client import ApiClient


def table(rows: list[list[str]], headers: list[str], out=None) -> None:
    """A plain text table: columns as wide as their widest cell, the last one left free."""
    out = out or sys.stdout
    cells = [headers, *[[("" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers) - 1)]
    for n, row in enumerate(cells):
        print("  ".join([c.ljust(w) for c, w in zip(row, widths)] + [row[-1]]).rstrip(), file=out)
        if n == 0:
            print("  ".join(["-" * w for w in widths] + ["-" * max(len(headers[-1]), 4)]), file=out)


def verdict_cell(item: dict) -> str:
    verdicts = [v["verdict"] for v in item.get("validation") or []]
    if not verdicts:
        return "-"
    worst = next(v for v in ("invalid", "indeterminate", "valid") if v in verdicts)
    return worst if len(verdicts) == 1 else f"{worst} ({len(verdicts)} sig.)"


def object_rows(items: list[dict]) -> list[list[str]]:
    return [[i.get("at") or i["event_time"] or i["deposited_at"], i["event_type"], i["kind"], i["case_ref"],
             verdict_cell(i), (i.get("format") or {}).get("detected") or "?", i["id"], i["filename"] or ""]
            for i in items]


OBJECT_HEADERS = ["time", "event", "kind", "case", "signatures", "format", "id", "file"]


def cmd_case(args, client: ApiClient) -> int:
    case = client.json("GET", f"/v1/cases/{args.case_ref}", params={"tenant": args.tenant} if args.tenant else None)
    if args.json:
        print(json.dumps(case, indent=2, ensure_ascii=False))
        return 0
    table(object_rows(case["events"]), OBJECT_HEADERS)
    done = case["completeness"]
    print(f"\ncase {case['case_ref']}: {done['status']} against chain {case['chain']}"
          + (f"; missing {', '.join(done['missing'])}" if done["missing"] else "")
          + (f"; due {done['due_at']}" if done["due_at"] else ""))
    for anomaly in done["anomalies"]:
        print(f"anomaly: {anomaly}")
    for reason in done.get("reasons", []):
        print(f"incomplete: {reason}")
    consent = case.get("consent") or {}
    if consent.get("required") or consent.get("consent_ref"):
        proof = consent.get("proof") or {}
        print(f"consent at {consent['at']}: {'valid' if consent['valid'] else 'NOT valid'}: {consent['reason']}"
              + (f" [proof {proof['object_id']} sha256 {proof['sha256']} sealed {proof.get('sealed_at') or 'pending'}]"
                 if proof else ""))
    return 0 if done["status"] != "overdue" else 3


def cmd_alerts(args, client: ApiClient) -> int:
    found = client.json("GET", "/v1/alerts", params={"tenant": args.tenant} if args.tenant else None)
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
    elif not found["alerts"]:
        print("no overdue case")
    else:
        table([[a["due_at"], a["tenant"], a["case_ref"], ", ".join(a["missing"])] for a in found["alerts"]],
              ["due", "tenant", "case", "missing"])
    return 0


KPI_LINES = (("sendings", "sendings"), ("delivery_rate", "delivery rate"), ("refusal_rate", "refusal rate"),
             ("negligence_rate", "negligence rate"), ("technical_failure_rate", "technical failure rate"),
             ("mean_acceptance_delay_seconds", "mean acceptance delay (s)"),
             ("p50_acceptance_delay_seconds", "p50 acceptance delay (s)"),
             ("p90_acceptance_delay_seconds", "p90 acceptance delay (s)"), ("pending", "pending"),
             ("overdue_cases", "overdue cases"))


def cmd_kpis(args, client: ApiClient) -> int:
    params = {k: v for k, v in (("from", args.period_from), ("to", args.period_to), ("tenant", args.tenant)) if v}
    found = client.json("GET", "/v1/kpis", params=params)
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    print(f"tenant {found['tenant'] or 'all'}, sendings dated {found['from']} to {found['to']}\n")
    table([[label, "-" if found[key] is None else str(found[key])] for key, label in KPI_LINES], ["indicator", "value"])
    return 0


def cmd_consent(args, client: ApiClient) -> int:
    params = {k: v for k, v in (("purpose", args.purpose), ("at", args.at), ("tenant", args.tenant)) if v}
    state = client.json("GET", f"/v1/consents/{args.subject}", params=params)
    if args.json or not args.purpose:
        print(json.dumps(state, indent=2, ensure_ascii=False))
        return 0
    proof = state["proof"]
    print(f"{state['state']} for {state['purpose']} at {state['at']}"
          + (f": proven by {proof['object_id']} ({proof['event_type']} at {proof['event_time']})" if proof else ""))
    if state["history"]:
        print()
        table([[h["event_time"], h["state"], h["signature_verdict"] or "-", h["object_id"]] for h in state["history"]],
              ["time", "state", "signatures", "proof"])
    return 0


def validation_lines(verdicts: list[dict]) -> list[str]:
    """A receipt's ``validation`` entries, one readable line each (never a Python repr)."""
    if not verdicts:
        return ["no signature found"]
    return [f"{v.get('kind', '?')}: {str(v.get('verdict', '?')).upper()}"
            + (f" (signer {v['signer']})" if v.get("signer") else "")
            + (f" - {v['reason']}" if v.get("reason") else "") for v in verdicts]


def cmd_validation(args, client: ApiClient) -> int:
    if args.etsi:
        response = client.request("GET", f"/v1/objects/{args.object_id}/validation-report",
                                  headers={"Accept": "application/xml"})
        sys.stdout.buffer.write(response.content)
        return 0
    report = client.json("GET", f"/v1/objects/{args.object_id}/validation-report")
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    if not report["signatures"]:
        print("no signature found at deposit")
        return 0
    table([[s["kind"], s["verdict"], s["validated_at"], s["signer"] or "?", s["reason"]] for s in report["signatures"]],
          ["kind", "verdict", "checked", "signer", "reason"])
    return 0


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    case = sub.add_parser("case", parents=[common], help="a case's timeline and completeness (exit 3 when overdue)")
    case.add_argument("case_ref")
    case.add_argument("--tenant")
    case.set_defaults(remote=cmd_case)

    alerts = sub.add_parser("alerts", parents=[common], help="cases overdue against their expected chain")
    alerts.add_argument("--tenant")
    alerts.set_defaults(remote=cmd_alerts)

    kpis = sub.add_parser("kpis", parents=[common], help="LRE indicators of a tenant over a period (docs/kpis.md)")
    kpis.add_argument("--from", dest="period_from", help="RFC 3339 start, inclusive (default: 30 days before --to)")
    kpis.add_argument("--to", dest="period_to", help="RFC 3339 end, exclusive (default: now)")
    kpis.add_argument("--tenant")
    kpis.set_defaults(remote=cmd_kpis)

    consent = sub.add_parser("consent", parents=[common], help="a person's consent state at a date, with its proof")
    consent.add_argument("subject", help="the person's identifier, e.g. an e-mail address")
    consent.add_argument("--purpose", help="without it: the purposes on record")
    consent.add_argument("--at", help="RFC 3339 time (default: now)")
    consent.add_argument("--tenant")
    consent.set_defaults(remote=cmd_consent)

    validation = sub.add_parser("validation", parents=[common], help="an object's signature-validation report")
    validation.add_argument("object_id")
    validation.add_argument("--etsi", action="store_true", help="print the ETSI TS 119 102-2 XML report")
    validation.set_defaults(remote=cmd_validation)
