"""Moved to :mod:`vault_verify.hashtree` (RFC 4998 binary hash trees), in the standalone verifier distribution
(``verifier/``); this name stays so that existing imports keep working."""

from vault_verify.hashtree import *  # noqa: F401,F403
