"""Bulk deposit: every row of a manifest deposited once, concurrently, resumably (docs/client.md).

Each row carries an Idempotency-Key derived from the row and its file's SHA-256 (:func:`row_key`), so sending a
row again never stores it twice. A state file (JSON Lines, one line per row the server accepted, flushed at once)
lets a rerun skip what an interrupted run already stored; a row sent but not yet answered when the run stopped
is sent again and the server answers it as a replay.
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from vault.client.api import CHUNK, VaultClient
from vault.client.errors import ClientError, ProblemError
from vault.client.manifest import Row, row_key
from vault.client.media import guess_media_type

STORED, REPLAYED, REFUSED = "stored", "replayed", "refused"


@dataclass(frozen=True)
class RowOutcome:
    """What became of one row: ``stored`` (new object), ``replayed`` (already held), or ``refused`` and why."""

    row: Row
    outcome: str
    object_id: str | None = None
    reason: str | None = None


class DepositState:
    """The rows already accepted, by Idempotency-Key, kept in an append-only JSON Lines file."""

    def __init__(self, path: Path):
        self.path = path
        self.done: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.done[entry["key"]] = entry["id"]
                except (ValueError, KeyError, TypeError):
                    continue  # the last line of a killed run may be cut short
        self._lock = threading.Lock()
        self._out = path.open("a", encoding="utf-8")

    def record(self, key: str, object_id: str, row: Row) -> None:
        with self._lock:
            self._out.write(json.dumps({"key": key, "id": object_id, "row": row.number, "file": row.file}) + "\n")
            self._out.flush()  # in the kernel: survives the process being killed
            self.done[key] = object_id

    def close(self) -> None:
        self._out.close()


def deposit_row(client: VaultClient, directory: Path, row: Row, state: DepositState) -> RowOutcome:
    """Deposit one row; every failure becomes a ``refused`` outcome naming its reason."""
    if row.problem:
        return RowOutcome(row, REFUSED, reason=f"bad manifest row: {row.problem}")
    root = directory.resolve()
    path = (root / row.file).resolve()
    if not path.is_relative_to(root):
        return RowOutcome(row, REFUSED, reason=f"{row.file}: outside the deposit directory")
    try:
        sha256 = _sha256(path)
    except OSError as exc:
        return RowOutcome(row, REFUSED, reason=f"{row.file}: {exc.strerror or exc}")
    media_type = row.media_type or guess_media_type(path)
    key = row_key(row, media_type, sha256)
    if key in state.done:
        return RowOutcome(row, REPLAYED, state.done[key])
    try:
        receipt = client.deposit(path, row.metadata, filename=Path(row.file).name, media_type=media_type,
                                 idempotency_key=key)
    except ProblemError as exc:
        return RowOutcome(row, REFUSED, reason=" ".join(line.strip() for line in str(exc).splitlines()))
    except (ClientError, OSError) as exc:
        return RowOutcome(row, REFUSED, reason=str(exc))
    state.record(key, receipt.id, row)
    return RowOutcome(row, REPLAYED if receipt.replayed else STORED, receipt.id)


def deposit_rows(client: VaultClient, directory: Path, rows: Iterable[Row], state: DepositState, *,
                 concurrency: int = 4, on_outcome: Callable[[RowOutcome], None] = lambda outcome: None) -> None:
    """Deposit ``rows`` with ``concurrency`` threads, calling ``on_outcome`` (in this thread) as each finishes.

    At most 2 × ``concurrency`` rows are in flight; on KeyboardInterrupt the rows not yet started are dropped,
    the running ones finish, and the interrupt goes up."""
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="deposit") as pool:
        pending: set = set()
        try:
            for row in rows:
                pending.add(pool.submit(deposit_row, client, directory, row, state))
                if len(pending) >= 2 * concurrency:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        on_outcome(future.result())
            for future in list(pending):
                on_outcome(future.result())
                pending.discard(future)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
