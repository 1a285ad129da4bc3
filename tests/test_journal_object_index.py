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
    assert index.catch_up() == 0
