"""Moved to :mod:`vault_verify.asn1` (the RFC 4998 §3 ASN.1 types), in the standalone verifier distribution
(``verifier/``); this name stays so that existing imports keep working."""

from vault_verify.asn1 import *  # noqa: F401,F403
