"""The settings table, rendered from the declarations in :mod:`vault.settings`: ``docs/operations.md``'s table (between
its ``settings-table`` markers) and ``vault settings``.

``python -m vault.settings_doc`` rewrites the table in the document after a setting was added or changed
(``tests/test_settings.py`` fails while it is stale).
"""

from __future__ import annotations

import sys
from dataclasses import MISSING, Field
from pathlib import Path

from vault.doc_blocks import block, with_block
from vault.settings import Settings, Spec, declared

DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
BEGIN, END = "<!-- settings-table: begin -->", "<!-- settings-table: end -->"
MiB = 1024 * 1024


def default_text(f: Field, spec: Spec) -> str:
    """The default as the docs show it (a default is code, never a secret: only set values are hidden)."""
    if spec.shown_default is not None:
        return spec.shown_default
    value = f.default if f.default is not MISSING else None
    if value in (None, "", ()):
        return "—"
    if isinstance(value, (str, Path)):
        return f"`{value}`"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and value >= MiB and value % MiB == 0:
        return f"{value} ({value // MiB} MiB)"
    return str(value)


def kind_text(spec: Spec) -> str:
    kind = getattr(spec.parse, "kind", "text")
    return f"{kind}, secret" if spec.secret else kind


def settings_table() -> str:
    """One markdown row per setting, in declaration order: variable, kind of value, default, meaning."""
    lines = ["| variable | value | default | meaning |", "|---|---|---|---|"]
    for name, f, spec in declared():
        lines.append(f"| `{name}` | {kind_text(spec)} | {default_text(f, spec)} | {spec.doc} |")
    return "\n".join(lines)


def documented_table(text: str) -> str:
    return block(text, BEGIN, END)


def with_table(text: str) -> str:
    return with_block(text, BEGIN, END, settings_table())


def current_text(settings: Settings, f: Field, spec: Spec) -> str:
    """A setting's value in ``settings`` for an operator's eyes: a secret only says whether it is set."""
    value = getattr(settings, f.name)
    if spec.secret:
        return "(set)" if value not in (None, "", ()) else "—"
    if isinstance(value, tuple):
        return ",".join(value) or "—"
    return "—" if value in (None, "") else str(value)


def listing(settings: Settings | None = None) -> str:
    """Plain text for ``vault settings``: variable, default and meaning; with ``settings``, the value in use too."""
    blocks = []
    for name, f, spec in declared():
        head = f"{name}  (default {default_text(f, spec).replace('`', '')})"
        if settings is not None:
            head += f"  = {current_text(settings, f, spec)}"
        blocks.append(f"{head}\n    {spec.doc.replace('`', '')}")
    return "\n".join(blocks)


if __name__ == "__main__":
    DOC.write_text(with_table(DOC.read_text()))
    print(f"rewrote the settings table in {DOC}", file=sys.stderr)
