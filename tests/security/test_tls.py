"""``vault serve`` with ``VAULT_TLS_CERT``/``VAULT_TLS_KEY``: HTTPS verified against a test CA, no plain HTTP, and
clear one-line refusals of an incomplete or unusable configuration."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.pki import make_ca, make_leaf
from tests.server_process import ROOT, ServerProcess
from vault.settings import Settings, SettingsError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    ca = make_ca("vault TLS test CA")
    leaf = make_leaf(ca, "127.0.0.1", purpose="server")
    paths = {"ca": directory / "ca.pem", "cert": directory / "server.pem", "key": directory / "server.key"}
    paths["ca"].write_bytes(ca.cert_pem)
    paths["cert"].write_bytes(leaf.cert_pem)
    paths["key"].write_bytes(leaf.key_pem)
    return paths


def test_serves_https_verified_by_the_ca_and_refuses_plain_http(tmp_path, pki):
    env = {"VAULT_TLS_CERT": str(pki["cert"]), "VAULT_TLS_KEY": str(pki["key"])}
    with ServerProcess(tmp_path / "data", env=env, tls_ca=str(pki["ca"])) as server:
        assert server.url.startswith("https://")
        response = httpx.get(server.url + "/health", verify=server.verify)
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        assert response.headers["x-content-type-options"] == "nosniff" and "server" not in response.headers
        with server.client() as http:
            assert http.get("/v1/objects").status_code == 200
        with pytest.raises(httpx.ConnectError):  # a certificate from elsewhere is not trusted
            httpx.get(server.url + "/health")
        with pytest.raises(httpx.HTTPError):  # plain HTTP gets no answer from a TLS socket
            httpx.get(server.url.replace("https://", "http://") + "/health", timeout=5)
        assert f"serving on https://127.0.0.1:{server.port}" in server.output()


@pytest.mark.parametrize("env, message", [
    ({"VAULT_TLS_CERT": "{cert}"}, "VAULT_TLS_CERT is set but VAULT_TLS_KEY is not"),
    ({"VAULT_TLS_KEY": "{key}"}, "VAULT_TLS_KEY is set but VAULT_TLS_CERT is not"),
    ({"VAULT_TLS_CERT": "{cert}", "VAULT_TLS_KEY": "/nonexistent/server.key"}, "VAULT_TLS_KEY='/nonexistent"),
])
def test_incomplete_tls_settings_are_refused(pki, env, message):
    env = {name: value.format(**pki) for name, value in env.items()}
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        Settings.from_env(env)


def test_a_key_that_does_not_match_stops_the_start_with_one_line(tmp_path, pki):
    other = make_leaf(make_ca(), "127.0.0.1", purpose="server")
    (tmp_path / "other.key").write_bytes(other.key_pem)
    env = {"VAULT_DATA_DIR": str(tmp_path / "data"), "VAULT_POLICIES_DIR": str(ROOT / "policies"),
           "VAULT_TLS_CERT": str(pki["cert"]), "VAULT_TLS_KEY": str(tmp_path / "other.key"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "vault.cli.main", "serve"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("vault: cannot start: VAULT_TLS_CERT/VAULT_TLS_KEY: cannot use")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
