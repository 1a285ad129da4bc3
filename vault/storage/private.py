"""The data directory is private to the service's user: directories 0700, files 0600.

The database holds parties and pseudonym values, the keys sign the archive's word, the blobs are the evidence:
no other local user may read any of it. New files are created with explicit modes (no reliance on the umask,
which the process may share with its embedder); :func:`tighten_data_dir` fixes a data directory made before
that, at start.

Cost on a big blob tree: the first start walks the whole directory once and leaves a marker
(:data:`MARKER`); later starts re-check only the data directory itself and its direct entries. That keeps the
real barrier (a 0700 data directory: nobody else can reach anything below it) enforced at every start for the
price of a few ``stat`` calls, while files deeper down are already created 0600 by this code.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
MARKER = ".private-modes"


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) as 0700; an existing directory keeps its mode (see tighten)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to a new 0600 file (``exclusive``: fail if it exists), flushed to disk before returning."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _tighten(path: Path) -> bool:
    """Set one entry to its private mode; whether it changed. Symbolic links and sockets are left alone."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(info.st_mode):
        wanted = DIR_MODE
    elif stat.S_ISREG(info.st_mode):
        wanted = FILE_MODE
    else:
        return False
    if stat.S_IMODE(info.st_mode) == wanted:
        return False
    os.chmod(path, wanted)
    return True


def tighten_data_dir(root: Path) -> tuple[int, bool]:
    """Make ``root`` private; returns (entries whose mode changed, whether the whole tree was walked).

    The whole tree the first time (no :data:`MARKER` yet), else ``root`` and its direct entries only.
    """
    root = Path(root)
    marker = root / MARKER
    changed = int(_tighten(root))
    if marker.exists():
        return changed + sum(_tighten(entry) for entry in root.iterdir()), False
    for directory, dirs, files in os.walk(root):
        base = Path(directory)
        changed += sum(_tighten(base / name) for name in (*dirs, *files))
    write_private(marker, b"files 0600, directories 0700: checked once in full, then at the top level each start\n")
    return changed, True
