"""Moved to :mod:`vault_verify.note` (C2SP signed notes and checkpoints), in the standalone verifier distribution
(``verifier/``); this name stays so that existing imports keep working."""

from vault_verify.note import *  # noqa: F401,F403
