"""Alembic environment: the URL and the connection come from :mod:`vault.db.migrate`, never from alembic.ini."""

from alembic import context

from vault.db.tables import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through vault.db.migrate.upgrade(), which passes a connection")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
