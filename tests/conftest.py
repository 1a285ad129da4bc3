"""Shared fixtures: a vault on SQLite or on the real PostgreSQL that scripts/test starts, and API clients."""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock
from vault.db.engine import make_engine
from vault.db.migrate import upgrade
from vault.settings import Settings

SHARED_VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
"""The public conformance vectors beside the project (read in place, never copied)."""

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
ADMIN_KEY = "test-admin-key-" + "x" * 24

# scripts/services points vault at its shared PostgreSQL and RGW through these; a test that wants them says so
# with the VAULT_TEST_* variables. Inherited, they would make every server and CLI subprocess of the suite share
# one database (the suite run through scripts/services then failed where scripts/test passed).
for _name in ("VAULT_DATABASE_URL", "VAULT_STORES", "VAULT_COPY_QUORUM"):
    os.environ.pop(_name, None)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config, items):
    """``serial``: run alone in scripts/test's second phase, never beside an xdist neighbour. Every mark says why."""
    for item in items:
        for mark in item.iter_markers("serial"):
            if not (mark.args and isinstance(mark.args[0], str) and mark.args[0].strip()):
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.serial needs a one-line reason")


def service_env(name: str, missing: str) -> str:
    """A variable that scripts/test exports for a service it started: skip without it, but fail in CI."""
    value = os.environ.get(name)
    if not value:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not set: run the suite through scripts/test")
        pytest.skip(f"{missing}: run through scripts/test, which starts one")
    return value


def pg_admin_url() -> str:
    return service_env("VAULT_TEST_DATABASE_URL", "no PostgreSQL")


@contextmanager
def fresh_pg_database():
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    admin = make_url(pg_admin_url())
    name = "vault_t_" + secrets.token_hex(6)
    conninfo = _conninfo(admin)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_TEMPLATES: dict[str, str] = {}
"""Per backend, a database migrated to head once per test session: the SQLite file, or the PostgreSQL database."""


def _migrated_template(backend: str) -> str:
    if backend not in _TEMPLATES:
        if backend == "sqlite":
            path = Path(tempfile.mkdtemp(prefix="vault-schema-")) / "vault.db"
            atexit.register(shutil.rmtree, path.parent, True)
            url = f"sqlite:///{path}"
        else:
            admin = make_url(pg_admin_url())
            name = "vault_tmpl_" + secrets.token_hex(6)
            with psycopg.connect(_conninfo(admin), autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            atexit.register(_drop_pg_database, name)
            url = admin.set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # SQLite: the WAL checkpointed into the file; PostgreSQL: no session left on it
        _TEMPLATES[backend] = str(path) if backend == "sqlite" else name
    return _TEMPLATES[backend]


def premigrate(database_url: str) -> None:
    """Bring the test's new, empty database to the schema head by copying a template migrated once per session
    (a file copy, or PostgreSQL's ``CREATE DATABASE … TEMPLATE``) instead of replaying every Alembic revision in
    each test: the same tables, indexes and seeded rows, in a fraction of the time. Vault.open then finds the
    schema at head. tests/test_migrations.py and every live server still migrate from empty."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        target = Path(url.database)
        if not target.exists():
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # as Vault.open makes a data dir
            shutil.copy2(_migrated_template("sqlite"), target)
        return
    template = _migrated_template("postgresql")
    with psycopg.connect(_conninfo(make_url(pg_admin_url())), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"')


def _conninfo(admin) -> str:
    return f"host={admin.host} port={admin.port} user={admin.username} dbname={admin.database}"


def _drop_pg_database(name: str) -> None:
    try:
        with psycopg.connect(_conninfo(make_url(pg_admin_url())), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except (psycopg.Error, pytest.skip.Exception):
        pass  # the throwaway cluster of scripts/test goes with it


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """Each test using this runs twice: on SQLite (embedded) and on PostgreSQL (scaled)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'vault.db'}"
    else:
        with fresh_pg_database() as url:
            yield url


def scaled_stores(database_url: str) -> dict:
    """The PostgreSQL variant of every parametrised test is the scaled configuration: PostgreSQL plus a second
    copy of every blob in a fresh Ceph RGW bucket with Object Lock, quorum two."""
    if not database_url.startswith("postgresql"):
        return {}
    endpoint = service_env("VAULT_TEST_S3_ENDPOINT", "no Ceph RGW")
    host = endpoint.split("://", 1)[1]
    access, secret = (quote(os.environ[k], safe="") for k in ("VAULT_TEST_S3_ACCESS_KEY", "VAULT_TEST_S3_SECRET_KEY"))
    bucket = "vault-" + secrets.token_hex(6)
    return {"stores": (f"s3://{access}:{secret}@{host}/{bucket}?tls=0&name=rgw",), "copy_quorum": 2}


def make_settings(tmp_path: Path, database_url: str = "", **changes) -> Settings:
    changes = {"policies_dir": POLICIES, **scaled_stores(database_url), **changes}
    return Settings(data_dir=tmp_path / "data", database_url=database_url, admin_key=ADMIN_KEY, **changes)


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def vault(settings):
    premigrate(settings.effective_database_url)
    opened = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    yield opened
    opened.close()


class Api:
    """An in-process HTTP client with helpers for the common calls."""

    def __init__(self, client: TestClient, key: str):
        self.client = client
        self.key = key

    def as_key(self, key: str) -> "Api":
        return Api(self.client, key)

    def headers(self, extra: dict | None = None) -> dict:
        return {"Authorization": f"Bearer {self.key}", **(extra or {})}

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, **kwargs):
        return self.client.post(path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def deposit(self, content: bytes = b"%PDF-1.7 proof", *, filename: str = "proof.pdf",
                media_type: str = "application/pdf", headers: dict | None = None, raw_metadata: str | None = None,
                **metadata):
        metadata.setdefault("case_ref", "CASE-1")
        metadata.setdefault("policy", "lre-proof")
        files = {"file": (filename, content, media_type),
                 "metadata": (None, raw_metadata if raw_metadata is not None else json.dumps(metadata),
                              "application/json")}
        return self.post("/v1/objects", files=files, headers=headers)

    def new_key(self, role: str, tenant: str, holder: str | None = None, **extra) -> str:
        """Issue a key; admin, archivist and auditor keys get a holder of their own unless one is given."""
        body = {"role": role, "tenant": tenant, **extra}
        if role != "depositor":
            body["holder"] = holder or f"{role}-{secrets.token_hex(4)}@example.org"
        response = self.post("/v1/keys", json=body)
        assert response.status_code == 201, response.text
        return response.json()["key"]


@pytest.fixture
def client(vault):
    with TestClient(create_app(vault), raise_server_exceptions=True) as http:
        yield http


@pytest.fixture
def vault_at(tmp_path, database_url):
    """``vault_at(start)`` opens the test's vault on a FixedClock at ``start`` and gives (vault, clock, admin Api):
    for a test whose dates matter, which the real clock would age past the policies' ``max_backdate``."""
    opened = []

    def open_at(start, **changes) -> tuple[Vault, FixedClock, Api]:
        clock = FixedClock(start)
        settings = make_settings(tmp_path, database_url, **changes)
        if not opened:
            premigrate(settings.effective_database_url)
        opened.append(Vault.open(settings, clock,
                                 sweep_in_background=False, background_jobs=False))
        return opened[-1], clock, Api(TestClient(create_app(opened[-1])), ADMIN_KEY)

    yield open_at
    for each in opened:
        each.close()


@pytest.fixture
def admin(client) -> Api:
    return Api(client, ADMIN_KEY)


@pytest.fixture
def depositor(admin) -> Api:
    """A depositor key bound to tenant 'acme'."""
    return admin.as_key(admin.new_key("depositor", "acme"))


@pytest.fixture(scope="session")
def openssl_tsa() -> dict:
    """The real OpenSSL TSA (``openssl ts -reply`` over HTTP) that scripts/test starts: url, roots, dir."""
    url = service_env("VAULT_TEST_TSA_URL", "no test TSA")
    return {"url": url, "roots": Path(os.environ["VAULT_TEST_TSA_ROOTS"]), "dir": Path(os.environ["VAULT_TEST_TSA_DIR"])}


@pytest.fixture(scope="session")
def bouncy_castle(tmp_path_factory):
    """Compiled tests/interop/ErsCheck.java (Bouncy Castle 1.72's org.bouncycastle.tsp.ers)."""
    from tests.interop import bc_ers

    if not bc_ers.available():
        if os.environ.get("CI"):
            pytest.fail("javac or the Bouncy Castle jars are missing: run the suite through scripts/test")
        pytest.skip("Bouncy Castle (libbcprov-java libbcpkix-java libbcutil-java) or a JDK is not installed")
    return bc_ers.build(tmp_path_factory.mktemp("ers-classes"))


@pytest.fixture(scope="session")
def rgw() -> dict:
    """The real Ceph RGW (S3 with Object Lock) that scripts/test starts: endpoint and credentials."""
    endpoint = service_env("VAULT_TEST_S3_ENDPOINT", "no Ceph RGW")
    return {"endpoint": endpoint, "access_key": os.environ["VAULT_TEST_S3_ACCESS_KEY"],
            "secret_key": os.environ["VAULT_TEST_S3_SECRET_KEY"],
            "region": os.environ.get("VAULT_TEST_S3_REGION", "us-east-1")}
