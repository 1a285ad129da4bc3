"""Roles and what each may do. Pure: no I/O, so the rules are tested as a table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

ALL_TENANTS = "*"
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Role(str, Enum):
    DEPOSITOR = "depositor"
    ARCHIVIST = "archivist"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Permission(str, Enum):
    DEPOSIT = "deposit"
    READ_METADATA = "read_metadata"
    READ_CONTENT = "read_content"
    SEARCH = "search"
    MANAGE_KEYS = "manage_keys"
    READ_JOURNAL = "read_journal"
    ERASE_PERSONAL_DATA = "erase_personal_data"
    EXPORT_EVIDENCE = "export_evidence"
    MANAGE_SEALS = "manage_seals"
    READ_RETENTION = "read_retention"
    MANAGE_RETENTION = "manage_retention"
    MANAGE_HOLDS = "manage_holds"
    DISPOSE = "dispose"
    VETO_DISPOSAL = "veto_disposal"
    READ_ALERTS = "read_alerts"
    READ_POLICIES = "read_policies"
    READ_KPIS = "read_kpis"
    RECTIFY_METADATA = "rectify_metadata"  # correct an object's metadata, erase its personal values (issue 22)
    RESTRICT_PROCESSING = "restrict_processing"  # GDPR art. 18 (issue 22)


# Destruction and legal holds are archivists' acts (four eyes between two of them for destruction); an admin, who
# issues the keys, may take part in neither.
ARCHIVIST_ONLY = frozenset({Permission.DISPOSE, Permission.MANAGE_HOLDS, Permission.RECTIFY_METADATA,
                            Permission.RESTRICT_PROCESSING})

# Operations over the whole platform: only a key whose scope is every tenant (``*``) may use them.
PLATFORM_ONLY = frozenset({Permission.MANAGE_SEALS, Permission.ERASE_PERSONAL_DATA})


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.DEPOSITOR: frozenset({Permission.DEPOSIT, Permission.READ_METADATA, Permission.READ_CONTENT, Permission.SEARCH,
                               Permission.EXPORT_EVIDENCE, Permission.READ_POLICIES}),
    Role.ARCHIVIST: frozenset({Permission.READ_METADATA, Permission.READ_CONTENT, Permission.SEARCH,
                               Permission.EXPORT_EVIDENCE, Permission.READ_RETENTION, Permission.MANAGE_RETENTION,
                               Permission.MANAGE_HOLDS, Permission.DISPOSE, Permission.VETO_DISPOSAL,
                               Permission.READ_ALERTS, Permission.READ_POLICIES, Permission.READ_KPIS,
                               Permission.RECTIFY_METADATA, Permission.RESTRICT_PROCESSING}),
    Role.AUDITOR: frozenset({Permission.READ_METADATA, Permission.SEARCH, Permission.READ_JOURNAL,
                             Permission.EXPORT_EVIDENCE, Permission.READ_RETENTION, Permission.VETO_DISPOSAL,
                             Permission.READ_ALERTS, Permission.READ_POLICIES, Permission.READ_KPIS}),
    Role.ADMIN: frozenset(Permission) - ARCHIVIST_ONLY - {Permission.VETO_DISPOSAL},
}

# Keys of these roles act for a named person (``holder``): four eyes counts holders, not keys.
PERSONAL_ROLES = frozenset({Role.ADMIN, Role.ARCHIVIST, Role.AUDITOR})


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key id, its role, and the tenant it is bound to (``*`` for every tenant)."""

    key_id: str
    role: Role
    tenant: str
    holder: str | None = None
    created_at: datetime | None = None

    def may(self, permission: Permission) -> bool:
        """The role grants ``permission`` and, for a platform-wide one, the key's scope is every tenant."""
        return permission in GRANTS[self.role] and (permission not in PLATFORM_ONLY or self.all_tenants)

    @property
    def person(self) -> str:
        """Who acts: the holder, or the key itself for keys that name none (depositors, old keys)."""
        return self.holder or f"key:{self.key_id}"

    def sees_tenant(self, tenant: str) -> bool:
        return self.tenant == ALL_TENANTS or self.tenant == tenant

    @property
    def all_tenants(self) -> bool:
        return self.tenant == ALL_TENANTS


def issuance_refusal(issuer: Principal, role: Role, tenant: str) -> str | None:
    """Why ``issuer`` may not issue (or manage) a key of ``role`` for ``tenant``, or None when it may.

    A key's tenant is its scope, ``*`` the whole platform. Only admins manage keys; a tenant admin only inside its
    tenant and never an admin key (a key as wide as its own could issue more); a platform admin anything.
    """
    if issuer.role != Role.ADMIN:
        return f"role {issuer.role.value} may not manage keys"
    if issuer.all_tenants:
        return None
    if tenant != issuer.tenant:
        return f"a tenant admin manages keys of its own tenant {issuer.tenant!r} only"
    if role == Role.ADMIN:
        return "only a platform admin (tenant '*') issues or manages admin keys"
    return None


def valid_tenant(tenant: str, role: Role) -> bool:
    """A tenant name, or ``*`` for the roles that may work across tenants (never a depositor)."""
    if tenant == ALL_TENANTS:
        return role != Role.DEPOSITOR
    return bool(_TENANT.match(tenant))
