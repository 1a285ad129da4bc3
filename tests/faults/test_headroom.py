"""The free-space check on the deposit path asks statvfs at most once a second; its default minimum."""

from __future__ import annotations

import errno
import os
import sqlite3

from vault.storage.headroom import GIB, DiskHeadroom, default_min_free, is_out_of_space


class FakeDisk:
    def __init__(self, free_blocks: int, blocks: int = 1000):
        self.free_blocks, self.blocks, self.calls, self.now = free_blocks, blocks, 0, 0.0

    def statvfs(self, _path):
        self.calls += 1
        return os.statvfs_result((4096, 4096, self.blocks, self.free_blocks, self.free_blocks, 0, 0, 0, 0, 255))


def test_statvfs_is_asked_at_most_once_a_second():
    disk = FakeDisk(free_blocks=100)
    headroom = DiskHeadroom("/data", 200 * 4096, monotonic=lambda: disk.now, statvfs=disk.statvfs)
    for _ in range(1000):
        assert headroom.space().low
    assert disk.calls == 1
    disk.free_blocks = 500
    assert headroom.space().low  # still the cached figure
    disk.now = 1.0
    assert not headroom.space().low and headroom.check() == "ok"
    assert disk.calls == 2
    headroom.forget()
    headroom.space()
    assert disk.calls == 3


def test_default_minimum_is_one_gib_or_five_percent():
    assert default_min_free(100 * GIB) == GIB
    assert default_min_free(10 * GIB) == GIB // 2
    disk = FakeDisk(free_blocks=40, blocks=1000)  # 4 % free of a small disk: below 5 %
    assert DiskHeadroom("/data", statvfs=disk.statvfs).check().startswith("failing: 163840 bytes free")


def test_out_of_space_errors_are_recognised():
    assert is_out_of_space(OSError(errno.ENOSPC, "No space left on device"))
    assert is_out_of_space(sqlite3.OperationalError("database or disk is full"))
    assert not is_out_of_space(OSError(errno.EACCES, "Permission denied"))
    assert not is_out_of_space(ValueError("malformed"))
