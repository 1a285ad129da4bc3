"""``vault doctor``: check this installation's configuration and health; one line per check, exit 1 on any error."""

from __future__ import annotations

from datetime import datetime, timezone


def checks() -> tuple:
    """(id, check) in the order they run. Imported here, not at the top: they bring the database layer, which the
    client commands of ``vault`` (everything but ``doctor`` and ``serve``) never need, and ``vault search`` should
    not pay a second of imports for it."""
    from vault.doctor.database import check_identity, check_migrations, check_pending
    from vault.doctor.files import check_data_dir, check_keys
    from vault.doctor.setup import check_configuration
    from vault.doctor.stores import check_space, check_stores
    from vault.doctor.tsa import check_roots, check_tsa

    return (
        ("config", check_configuration),
        ("files.data-dir", check_data_dir),
        ("files.keys", check_keys),
        ("tsa.reachable", check_tsa),
        ("trust.roots", check_roots),
        ("db.schema", check_migrations),
        ("keys.identity", check_identity),
        ("stores", check_stores),
        ("disk.free", check_space),
        ("pending", check_pending),
    )


def cmd_doctor(args) -> int:
    from vault.doctor.report import DoctorReport, run_checks
    from vault.doctor.setup import settings_or_finding

    settings, parsed = settings_or_finding()
    findings = [parsed]
    if settings is not None:
        findings += run_checks(checks(), settings, datetime.now(timezone.utc), args.timeout)
    report = DoctorReport(findings)
    print(report.render_json() if args.json else report.render_text())
    return report.exit_status()


def add_parsers(sub) -> None:
    doctor = sub.add_parser("doctor", help="check the configuration, file modes, keys, TSA, trust roots, schema, "
                                           "stores, clock, free space and pending work (exit 1 on any error)")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.add_argument("--timeout", type=float, default=15.0, help="seconds each check may take (default 15)")
    doctor.set_defaults(local=cmd_doctor)
