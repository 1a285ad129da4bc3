"""A fresh virtual environment holding the offline verifier and nothing else, as an expert would install it on
another machine (issue 9): ``verifier/`` is copied and pip-installed, which brings its two declared dependencies
(asn1crypto, cryptography) and no part of vault. Built once per test session, shared by the modules that need it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

_built: dict[str, Path] = {}


def clean_env() -> dict[str, str]:
    """The environment of a process on "another machine": no PYTHONPATH, no user site, no active venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def verifier_venv(tmp_path_factory) -> Path:
    """The venv (built on first use in this session): ``<venv>/bin/vault-verify`` is the command."""
    if "venv" not in _built:
        home = tmp_path_factory.mktemp("verifier-venv")
        source = home / "verifier"  # a copy: the build writes into the tree it installs from
        shutil.copytree(ROOT / "verifier", source,
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        venv = home / "v"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, cwd=home, env=clean_env(), timeout=120)
        done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
                              cwd=home, env=clean_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        _built["venv"] = venv
    return _built["venv"]


def run_in(home: Path, *args: str) -> subprocess.CompletedProcess:
    """Run a command from ``home`` (a directory standing for the other machine) in the clean environment."""
    return subprocess.run(list(args), cwd=home, env=clean_env(), capture_output=True, text=True, timeout=120)
