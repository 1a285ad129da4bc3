"""Reading ``/metrics`` back in tests: the text parsed into samples, and ``promtool`` (Debian's prometheus package,
installed by scripts/test) run over it."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from vault.monitoring.samples import Sample

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> list[Sample]:
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        assert match, f"not an exposition line: {line!r}"
        name, labels, value = match.groups()
        pairs = tuple(sorted((k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
                             for k, v in _LABEL.findall(labels or "")))
        samples.append(Sample(name, float(value), pairs))
    return samples


def promtool(*args: str, stdin: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool missing: scripts/test installs Debian's prometheus package")
    return subprocess.run([tool, *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd)
