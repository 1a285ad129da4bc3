"""``vault deposit-batch DIR --manifest manifest.csv|.jsonl``: deposit a folder of proofs, resumably.

Prints a summary of stored, replayed and refused rows; writes every row's outcome (refused ones with their
reason) to the report file; exit 1 when any row was refused. The engine is :mod:`vault.client.bulk`.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

from vault.cli.client import ApiClient, CliError
from vault.client.bulk import REFUSED, DepositState, RowOutcome, deposit_rows
from vault.client.manifest import ManifestError, read_manifest

REPORT_FIELDS = ("row", "file", "outcome", "object_id", "reason")


class Progress:
    """A one-line progress count on stderr, redrawn at most 5 times a second; silent when stderr is no TTY."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.counts, self._drawn = stream, Counter(), 0.0
        self.live = stream.isatty()

    def add(self, outcome: RowOutcome) -> None:
        self.counts[outcome.outcome] += 1
        if self.live and time.monotonic() - self._drawn > 0.2:
            self.draw()

    def draw(self) -> None:
        self._drawn = time.monotonic()
        self.stream.write(f"\r{sum(self.counts.values())} rows: {_counts(self.counts)}\033[K")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.draw()
            self.stream.write("\n")


def cmd_deposit_batch(args, client: ApiClient) -> int:
    directory, manifest = Path(args.directory), Path(args.manifest)
    if not directory.is_dir():
        raise CliError(f"{directory}: no such directory")
    if not manifest.is_file():
        raise CliError(f"{manifest}: no such manifest")
    report = Path(args.report) if args.report else manifest.with_name(manifest.stem + ".report" + manifest.suffix)
    if report.suffix.lower() not in (".csv", ".jsonl"):
        raise CliError(f"{report}: a report is .csv or .jsonl")
    state = DepositState(report.with_name(report.name + ".state"))
    outcomes: list[RowOutcome] = []
    progress = Progress()

    def done(outcome: RowOutcome) -> None:
        outcomes.append(outcome)
        progress.add(outcome)

    try:
        deposit_rows(client.api, directory, read_manifest(manifest), state, concurrency=args.concurrency,
                     on_outcome=done)
    except ManifestError as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        progress.close()
        print(f"vault: interrupted after {len(outcomes)} rows; run the same command again to resume "
              f"(state in {state.path})", file=sys.stderr)
        return 130
    finally:
        state.close()
    progress.close()
    outcomes.sort(key=lambda outcome: outcome.row.number)
    write_report(report, outcomes)
    counts = Counter(outcome.outcome for outcome in outcomes)
    summary = {"rows": len(outcomes), **{k: counts[k] for k in ("stored", "replayed", "refused")},
               "report": str(report)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{len(outcomes)} rows: {_counts(counts)}; report {report}")
    return 1 if counts[REFUSED] else 0


def write_report(path: Path, outcomes: list[RowOutcome]) -> None:
    """Every row's outcome, as CSV or JSON Lines after ``path``'s suffix; replaced whole."""
    partial = path.with_name(path.name + ".tmp")
    records = [dict(zip(REPORT_FIELDS, (o.row.number, o.row.file, o.outcome, o.object_id, o.reason)))
               for o in outcomes]
    with partial.open("w", newline="", encoding="utf-8") as out:
        if path.suffix.lower() == ".csv":
            writer = csv.DictWriter(out, REPORT_FIELDS)
            writer.writeheader()
            writer.writerows(records)
        else:
            out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    partial.replace(path)


def _counts(counts: Counter) -> str:
    return ", ".join(f"{counts[name]} {name}" for name in ("stored", "replayed", "refused"))


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    batch = sub.add_parser("deposit-batch", parents=[common],
                           help="deposit every file a manifest lists (resumable; exit 1 if any row is refused)")
    batch.add_argument("directory", help="the folder holding the files")
    batch.add_argument("--manifest", required=True,
                       help="manifest.csv (column 'file', then one column per metadata field, extra.NAME for "
                            "'extra') or manifest.jsonl (one object a line: 'file' plus the metadata)")
    batch.add_argument("--report", help="outcome of every row, .csv or .jsonl (default: MANIFEST.report.EXT "
                                        "beside the manifest); the resume state is REPORT.state")
    batch.add_argument("--concurrency", type=int, default=4, help="deposits in flight (default 4)")
    batch.set_defaults(remote=cmd_deposit_batch)
