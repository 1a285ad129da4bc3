"""Issue #18: a bad setting stops ``vault serve`` with one line naming it (``vault: cannot start: …``), not a
traceback, whatever the kind of mistake: a short admin key, a bad number or duration, a missing file, a bad store
URL, an unreachable database, an address that cannot be listened on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import POLICIES
from vault.settings import Settings, SettingsError

BAD = [
    ({"VAULT_ADMIN_KEY": "short-key"}, "VAULT_ADMIN_KEY"),
    ({"VAULT_PORT": "eighty"}, "VAULT_PORT"),
    ({"VAULT_PORT": "70000"}, "VAULT_PORT"),
    ({"VAULT_SEAL_INTERVAL": "inf"}, "VAULT_SEAL_INTERVAL"),
    ({"VAULT_KEY_ROTATION_OVERLAP": "a day"}, "VAULT_KEY_ROTATION_OVERLAP"),
    ({"VAULT_TSA_URLS": "http://127.0.0.1:9/", "VAULT_TSA_ROOTS": "/nonexistent/roots.pem"}, "VAULT_TSA_ROOTS"),
    ({"VAULT_CASE_CHAIN": "/nonexistent/chain.json"}, "VAULT_CASE_CHAIN"),
    ({"VAULT_TRUST_DIR": "/nonexistent/trust"}, "VAULT_TRUST_DIR"),
    ({"VAULT_STORES": "ftp://somewhere/bucket"}, "VAULT_STORES"),
    ({"VAULT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"}, "VAULT_DATABASE_URL"),
    ({"VAULT_DATA_DIR": "/proc/self/cannot-be-created"}, "VAULT_DATA_DIR"),
    ({"VAULT_HOST": "256.0.0.1"}, "VAULT_HOST"),
]


def serve(tmp_path, changes: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env.update({"VAULT_DATA_DIR": str(tmp_path / "data"), "VAULT_POLICIES_DIR": str(POLICIES), "VAULT_PORT": "0",
                "VAULT_HOST": "127.0.0.1", **changes})
    return subprocess.run([sys.executable, "-m", "vault.cli.main", "serve"], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.slow
@pytest.mark.parametrize("changes, variable", BAD, ids=[v for _, v in BAD])
def test_a_bad_setting_stops_the_server_with_one_line_naming_it(tmp_path, changes, variable):
    done = serve(tmp_path, changes)
    assert done.returncode == 2, done
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vault: cannot start: "), done.stderr
    assert variable in lines[0]
    assert "short-key" not in lines[0]  # a secret is never echoed


@pytest.mark.slow
def test_a_port_in_use_is_one_line_too(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        done = serve(tmp_path, {"VAULT_PORT": str(taken.getsockname()[1])})
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "VAULT_PORT" in done.stderr and "in use" in done.stderr


def test_the_admin_key_is_as_long_as_an_issued_key():
    with pytest.raises(SettingsError, match="VAULT_ADMIN_KEY is 23 characters long"):
        Settings.from_env({"VAULT_ADMIN_KEY": "k" * 23})
    assert Settings.from_env({"VAULT_ADMIN_KEY": "k" * 24}).admin_key == "k" * 24
