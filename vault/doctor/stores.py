"""The stores: each S3 bucket of ``VAULT_STORES`` answers and has Object Lock enabled (GetObjectLockConfiguration:
what vault's COMPLIANCE retention relies on); the data filesystem keeps ``VAULT_MIN_FREE_BYTES`` free."""

from __future__ import annotations

from datetime import datetime

from vault.doctor.report import ERROR, OK, Finding
from vault.settings import Settings
from vault.storage.copies import StoreSpecError, parse_store
from vault.storage.headroom import DiskHeadroom
from vault.storage.s3 import S3Location, make_client, object_lock_problem

TIMEOUT = 5.0


def check_stores(settings: Settings, now: datetime) -> list[Finding]:
    findings = []
    for text in settings.stores:
        try:
            spec = parse_store(text)
        except StoreSpecError:
            continue  # config.stores names it
        client = make_client(S3Location(spec.endpoint, spec.bucket, spec.access_key, spec.secret_key, spec.region),
                             connect_timeout=TIMEOUT, read_timeout=TIMEOUT, attempts=1)
        where = f"store {spec.name} ({spec.endpoint}/{spec.bucket})"
        try:
            client.head_bucket(Bucket=spec.bucket)
            problem = object_lock_problem(client, spec.bucket)
        except Exception as exc:  # noqa: BLE001 — unreachable, refused, unknown bucket: all named
            findings.append(Finding("stores.reachable", ERROR, f"{where} does not answer: {exc.__class__.__name__}: "
                                    f"{exc}", "check the endpoint, the credentials and that the bucket exists"))
            continue
        if problem:
            findings.append(Finding("stores.object-lock", ERROR, f"{where}: {problem}",
                                    "Object Lock can only be set when a bucket is created: create a new bucket with "
                                    "it and point VAULT_STORES there"))
        else:
            findings.append(Finding("stores.object-lock", OK, f"{where} answers, Object Lock enabled"))
    return findings


def check_space(settings: Settings, now: datetime) -> list[Finding]:
    if not settings.data_dir.exists():
        return []
    space = DiskHeadroom(settings.data_dir, settings.min_free_bytes).space()
    text = f"{space.free} bytes free on the data filesystem (minimum {space.minimum}, VAULT_MIN_FREE_BYTES)"
    if space.low:
        return [Finding("disk.free", ERROR, text + ": deposits are refused", "free space or grow the filesystem")]
    return [Finding("disk.free", OK, text)]
