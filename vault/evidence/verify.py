"""Moved to :mod:`vault_verify.ers` (the RFC 4998 evidence-record verifier), in the standalone verifier distribution
(``verifier/``); this name stays so that existing imports keep working."""

from vault_verify.ers import *  # noqa: F401,F403
