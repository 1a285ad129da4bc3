"""Content-addressed blobs in an S3 bucket with versioning and Object Lock (Ceph RGW, or any S3 that has both).

Each blob is the object ``sha256/<hex>``, written once with a COMPLIANCE retention date: the storage itself then
refuses to delete or overwrite that version before the date, whoever asks — vault's own credentials included.
Retention can only be extended (``PutObjectRetention`` with a later date); a legal hold mirrors vault's holds.
Large blobs go up as multipart uploads, after which the retention is set with ``PutObjectRetention`` (RGW ignores
lock headers on multipart uploads). A single PUT (the deposit path's) goes through :mod:`vault.storage.s3_put`,
made from the same client; everything else is boto3. Bytes are spooled to a local temporary file while hashed, so
the address is known before the upload and memory stays flat.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from vault.crypto.digests import DigestWriter, Digests
from vault.storage.blobstore import BlobNotFound, HashingWriter, StoredBlob, SweepReport
from vault.storage.private import make_private_dir
from vault.storage.s3_put import SignedPut

PREFIX = "sha256/"
MULTIPART_THRESHOLD = 16 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
IN_MEMORY = 1024 * 1024  # a copy up to this size is checked and sent from memory instead of a spool file


@dataclass(frozen=True)
class S3Location:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def make_client(location: S3Location, *, connect_timeout: float = 5, read_timeout: float = 60, attempts: int = 3,
                max_connections: int = 10):
    """A path-style boto3 S3 client keeping up to ``max_connections`` HTTP connections (``VAULT_S3_MAX_CONNECTIONS``);
    probes (``/ready``, ``vault doctor``) ask for short timeouts and one attempt."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=location.endpoint, aws_access_key_id=location.access_key,
        aws_secret_access_key=location.secret_key, region_name=location.region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": attempts, "mode": "standard"},
                      connect_timeout=connect_timeout, read_timeout=read_timeout,
                      max_pool_connections=max_connections))


def object_lock_problem(client, bucket: str) -> str | None:
    """None when ``bucket`` has Object Lock enabled (S3 GetObjectLockConfiguration), else what is wrong; raises
    when the store cannot be reached."""
    try:
        config = client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except Exception as exc:
        if _error_code(exc) in ("ObjectLockConfigurationNotFoundError", "InvalidRequest", "NoSuchBucket"):
            return f"bucket {bucket} has no Object Lock ({_error_code(exc)}): vault needs it"
        raise
    if config.get("ObjectLockEnabled") != "Enabled":
        return f"bucket {bucket} has Object Lock disabled: vault needs it"
    return None


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", exc.__class__.__name__)


@dataclass
class DeleteReport:
    deleted: int = 0
    refused: list[str] = field(default_factory=list)


class S3BlobWriter(HashingWriter):
    def __init__(self, store: "S3BlobStore") -> None:
        self._store = store
        self._spool = tempfile.NamedTemporaryFile(dir=store.spool_dir, prefix="s3-", suffix=".part", delete=False)
        self._digest = DigestWriter()
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._spool.write(chunk)
        self._digest.update(chunk)
        self._keep_head(chunk)

    def commit(self, retain_until: datetime | None = None) -> StoredBlob:
        self._spool.flush()
        self._spool.close()
        digests = self._digest.result()
        try:
            if self._store.exists(digests.sha256):
                return StoredBlob(digests, deduplicated=True)
            self._store.upload(Path(self._spool.name), digests, retain_until)
            return StoredBlob(digests, deduplicated=False)
        finally:
            self.abort()

    def abort(self) -> None:
        if not self._done:
            self._spool.close()
            try:
                os.unlink(self._spool.name)
            except FileNotFoundError:
                pass
            self._done = True


class S3BlobStore:
    """A blob store in one Object Lock bucket; ``lock_margin`` is added to every retention date it sets."""

    def __init__(self, name: str, client, bucket: str, spool_dir: Path, *, default_retention: timedelta,
                 lock_margin: timedelta = timedelta(days=30), now: Callable[[], datetime] | None = None,
                 multipart_threshold: int = MULTIPART_THRESHOLD):
        self.name = name
        self.client = client
        self.bucket = bucket
        self.spool_dir = Path(spool_dir)
        make_private_dir(self.spool_dir)
        self.default_retention = default_retention
        self.lock_margin = lock_margin
        self.multipart_threshold = multipart_threshold
        self.now = now or (lambda: datetime.now(timezone.utc))
        self._signed: SignedPut | None = None

    # -- bucket ----------------------------------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket with versioning and Object Lock if it does not exist; refuse one without a lock."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            self.client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)
        try:
            problem = object_lock_problem(self.client, self.bucket)
        except Exception as exc:
            problem = f"bucket {self.bucket} has no Object Lock ({_error_code(exc)}): vault needs it"
        if problem:
            raise RuntimeError(problem) from None

    def reachable(self) -> None:
        """Raise unless the bucket answers (S3 HeadBucket)."""
        self.client.head_bucket(Bucket=self.bucket)

    # -- the BlobStore seam ----------------------------------------------------------------------------------

    def writer(self) -> S3BlobWriter:
        return S3BlobWriter(self)

    def key(self, sha256: str) -> str:
        return PREFIX + sha256

    def exists(self, sha256: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
            return True
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def read(self, sha256: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise BlobNotFound(sha256) from None
            raise
        return body.iter_chunks(chunk_size)

    def upload(self, path: Path, digests: Digests, retain_until: datetime | None = None) -> str:
        """Put the file under its address with a COMPLIANCE lock; returns the new version id.

        From ``multipart_threshold`` bytes the file goes up in parts and the lock is set on the completed version
        (S3 PutObjectRetention): RGW ignores Object Lock headers on multipart uploads. A version that could not be
        locked is deleted again, so that no unlocked copy is ever counted."""
        until = self._lock_date(retain_until)
        if digests.size < self.multipart_threshold:
            with open(path, "rb") as body:
                return self._put(body, digests, until)
        version = self._multipart(path, self.key(digests.sha256), {"sha256": digests.sha256, "sha512": digests.sha512})
        try:
            self.client.put_object_retention(Bucket=self.bucket, Key=self.key(digests.sha256), VersionId=version,
                                             Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
        except Exception:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(digests.sha256), VersionId=version)
            raise
        return version

    def _put(self, body, digests: Digests, until: datetime) -> str:
        """One S3 PutObject with its COMPLIANCE lock, signed SHA-256 and digests as metadata; the new version id."""
        return self._signed_put().put(self.bucket, self.key(digests.sha256), body, digests, until)

    def _signed_put(self) -> SignedPut:
        """The lean PUT of the current ``client`` (made again when the client is replaced)."""
        signed = self._signed
        if signed is None or signed.client is not self.client:
            signed = self._signed = SignedPut(self.client)
        return signed

    def _multipart(self, path: Path, key: str, metadata: dict) -> str:
        """S3 CreateMultipartUpload, UploadPart of ``PART_SIZE`` each, CompleteMultipartUpload: the version id
        this upload made (not whichever version is newest when asked afterwards)."""
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, Metadata=metadata)["UploadId"]
        parts = []
        try:
            with open(path, "rb") as body:
                while chunk := body.read(PART_SIZE):
                    number = len(parts) + 1
                    answer = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload,
                                                     PartNumber=number, Body=chunk)
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            done = self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload,
                                                         MultipartUpload={"Parts": parts})
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            raise
        return done.get("VersionId", "")

    def copy_from(self, chunks: Iterable[bytes], digests: Digests, retain_until: datetime | None) -> str:
        """Store a copy of bytes read elsewhere (replication, repair), checking them against ``digests``."""
        if digests.size <= IN_MEMORY:  # the deposit path's common case: no spool file to write, hash and remove
            data = bytearray()
            for chunk in chunks:
                data += chunk
                if len(data) > digests.size:
                    break
            if hashlib.sha256(data).hexdigest() != digests.sha256:
                raise ValueError(f"source bytes do not match {digests.sha256[:16]}…: refusing to copy them")
            return self._put(bytes(data), digests, self._lock_date(retain_until))
        writer = DigestWriter()
        with tempfile.NamedTemporaryFile(dir=self.spool_dir, prefix="copy-", suffix=".part") as spool:
            for chunk in chunks:
                spool.write(chunk)
                writer.update(chunk)
            spool.flush()
            if writer.result().sha256 != digests.sha256:
                raise ValueError(f"source bytes do not match {digests.sha256[:16]}…: refusing to copy them")
            return self.upload(Path(spool.name), digests, retain_until)

    def _lock_date(self, retain_until: datetime | None) -> datetime:
        floor = self.now() + self.default_retention
        return max(retain_until or floor, floor) + self.lock_margin

    def versions(self, sha256: str) -> list[dict]:
        answer = self.client.list_object_versions(Bucket=self.bucket, Prefix=self.key(sha256))
        return [v for v in answer.get("Versions", []) if v["Key"] == self.key(sha256)]

    def extend_retention(self, sha256: str, retain_until: datetime) -> int:
        """Push every version's COMPLIANCE date to ``retain_until`` + margin when that is later (never earlier)."""
        until = retain_until + self.lock_margin
        changed = 0
        for version in self.versions(sha256):
            current = self.client.get_object_retention(Bucket=self.bucket, Key=self.key(sha256),
                                                       VersionId=version["VersionId"])["Retention"]["RetainUntilDate"]
            if current < until:
                self.client.put_object_retention(Bucket=self.bucket, Key=self.key(sha256),
                                                 VersionId=version["VersionId"],
                                                 Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
                changed += 1
        return changed

    def set_legal_hold(self, sha256: str, on: bool) -> None:
        for version in self.versions(sha256):
            self.client.put_object_legal_hold(Bucket=self.bucket, Key=self.key(sha256), VersionId=version["VersionId"],
                                              LegalHold={"Status": "ON" if on else "OFF"})

    def delete_versions(self, sha256: str) -> DeleteReport:
        """Delete every version; the ones the lock still protects are refused by S3 and reported, not hidden."""
        report = DeleteReport()
        for version in self.versions(sha256):
            try:
                self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256), VersionId=version["VersionId"])
                report.deleted += 1
            except Exception as exc:
                report.refused.append(f"version {version['VersionId']}: {_error_code(exc)}")
        return report

    def delete(self, sha256: str) -> bool:
        report = self.delete_versions(sha256)
        if report.refused:
            raise PermissionError(f"{self.name}: {self.key(sha256)} still locked: {'; '.join(report.refused)}")
        return report.deleted > 0

    def addresses(self) -> Iterable[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=PREFIX):
            for item in page.get("Contents", []):
                yield item["Key"][len(PREFIX):]

    def sync_names(self) -> None:
        """Nothing to do: S3 answers a PUT only once the object is durable."""

    def sweep_orphans(self, is_referenced: Callable[[str], bool], grace: timedelta) -> SweepReport:
        """Locked objects cannot be swept; abandoned spool files can."""
        removed = 0
        cutoff = self.now().timestamp() - grace.total_seconds()
        for path in self.spool_dir.glob("*.part"):
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return SweepReport(temporary_removed=removed, orphans_removed=0, kept=0)
