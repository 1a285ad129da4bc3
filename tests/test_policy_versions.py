"""Policy versions in use are immutable; a change is a new version; a restarted service refuses an edited one."""

from __future__ import annotations

import re

import shutil

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, POLICIES, Api, make_settings
from tests.server_process import ServerProcess
from vault.api.app import create_app
from vault.app import Vault
from vault.retention.policy import PolicyError


@pytest.fixture
def policy_dir(tmp_path):
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def open_vault(tmp_path, policy_dir, database_url=""):
    settings = make_settings(tmp_path, database_url).with_(policies_dir=policy_dir)
    return Vault.open(settings, sweep_in_background=False, background_jobs=False)


def test_editing_a_used_version_stops_the_service_and_a_new_version_works(tmp_path, policy_dir, database_url):
    lre = policy_dir / "lre-proof.toml"
    original = lre.read_text()
    v = int(re.search(r"^version = (\d+)$", original, re.M).group(1))  # the shipped version, and the next one
    vault = open_vault(tmp_path, policy_dir, database_url)
    api = Api(TestClient(create_app(vault)), ADMIN_KEY)
    object_id = api.deposit(b"under the shipped version", tenant="acme").json()["id"]
    vault.close()

    lre.write_text(original.replace('duration = "P10Y"', 'duration = "P12Y"'))
    with pytest.raises(PolicyError, match=rf"lre-proof.toml: policy 'lre-proof' version {v} is used by 1 object.*"
                                          rf"version {v + 1}"):
        open_vault(tmp_path, policy_dir, database_url)

    lre.write_text(original.replace('duration = "P10Y"', 'duration = "P12Y"').replace(f"version = {v}",
                                                                                        f"version = {v + 1}"))
    vault = open_vault(tmp_path, policy_dir, database_url)
    try:
        api = Api(TestClient(create_app(vault)), ADMIN_KEY)
        versions = {(p["id"], p["version"]): p for p in api.get("/v1/policies").json()["policies"]}
        assert versions[("lre-proof", v)]["in_force"] is False and versions[("lre-proof", v)]["duration"] == "P10Y"
        assert versions[("lre-proof", v + 1)]["in_force"] is True
        assert api.get(f"/v1/objects/{object_id}").json()["policy_version"] == v  # objects keep their version
        fresh = api.deposit(b"under the next version", tenant="acme").json()
        assert fresh["policy_version"] == v + 1
        assert fresh["retention_until"][:4] == str(int(fresh["deposited_at"][:4]) + 12)
        loads = api.get("/v1/journal/entries", params={"action": "policy_load"}).json()["entries"]
        assert len(loads) == 2 and any(f"lre-proof@{v + 1} added" in c for c in loads[-1]["detail"]["changes"])
    finally:
        vault.close()


def test_editing_an_unused_version_is_allowed_and_journaled(tmp_path, policy_dir):
    open_vault(tmp_path, policy_dir).close()
    consent = policy_dir / "consent-record.toml"
    consent.write_text(consent.read_text().replace('duration = "P10Y"', 'duration = "P11Y"'))
    vault = open_vault(tmp_path, policy_dir)
    try:
        assert vault.policies.get("consent-record").duration.text == "P11Y"
    finally:
        vault.close()


@pytest.mark.slow
def test_a_restarted_service_names_the_bad_policy_file(tmp_path, policy_dir):
    data = tmp_path / "data"
    with ServerProcess(data, env={"VAULT_POLICIES_DIR": str(policy_dir)}) as server:
        with server.client(server.new_key("depositor", "acme")) as http:
            from tests.server_process import deposit
            assert deposit(http, b"kept ten years").status_code == 201
    (policy_dir / "lre-proof.toml").write_text(
        (policy_dir / "lre-proof.toml").read_text().replace('duration = "P10Y"', 'duration = "P5Y"'))
    with pytest.raises(RuntimeError, match=r"cannot start: .*lre-proof.toml: field 'duration' is P5Y, under the 10-year"):
        ServerProcess(data, env={"VAULT_POLICIES_DIR": str(policy_dir)}).start(timeout=20)
    (policy_dir / "lre-proof.toml").write_text("id = \"lre-proof\"\nversion = \n")
    with pytest.raises(RuntimeError, match=r"cannot start: .*lre-proof.toml: not valid TOML"):
        ServerProcess(data, env={"VAULT_POLICIES_DIR": str(policy_dir)}).start(timeout=20)
