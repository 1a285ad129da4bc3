"""Moved to :mod:`vault_verify.tokens` (RFC 3161 token parsing and verification), in the standalone verifier distribution
(``verifier/``); this name stays so that existing imports keep working."""

from vault_verify.tokens import *  # noqa: F401,F403
