"""``vault export-all DIR`` (the whole archive as export packages plus its journal, resumable) and ``vault import
DIR`` (those packages, verified, into an empty vault). Reversibility: docs/reversibility.md."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from vault.cli.client import ApiClient, CliError, check, load_tsa_roots

EXPORT_FORMAT = "vault-export"
EXPORT_VERSION = 1
PACKAGE_MAX_OBJECTS = 10_000  # what one package may hold (vault.api.routes.packages.MAX_OBJECTS)
NAME_MAX = 180  # bytes of an encoded file name before it is shortened with a digest


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _say(message: str) -> None:
    print(f"vault: {message}", file=sys.stderr, flush=True)


def safe_name(text: str) -> str:
    """A file name for any tenant or case reference: percent-encoded (so distinct texts give distinct names, and
    ``/``, ``..``, control characters never reach the file system), shortened past :data:`NAME_MAX` bytes to a
    prefix plus ``+h`` and a digest of the whole text. ``+`` never appears in an encoded text, so a shortened name
    cannot collide with a plain one."""
    encoded = quote(text, safe="")
    if encoded.startswith("."):  # "." and ".." are not file names; hidden files are confusing
        encoded = "%2E" + encoded[1:]
    if len(encoded) <= NAME_MAX:
        return encoded
    prefix = encoded[:NAME_MAX - 40]
    if "%" in prefix[-2:]:  # do not cut an escape in half
        prefix = prefix[:prefix.rindex("%")]
    return f"{prefix}+h{hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]}"


# -- export-all ---------------------------------------------------------------------------------------------------

@dataclass
class PlannedPackage:
    tenant: str
    case_ref: str
    ids: list[str]
    file: str  # relative to the export directory
    part: dict | None = None  # {"index", "of", "from", "to"} when a case is split by event time
    status: str = "pending"
    bytes: int = 0
    sha256: str | None = None

    def as_dict(self) -> dict:
        return {"file": self.file, "tenant": self.tenant, "case_ref": self.case_ref, "objects": len(self.ids),
                "part": self.part, "bytes": self.bytes, "sha256": self.sha256}


@dataclass
class Listing:
    cases: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    objects: int = 0


def _timeline(item: dict) -> str:
    return item.get("event_time") or item["deposited_at"]


def list_objects(client: ApiClient, tenant: str | None) -> Listing:
    """Every object the key sees, grouped by (tenant, case reference), through ``GET /v1/objects`` pages."""
    listing, cursor, pages = Listing(), None, 0
    while True:
        params = {"limit": 500, **({"tenant": tenant} if tenant else {}), **({"cursor": cursor} if cursor else {})}
        page = client.json("GET", "/v1/objects", params=params)
        for item in page["items"]:
            listing.cases.setdefault((item["tenant"], item["case_ref"]), []).append(
                {"id": item["id"], "at": _timeline(item)})
            listing.objects += 1
        cursor = page.get("next_cursor")
        if not cursor:
            return listing
        pages += 1
        if pages % 10 == 0:
            _say(f"listing objects: {listing.objects} so far")


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def plan(listing: Listing, max_objects: int) -> list[PlannedPackage]:
    """One package per (tenant, case); a case over ``max_objects`` is cut into parts by event time, each part
    the objects with ``from <= timeline < to`` (cuts fall between distinct times, so no object is in two)."""
    planned = []
    for (tenant, case_ref), items in sorted(listing.cases.items()):
        base = f"packages/{safe_name(tenant)}/{safe_name(case_ref)}"
        if len(items) <= max_objects:
            planned.append(PlannedPackage(tenant, case_ref, sorted(i["id"] for i in items), f"{base}.zip"))
            continue
        ordered = sorted(items, key=lambda i: (_parse(i["at"]), i["id"]))
        parts, start = [], 0
        while start < len(ordered):
            end = min(start + max_objects, len(ordered))
            if end < len(ordered):
                while end > start and _parse(ordered[end]["at"]) == _parse(ordered[end - 1]["at"]):
                    end -= 1
                if end == start:
                    raise CliError(f"case {case_ref!r} of tenant {tenant!r} has more than {max_objects} objects at "
                                   f"the same instant {ordered[start]['at']}: it cannot be cut into packages")
            parts.append(ordered[start:end])
            start = end
        for n, part in enumerate(parts, 1):
            window = {"index": n, "of": len(parts), "from": part[0]["at"],
                      "to": parts[n][0]["at"] if n < len(parts) else None}
            planned.append(PlannedPackage(tenant, case_ref, sorted(i["id"] for i in part),
                                          f"{base}+p{n:04d}.zip", window))
    return planned


def _package_ids(path: Path) -> list[str] | None:
    """The object ids a complete package file holds, or None when it is not a readable package."""
    try:
        with zipfile.ZipFile(path) as archive:
            tops = {name.split("/", 1)[0] for name in archive.namelist()}
            if len(tops) != 1:
                return None
            manifest = json.loads(archive.read(f"{tops.pop()}/data/package.json"))
        return sorted(o["id"] for o in manifest["objects"])
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError):
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(client: ApiClient, package: PlannedPackage, target: Path) -> None:
    """Download one package to ``<file>.part``, fsync it, then rename it into place: a file under its final name
    is always complete."""
    if package.part is None:
        path, params = f"/v1/cases/{quote(package.case_ref, safe='')}/package", {"tenant": package.tenant}
    else:
        path = "/v1/packages"
        params = {"case_ref": package.case_ref, "tenant": package.tenant, "from": package.part["from"]}
        if package.part["to"]:
            params["to"] = package.part["to"]
    final = target / package.file
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".part")
    with client.stream("GET", path, params=params) as response:
        check(response)
        with partial.open("wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    got = _package_ids(partial)
    if got is None or not set(package.ids) <= set(got):
        partial.unlink(missing_ok=True)
        raise CliError(f"{package.file}: the archive answered a package without some of the {len(package.ids)} "
                       "objects listed for it; run export-all again")
    if len(got) > len(package.ids):
        _say(f"{package.file}: {len(got) - len(package.ids)} object(s) deposited in the case during the export "
             "are in it too")
        package.ids = got
    os.replace(partial, final)
    dir_fd = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    with partial.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def cmd_export_all(args, client: ApiClient) -> int:
    from vault.cli.journal import cmd_journal_export

    target = Path(args.directory)
    target.mkdir(parents=True, exist_ok=True)
    started, clock = _now(), time.monotonic()
    _say(f"export-all from {client.url} into {target}")
    listing = list_objects(client, args.tenant)
    planned = plan(listing, args.max_objects)
    _say(f"{listing.objects} objects in {len(listing.cases)} cases: {len(planned)} packages")
    for n, package in enumerate(planned, 1):
        final = target / package.file
        held = _package_ids(final) if final.exists() else None
        if held is not None and set(package.ids) <= set(held):
            package.status, package.ids = "kept", held
        else:
            _fetch(client, package, target)
            package.status = "fetched"
        package.bytes, package.sha256 = final.stat().st_size, _sha256(final)
        _say(f"[{n}/{len(planned)}] {package.file}: {len(package.ids)} objects, {package.bytes} bytes "
             f"({'already written' if package.status == 'kept' else 'fetched'})")
    _say("exporting the journal (tiles, anchors)")
    with contextlib.redirect_stdout(io.StringIO()) as out:
        cmd_journal_export(argparse.Namespace(directory=str(target / "journal"), json=True), client)
    journal = json.loads(out.getvalue())
    vkey = client.request("GET", "/v1/journal/key").text.strip()
    archive_key = client.json("GET", "/v1/archive/key")
    _write_atomic(target / "tsa-roots.pem", client.request("GET", "/v1/tsa/roots").content)
    tenants: dict[str, dict] = {}
    for (tenant, _case), items in listing.cases.items():
        summary = tenants.setdefault(tenant, {"cases": 0, "objects": 0})
        summary["cases"] += 1
        summary["objects"] += len(items)
    document = {
        "format": EXPORT_FORMAT, "version": EXPORT_VERSION, "archive": vkey.split("/", 1)[0], "source": client.url,
        "started_at": started, "finished_at": _now(),
        "scope": {"tenant": args.tenant} if args.tenant else {"tenant": "*"},
        "counts": {"tenants": len(tenants), "cases": len(listing.cases), "objects": listing.objects,
                   "packages": len(planned), "bytes": sum(p.bytes for p in planned),
                   "fetched": sum(p.status == "fetched" for p in planned),
                   "kept": sum(p.status == "kept" for p in planned)},
        "tenants": dict(sorted(tenants.items())),
        "packages": [p.as_dict() for p in planned],
        "journal": {"directory": "journal", "entries": journal["size"], "anchors": journal["anchors"],
                    "checkpoint": "journal/checkpoint"},
        "keys": {"journal": vkey, "archive": archive_key, "tsa_roots": "tsa-roots.pem"},
    }
    _write_atomic(target / "export.json", json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n")
    counts = document["counts"]
    if args.json:
        print(json.dumps({"directory": str(target), **counts, "seconds": round(time.monotonic() - clock, 1)}))
    else:
        print(f"exported {counts['objects']} objects of {counts['tenants']} tenants in {counts['packages']} packages "
              f"({counts['fetched']} fetched, {counts['kept']} already there) and {journal['size']} journal "
              f"entries to {target}")
    return 0


# -- import -------------------------------------------------------------------------------------------------------

def _packages_of(source: Path) -> tuple[list[tuple[Path, str, str | None]], dict | None]:
    """(path, label, SHA-256 export.json records) of each package to import, and export.json."""
    if source.is_file():
        return [(source, source.name, None)], None
    if not source.is_dir():
        raise CliError(f"{source}: no such directory")
    export = None
    if (source / "export.json").is_file():
        try:
            export = json.loads((source / "export.json").read_text())
        except ValueError as exc:
            raise CliError(f"{source / 'export.json'}: not JSON: {exc}") from None
        if export.get("format") != EXPORT_FORMAT:
            raise CliError(f"{source / 'export.json'}: not a vault export")
    found = sorted((path, path.relative_to(source).as_posix()) for path in (source / "packages").rglob("*.zip"))
    if export is not None:
        listed = {p["file"]: p for p in export.get("packages", [])}
        missing = sorted(set(listed) - {label for _path, label in found})
        if missing:
            raise CliError(f"{len(missing)} package(s) that export.json lists are missing, e.g. {missing[0]}: "
                           "complete the export (run vault export-all again) first")
        found = [(path, label, listed[label].get("sha256")) for path, label in found if label in listed]
        return found, export
    else:
        _say(f"warning: {source} has no export.json (an export-all that did not finish?): importing the packages "
             "found under packages/")
    if not found:
        raise CliError(f"{source}: no package (packages/**/*.zip) to import")
    return [(path, label, None) for path, label in found], export


def cmd_import(args) -> int:
    from vault.app import Vault
    from vault.db.engine import DatabaseError
    from vault.package.importer import ImportRefused, Importer
    from vault.retention.policy import PolicyError
    from vault.settings import Settings, SettingsError

    packages, export = _packages_of(Path(args.directory))
    journal_key = args.journal_key
    if journal_key and Path(journal_key).is_file():
        journal_key = Path(journal_key).read_text().strip()
    if not journal_key and export is not None:
        journal_key = export.get("keys", {}).get("journal")  # every package must be signed by the export's key
    env = dict(os.environ)
    if args.data_dir:
        env["VAULT_DATA_DIR"] = args.data_dir
    try:
        settings = Settings.from_env(env)
        vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    except (SettingsError, PolicyError, DatabaseError) as exc:
        raise CliError(f"cannot open the vault: {exc}") from None
    outcomes = []
    try:
        importer = Importer(vault, tsa_roots=load_tsa_roots(args.tsa_roots), journal_key=journal_key, progress=_say)
        try:
            importer.check_target()
        except ImportRefused as exc:
            raise CliError(str(exc)) from None
        if vault.admin_key_file:
            _say(f"created the first admin key in {Path(vault.admin_key_file).resolve()} (mode 0600)")
        for n, (path, label, expected) in enumerate(packages, 1):
            try:
                outcome = importer.import_package(path, label, expected)
            except ImportRefused as exc:
                raise CliError(str(exc)) from None
            outcomes.append(outcome)
            line = f"[{n}/{len(packages)}] {label}: {outcome.status}"
            if outcome.status == "imported":
                line += f", {outcome.imported} objects" + (f" ({outcome.skipped} already here)" if outcome.skipped else "")
            if outcome.reason:
                line += f" — {outcome.reason}"
            _say(line)
        if any(o.status == "imported" for o in outcomes):
            vault.checkpointer.checkpoint_now()  # the import entries under a signed checkpoint at once
    finally:
        vault.close()
    refused = [o for o in outcomes if o.status == "refused"]
    not_rebuilt = sum(o.consent_events_not_rebuilt for o in outcomes)
    summary = {"packages": len(outcomes), "imported": sum(o.status == "imported" for o in outcomes),
               "skipped": sum(o.status == "skipped" for o in outcomes), "refused": len(refused),
               "objects_imported": sum(o.imported for o in outcomes),
               "objects_already_here": sum(o.skipped for o in outcomes),
               "consent_events": sum(o.consent_events for o in outcomes), "consent_events_not_rebuilt": not_rebuilt,
               "outcomes": [o.as_dict() for o in outcomes]}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"imported {summary['objects_imported']} objects from {summary['imported']} packages "
              f"({summary['skipped']} skipped, {summary['refused']} refused)"
              + ("; the service seals them anew when it starts" if summary["objects_imported"] else ""))
    if not_rebuilt:
        _say(f"warning: {not_rebuilt} consent record(s) imported without their consent event: this vault "
             "pseudonymises subjects with another key than the source (copy the source's journal-pseudonym.key "
             "into the new data directory before its first start to keep them); see docs/reversibility.md")
    for outcome in refused:
        _say(f"REFUSED {outcome.file}: {outcome.reason}")
    return 1 if refused else 0


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    export_all = sub.add_parser("export-all", parents=[common],
                                help="export the whole archive: one package per case, the journal, export.json "
                                     "(resumable)")
    export_all.add_argument("directory")
    export_all.add_argument("--tenant", help="only this tenant (default: every tenant the key sees)")
    export_all.add_argument("--max-objects", type=int, default=PACKAGE_MAX_OBJECTS,
                            help=argparse.SUPPRESS)  # cases above are cut by event time (tests use a small value)
    export_all.set_defaults(remote=cmd_export_all)

    importer = sub.add_parser("import", help="import an export-all directory into an empty vault (VAULT_* settings), "
                                             "every package verified first")
    importer.add_argument("directory", help="the export-all directory (or one package .zip)")
    importer.add_argument("--data-dir", help="the target vault's data directory (VAULT_DATA_DIR)")
    importer.add_argument("--tsa-roots", help="PEM file of the TSA roots the packages' tokens must chain to "
                                              "(default: the roots each package carries)")
    importer.add_argument("--journal-key", help="the source journal's note verifier key (or a file holding it); "
                                                "default: the one export.json names")
    importer.add_argument("--json", action="store_true", help="print JSON")
    importer.set_defaults(local=cmd_import)
