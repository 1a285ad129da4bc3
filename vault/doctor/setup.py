"""Configuration: the settings parse, the stores and the quorum agree, the retention policies load."""

from __future__ import annotations

from datetime import datetime

from vault.doctor.report import ERROR, OK, WARNING, Finding
from vault.retention.policy import load_policies
from vault.settings import Settings, SettingsError
from vault.storage.copies import StoreSpecError, parse_store


def settings_or_finding(env: dict[str, str] | None = None) -> tuple[Settings | None, Finding]:
    """The settings of ``env`` (the process environment by default), or the error that stops every other check."""
    try:
        return Settings.from_env(env), Finding("config.settings", OK, "every VAULT_* setting parses")
    except SettingsError as exc:
        return None, Finding("config.settings", ERROR, str(exc), "fix that variable (docs/operations.md, Settings)")


def check_configuration(settings: Settings, now: datetime) -> list[Finding]:
    from vault.composition import copy_quorum

    findings = []
    stores = 1 + len(settings.stores)
    try:
        quorum = copy_quorum(settings)
    except SettingsError as exc:
        quorum = settings.copy_quorum
        findings.append(Finding("config.quorum", ERROR, str(exc), "lower VAULT_COPY_QUORUM or add VAULT_STORES"))
    for text in settings.stores:
        try:
            parse_store(text)
        except StoreSpecError as exc:
            findings.append(Finding("config.stores", ERROR, f"VAULT_STORES: {exc}", "fix that store's URL"))
    if settings.tsa_urls and settings.tsa_roots is None:
        findings.append(Finding("config.tsa", ERROR, "VAULT_TSA_URLS is set without VAULT_TSA_ROOTS",
                                "point VAULT_TSA_ROOTS at a PEM file with the trust roots of those TSAs"))
    try:
        load_policies(settings.policies_dir)
    except Exception as exc:  # noqa: BLE001 — PolicyError and unreadable files alike stop the service at start
        findings.append(Finding("config.policies", ERROR, f"retention policies do not load: {exc}",
                                f"fix the policy files in {settings.policies_dir}"))
    if not settings.tsa_urls:
        findings.append(Finding("config.tsa", WARNING, "the built-in development TSA seals the deposits",
                                "set VAULT_TSA_URLS and VAULT_TSA_ROOTS to a qualified TSA for production"))
    if not findings:
        findings.append(Finding("config", OK, f"{stores} store(s), copy quorum {quorum}, policies load"))
    return findings
