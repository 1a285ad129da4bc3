"""Compile and run ErsCheck.java, an independent RFC 4998 evidence-record check with Bouncy Castle 1.72
(Debian libbcprov-java libbcpkix-java libbcutil-java, Java 17)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("ErsCheck.java")
JARS = [Path("/usr/share/java") / f"{name}.jar" for name in ("bcprov", "bcpkix", "bcutil")]


def available() -> bool:
    """True when javac, java and the three Bouncy Castle jars are installed."""
    return bool(shutil.which("javac") and shutil.which("java")) and all(jar.is_file() for jar in JARS)


def classpath(classes: Path) -> str:
    """The classpath for running ErsCheck from ``classes``."""
    return ":".join([str(classes), *map(str, JARS)])


def build(outdir: Path) -> Path:
    """Compile ErsCheck.java into ``outdir`` (keep it outside the repository) unless its class is up to date;
    return the classes directory."""
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / "ErsCheck.class"
    if not target.exists() or target.stat().st_mtime < SOURCE.stat().st_mtime:
        subprocess.run(["javac", "-Xlint:-path", "-cp", ":".join(map(str, JARS)), "-d", str(outdir), str(SOURCE)],
                       check=True, capture_output=True, text=True, timeout=300)
    return outdir


def run(classes: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``ErsCheck *args`` (text output captured; stdout is ``OK`` or ``FAIL: ...`` for verify)."""
    return subprocess.run(["java", "-cp", classpath(classes), "ErsCheck", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def verify_each(classes: Path, jobs: list[list], scratch: Path) -> list[str]:
    """``ErsCheck verify`` of each job (its options: ``--ers``, ``--data``…, ``--ca``) in one JVM: what each printed,
    ``OK`` or ``FAIL: ...``, in order. Starting Java with Bouncy Castle costs about a second, a verification little."""
    listing = scratch / "ers-jobs.tsv"
    listing.write_text("".join("\t".join(map(str, job)) + "\n" for job in jobs))
    done = run(classes, "verify-each", "--jobs", listing)
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) == len(jobs), done.stdout + done.stderr
    return lines
