"""Every ``VAULT_*`` setting in one typed place, each declared once, with defaults for the embedded setup.

A field of :class:`Settings` declared with :func:`setting` is one setting: its variable is ``VAULT_`` + the field
name in capitals, and the declaration gives its default, the parser that checks a value read from the environment
(:mod:`vault.settings_types`) and the one line of doc shown by ``vault settings`` and ``docs/operations.md``
(``python -m vault.settings_doc`` rewrites that table). A new setting is one more line at the end of the class::

    alert_window: str = setting("PT15M", duration, "window of the technical-failure rate (ISO 8601 duration)")

(``secret=True`` for a value that must never be shown: it is left out of ``repr`` and of error messages.)

Domain code never reads this object: the composition root (:mod:`vault.app`) passes each service what it needs.
"""

from __future__ import annotations

import os
from dataclasses import Field, dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

from vault.settings_types import (
    Parser, SettingsError, algorithm, algorithms, api_key, boolean, case_ref_regex, choice, comma_joined, comma_list,
    duration, duration_of, duration_within, existing_dir, existing_file, http_urls, integer, path, positive_number,
    passphrase, readable_file, share, smtp_url, text,
)

__all__ = ["Settings", "SettingsError", "Spec", "declared", "duration_of", "setting"]

PREFIX = "VAULT_"
MiB = 1024 * 1024


@dataclass(frozen=True)
class Spec:
    """How one setting is read and documented: ``shown_default`` replaces the default in the docs when the real
    default is computed elsewhere (for instance from the data directory)."""

    parse: Parser
    doc: str
    secret: bool = False
    shown_default: str | None = None


def setting(default: Any, parse: Parser, doc: str, *, secret: bool = False, shown_default: str | None = None) -> Any:
    """A field of :class:`Settings` that is a ``VAULT_*`` variable (unset or empty: ``default``)."""
    return field(default=default, repr=not secret, metadata={"setting": Spec(parse, doc, secret, shown_default)})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = setting(Path("var"), path, "data directory (0700, files 0600, tightened at start: "
                             "[deployment.md](deployment.md)): `vault.db` (SQLite), `blobs/`, `admin.key`")
    host: str = setting("127.0.0.1", text, "address the API listens on")
    port: int = setting(8000, integer(0, 65535), "port the API listens on")
    database_url: str = setting("", text, "the database: SQLite by default, or "
                                "`postgresql+psycopg://user:pass@host:port/db`", secret=True,
                                shown_default="`sqlite:///$VAULT_DATA_DIR/vault.db`")
    policies_dir: Path = setting(Path("policies"), path, "directory of retention policy files (`*.toml`)")
    admin_key: str | None = setting(None, api_key, "if set (≥ 24 characters, checked at start), this value is an "
                                    "admin key (all tenants)", secret=True)
    max_upload_bytes: int = setting(256 * MiB, integer(1), "largest deposit request body; larger gets 413")
    max_metadata_bytes: int = setting(64 * 1024, integer(256), "largest `metadata` field")
    orphan_grace_seconds: int = setting(900, integer(), "age before an unreferenced blob or temp file is swept")
    write_batch_max: int = setting(256, integer(1), "most units of work committed in one database transaction, "
                                   "and most access events one shared journal unit takes")
    commit_delay_ms: int = setting(2, integer(), "how long the database writer may wait, before it begins a "
                                   "transaction, for deposits still being received (PostgreSQL's `commit_delay` "
                                   "with `commit_siblings`: it never waits when none is on its way; 0 turns it off)")
    instance: str = setting("local", text, "instance name in the journal's checkpoint origin "
                            "`vault.<instance>/journal`")
    checkpoint_interval: int = setting(5, integer(1), "seconds between signed journal checkpoints (when the "
                                       "journal grew)")
    tsa_urls: tuple[str, ...] = setting((), comma_list, "RFC 3161 TSAs, comma-separated, tried in order",
                                        shown_default="— (built-in development TSA)")
    tsa_roots: Path | None = setting(None, existing_file, "PEM file with the trust roots of those TSAs (required "
                                     "with `VAULT_TSA_URLS`)")
    tsa_policy: str | None = setting(None, text, "TSA policy OID to ask for; tokens under another policy are "
                                     "refused")
    tsa_username: str | None = setting(None, text, "HTTP Basic user name for the TSAs", secret=True)
    tsa_password: str | None = setting(None, text, "HTTP Basic password for the TSAs", secret=True)
    seal_interval: float = setting(10.0, positive_number, "seconds between seal batches (sooner when "
                                   "`VAULT_SEAL_BATCH_MAX` deposits wait)")
    seal_batch_max: int = setting(100_000, integer(1), "most leaves in one seal or renewal tree (one TSA call "
                                  "each)")
    seal_hash: str = setting("sha256", algorithm, "hash algorithm of new seal batches (`sha256`, `sha384`, "
                             "`sha512`, `sha3-256`, `sha3-384`, `sha3-512`)")
    weak_hashes: tuple[str, ...] = setting((), algorithms, "algorithms the crypto policy marks as weakening: "
                                           "hash-tree renewal to a stronger one")
    renewal_margin_days: int = setting(180, integer(1), "renew a chain this long before its newest TSA "
                                       "certificate expires")
    reseal_interval_days: int = setting(730, integer(1), "renew a chain whose newest token is older than this")
    anchor_interval: float = setting(3600.0, positive_number, "seconds between RFC 3161 anchors of the journal's "
                                     "newest checkpoint (at most a day), counted from the last anchor stored "
                                     "(restarts do not reset it); an anchor is also made at start when the last is "
                                     "older, and at a clean shutdown")
    stores: tuple[str, ...] = setting((), comma_list, "S3 stores holding more copies: "
                                      "`s3://KEY:SECRET@host:port/bucket?name=…&region=…&tls=0`, comma-separated "
                                      "([deployment.md](deployment.md))", secret=True)
    copy_quorum: int | None = setting(None, integer(1), "stores that must hold a deposit before it is answered",
                                      shown_default="2 when `VAULT_STORES` is set, else 1")
    lock_margin_days: int = setting(30, integer(), "added to every S3 COMPLIANCE retention date")
    copy_interval: float = setting(30.0, positive_number, "seconds between passes completing missing copies")
    audit_interval: float = setting(86400.0, positive_number, "seconds between scheduled sampled fixity audits")
    audit_sample: int = setting(1000, integer(1), "objects read by each scheduled fixity audit")
    audit_rate_bytes: int = setting(50 * MiB, integer(1024), "bytes per second a scheduled fixity audit reads at "
                                    "most")
    background: str = setting("in-process", choice("in-process", "off"), "`off` on API replicas when "
                              "`vault worker` processes run the background jobs")
    trust_dir: Path | None = setting(None, existing_dir, "trust anchors for signature validation at deposit: PEM "
                                     "or DER certificates, re-read when the directory changes "
                                     "([validation.md](validation.md))", shown_default="`$VAULT_DATA_DIR/trust`")
    case_chain: Path | None = setting(None, existing_file, "a TOML file defining the expected chain of a case",
                                      shown_default="(the LRE chain)")
    case_ref_pattern: str | None = setting(None, case_ref_regex, "a regular expression with `(?P<case_ref>…)`: "
                                           "deposits without `case_ref` take it from their message identifier")
    validate_max_bytes: int = setting(64 * MiB, integer(), "files larger than this are stored without signature "
                                      "validation")
    key_rotation_overlap: str = setting("PT24H", duration, "how long a rotated key's previous secret keeps "
                                        "working (ISO 8601 duration)")
    disposal_key_min_age: str = setting("P7D", duration, "a key younger than this can neither approve nor execute "
                                        "a destruction (403 `key-too-recent`)")
    disposal_notice: str = setting("P7D", duration, "an approved disposal batch is executable only after this; "
                                   "until then it can be vetoed (409 `notice-period`)")
    body_timeout: float = setting(60.0, positive_number, "seconds a request body may pause between chunks before "
                                  "408 `body-timeout` (the partial deposit is discarded) "
                                  "([deployment.md](deployment.md))")
    tls_cert: Path | None = setting(None, readable_file, "PEM certificate chain: serve HTTPS directly, with "
                                    "`VAULT_TLS_KEY` ([deployment.md](deployment.md))")
    tls_key: Path | None = setting(None, readable_file, "PEM private key of `VAULT_TLS_CERT` (both or neither)")
    forwarded_allow_ips: str = setting("", comma_joined, "proxies whose `X-Forwarded-For`/`-Proto` are believed, "
                                       "comma-separated ([deployment.md](deployment.md))",
                                       shown_default="— (nobody)")
    min_free_bytes: int | None = setting(None, integer(), "below this many free bytes deposits are refused (507) "
                                         "and `/ready` is 503, keeping room for the journal so reads are still "
                                         "traced", shown_default="1 GiB or 5 % of the data filesystem, whichever "
                                         "is lower")
    metrics_tenants: int = setting(100, integer(0, 10_000), "tenants named in `/metrics` labels (the first to "
                                   "deposit since start); the others are summed as `tenant=\"other\"`")
    tsa_probe_interval: int = setting(300, integer(1), "seconds without a real TSA exchange after which `/ready` "
                                      "asks one probe token (at most one per interval)")
    ready_probe_interval: int = setting(30, integer(1), "seconds between the background probes of the stores and "
                                        "copies behind `/ready`")
    alert_evaluation_interval: str = setting("PT30S", duration_within(timedelta(seconds=1), timedelta(seconds=30)),
                                             "how often the embedded alert rules run (PT1S to PT30S: an alert fires "
                                             "within a minute)")
    alert_window: str = setting("PT15M", duration_within(timedelta(seconds=1), timedelta(hours=1)),
                                "window of the technical-failure rate (PT1S to PT1H: deposit outcomes keep an hour)")
    technical_failure_threshold: float = setting(0.01, share, "share of failed deposits (failed / (stored + failed), "
                                                 "at least 20 in the window) above which `VaultTechnicalFailureRate` "
                                                 "fires")
    alert_webhooks: tuple[str, ...] = setting((), http_urls, "URLs that firing and resolved alerts are POSTed to "
                                              "(Alertmanager webhook payload, version 4), comma-separated",
                                              secret=True)
    alert_webhook_secret: str | None = setting(None, text, "key of the `X-Vault-Signature: sha256=<hex>` HMAC over "
                                               "each webhook body", secret=True)
    smtp_url: str | None = setting(None, smtp_url, "SMTP server for alert e-mails: `smtp://[user:pw@]host[:port]"
                                   "[?starttls=true]` or `smtps://…`", secret=True)
    alert_emails: tuple[str, ...] = setting((), comma_list, "alert e-mail recipients, comma-separated (needs "
                                            "`VAULT_SMTP_URL`)", secret=True)
    alert_email_from: str | None = setting(None, text, "sender of alert e-mails", shown_default="`vault@<hostname>`")
    backup_passphrase: str | None = setting(None, passphrase, "seals the data directory's keys in a backup (scrypt → "
                                            "AES-256-GCM); required by `vault backup` and `vault restore`; keep it "
                                            "apart from the backups", secret=True)
    log_format: str = setting("text", choice("text", "json"), "`json`: one JSON object per log line, and one "
                              "access line per request (request id, tenant, route template, status, duration)")
    console_idle_timeout: str = setting("PT30M", duration, "a console session (`/ui/`) ends after this long without "
                                        "a request ([console.md](console.md))")
    test_clock_file: Path | None = setting(None, path, "**tests only, never in production**: the server's clock runs "
                                           "this file's number of seconds ahead of the system's (browser tests of "
                                           "the disposal notice period); unset, the system clock")
    lre_consent_purpose: str = setting("lre", text, "the consent purpose an LRE case to a consumer is checked "
                                       "against when it names no `consent_ref` ([api.md](api.md#cases))")
    db_pool_size: int = setting(8, integer(1, 1000), "connections each process keeps open to the database for "
                                "reads (as many more may open under load); PostgreSQL's `max_connections` must cover "
                                "every replica's pool")
    s3_max_connections: int = setting(10, integer(1, 1000), "HTTP connections each process keeps to each S3 store")
    upload_concurrency: int = setting(8, integer(1, 256), "copies to the S3 stores that run at once in each "
                                      "process; a deposit's copies go to its stores in parallel")
    multipart_threshold: int = setting(16 * 1024 * 1024, integer(5 * 1024 * 1024), "bytes from which a copy goes "
                                       "to S3 as a multipart upload (its COMPLIANCE lock is set once it is complete)")
    keys_dir: Path | None = setting(None, path, "directory of the keys every replica shares (journal signing key, "
                                    "pseudonym key, archive key, PDF certificate): a mounted secret on several "
                                    "hosts, read-only once the keys exist ([deployment.md](deployment.md))",
                                    shown_default="`$VAULT_DATA_DIR`")
    sandbox: bool = setting(False, boolean, "a sandbox instance: a clock the platform admin moves forward, the "
                            "built-in TSA only, everything issued marked \"SANDBOX — no probative value\"; a data "
                            "directory is sandbox or not for good ([sandbox.md](sandbox.md))", shown_default="`false`")
    local_store_name: str = setting("local", text, "name this host's local file store is recorded under in the "
                                    "copies of a shared database: give each host its own when several hosts share "
                                    "one PostgreSQL ([deployment.md](deployment.md))")
    format_identification: bool = setting(True, boolean, "run the background PRONOM format pass (FIDO in a "
                                          "`nice 19` child process); `false` leaves new deposits' formats "
                                          "`pending` until a process with it on catches up (benchmarks)",
                                          shown_default="`true`")
    extra_env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def effective_trust_dir(self) -> Path:
        """Trust anchors for signature validation (certificates, PEM or DER): ``VAULT_TRUST_DIR`` or ``$DATA/trust``."""
        return self.trust_dir or self.data_dir / "trust"

    @property
    def effective_keys_dir(self) -> Path:
        """Where the shared keys are read (and made on the first start): ``VAULT_KEYS_DIR`` or the data dir."""
        return self.keys_dir or self.data_dir

    @property
    def tsa_dir(self) -> Path:
        """Keys and certificates of the built-in development TSA."""
        return self.data_dir / "tsa"

    @property
    def journal_origin(self) -> str:
        """The checkpoint origin line and note key name (c2sp.org/tlog-checkpoint)."""
        return f"vault.{self.instance}/sandbox" if self.sandbox else f"vault.{self.instance}/journal"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vault.db').resolve()}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        """Read the ``VAULT_*`` variables; unknown values raise :class:`SettingsError` naming the variable."""
        env = dict(os.environ if env is None else env)
        values = {f.name: _parsed(name, env[name], spec) for name, f, spec in declared() if env.get(name)}
        settings = cls(**values)
        if (settings.tls_cert is None) != (settings.tls_key is None):
            given, missing = ("VAULT_TLS_CERT", "VAULT_TLS_KEY")[::1 if settings.tls_cert else -1]
            raise SettingsError(f"{given} is set but {missing} is not: give both to serve HTTPS, or neither")
        if settings.alert_emails and not settings.smtp_url:
            raise SettingsError("VAULT_ALERT_EMAILS is set but VAULT_SMTP_URL is not: give the SMTP server to send "
                                "through")
        return settings

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def declared() -> Iterator[tuple[str, Field, Spec]]:
    """``(variable, field, spec)`` of every setting, in declaration order."""
    for f in fields(Settings):
        if "setting" in f.metadata:
            yield PREFIX + f.name.upper(), f, f.metadata["setting"]


def _parsed(name: str, raw: str, spec: Spec) -> Any:
    try:
        return spec.parse(name, raw)
    except SettingsError as exc:
        if spec.secret and raw in str(exc):  # a parser's message quoted the value: never echo a secret
            raise SettingsError(f"{name}: the value given cannot be used") from None
        raise
