"""The copy quorum of one deposit (vault.storage.quorum): settled by the upload that decides it, once,
with no thread waiting; the uploads after it are left to their caller to record on their own."""

from __future__ import annotations

import pytest

from vault.storage.quorum import QuorumNotReached, QuorumWait


def row(store: str) -> dict:
    return {"sha256": "ab" * 32, "store": store}


def test_the_quorum_is_settled_by_the_copy_that_reaches_it_and_not_before():
    quorum = QuorumWait(3, [row("local")], pending=3)
    assert quorum.add(row("a"), None) and not quorum.result.done()
    assert quorum.add(None, "b: ConnectError: down") and not quorum.result.done()  # c can still make it
    assert quorum.add(row("c"), None)
    assert [r["store"] for r in quorum.result.result(0)] == ["local", "a", "c"]


def test_a_copy_ending_after_the_quorum_is_not_counted_and_left_to_the_caller():
    quorum = QuorumWait(2, [row("local")], pending=2)
    assert quorum.add(row("a"), None)
    assert quorum.add(row("b"), None) is False  # recorded on its own, not in the deposit's unit
    assert [r["store"] for r in quorum.result.result(0)] == ["local", "a"]


def test_the_quorum_fails_as_soon_as_too_few_stores_can_still_take_the_blob():
    quorum = QuorumWait(3, [row("local")], pending=2)
    assert quorum.add(None, "a: ConnectError: down")
    assert quorum.result.done()  # b alone can no longer make 3: no waiting for it
    with pytest.raises(QuorumNotReached, match="only 1 of the 3 copies.*a: ConnectError: down"):
        quorum.result.result(0)
    assert quorum.add(row("b"), None) is False


def test_a_quorum_of_the_primary_alone_is_settled_at_once():
    quorum = QuorumWait(1, [row("local")], pending=2)
    assert [r["store"] for r in quorum.result.result(0)] == ["local"]
    assert quorum.add(row("a"), None) is False
