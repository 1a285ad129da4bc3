"""Streaming ``multipart/form-data`` reader for deposits (RFC 7578).

The file part goes straight into a blob writer chunk by chunk while it arrives, so memory stays flat whatever the
file size, and the body is counted as it streams so an oversized request is cut off with 413 without being
buffered first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from vault.api.part_headers import part_filename, part_media_type
from vault.api.problems import Problem
from vault.storage.blobstore import BlobWriter
from vault.storage.headroom import is_out_of_space

FORM_FIELDS = ("file", "metadata")


@dataclass
class DepositForm:
    metadata: bytes | None = None
    writer: BlobWriter | None = None
    filename: str | None = None
    media_type: str | None = None
    _metadata_parts: list[bytes] = field(default_factory=list)

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.abort()


def too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", "Request body too large",
                   f"the request body exceeds the configured maximum of {limit} bytes (VAULT_MAX_UPLOAD_BYTES)",
                   max_bytes=limit)


class _FormBuilder:
    def __init__(self, form: DepositForm, open_writer: Callable[[], BlobWriter], max_metadata: int):
        self.form = form
        self._open_writer = open_writer
        self._max_metadata = max_metadata
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._current: str | None = None
        self._metadata_size = 0
        self.metadata_seen = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._append("_field", data[start:end]),
            "on_header_value": lambda data, start, end: self._append("_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        }

    def _append(self, name: str, chunk: bytes) -> None:
        setattr(self, name, getattr(self, name) + chunk)

    def _part_begin(self) -> None:
        self._headers = {}
        self._current = None

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name not in FORM_FIELDS:
            raise Problem(422, "unknown-form-field", "Unknown form field",
                          f"unexpected form field {name!r}: send only 'file' and 'metadata'")
        if name == "file":
            if self.form.writer is not None:
                raise Problem(422, "several-files", "Several files", "send exactly one 'file' per deposit")
            self.form.filename = part_filename(options.get(b"filename"))
            self.form.media_type = part_media_type(self._headers.get(b"content-type"))
            self.form.writer = self._open_writer()
        elif self.metadata_seen:
            raise Problem(422, "several-metadata", "Several metadata fields", "send exactly one 'metadata' field")
        else:
            self.metadata_seen = True
        self._current = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._current == "file":
            self.form.writer.write(chunk)
        else:
            self._metadata_size += len(chunk)
            if self._metadata_size > self._max_metadata:
                raise Problem(413, "metadata-too-large", "Metadata too large",
                              f"the metadata field exceeds {self._max_metadata} bytes (VAULT_MAX_METADATA_BYTES)",
                              max_bytes=self._max_metadata)
            self.form._metadata_parts.append(chunk)


async def read_deposit_form(request: Request, open_writer: Callable[[], BlobWriter], max_body: int,
                            max_metadata: int) -> DepositForm:
    """Parse the deposit form; on any error the partial blob is discarded before the exception leaves."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      "send the deposit as multipart/form-data with a 'file' and a 'metadata' field")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body:
        raise too_large(max_body)
    form = DepositForm()
    builder = _FormBuilder(form, open_writer, max_metadata)
    parser = MultipartParser(boundary, builder.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                raise too_large(max_body)
            parser.write(chunk)
        parser.finalize()
        if received == 0:
            raise Problem(400, "empty-body", "Empty body", "the request body is empty")
    except ClientDisconnect:
        form.discard()
        raise
    except Problem:
        form.discard()
        raise
    except OSError as exc:
        form.discard()
        if is_out_of_space(exc):  # the server's disk, not the client's body: the route answers 507
            raise
        raise Problem(400, "malformed-multipart", "Malformed multipart body", f"the multipart body cannot be parsed: {exc}") from None
    except Exception as exc:  # python-multipart raises on malformed input
        form.discard()
        raise Problem(400, "malformed-multipart", "Malformed multipart body", f"the multipart body cannot be parsed: {exc}") from None
    if builder.metadata_seen:
        form.metadata = b"".join(form._metadata_parts)
    return form
