"""Whether a database's schema is already at the newest migration, found without Alembic: importing Alembic (with
Mako and Pygments behind it) is ~0.1 s of every start, and a restart, a replica or a test server almost always finds
nothing to migrate. When the schema is not provably at head, :func:`migrate_at_start` runs Alembic as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

VERSIONS = Path(__file__).with_name("migrations") / "versions"
_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*[\"'](\w+)[\"']\s*$", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)
_ONE = re.compile(r"[\"'](\w+)[\"']")


def declared_head(versions: Path = VERSIONS) -> str | None:
    """The one revision that no migration file revises (each file's ``revision`` and ``down_revision`` lines), or
    None when the files are not one plain chain (a merge, a branch, a line not understood): Alembic decides then."""
    revisions, revised = set(), set()
    for path in versions.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None and down is None and path.name == "__init__.py":
            continue
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1) != "None":
            one = _ONE.fullmatch(down.group(1))
            if one is None:
                return None
            revised.add(one.group(1))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 and revised <= revisions else None


def at_head(engine: Engine) -> bool:
    """True when ``alembic_version`` holds exactly the declared head; False when it does not or cannot be read (a
    fresh database, an unreachable one: then Alembic runs and says why)."""
    head = declared_head()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return False
    return versions == [head]


def migrate_at_start(engine: Engine) -> None:
    """Bring the schema to head (:func:`vault.db.migrate.upgrade`, serialized across replicas) unless it is there."""
    if not at_head(engine):
        from vault.db.migrate import upgrade  # Alembic only when there is something to do (see the module's doc)

        upgrade(engine)
