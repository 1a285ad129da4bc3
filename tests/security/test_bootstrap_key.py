"""docs/security.md "Rotating keys": the bootstrap admin key (admin.key or VAULT_ADMIN_KEY) is rotated or revoked
like any key, and a restart brings it back in neither case."""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

from fastapi.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api
from vault.api.app import create_app
from vault.app import Vault


@contextmanager
def running(settings, key: str | None = None):
    """The service over ``settings`` (a start), and an Api with ``key`` (default: the bootstrap admin key)."""
    vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    try:
        with TestClient(create_app(vault)) as http:
            yield Api(http, key or (settings.admin_key or (settings.data_dir / "admin.key").read_text().strip()))
    finally:
        vault.close()


def bootstrap_id(api: Api) -> str:
    keys = api.get("/v1/keys").json()["keys"]
    [found] = [k["key_id"] for k in keys if k["holder"] == "bootstrap admin"]
    return found


def test_a_rotated_vault_admin_key_stays_rotated_after_a_restart(settings):
    with running(settings) as bootstrap:
        mine = bootstrap.as_key(bootstrap.new_key("admin", "*", holder="you@example.org"))
        old = bootstrap_id(mine)
        rotated = mine.post(f"/v1/keys/{old}/rotate", json={"overlap": "PT0S"})
        assert rotated.status_code == 200, rotated.text
        assert bootstrap.get("/v1/keys").status_code == 401
    with running(settings, mine.key) as mine:                      # VAULT_ADMIN_KEY still set
        assert mine.as_key(ADMIN_KEY).get("/v1/keys").status_code == 401
        admins = [k for k in mine.get("/v1/keys").json()["keys"] if k["role"] == "admin"]
        assert len(admins) == 2 and bootstrap_id(mine) == old          # no new key from the configured secret


def test_a_revoked_admin_key_file_is_not_written_again(settings):
    settings = dataclasses.replace(settings, admin_key=None)
    with running(settings) as bootstrap:
        first = bootstrap.key
        mine = bootstrap.as_key(bootstrap.new_key("admin", "*", holder="you@example.org"))
        assert mine.client.delete(f"/v1/keys/{bootstrap_id(mine)}", headers=mine.headers()).status_code == 200
    (settings.data_dir / "admin.key").unlink()
    with running(settings, mine.key) as mine:
        assert not (settings.data_dir / "admin.key").exists()
        assert mine.as_key(first).get("/v1/keys").status_code == 401
        assert len([k for k in mine.get("/v1/keys").json()["keys"] if k["role"] == "admin"]) == 1


def test_the_last_platform_admin_key_cannot_be_revoked(admin):
    answer = admin.client.delete(f"/v1/keys/{bootstrap_id(admin)}", headers=admin.headers())
    assert answer.status_code == 409 and answer.json()["type"].endswith("last-admin")
