"""The services the settings describe, built for the composition root (:mod:`vault.app`) and for ``vault
doctor``, which checks the same settings without opening the archive: the S3 replicas, the copy quorum, the seal
policy, the TSA client and the embedded alerting."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import TYPE_CHECKING

from vault.clock import Clock
from vault.evidence.sealing import SealPolicy
from vault.monitoring.collect import collect
from vault.monitoring.delivery import Email, Notifier, Webhook
from vault.monitoring.evaluator import AlertEvaluator
from vault.monitoring.rules import default_rules
from vault.monitoring.tsa import TsaMeter
from vault.settings import Settings, SettingsError, duration_of
from vault.storage.copies import StoreSpecError, parse_store
from vault.timestamping.client import BUILTIN_URL, TsaClient, TsaEndpoint, builtin_transport, http_transport
from vault.timestamping.devtsa import DevelopmentTsa
from vault.timestamping.history import TsaHistory
from vault.sandbox import check_tsa
from vault_verify.tokens import DEVELOPMENT_POLICY, SANDBOX_POLICY, load_pem_roots

if TYPE_CHECKING:
    from vault.app import Vault


def replicas(settings: Settings, clock: Clock) -> list:
    """The S3 stores of ``VAULT_STORES``, their buckets checked (versioning and Object Lock) before serving."""
    if not settings.stores:
        return []
    # here, not at the top: boto's stack (~70 ms to import) serves only the scaled setup, which has VAULT_STORES
    from vault.storage.s3 import S3BlobStore, S3Location, make_client

    replicas = []
    for spec_text in settings.stores:
        try:
            spec = parse_store(spec_text)
            s3 = S3BlobStore(spec.name, make_client(S3Location(spec.endpoint, spec.bucket, spec.access_key,
                                                                spec.secret_key, spec.region),
                                                     max_connections=settings.s3_max_connections),
                             spec.bucket, settings.data_dir / "spool" / spec.name,
                             default_retention=timedelta(days=3653),
                             lock_margin=timedelta(days=settings.lock_margin_days), now=clock.now,
                             multipart_threshold=settings.multipart_threshold)
            s3.ensure_bucket()
        except StoreSpecError as exc:
            raise SettingsError(f"VAULT_STORES: {exc}") from None
        except Exception as exc:
            raise SettingsError(f"VAULT_STORES: store {spec_text.split('@')[-1]} is unusable: {exc}") from None
        replicas.append(s3)
    return replicas


def alerting(settings: Settings, vault: "Vault") -> tuple[Notifier, AlertEvaluator]:
    """The embedded alert rules over the vault's samples, notifying ``VAULT_ALERT_WEBHOOKS`` and
    ``VAULT_ALERT_EMAILS``."""
    channels: list = [Webhook(url, settings.alert_webhook_secret) for url in settings.alert_webhooks]
    if settings.alert_emails:
        sender = settings.alert_email_from or f"vault@{socket.gethostname()}"
        channels.append(Email(settings.smtp_url, sender, settings.alert_emails))
    notifier = Notifier(channels)
    window = duration_of(settings.alert_window).total_seconds()
    evaluator = AlertEvaluator(
        default_rules(settings.technical_failure_threshold, settings.alert_window),
        lambda: collect(vault),
        lambda: vault.deposit_outcomes.window(window), notifier.notify, settings.instance,
        duration_of(settings.alert_evaluation_interval).total_seconds(), wall=vault.clock.now)
    return notifier, evaluator


def copy_quorum(settings: Settings) -> int:
    """``VAULT_COPY_QUORUM``, by default two copies when there are two stores; raises SettingsError when too high."""
    stores = 1 + len(settings.stores)
    quorum = settings.copy_quorum or min(2, stores)
    if quorum > stores:
        raise SettingsError(f"VAULT_COPY_QUORUM={quorum} but only {stores} store(s) are configured")
    return quorum


def seal_policy(settings: Settings) -> SealPolicy:
    return SealPolicy(
        algorithm=settings.seal_hash, batch_max=settings.seal_batch_max,
        renewal_margin=timedelta(days=settings.renewal_margin_days),
        reseal_interval=timedelta(days=settings.reseal_interval_days), weak=frozenset(settings.weak_hashes),
    )


def tsa_client(settings: Settings, clock: Clock, history: TsaHistory,
                meter: TsaMeter) -> tuple[TsaClient, DevelopmentTsa | None]:
    """External TSAs when ``VAULT_TSA_URLS`` is set (their roots from ``VAULT_TSA_ROOTS``), else the built-in one;
    every root that validates a token is remembered in ``history``, every request counted by ``meter``."""
    check_tsa(settings.sandbox, settings.tsa_urls)
    if settings.tsa_urls:
        if settings.tsa_roots is None:
            raise SettingsError("VAULT_TSA_URLS needs VAULT_TSA_ROOTS: a PEM file with the trust roots of those TSAs")
        try:
            roots = tuple(load_pem_roots(settings.tsa_roots.read_bytes()))
        except (OSError, ValueError) as exc:
            raise SettingsError(f"VAULT_TSA_ROOTS={settings.tsa_roots}: {exc}") from None
        endpoints = [TsaEndpoint(url, roots, settings.tsa_policy, settings.tsa_username, settings.tsa_password)
                     for url in settings.tsa_urls]
        return TsaClient(endpoints, http_transport(), on_token=history.note, on_request=meter.record), None
    dev = DevelopmentTsa.load_or_create(settings.tsa_dir, clock.now,
                                        SANDBOX_POLICY if settings.sandbox else DEVELOPMENT_POLICY)
    endpoint = TsaEndpoint(BUILTIN_URL, (dev.root,), development=True)
    return (TsaClient([endpoint], builtin_transport(dev.respond, http_transport()), on_token=history.note,
                      on_request=meter.record), dev)


def configured_roots(tsa: TsaClient) -> list:
    return [root for endpoint in tsa.endpoints for root in endpoint.roots]
