"""vault.db.schema_head: a start finds the schema at head without Alembic, and migrates (with Alembic) otherwise; on
SQLite and PostgreSQL."""

from __future__ import annotations

from tests.test_migrations import engine  # noqa: F401 — the fixture: an engine on an empty database
from vault.db.migrate import current_revision, downgrade, head_revision
from vault.db.schema_head import VERSIONS, at_head, declared_head, migrate_at_start


def test_the_declared_head_is_alembics():
    assert declared_head() == head_revision()


def test_a_start_migrates_only_a_schema_behind_head(engine):  # noqa: F811
    assert not at_head(engine)  # no alembic_version table yet
    migrate_at_start(engine)
    assert current_revision(engine) == head_revision() and at_head(engine)
    previous = sorted(p.name[:4] for p in VERSIONS.glob("[0-9]*.py"))[-2]
    downgrade(engine, previous)
    assert not at_head(engine)
    migrate_at_start(engine)
    assert at_head(engine)


def _migration(path, revision, down):
    path.write_text(f'"""x"""\n\nrevision = "{revision}"\ndown_revision = {down}\n', encoding="utf-8")


def test_anything_but_one_plain_chain_is_left_to_alembic(tmp_path):
    _migration(tmp_path / "0001_a.py", "0001", "None")
    _migration(tmp_path / "0002_b.py", "0002", '"0001"')
    assert declared_head(tmp_path) == "0002"
    _migration(tmp_path / "0003_c.py", "0003", '"0001"')  # two heads
    assert declared_head(tmp_path) is None
    _migration(tmp_path / "0004_merge.py", "0004", '("0002", "0003")')  # a merge
    assert declared_head(tmp_path) is None
    (tmp_path / "0004_merge.py").unlink()
    _migration(tmp_path / "0003_c.py", "0003", '"0002"')
    (tmp_path / "0005_odd.py").write_text("revision = make()\n", encoding="utf-8")
    assert declared_head(tmp_path) is None
