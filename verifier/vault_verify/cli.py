"""The ``vault-verify`` command: offline checks of vault's proofs, with no server and no database.

Subcommands come from :data:`COMMANDS`; each returns the exit status: 0 when what it checked is valid, 1 when it
is not (the first failing step is printed: ``INVALID: <step>: <reason>``) or when the input cannot be used (a
missing file, an unreadable PEM: one line on stderr), 2 for a command line argparse rejects.

``vault evidence verify`` (in the ``vault`` distribution) is the same code: it calls :func:`add_ers_arguments`
and :func:`run_ers`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vault_verify import __version__


class UsageError(Exception):
    """Something the user must fix; printed as one line, exit status 1."""


# ---------------------------------------------------------------------------------------------------------------
# ers: one RFC 4998 evidence record


def add_ers_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ers")
    parser.add_argument("--data", action="append", help="a covered data file (repeat for several)")
    parser.add_argument("--hash", action="append", help="a covered object's digest(s) in hex, comma-separated")
    parser.add_argument("--roots", action="append", help="PEM file of trusted TSA roots (repeatable)")
    parser.add_argument("--group", action="store_true", help="the data objects form one data group")
    parser.add_argument("--structure-only", action="store_true", help="check links and tokens without the data")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run_ers(args: argparse.Namespace) -> int:
    """Verify ``args.ers`` against ``args.data`` / ``args.hash`` (RFC 4998 §5.3); print each step and the verdict."""
    from vault_verify.ers import DataObject, verify_evidence_record
    from vault_verify.tokens import load_pem_roots

    try:
        record = Path(args.ers).read_bytes()
        data = [DataObject(path=str(Path(p)), label=p) for p in args.data or []]
        for path in data:
            if not Path(path.path).is_file():
                raise UsageError(f"{path.path}: no such file")
        data += [DataObject.from_hashes(h.split(","), label=h[:16]) for h in args.hash or []]
        roots = None
        for pem in args.roots or []:
            roots = (roots or []) + load_pem_roots(Path(pem).read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if not data and not args.structure_only:
        raise UsageError("give the covered data with --data FILE (or --hash HEX, or --structure-only)")
    verdict = verify_evidence_record(record, data, roots=roots, group=args.group, structure_only=args.structure_only)
    if args.json:
        print(json.dumps({
            "valid": verdict.ok,
            "steps": [{"step": s.name, "ok": s.ok, "detail": s.detail} for s in verdict.steps],
            "notes": verdict.notes,
            "gen_times": [t.isoformat() for t in verdict.gen_times],
        }, indent=2))
    else:
        for step in verdict.steps:
            print(f"{'ok  ' if step.ok else 'FAIL'} {step.name}{': ' + step.detail if step.detail else ''}")
        for note in verdict.notes:
            print(f"note {note}")
        failure = verdict.first_failure
        print("VALID" if verdict.ok else f"INVALID: {failure.name}: {failure.detail}" if failure else "INVALID")
    return 0 if verdict.ok else 1


# ---------------------------------------------------------------------------------------------------------------
# The subcommand table


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {
    "ers": Command("verify an RFC 4998 evidence record (.ers) against the data it covers", add_ers_arguments,
                   run_ers),
    "journal": Command("replay a journal export (DIR from `vault journal export`): tiles, entries, signed "
                       "checkpoints, TSA anchors", lambda parser: _journal().add_arguments(parser),
                       lambda args: _journal().run(args)),
    "package": Command("verify an exported package (PKG.zip) end to end: bag, objects, journal",
                       lambda parser: _package().add_arguments(parser), lambda args: _package().run(args)),
}


def _journal():
    from vault_verify import journalcli

    return journalcli


def _package():
    from vault_verify import package

    return package


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vault-verify",
        description="Verify vault's proofs offline: no server, no database, no network.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        child = sub.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(child)
        child.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"vault-verify: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
