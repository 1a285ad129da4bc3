"""``vault identity accept --yes --reason TEXT``: record the archive's keys after a deliberate key change.

A replica refuses to start when the keys of its ``VAULT_KEYS_DIR`` differ from the fingerprints the database
recorded (:mod:`vault.identity`). After a deliberate rotation, with every replica stopped and the new keys in place,
this records their fingerprints and journals the change (``identity_keys_accepted``, old and new fingerprint of
each key changed, with the reason) in one transaction (docs/operations.md, Changing the archive's keys). When the
journal signing key changed, the entry also carries the old and new verifier keys, and a checkpoint holding it is
signed by the new key and, given the old private key, co-signed by it (docs/journal.md, Key changes).
"""

from __future__ import annotations

import argparse
import json

from vault.cli.client import CliError, data_dir_settings


def cmd_identity_accept(args) -> int:

    from vault.app import _PG_JOURNAL_LOCK
    from vault.clock import SystemClock
    from vault.db.engine import is_sqlite, make_engine
    from vault.db.migrate import upgrade
    from vault.identity import IdentityError, accept_keys, differences, load_identity, recorded_fingerprints
    from vault.journal.checkpoints import sign_checkpoint
    from vault.journal.entries import AccessEvent, Action, append_entry
    from vault.journal.log import lock_appends

    reason = (args.reason or "").strip()
    if not reason:
        raise CliError("say why the keys changed: --reason TEXT (it is journaled)")
    settings = data_dir_settings(args.data_dir)
    now = SystemClock().now()
    try:
        identity = load_identity(settings.effective_keys_dir, settings.journal_origin, f"vault.{settings.instance}",
                                 now)
    except IdentityError as exc:
        raise CliError(str(exc)) from None
    current = identity.fingerprints()
    url = settings.effective_database_url
    engine = make_engine(url, writer=True)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            differing = differences(recorded_fingerprints(connection), current)
        if not differing:
            raise CliError(f"the keys in {settings.effective_keys_dir} are those the database recorded: nothing to "
                           "accept")
        if not args.yes:
            raise CliError(f"{', '.join(differing)} in {settings.effective_keys_dir} differ from the recorded keys; "
                           "if the change is deliberate and every replica has the new keys, run again with --yes")
        with engine.connect() as connection:
            journal_key, cosigner = _journal_key_change(args, identity, recorded_fingerprints(connection))
        with engine.begin() as connection:
            if not is_sqlite(url):
                lock_appends(connection, _PG_JOURNAL_LOCK)
            changed = accept_keys(connection, current, now)
            detail = {"keys": changed, "reason": reason[:500], **({"journal_key": journal_key} if journal_key else {})}
            seq = append_entry(connection, AccessEvent(
                actor="local-operator", action=Action.KEYS_ACCEPTED, role="operator", tenant="*", detail=detail), now)
            if journal_key:  # the handover checkpoint: the first to hold the entry, by the new key (and the old)
                sign_checkpoint(connection, (identity.signer, *([cosigner] if cosigner else [])), now)
    finally:
        engine.dispose()
    summary = {"accepted": changed, "journal_index": seq, "reason": reason}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"new keys recorded (journal entry {seq}): {', '.join(changed)}; start the replicas")
    return 0


def _journal_key_change(args, identity, recorded: dict[str, str]):
    """For a changed journal key: the entry's ``journal_key`` (old and new verifier key, co-signed or not) and the
    old key's signer when ``--previous-journal-key`` gave its private key; (None, None) when it did not change."""
    from vault.identity import IdentityError, previous_journal_key

    old = recorded.get("journal-signing")
    if old is None or old == identity.fingerprints()["journal-signing"]:
        return None, None
    if not args.previous_journal_key:
        raise CliError("the journal signing key changed: give the replaced one with --previous-journal-key FILE (its "
                       "journal.key, to co-sign the handover, or its verifier key from GET /v1/journal/key)")
    try:
        with open(args.previous_journal_key, "rb") as handle:
            verifier, signer = previous_journal_key(handle.read(), identity.signer.name, old)
    except OSError as exc:
        raise CliError(f"--previous-journal-key: {exc.strerror or exc}") from None
    except IdentityError as exc:
        raise CliError(str(exc)) from None
    return {"old": verifier.vkey(), "new": identity.signer.verifier.vkey(), "cosigned": signer is not None}, signer


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    identity = sub.add_parser("identity", help="the archive's shared keys (VAULT_KEYS_DIR)").add_subparsers(
        dest="identity_command", required=True)
    accept = identity.add_parser("accept", parents=[common],
                                 help="record the keys of VAULT_KEYS_DIR after a deliberate key change (journaled)")
    accept.add_argument("--data-dir", required=True, help="the data directory (its database and VAULT_KEYS_DIR)")
    accept.add_argument("--reason", required=True, help="why the keys changed (journaled)")
    accept.add_argument("--yes", action="store_true", help="confirm: the change is deliberate")
    accept.add_argument("--previous-journal-key", metavar="FILE",
                        help="after a journal key change: the replaced journal.key (it co-signs the handover "
                             "checkpoint) or its verifier key (name+hash+key)")
    accept.set_defaults(local=cmd_identity_accept)
