"""UUIDv7 identifiers (RFC 9562 §5.7)."""

from __future__ import annotations

import time
import uuid

import pytest

import vault.ids
from vault.ids import is_object_id, new_object_id, uuid7


@pytest.fixture(autouse=True)
def restore_generator_state():
    """Tests that feed fake clocks must not leave the process generating ids in the future."""
    saved = vault.ids._last_ms, vault.ids._counter
    yield
    vault.ids._last_ms, vault.ids._counter = saved


def test_version_variant_and_timestamp():
    before = int(time.time() * 1000)
    value = uuid7()
    after = int(time.time() * 1000)
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_ids_sort_in_creation_order_even_within_one_millisecond():
    ids = [uuid7(now_ms=1_700_000_000_000) for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert str(ids[-1]) < str(uuid7())


def test_clock_going_backwards_keeps_order():
    later = uuid7(now_ms=2_000_000_000_000)
    earlier_clock = uuid7(now_ms=1_000_000_000_000)
    assert earlier_clock > later


def test_is_object_id():
    assert is_object_id(new_object_id())
    assert not is_object_id(str(uuid.uuid4()))
    assert not is_object_id("01890A5D-AC96-774B-BCCE-B302099A8057")  # canonical form is lowercase
    assert not is_object_id("nope")


def test_a_forked_child_never_reuses_the_parents_buffered_random_bytes():
    import os

    from vault.ids import random_bytes

    random_bytes(1)  # the pool holds buffered bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what would it hand out next?
        os.write(write, random_bytes(32))
        os._exit(0)
    os.close(write)
    child = os.read(read, 32)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child != random_bytes(32)
