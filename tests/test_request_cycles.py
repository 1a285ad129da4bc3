"""A request's objects are freed by reference counting: none of vault's die in reference cycles (issue 24).

Driven straight into the ASGI app as a server calls it (bench/cycles.py's driver: the TestClient makes ~80 cyclic
objects per request of its own), with ``gc.DEBUG_SAVEALL`` around the requests: whatever the collector then finds
died in a cycle. Objects of vault's types, and frames and functions of vault's code (an exception kept with its
``__traceback__``, a closure referring to itself), must not be among them.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
VAULT_CODE = str(Path(__file__).resolve().parent.parent / "vault") + "/"
sys.path.insert(0, str(BENCH))

from cycles import garbage, requests_of, through_asgi  # noqa: E402


def ours(obj) -> bool:
    """An object of a type defined in vault, or a frame, function or generator running vault's code."""
    code = getattr(obj, "f_code", None) or getattr(obj, "__code__", None) or getattr(obj, "gi_code", None) \
        or getattr(obj, "cr_code", None)
    if code is not None:
        return code.co_filename.startswith(VAULT_CODE)
    return type(obj).__module__.split(".")[0] == "vault"


def test_requests_leave_no_cyclic_garbage_of_vaults(client, admin, depositor):
    some = depositor.deposit().json()["id"]
    reader = {"Authorization": f"Bearer {admin.new_key('archivist', 'acme')}"}
    made = requests_of(depositor.headers(), reader, some)
    runs = {name: through_asgi(client.app, make) for name, make in made.items()}
    for run in runs.values():
        run(3)  # first-use caches
    for name, run in runs.items():
        found = garbage(run, 20, 0)
        kept = sorted({f"{type(obj).__qualname__} {getattr(obj, 'f_code', '')}" for obj in found if ours(obj)})
        del found
        assert not kept, (name, kept)


def test_the_check_sees_a_cycle_of_vaults():
    """The check can fail: a problem raised and kept with its traceback (exception → traceback → frame → local
    → exception), the commonest cycle, is found as vault's."""
    from vault.api.problems import Problem

    def keep(_n: int) -> None:
        try:
            raise Problem(404, "not-found", "Not found", "kept")
        except Problem as exc:
            kept = exc  # noqa: F841 — the cycle under test
    found = garbage(keep, 1, 0)
    assert any(isinstance(obj, Problem) for obj in found) and any(ours(obj) for obj in found)
