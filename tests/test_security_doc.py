"""docs/security.md's route × role table is the authorization table of the code (vault/api/access.py + GRANTS).

``python -m tests.test_security_doc`` rewrites the table in the document after a route or a grant changed.
"""

from __future__ import annotations

import sys

from tests.server_process import ROOT
from vault.api.access import ROUTES, RouteRule
from vault.auth.roles import Role
from vault.doc_blocks import block, with_block

DOC = ROOT / "docs" / "security.md"
BEGIN, END = "<!-- access-table: begin -->", "<!-- access-table: end -->"


def cell(rule: RouteRule, role: Role) -> str:
    if rule.public:
        return "public"
    if role not in rule.roles:
        return ""
    return "✓ `*`" if rule.platform_only else "✓"


def access_table() -> str:
    """One row per route, in the table's order: the permissions it needs and, per role, whether it may call it."""
    roles = list(Role)
    lines = ["| Route | Needs | " + " | ".join(r.value for r in roles) + " |",
             "|---|---|" + "---|" * len(roles)]
    for rule in ROUTES.values():
        needs = ", ".join(p.value for p in rule.permissions) or "—"
        lines.append(f"| `{rule.method} {rule.path}` | {needs} | " + " | ".join(cell(rule, r) for r in roles) + " |")
    return "\n".join(lines)


def documented_table(text: str) -> str:
    return block(text, BEGIN, END)


def with_table(text: str) -> str:
    return with_block(text, BEGIN, END, access_table())


def test_the_documented_table_is_the_code_table():
    assert documented_table(DOC.read_text()) == access_table(), \
        "docs/security.md's route table differs from vault/api/access.py: run python -m tests.test_security_doc"


def test_the_table_shows_the_rules_that_matter():
    """Spot checks that would catch a rendering that hides what the threat model relies on."""
    rows = {}
    for line in access_table().splitlines()[2:]:
        route, needs, *cells = [c.strip() for c in line.strip("|").split("|")]
        rows[route.strip("`")] = (needs, cells)
    assert rows["POST /v1/disposal/batches/{batch_id}/approve"] == ("dispose", ["", "✓", "", ""])  # archivists only
    assert rows["POST /v1/admin/reseal"] == ("manage_seals", ["", "", "", "✓ `*`"])                 # platform admins
    assert rows["POST /v1/keys"] == ("manage_keys", ["", "", "", "✓"])
    assert rows["GET /health"] == ("—", ["public"] * 4)
    assert len(rows) == len(ROUTES)


if __name__ == "__main__":
    DOC.write_text(with_table(DOC.read_text()))
    print(f"rewrote the access table in {DOC}", file=sys.stderr)
