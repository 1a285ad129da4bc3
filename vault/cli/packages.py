"""``vault export``: download an export package (docs/package.md) with a progress bar, written atomically."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

from vault.cli.client import ApiClient, CliError, check

FILTERS = ("contract_number", "party", "kind", "event_type", "tenant")


class Progress:
    """A one-line progress bar on stderr (only on a terminal); ``total`` may be an estimate."""

    def __init__(self, total: int | None, stream=None):
        self.total, self.done, self.stream = total, 0, stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self._shown = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._shown > 0.1:
            self._shown = now
            self._draw()

    def _draw(self) -> None:
        rate = self.done / max(now := time.monotonic() - self.started, 1e-6) / 1e6
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            text = f"\r[{bar:<30}] {share:6.1%}  {self.done / 1e6:8.1f} MB  {rate:6.1f} MB/s"
        else:
            text = f"\r{self.done / 1e6:8.1f} MB  {rate:6.1f} MB/s  {now:5.0f} s"
        self.stream.write(text)
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")


def _path(args) -> tuple[str, dict]:
    if args.id:
        return f"/v1/objects/{quote(args.id, safe='')}/package", {}
    params = {name: getattr(args, name) for name in FILTERS if getattr(args, name)}
    if args.period_from:
        params["from"] = args.period_from
    if args.period_to:
        params["to"] = args.period_to
    if args.case_ref and not params:
        return f"/v1/cases/{quote(args.case_ref, safe='')}/package", {}
    if args.case_ref:
        params["case_ref"] = args.case_ref
    if not params:
        raise CliError("say what to export: --id, --case-ref, or search filters (--party, --from, …)")
    return "/v1/packages", params


def cmd_export(args, client: ApiClient) -> int:
    path, params = _path(args)
    target = Path(args.output)
    partial = target.with_name(target.name + ".part")
    with client.stream("GET", path, params=params) as response:
        check(response)
        payload = int(response.headers.get("x-package-payload-bytes", "0")) or None
        progress = Progress(payload)
        with partial.open("wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
                progress.advance(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        progress.finish()
        objects = int(response.headers.get("x-package-objects", "0"))
    os.replace(partial, target)
    summary = {"file": str(target), "objects": objects, "bytes": target.stat().st_size}
    print(json.dumps(summary) if args.json else f"wrote {target}: {objects} objects, {summary['bytes']} bytes")
    return 0


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    export = sub.add_parser("export", parents=[common], help="download an export package (BagIt in a ZIP)")
    export.add_argument("--id", help="one object")
    export.add_argument("--case-ref", help="one case (or a filter, combined with others)")
    export.add_argument("--contract-number")
    export.add_argument("--party", help="sender or recipient")
    export.add_argument("--kind")
    export.add_argument("--event-type")
    export.add_argument("--from", dest="period_from")
    export.add_argument("--to", dest="period_to")
    export.add_argument("--tenant")
    export.add_argument("-o", "--output", required=True, help="the .zip to write")
    export.set_defaults(remote=cmd_export)
