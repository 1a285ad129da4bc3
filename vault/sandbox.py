"""The sandbox instance (``VAULT_SANDBOX=true``, issue #23): a marker file in the data directory and a clock the
platform admin moves forward, so an integrator rehearses ten-year retention, negligence and destruction.

Nothing issued by a sandbox has probative value: its clock is not the time of day, and its development TSA signs
whatever time that clock says. The data directory's ``SANDBOX`` file decides, for good, which kind of instance a
data directory belongs to; it also holds the clock's offset, so a restart keeps the sandbox time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from vault.clock import Clock
from vault.retention.period import Period, PeriodError
from vault.settings_types import SettingsError

MARKER = "SANDBOX"
NOTICE = "SANDBOX — no probative value"
IN_USE = "journal.key"  # created by the first start of any instance: the data directory holds an archive


class SandboxError(ValueError):
    """A clock move the sandbox refuses (not forward, not a duration)."""


def check_data_dir(data_dir: Path, sandbox: bool) -> None:
    """Refuse a sandbox start on a real archive's data directory and a real start on a sandbox's (raises
    :class:`SettingsError`, one line); a fresh data directory becomes a sandbox's by getting its marker."""
    marker = Path(data_dir) / MARKER
    if marker.exists() and not sandbox:
        raise SettingsError(f"VAULT_DATA_DIR={data_dir} belongs to a sandbox (it holds {MARKER}): start it with "
                            "VAULT_SANDBOX=true, or give a real archive its own data directory")
    if sandbox and not marker.exists():
        if (Path(data_dir) / IN_USE).exists():
            raise SettingsError(f"VAULT_DATA_DIR={data_dir} holds a real archive: a sandbox never starts on it; "
                                "give the sandbox its own data directory")
        _write_offset(marker, 0.0)


def check_tsa(sandbox: bool, tsa_urls: tuple[str, ...]) -> None:
    """A sandbox stamps with its built-in development TSA only: a real TSA cannot sign a moved clock's time."""
    if sandbox and tsa_urls:
        raise SettingsError("VAULT_TSA_URLS is set but VAULT_SANDBOX=true: a sandbox uses its built-in development "
                            "TSA only (a real TSA cannot sign the sandbox's moved time); unset VAULT_TSA_URLS")


def _write_offset(marker: Path, seconds: float) -> None:
    """Replace the marker atomically (write, fsync, rename): a crash leaves the old offset or the new one."""
    temporary = marker.with_name(marker.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"sandbox": True, "notice": NOTICE, "clock_offset_seconds": seconds}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, marker)


@dataclass(frozen=True)
class ClockMove:
    """What one move did: the sandbox time before and after, and the total offset from the system clock."""

    before: datetime
    after: datetime
    offset: timedelta


class SandboxClock:
    """The ``base`` clock plus the offset kept in the data directory's marker (read again when the file changes,
    so every process on that data directory agrees). The offset only grows: sandbox time never goes back."""

    def __init__(self, data_dir: Path, base: Clock):
        self._marker = Path(data_dir) / MARKER
        self._base = base
        self._seen: tuple[float, float] = (-1.0, 0.0)

    @property
    def offset(self) -> timedelta:
        """The offset last written to the marker (the one seen before, should the marker be unreadable: time
        never stops nor jumps back because of a file)."""
        try:
            mtime = self._marker.stat().st_mtime
            if mtime != self._seen[0]:
                self._seen = (mtime, max(self._seen[1],
                                         float(json.loads(self._marker.read_text())["clock_offset_seconds"])))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return timedelta(seconds=self._seen[1])

    def now(self) -> datetime:
        return self._base.now() + self.offset

    def advance(self, duration: str) -> ClockMove:
        """Move the sandbox time forward by an ISO 8601 duration (``P11Y``, ``P15D``, ``PT1H``; calendar years and
        months counted from the sandbox's now). Raises :class:`SandboxError` for anything else."""
        try:
            period = Period.parse(duration)
        except (PeriodError, ValueError) as exc:
            raise SandboxError(f"{duration!r} is not an ISO 8601 duration such as P11Y or P15D: {exc}") from None
        before = self.now()
        after = period.after(before)
        if after <= before:
            raise SandboxError("the sandbox clock only moves forward: give a positive duration")
        offset = self.offset + (after - before)
        _write_offset(self._marker, offset.total_seconds())
        self._seen = (self._marker.stat().st_mtime, offset.total_seconds())
        return ClockMove(before, self.now(), offset)


def marked(document: dict, sandbox: bool) -> dict:
    """``document`` with ``"sandbox": true`` and the notice when issued by a sandbox, else unchanged: the marking
    goes inside what is signed (receipts, reports, certificates, package manifests), not around it."""
    return {**document, "sandbox": True, "notice": NOTICE} if sandbox else document


def notice_lines(document: dict) -> list[str]:
    """The first lines of a PDF rendering ``document``: the notice when the document is marked, else none."""
    return [NOTICE, ""] if document.get("sandbox") else []
