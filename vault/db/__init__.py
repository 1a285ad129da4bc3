"""Database: sqlmodel tables, engines for SQLite and PostgreSQL, the group-commit writer, Alembic migrations."""
