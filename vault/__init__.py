"""vault: a long-term evidence archive for registered-mail proofs, e-mail proofs and consent records."""

__version__ = "0.1.0"
