"""The trust anchors in force: the operator's trust-list directory plus the archive's own TSA roots.

The directory is re-read when it changes (its modification time, or any file's), so adding an anchor needs no
restart; what was in force is listed by fingerprint in every validation report.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

from asn1crypto import x509

from vault.validation.trust import TrustAnchors, ValidationContext


class TrustStore:
    def __init__(self, directory: Path, extra: Callable[[], Iterable[x509.Certificate]] = lambda: ()):
        self.directory = Path(directory)
        self._extra = extra
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._anchors = TrustAnchors()

    def _signature(self) -> tuple:
        try:
            return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in self.directory.iterdir()))
        except OSError:
            return ()

    def anchors(self) -> TrustAnchors:
        stamp = self._signature()
        with self._lock:
            if stamp != self._stamp:
                self._anchors = TrustAnchors.from_directory(self.directory).plus(self._extra())
                self._stamp = stamp
            return self._anchors

    def context(self, now: datetime, dkim_records: dict[str, str] | None = None) -> ValidationContext:
        return ValidationContext(self.anchors(), now, dict(dkim_records or {}))
