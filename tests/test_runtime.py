"""Process settings of a long-running vault process."""

from __future__ import annotations

import gc

from vault.runtime import GEN0_THRESHOLD, settle_heap


def test_settle_heap_moves_the_start_up_heap_out_of_the_collectors_reach():
    threshold = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 1000  # the modules and objects of start-up, never walked again
        assert gc.get_threshold()[0] == GEN0_THRESHOLD and gc.get_threshold()[1:] == threshold[1:]
        garbage = []
        garbage.append(garbage)  # a cycle made afterwards is still collected
        del garbage
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
