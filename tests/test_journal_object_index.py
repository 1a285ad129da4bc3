"""The index of journal entries by object: every entry naming an object is found, in log order, and nothing else."""

from __future__ import annotations

import json

from vault.journal.object_index import JournalObjectIndex


def test_every_entry_naming_an_object_is_found(vault, depositor):
    first = depositor.deposit(b"one", case_ref="IDX-1").json()["id"]
    second = depositor.deposit(b"two", case_ref="IDX-1").json()["id"]
    depositor.get(f"/v1/objects/{first}")
    depositor.get(f"/v1/objects/{first}/content")
    depositor.get("/v1/objects", params={"case_ref": "IDX-1"})  # a search listing both
    index = vault.journal_objects
    found = index.entries([first])
    actions = [json.loads(entry)["action"] for _seq, entry in found]
    assert actions == ["deposit", "metadata_read", "content_read", "search"]
    assert [seq for seq, _ in found] == sorted(seq for seq, _ in found)
    assert all(first in json.loads(entry)["objects"] for _seq, entry in found)
    assert [json.loads(e)["action"] for _s, e in index.entries([second])] == ["deposit", "search"]
    assert len(index.entries([first, second])) == 5  # the shared search entry once

    # derived data: a fresh index over the same log finds the same entries, and a second pass reads nothing new
    assert JournalObjectIndex(vault.reader).entries([first]) == found
    index.catch_up()
    assert index.catch_up() == 0


def test_reading_never_folds_and_folded_plus_tail_is_the_whole_answer(vault, depositor):
    """A read path that folds takes the writer's lock (issue 19: packages cut by "database is locked"): readers
    answer from the folded rows plus the tail past the watermark, and write nothing."""
    index = vault.journal_objects
    index.catch_up()
    first = depositor.deposit(b"one", case_ref="IDX-2").json()["id"]
    depositor.get(f"/v1/objects/{first}")
    before = index.entries([first])  # all of it in the tail
    assert [json.loads(e)["action"] for _s, e in before] == ["deposit", "metadata_read"]
    assert index.catch_up() > 0  # entries() folded nothing
    depositor.get(f"/v1/objects/{first}/content")
    after = index.entries([first])  # two folded, one in the tail
    assert after[:2] == before and json.loads(after[2][1])["action"] == "content_read"
