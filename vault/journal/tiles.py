"""Moved to :mod:`vault_verify.tiles` (C2SP tlog-tiles), in the standalone verifier distribution (``verifier/``):
a tenant auditor's offline check reads hash tiles; this name stays so that existing imports keep working."""

from vault_verify.tiles import *  # noqa: F401,F403
