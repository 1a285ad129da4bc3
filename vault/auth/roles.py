"""Roles and what each may do. Pure: no I/O, so the rules are tested as a table."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


# Destruction is four-eyes between archivists: no other role, admin included, may propose, approve or execute it.
ARCHIVIST_ONLY = frozenset({Permission.DISPOSE})


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.DEPOSITOR: frozenset({Permission.DEPOSIT, Permission.READ_METADATA, Permission.READ_CONTENT, Permission.SEARCH,
                               Permission.EXPORT_EVIDENCE}),
    Role.ARCHIVIST: frozenset({Permission.READ_METADATA, Permission.READ_CONTENT, Permission.SEARCH,
                               Permission.EXPORT_EVIDENCE, Permission.READ_RETENTION, Permission.MANAGE_RETENTION,
                               Permission.MANAGE_HOLDS, Permission.DISPOSE}),
    Role.AUDITOR: frozenset({Permission.READ_METADATA, Permission.SEARCH, Permission.READ_JOURNAL,
                             Permission.EXPORT_EVIDENCE, Permission.READ_RETENTION}),
    Role.ADMIN: frozenset(Permission) - ARCHIVIST_ONLY,
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key id, its role, and the tenant it is bound to (``*`` for every tenant)."""

    key_id: str
    role: Role
    tenant: str

    def may(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]

    def sees_tenant(self, tenant: str) -> bool:
        return self.tenant == ALL_TENANTS or self.tenant == tenant

    @property
    def all_tenants(self) -> bool:
        return self.tenant == ALL_TENANTS


def valid_tenant(tenant: str, role: Role) -> bool:
    """A tenant name, or ``*`` for the roles that may work across tenants (never a depositor)."""
    if tenant == ALL_TENANTS:
        return role != Role.DEPOSITOR
    return bool(_TENANT.match(tenant))
