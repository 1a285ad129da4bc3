"""Moved to :mod:`vault_verify.der` (minimal DER framing), in the standalone verifier distribution
(``verifier/``); this name stays so that existing imports keep working."""

from vault_verify.der import *  # noqa: F401,F403
