"""Moved to :mod:`vault_verify.canonical` (RFC 8785 canonical JSON), in the standalone verifier distribution
(``verifier/``); this name stays so that existing imports keep working."""

from vault_verify.canonical import *  # noqa: F401,F403
