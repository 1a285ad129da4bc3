"""Settings declared once (vault/settings.py): the environment is read through the declarations, docs/operations.md's
table is generated from them, and a secret's value is never shown (repr, errors, ``vault settings --values``)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from vault.cli.main import main
from vault.settings import Settings, SettingsError, declared
from vault.settings_doc import DOC, documented_table, settings_table

SECRETS = {"VAULT_ADMIN_KEY": "admin-key-never-shown-0123456789",
           "VAULT_TSA_USERNAME": "tsa-user-never-shown", "VAULT_TSA_PASSWORD": "tsa-password-never-shown",
           "VAULT_DATABASE_URL": "postgresql+psycopg://vault:db-password-never-shown@127.0.0.1:9/vault",
           "VAULT_STORES": "s3://AK:s3-secret-never-shown@127.0.0.1:9/bucket"}


def test_the_documented_table_is_the_declared_one():
    assert documented_table(DOC.read_text()) == settings_table(), \
        "docs/operations.md's settings table differs from vault/settings.py: run python -m vault.settings_doc"


def test_every_field_is_a_declared_setting_named_after_it():
    names = {f.name for f in fields(Settings)} - {"extra_env"}
    assert {f.name for _, f, _ in declared()} == names
    assert all(variable == "VAULT_" + f.name.upper() and spec.doc for variable, f, spec in declared())
    assert len(names) >= 45


def test_unset_and_empty_give_the_declared_defaults():
    defaults = Settings()
    assert Settings.from_env({}) == defaults
    assert Settings.from_env({variable: "" for variable, _, _ in declared()}) == defaults
    assert (defaults.port, defaults.seal_interval, defaults.key_rotation_overlap) == (8000, 10.0, "PT24H")
    assert defaults.copy_quorum is None and defaults.tls_cert is None and defaults.log_format == "text"


def test_values_are_parsed_to_their_types(tmp_path):
    settings = Settings.from_env({
        "VAULT_DATA_DIR": str(tmp_path), "VAULT_PORT": "9000", "VAULT_SEAL_INTERVAL": "2.5",
        "VAULT_TSA_URLS": " http://a/ , ,http://b/", "VAULT_WEAK_HASHES": "SHA-256", "VAULT_COPY_QUORUM": "2",
        "VAULT_FORWARDED_ALLOW_IPS": "10.0.0.1, 10.0.0.2", "VAULT_TRUST_DIR": str(tmp_path),
        "VAULT_LOG_FORMAT": "json"})
    assert settings.data_dir == tmp_path and settings.trust_dir == tmp_path and settings.blob_dir == tmp_path / "blobs"
    assert (settings.port, settings.seal_interval, settings.copy_quorum) == (9000, 2.5, 2)
    assert settings.tsa_urls == ("http://a/", "http://b/") and settings.weak_hashes == ("sha256",)
    assert settings.forwarded_allow_ips == "10.0.0.1,10.0.0.2" and settings.log_format == "json"
    assert settings.with_(port=1).port == 1 and settings.port == 9000


@pytest.mark.parametrize("variable, value, message", [
    ("VAULT_PORT", "eighty", "VAULT_PORT='eighty' is not a whole number"),
    ("VAULT_PORT", "70000", "VAULT_PORT=70000 is above the maximum 65535"),
    ("VAULT_COPY_QUORUM", "0", "VAULT_COPY_QUORUM=0 is below the minimum 1"),
    ("VAULT_SEAL_INTERVAL", "nan", "VAULT_SEAL_INTERVAL=nan must be a finite number above 0"),
    ("VAULT_BACKGROUND", "cron", "VAULT_BACKGROUND='cron': use one of in-process, off"),
    ("VAULT_LOG_FORMAT", "xml", "VAULT_LOG_FORMAT='xml': use one of text, json"),
    ("VAULT_WEAK_HASHES", "sha256,crc32", "VAULT_WEAK_HASHES: "),
    ("VAULT_DISPOSAL_NOTICE", "a week", "VAULT_DISPOSAL_NOTICE: "),
    ("VAULT_CASE_REF_PATTERN", "(?P<ref>.*)", "VAULT_CASE_REF_PATTERN: the pattern needs a named group"),
    ("VAULT_CASE_CHAIN", "/nonexistent/chain.toml", "VAULT_CASE_CHAIN=/nonexistent/chain.toml: no such file"),
    ("VAULT_TRUST_DIR", "/nonexistent", "VAULT_TRUST_DIR=/nonexistent: no such directory"),
])
def test_a_bad_value_is_refused_naming_the_variable(variable, value, message):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value).startswith(message)


def test_a_secret_is_never_shown(tmp_path, capsys, monkeypatch):
    settings = Settings.from_env(SECRETS)
    assert settings.admin_key == SECRETS["VAULT_ADMIN_KEY"] and settings.stores == (SECRETS["VAULT_STORES"],)
    for variable, value in SECRETS.items():
        monkeypatch.setenv(variable, value)
    assert main(["settings", "--values"]) == 0
    shown = capsys.readouterr().out + repr(settings) + settings_table()
    assert "VAULT_ADMIN_KEY  (default —)  = (set)" in shown and "VAULT_PORT  (default 8000)  = 8000" in shown
    for value in SECRETS.values():
        assert value not in shown and value.split("@")[0].split(":")[-1] not in shown


def test_a_secret_refused_by_its_parser_is_not_quoted():
    with pytest.raises(SettingsError, match="VAULT_ADMIN_KEY is 9 characters long") as refused:
        Settings.from_env({"VAULT_ADMIN_KEY": "short-key"})
    assert "short-key" not in str(refused.value)


def test_a_bad_value_is_one_cli_line(capsys, monkeypatch):
    monkeypatch.setenv("VAULT_PORT", "eighty")
    assert main(["settings", "--values"]) == 1
    assert capsys.readouterr().err == "vault: VAULT_PORT='eighty' is not a whole number\n"
    assert main(["settings"]) == 0 and "VAULT_LOG_FORMAT  (default text)" in capsys.readouterr().out


def test_the_docs_path_is_the_repository_s():
    assert DOC == Path(__file__).resolve().parent.parent / "docs" / "operations.md"
