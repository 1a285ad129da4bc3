"""The HTTP client of vault's REST API (docs/api.md, docs/client.md): one pooled connection set, bearer key,
problem+json errors raised as :class:`ProblemError`, and retries only where sending twice cannot act twice."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import httpx

from vault.client.errors import ConnectionFailed, DigestMismatch, ProblemError
from vault.client.media import guess_media_type
from vault.client.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after, replayable
from vault.client.types import Download, Receipt

CHUNK = 1 << 16


class VaultClient:
    """A vault API client. Thread-safe (httpx's pool): share one among the threads of a bulk deposit.

    Requests with a safe method or an ``Idempotency-Key`` are retried on 503, 507 and connection errors per
    ``retry`` (honouring ``Retry-After``); any other request is sent once."""

    def __init__(self, url: str, key: str, *, timeout: float = 60.0, retry: RetryPolicy | None = None,
                 pool: int = 16, sleep: Callable[[float], None] = time.sleep, **httpx_options: Any):
        self.url = url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        self._http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout,
                                  limits=limits, **httpx_options)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "VaultClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------------------------

    @contextmanager
    def stream(self, method: str, path: str, *, rewind: Callable[[], None] | None = None,
               **kwargs: Any) -> Iterator[httpx.Response]:
        """The response with its body not yet read, after the retries allowed; not checked (see :func:`check`).
        ``rewind`` puts a streamed request body back at its start before a retry."""
        replay = replayable(method, kwargs.get("headers"))
        attempt, yielded = 0, False
        while True:
            retry_after = None
            try:
                with self._http.stream(method, path, **kwargs) as response:
                    if not (replay and response.status_code in RETRY_STATUSES
                            and attempt + 1 < self.retry.attempts):
                        yielded = True
                        yield response
                        return
                    response.read()
                    retry_after = _retry_after(response)
            except httpx.TransportError as exc:
                if yielded:  # the caller was reading the body: its error, not a request to send again
                    raise
                if not replay or attempt + 1 >= self.retry.attempts:
                    raise ConnectionFailed(f"cannot reach vault at {self.url}: {exc or type(exc).__name__}") from None
            self._sleep(self.retry.delay(attempt, retry_after))
            attempt += 1
            if rewind:
                rewind()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The read, checked response (ProblemError for 4xx/5xx)."""
        with self.stream(method, path, **kwargs) as response:
            response.read()
            return check(response)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    # -- the archive's operations ------------------------------------------------------------------------------

    def deposit(self, source: Path | str | BinaryIO, metadata: dict[str, Any], *, filename: str | None = None,
                media_type: str | None = None, idempotency_key: str | None = None) -> Receipt:
        """``POST /v1/objects``: stream ``source`` (a path or a seekable binary file) with ``metadata``.

        Without ``idempotency_key`` a random one is sent, so that a retry after a lost answer stores nothing twice.
        ``media_type`` defaults to the one guessed from the file name and first bytes."""
        if isinstance(source, (str, Path)):
            path = Path(source)
            with path.open("rb") as handle:
                return self.deposit(handle, metadata, filename=filename or path.name,
                                    media_type=media_type or guess_media_type(path), idempotency_key=idempotency_key)
        name = filename or Path(getattr(source, "name", "") or "file").name
        start = source.tell()
        files = {"file": (name, source, media_type or guess_media_type(name, _peek(source, start))),
                 "metadata": (None, json.dumps(metadata), "application/json")}
        headers = {"Idempotency-Key": idempotency_key or f"client-{uuid.uuid4()}"}
        with self.stream("POST", "/v1/objects", files=files, headers=headers,
                         rewind=lambda: source.seek(start)) as response:
            response.read()
            check(response)
            return Receipt.from_json(response.json(), response.headers.get("Idempotent-Replayed") == "true")

    def object(self, object_id: str) -> dict[str, Any]:
        """``GET /v1/objects/{id}``: the object's metadata view."""
        return self.json("GET", f"/v1/objects/{object_id}")

    def download(self, object_id: str, target: Path | str, *, expected_sha256: str | None = None) -> Download:
        """Stream the object's bytes to ``target``, checking their SHA-256 against ``expected_sha256``, else the
        digest the archive sends (its ``ETag``), else the object's metadata. On a mismatch, or any error, no file
        is left at ``target`` (nor a partial one); an existing ``target`` is replaced only by verified bytes."""
        target = Path(target)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        digest, size = hashlib.sha256(), 0
        try:
            with self.stream("GET", f"/v1/objects/{object_id}/content") as response:
                check(response)
                expected = expected_sha256 or response.headers.get("etag", "").strip('"').removeprefix("W/")
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            if len(expected or "") != 64:
                expected = self.object(object_id)["sha256"]
            if digest.hexdigest() != expected.lower():
                raise DigestMismatch(f"object {object_id}: the downloaded bytes have SHA-256 {digest.hexdigest()}, "
                                     f"the archive holds {expected}; nothing was written, download it again")
            os.replace(partial, target)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"download of {object_id} interrupted: {exc or type(exc).__name__}") from None
        finally:
            partial.unlink(missing_ok=True)
        return Download(object_id, target, digest.hexdigest(), size)


def check(response: httpx.Response) -> httpx.Response:
    """``response`` when it is a success; otherwise its problem document raised as :class:`ProblemError`."""
    if response.status_code < 400:
        return response
    response.read()
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        body = None
    raise ProblemError.from_body(response.status_code, body, response.text, _retry_after(response))


def _retry_after(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("retry-after"))


def _peek(source: BinaryIO, start: int) -> bytes:
    head = source.read(16)
    source.seek(start)
    return head
