"""Backup and restore of the embedded default (SQLite and local blobs); PostgreSQL + S3: docs/operations.md."""
