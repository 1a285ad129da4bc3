"""README.md's "A five-minute tour", run as written against a live server (issue #18: the tour must not drift).

The blocks are read from README.md itself, so editing the tour edits this test. They run in order, in one
``bash`` with ``set -euo pipefail`` (variables such as ``$ADMIN`` and ``$ID`` carry from block to block as in a
reader's terminal); a block passes when its end marker is printed.

What differs from a reader's clone, and nothing else:

- ``console`` blocks are the reader's first terminal (``$ scripts/serve``): skipped; the server is started as
  ``scripts/serve`` starts it (``vault serve``, no ``VAULT_ADMIN_KEY``: the first admin key goes to
  ``var/admin.key``), with ``VAULT_SEAL_INTERVAL=1`` so that "within ten seconds" is within one (and checkpoints every second, not 5:
  a reader is slower than the script, which otherwise could ask for the journal before its first checkpoint);
- the working directory is a temporary one standing for the clone: its ``var`` is the server's data directory,
  its ``.venv`` and ``policies`` link to this interpreter's virtual environment and the checkout's policies, and
  ``.venv/bin`` is on ``PATH``;
- the server listens on a free port: ``http://127.0.0.1:8000`` in the blocks becomes its URL, and ``VAULT_URL``
  (which the ``vault`` command reads, defaulting to that same address) is set to it.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.server_process import ROOT, ServerProcess

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
TOUR = "## A five-minute tour"
DEFAULT_URL = "http://127.0.0.1:8000"
FIRST_TERMINAL = "$ scripts/serve"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_COMMENT = re.compile(r"(^|\s)#.*$", re.MULTILINE)


def tour_blocks(readme: str, heading: str = TOUR) -> list[tuple[str, str]]:
    """(language, text) of every fenced block between ``heading`` and the next ``## `` heading."""
    start = readme.index(heading)
    end = readme.find("\n## ", start + len(heading))
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(readme[start:end if end != -1 else None])]


def shell_blocks(blocks: list[tuple[str, str]], first_terminal: str = FIRST_TERMINAL) -> list[str]:
    """The ``sh`` blocks; the first terminal's ``console`` block is the only other kind the tour may hold."""
    for language, text in blocks:
        if language == "console":
            assert text.startswith(first_terminal), f"a console block other than {first_terminal!r}:\n{text}"
        else:
            assert language == "sh", f"a {language or 'bare'} block in the tour: make it sh, or console for the " \
                                     f"first terminal:\n{text}"
    return [text for language, text in blocks if language == "sh"]


def marker(n: int) -> str:
    return f"@@ end of tour block {n} @@"


def script(blocks: list[str], url: str) -> str:
    parts = ["set -euo pipefail"]
    for n, block in enumerate(blocks):
        parts += [block.replace(DEFAULT_URL, url), f"printf '\\n%s\\n' '{marker(n)}'"]
    return "\n".join(parts) + "\n"


def run_blocks(blocks: list[str], server: ServerProcess, cwd, env: dict, timeout: float = 150) -> list[str]:
    """Run the blocks in order in one ``bash -c`` against ``server``; what each printed on stdout (every block must
    reach its end marker: the assertion names the first one that did not)."""
    done = subprocess.run(["bash", "-c", script(blocks, server.url)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    lines = done.stdout.split("\n")
    ends = [lines.index(marker(n)) for n in range(len(blocks)) if marker(n) in lines]
    failed = len(ends)
    assert done.returncode == 0 and failed == len(blocks), (
        f"tour block {failed} failed (exit {done.returncode}):\n{blocks[failed] if failed < len(blocks) else ''}"
        f"\n--- stderr ---\n{done.stderr[-4000:]}\n--- stdout ---\n{done.stdout[-4000:]}"
        f"\n--- server ---\n{server.output()[-2000:]}")
    return ["\n".join(lines[begin + 1:end]) for begin, end in zip([-1] + ends, ends)]


def output_finder(blocks: list[str], outputs: list[str]):
    def output_of(command: str) -> str:
        """What the block that runs ``command`` printed on stdout."""
        found = [out for block, out in zip(blocks, outputs) if command in block]
        assert found, f"the tour no longer runs {command!r}"
        return found[0]
    return output_of


def test_tour_blocks_need_no_hand_edits():
    """Every value a command needs comes from an earlier command: no ``…`` left for the reader to fill in."""
    blocks = shell_blocks(tour_blocks(README.read_text()))
    assert len(blocks) >= 8
    for block in blocks:
        assert "…" not in _COMMENT.sub("", block), f"a placeholder outside a comment:\n{block}"


def test_tour_runs_as_written(tmp_path):
    blocks = shell_blocks(tour_blocks(README.read_text()))
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    (clone / "policies").symlink_to(ROOT / "policies", target_is_directory=True)
    with ServerProcess(clone / "var", admin_key=None, env={"VAULT_SEAL_INTERVAL": "1", "VAULT_CHECKPOINT_INTERVAL": "1"}) as server:
        env = {"PATH": f"{clone / '.venv' / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path),
               "LANG": "C.UTF-8", "VAULT_URL": server.url}
        output_of = output_finder(blocks, run_blocks(blocks, server, clone, env))

    # curl -s exits 0 on an HTTP error: the answers themselves say the reads worked
    assert "HTTP/1.1 200 OK" in output_of("/content") and "repr-digest: sha-256=" in output_of("/content")
    assert '"events"' in output_of("/v1/cases/LRE-2026-000123")
    assert '"count":1' in output_of("/v1/objects/count?extra.channel=lre").replace(" ", "")  # the deposit above
    assert '"sending":1' in output_of("facets=event_type").replace(" ", "")
    assert re.search(r"^VALID$", output_of("vault evidence verify"), re.MULTILINE)
    assert output_of("vault journal verify").count("journal OK:") == 2   # the export, then the live database
    keys = output_of("vault keys revoke")
    assert "alice@example.org" in keys and re.search(r"^revoked k[0-9a-f]+ at ", keys, re.MULTILINE)
    assert "urn:vault:problem:unknown-policy" in output_of("proof.pdf -F 'metadata=")
    assert (clone / "var" / "admin.key").stat().st_mode & 0o777 == 0o600
