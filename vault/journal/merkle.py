"""Moved to :mod:`vault_verify.merkle` (RFC 6962 Merkle hashing and proofs), in the standalone verifier distribution
(``verifier/``); this name stays so that existing imports keep working."""

from vault_verify.merkle import *  # noqa: F401,F403
