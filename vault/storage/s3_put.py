"""The deposit path's single S3 PutObject without boto3's per-call machinery: botocore's own SigV4 signer
(``S3SigV4Auth``, AWS Signature Version 4) and a urllib3 connection pool, nothing hand-written but the headers.

boto3's ``put_object`` costs ~1.4 ms of CPU for a 4 KiB object (parameter validation, endpoint rules, the event
chain, hashing the body again, response parsing); this costs a fraction of it (bench/s3_put.py). Every guarantee
of ``put_object`` stays on the request itself:

- ``x-amz-object-lock-mode: COMPLIANCE`` and ``x-amz-object-lock-retain-until-date``: the storage refuses to
  delete or overwrite the version before the date (S3 Object Lock);
- ``x-amz-content-sha256`` is the body's SHA-256, the one vault already computed, and it is signed: the server
  recomputes it and refuses the PUT when the bytes differ (SigV4 signed payload, over http and https alike);
  ``x-amz-checksum-sha256`` carries it too for the stores that keep flexible checksums;
- ``x-amz-meta-sha256`` / ``x-amz-meta-sha512``: the digests as object metadata.

Everything else comes from the boto3 client it is built from (endpoint, credentials, region, timeouts, attempts,
``max_pool_connections``), and failures are botocore's own exceptions (``ClientError`` with the S3 error code,
``EndpointConnectionError``, ``ConnectTimeoutError``, ``ReadTimeoutError``), as ``put_object`` raises them.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from urllib.parse import quote

import urllib3
from botocore import exceptions as boto_errors
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.parsers import create_parser
from urllib3.util.retry import Retry

from vault.crypto.digests import Digests

RETRY_STATUSES = frozenset({500, 502, 503, 504})  # botocore's "standard" retry mode: transient server errors


class _KnownPayloadAuth(S3SigV4Auth):
    """SigV4 for S3 with the payload's SHA-256 taken from the request's context instead of hashed again."""

    def payload(self, request):
        return request.context["payload_sha256"]


class SignedPut:
    """S3 PutObject (path-style) through the endpoint and settings of the boto3 S3 ``client`` it is made from."""

    def __init__(self, client):
        config = client.meta.config
        self.client = client
        self.endpoint = client.meta.endpoint_url.rstrip("/")
        self._credentials = client._request_signer._credentials
        self._region = client.meta.region_name
        attempts = (config.retries or {}).get("total_max_attempts", 3)  # botocore's count, first try included
        self._pool = urllib3.PoolManager(
            maxsize=config.max_pool_connections,
            timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout),
            retries=Retry(total=max(attempts - 1, 0), status_forcelist=RETRY_STATUSES, allowed_methods={"PUT"},
                          backoff_factor=0.5, backoff_jitter=0.5, raise_on_status=False, redirect=0))
        self._output = client.meta.service_model.operation_model("PutObject").output_shape
        self._parser = create_parser("rest-xml")

    def put(self, bucket: str, key: str, body, digests: Digests, retain_until: datetime) -> str:
        """Store ``body`` (bytes, or a binary file of ``digests.size`` bytes) under ``key`` with a COMPLIANCE lock
        until ``retain_until``; the new version id. Raises botocore's exceptions as ``put_object`` does."""
        url, headers = self.signed_request(bucket, key, digests, retain_until)
        try:
            response = self._pool.urlopen("PUT", url, body=body, headers=headers, preload_content=True)
        except urllib3.exceptions.HTTPError as exc:
            raise _connection_error(exc, self.endpoint) from None
        if response.status == 200:
            return response.headers.get("x-amz-version-id", "")
        raise self.client_error(response.status, dict(response.headers.items()), response.data)

    def signed_request(self, bucket: str, key: str, digests: Digests, retain_until: datetime) -> tuple[str, dict]:
        """The PutObject's URL and its SigV4-signed headers (lock, checksum, metadata; payload SHA-256 signed)."""
        url = f"{self.endpoint}/{quote(bucket)}/{quote(key)}"
        headers = {
            "Content-Length": str(digests.size),
            "x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(digests.sha256)).decode(),
            "x-amz-meta-sha256": digests.sha256,
            "x-amz-meta-sha512": digests.sha512,
            "x-amz-object-lock-mode": "COMPLIANCE",
            "x-amz-object-lock-retain-until-date": _iso8601(retain_until),
        }
        request = AWSRequest(method="PUT", url=url, headers=headers)
        request.context["payload_sha256"] = digests.sha256
        _KnownPayloadAuth(self._credentials.get_frozen_credentials(), "s3", self._region).add_auth(request)
        return url, dict(request.headers.items())

    def client_error(self, status: int, headers: dict, body: bytes) -> boto_errors.ClientError:
        """A non-200 answer to the PutObject as the ``ClientError`` botocore raises for it (S3 error code)."""
        parsed = self._parser.parse({"status_code": status, "headers": headers, "body": body}, self._output)
        return boto_errors.ClientError(parsed, "PutObject")


def _iso8601(moment: datetime) -> str:
    """The retain-until header's timestamp (ISO 8601, UTC, as botocore serializes it)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _connection_error(exc: urllib3.exceptions.HTTPError, endpoint: str) -> Exception:
    """urllib3's failure as the botocore exception ``put_object`` raises for it."""
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, urllib3.exceptions.NewConnectionError):  # first: urllib3 derives it from the timeout
        return boto_errors.EndpointConnectionError(endpoint_url=endpoint, error=reason)
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return boto_errors.ConnectTimeoutError(endpoint_url=endpoint, error=reason)
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
        return boto_errors.ReadTimeoutError(endpoint_url=endpoint, error=reason)
    return boto_errors.ConnectionClosedError(endpoint_url=endpoint, error=reason)
