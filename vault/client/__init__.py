"""``vault.client`` — a typed Python client of vault's REST API for integrators and for the ``vault`` CLI.

See docs/client.md. ``VaultClient(url, key)`` deposits (streamed, idempotent, retried), downloads (streamed,
SHA-256 checked) and calls any route; refusals raise :class:`ProblemError` with the server's details.
"""

from vault.client.api import VaultClient, check
from vault.client.errors import ClientError, ConnectionFailed, DigestMismatch, ProblemError
from vault.client.media import guess_media_type
from vault.client.retry import RetryPolicy
from vault.client.types import Download, Receipt

__all__ = ["VaultClient", "check", "ClientError", "ConnectionFailed", "DigestMismatch", "ProblemError",
           "guess_media_type", "RetryPolicy", "Download", "Receipt"]
