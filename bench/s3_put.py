#!/usr/bin/env python3
"""Process CPU per 4 KiB S3 PUT with vault's guarantees (COMPLIANCE lock + retain-until, SHA-256 checksum,
sha256/sha512 metadata), four ways, alternated in one run against the Ceph RGW of scripts/services:

    scripts/services .venv/bin/python bench/s3_put.py [--rounds 8 --batch 50]

(a) ``boto3``: ``put_object`` as vault called it until now (``ChecksumAlgorithm="SHA256"``);
(b) ``boto3-tuned``: the same with ``parameter_validation=False``, ``request_checksum_calculation=
    "when_required"`` and the checksum header pre-built from the digest vault already has;
(c) ``minio``: the MinIO Python SDK's ``put_object`` with its ``Retention`` (skipped unless ``pip install minio``);
(d) ``signed``: :class:`vault.storage.s3_put.SignedPut`, botocore's SigV4 signer + a urllib3 pool (what vault uses);
(e) ``signed-pool``: (d) as the deposit route runs it, submitted to an upload thread and awaited on an event loop;
(f) ``urllib3-cpool``: (d) with the endpoint's ``HTTPConnectionPool`` called directly (no ``PoolManager``);
(g) ``http.client``: the same signed headers over a persistent stdlib ``http.client`` connection per thread;
(h) ``httpx-async`` / ``aiohttp-async``: the same signed headers, the PUT awaited on the event loop (no thread).

``--variants signed-pool,http.client-pool,aiohttp-async`` picks some (the first is the baseline); a ``-pool``
suffix runs (f) or (g) in an upload thread as (e) does.

Every object is checked afterwards (HEAD: metadata; GetObjectRetention: COMPLIANCE until the date; one GET per
batch: the bytes). The PUTs run one after another in this process; ``time.process_time`` around them is the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import http.client
import io
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botocore.config import Config  # noqa: E402

from vault.crypto.digests import digest_bytes  # noqa: E402
from vault.storage.s3 import S3BlobStore, S3Location, make_client  # noqa: E402
from vault.storage.s3_put import SignedPut  # noqa: E402


def boto3_today(client):
    def put(bucket, key, data, digests, until):
        return client.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256",
                                 Metadata={"sha256": digests.sha256, "sha512": digests.sha512},
                                 ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until).get("VersionId", "")
    return put


def boto3_tuned(location):
    import boto3

    client = boto3.client("s3", endpoint_url=location.endpoint, aws_access_key_id=location.access_key,
                          aws_secret_access_key=location.secret_key, region_name=location.region,
                          config=Config(s3={"addressing_style": "path"}, parameter_validation=False,
                                        request_checksum_calculation="when_required",
                                        response_checksum_validation="when_required",
                                        retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=10))

    def put(bucket, key, data, digests, until):
        return client.put_object(Bucket=bucket, Key=key, Body=data,
                                 ChecksumSHA256=base64.b64encode(bytes.fromhex(digests.sha256)).decode(),
                                 Metadata={"sha256": digests.sha256, "sha512": digests.sha512},
                                 ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until).get("VersionId", "")
    return put


def minio_sdk(location):
    try:
        from minio import Minio
        from minio.commonconfig import COMPLIANCE
        from minio.retention import Retention
    except ImportError:
        return None
    client = Minio(location.endpoint.split("://", 1)[1], access_key=location.access_key,
                   secret_key=location.secret_key, region=location.region, secure=location.endpoint.startswith("https"))

    def put(bucket, key, data, digests, until):
        return client.put_object(bucket, key, io.BytesIO(data), len(data),
                                 metadata={"sha256": digests.sha256, "sha512": digests.sha512},
                                 retention=Retention(COMPLIANCE, until)).version_id or ""
    return put


def signed(client):
    lean = SignedPut(client)
    return lambda bucket, key, data, digests, until: lean.put(bucket, key, data, digests, until)


def in_upload_thread(put, loop):
    """``put`` as the deposit route runs it: submitted to an upload thread, awaited on the event loop."""
    pool = ThreadPoolExecutor(4)

    async def one(*args):
        return await asyncio.wrap_future(pool.submit(put, *args))
    return lambda *args: loop.run_until_complete(one(*args))


def connection_pool(client):
    """``signed`` with the endpoint's ``urllib3.HTTPConnectionPool`` called directly (no ``PoolManager`` lookup)."""
    lean = SignedPut(client)
    pool = lean._pool.connection_from_url(lean.endpoint)

    def put(bucket, key, data, digests, until):
        url, headers = lean.signed_request(bucket, key, digests, until)
        response = pool.urlopen("PUT", urlsplit(url).path, body=data, headers=headers, preload_content=True)
        if response.status != 200:
            raise lean.client_error(response.status, dict(response.headers.items()), response.data)
        return response.headers.get("x-amz-version-id", "")
    return put


def http_client(client):
    """botocore's signer (``SignedPut.signed_request``) + a persistent stdlib ``http.client`` connection per thread."""
    lean = SignedPut(client)
    endpoint = urlsplit(lean.endpoint)
    kind = http.client.HTTPSConnection if endpoint.scheme == "https" else http.client.HTTPConnection
    local = threading.local()

    def put(bucket, key, data, digests, until):
        url, headers = lean.signed_request(bucket, key, digests, until)
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = kind(endpoint.hostname, endpoint.port,
                                                 timeout=client.meta.config.read_timeout)
        connection.request("PUT", urlsplit(url).path, body=data, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise lean.client_error(response.status, dict(response.getheaders()), body)
        return response.getheader("x-amz-version-id", "")
    return put


def httpx_async(client, loop):
    """botocore's signer + ``httpx.AsyncClient``, the PUT awaited on the event loop (no upload thread)."""
    import httpx

    lean = SignedPut(client)
    session = httpx.AsyncClient(limits=httpx.Limits(max_connections=client.meta.config.max_pool_connections))
    atexit.register(lambda: loop.run_until_complete(session.aclose()))

    async def one(bucket, key, data, digests, until):
        url, headers = lean.signed_request(bucket, key, digests, until)
        response = await session.put(url, content=data, headers=headers)
        if response.status_code != 200:
            raise lean.client_error(response.status_code, dict(response.headers), response.content)
        return response.headers.get("x-amz-version-id", "")
    return lambda *args: loop.run_until_complete(one(*args))


def aiohttp_async(client, loop):
    """botocore's signer + an ``aiohttp.ClientSession``, the PUT awaited on the event loop (no upload thread)."""
    try:
        import aiohttp
    except ImportError:
        return None
    lean = SignedPut(client)
    session = loop.run_until_complete(_aiohttp_session(aiohttp, client.meta.config.max_pool_connections))
    atexit.register(lambda: loop.run_until_complete(session.close()))

    async def one(bucket, key, data, digests, until):
        url, headers = lean.signed_request(bucket, key, digests, until)
        async with session.put(url, data=data, headers=headers, skip_auto_headers={"Content-Type"}) as response:
            body = await response.read()
            if response.status != 200:
                raise lean.client_error(response.status, dict(response.headers), body)
            return response.headers.get("x-amz-version-id", "")
    return lambda *args: loop.run_until_complete(one(*args))


async def _aiohttp_session(aiohttp, connections: int):
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))


def check(client, bucket: str, key: str, version: str, digests, until: datetime, read: bool) -> None:
    head = client.head_object(Bucket=bucket, Key=key, VersionId=version)
    assert head["Metadata"] == {"sha256": digests.sha256, "sha512": digests.sha512}, head["Metadata"]
    retention = client.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    assert retention["Mode"] == "COMPLIANCE" and abs(retention["RetainUntilDate"] - until) < timedelta(seconds=1), \
        retention
    if read:
        body = client.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
        assert digest_bytes(body).sha256 == digests.sha256


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50, help="PUTs per variant per round")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--variants", default="", help="comma-separated subset, in this order (default: all); the "
                        "first is the baseline of the ratio column")
    args = parser.parse_args()
    endpoint = os.environ.get("VAULT_TEST_S3_ENDPOINT")
    if not endpoint:
        raise SystemExit("run through scripts/services, which starts Ceph RGW: "
                         "scripts/services .venv/bin/python bench/s3_put.py")
    location = S3Location(endpoint, "", os.environ["VAULT_TEST_S3_ACCESS_KEY"],
                          os.environ["VAULT_TEST_S3_SECRET_KEY"], os.environ.get("VAULT_TEST_S3_REGION", "us-east-1"))
    client = make_client(location)
    bucket = f"bench-put-{uuid.uuid4().hex[:10]}"
    S3BlobStore("bench", client, bucket, Path("/tmp") / bucket, default_retention=timedelta(days=1)).ensure_bucket()
    until = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)
    loop = asyncio.new_event_loop()
    makers = {"boto3": lambda: boto3_today(client), "boto3-tuned": lambda: boto3_tuned(location),
              "minio": lambda: minio_sdk(location), "signed": lambda: signed(make_client(location)),
              "signed-pool": lambda: in_upload_thread(signed(make_client(location)), loop),
              "urllib3-cpool": lambda: connection_pool(make_client(location)),
              "urllib3-cpool-pool": lambda: in_upload_thread(connection_pool(make_client(location)), loop),
              "http.client": lambda: http_client(make_client(location)),
              "http.client-pool": lambda: in_upload_thread(http_client(make_client(location)), loop),
              "httpx-async": lambda: httpx_async(make_client(location), loop),
              "aiohttp-async": lambda: aiohttp_async(make_client(location), loop)}
    chosen = args.variants.split(",") if args.variants else list(makers)
    unknown = set(chosen) - set(makers)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}: choose among {','.join(makers)}")
    variants = {name: makers[name]() for name in chosen}
    skipped = [name for name, put in variants.items() if put is None]
    variants = {name: put for name, put in variants.items() if put is not None}
    cpu = dict.fromkeys(variants, 0.0)
    load = os.getloadavg()[0]
    written = []
    for number in range(args.rounds):
        order = list(variants)[number % len(variants):] + list(variants)[:number % len(variants)]
        for name in order:
            batch = [os.urandom(args.size) for _ in range(args.batch)]
            digested = [(data, digest_bytes(data)) for data in batch]
            put = variants[name]
            started = time.process_time()
            versions = [put(bucket, "sha256/" + d.sha256, data, d, until) for data, d in digested]
            cpu[name] += time.process_time() - started
            written += [(name, "sha256/" + d.sha256, v, d, i == 0)
                        for i, ((_, d), v) in enumerate(zip(digested, versions))]
    for _name, key, version, digests, read in written:
        check(client, bucket, key, version, digests, until, read)
    count = args.rounds * args.batch
    first = next(iter(cpu))
    base = cpu[first] / count
    print(f"{count} PUTs of {args.size} B per variant, {args.rounds} alternated rounds; every object checked "
          f"(metadata, COMPLIANCE until the date, one GET per batch); load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    print(f"{'variant':<18} {'CPU ms/PUT':>10} {'vs ' + first:>16}")
    for name, seconds in cpu.items():
        print(f"{name:<18} {seconds / count * 1000:>10.3f} {seconds / count / base:>15.2f}x")
    for name in skipped:
        print(f"{name}: skipped (not installed: .venv/bin/pip install {name.split('-')[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
