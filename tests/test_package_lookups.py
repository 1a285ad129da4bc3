"""A package's per-object lookups, batched: evidence records assembled with one cache for the package (byte for byte
the records assembled alone, with a fraction of the queries), and the other lookups fetched a window at a time."""

from __future__ import annotations

import hashlib
import json
import zipfile
from io import BytesIO

from sqlalchemy import event

from vault.evidence.assemble import BatchCache, assemble
from vault.evidence.verify import DataObject, verify_evidence_record
from vault.package.lookahead import Lookahead
from tests.test_verify_package import signed_xml
from vault_verify.package import verify_package


class Counted:
    """Records ``fetch_many`` calls for a :class:`Lookahead`."""

    def __init__(self, values: dict):
        self.values, self.calls = values, []

    def __call__(self, keys: list) -> dict:
        self.calls.append(list(keys))
        return {k: self.values[k] for k in keys if k in self.values}


def test_lookahead_fetches_a_window_at_a_time_in_order():
    fetch = Counted({k: k.upper() for k in "abcdefg"})
    ahead = Lookahead(list("abcdefgh"), fetch, window=3)
    assert [ahead.get(k) for k in "abcdefgh"] == ["A", "B", "C", "D", "E", "F", "G", None]
    assert fetch.calls == [["a", "b", "c"], ["d", "e", "f"], ["g", "h"]]


def test_lookahead_out_of_order_and_unknown_keys_are_fetched_again():
    fetch = Counted({"a": 1, "b": 2, "c": 3, "z": 26})
    ahead = Lookahead(["a", "b", "c"], fetch, window=2)
    assert ahead.get("b") == 2 and ahead.get("c") == 3 and ahead.get("a") == 1 and ahead.get("z") == 26
    assert fetch.calls == [["b", "c"], ["a", "b"], ["z"]]


def _statements(engine) -> list[int]:
    count = [0]

    def seen(*_args):
        count[0] += 1
    event.listen(engine, "before_cursor_execute", seen)
    return count


def test_one_cache_assembles_the_same_records_with_a_fraction_of_the_queries(vault, depositor, admin):
    contents = [f"cached {n}".encode() for n in range(30)]
    ids = [depositor.deposit(c, case_ref="CACHE").json()["id"] for c in contents[:20]]
    vault.seal_scheduler.seal_all_pending()
    ids += [depositor.deposit(c, case_ref="CACHE").json()["id"] for c in contents[20:]]
    vault.seal_scheduler.seal_all_pending()  # a second initial batch
    for body in ({"kind": "timestamp-renewal"}, {"kind": "hash-tree-renewal", "hash": "sha512"},
                 {"kind": "timestamp-renewal"}):
        assert admin.post("/v1/admin/reseal", json=body).status_code == 200
    pending = depositor.deposit(b"not sealed yet", case_ref="CACHE").json()["id"]
    seqs = [vault.catalog.get(i)["seal_seq"] for i in [*ids, pending]]

    count = _statements(vault.reader)
    with vault.reader.connect() as connection:
        alone = [assemble(connection, seq) for seq in seqs]
        queries_alone, count[0] = count[0], 0
        cache = BatchCache()
        shared = [assemble(connection, seq, cache) for seq in seqs]
        queries_shared = count[0]
    assert alone[-1] is None and shared[-1] is None
    assert [r.der for r in alone[:-1]] == [r.der for r in shared[:-1]]
    assert queries_shared * 5 < queries_alone, (queries_shared, queries_alone)
    for record, content in zip(shared, contents):
        digests = {name: hashlib.new(name, content).digest() for name in ("sha256", "sha512")}
        verdict = verify_evidence_record(record.der, [DataObject(digests=digests)])
        assert verdict.ok and len(record.chains) == 2, verdict.first_failure



def test_a_prefetched_window_assembles_the_same_records_without_a_query_per_record(vault, depositor, admin):
    """``BatchCache.prefetch`` reads a window's batches, renewals and path chunks in one query per kind; the records
    assembled from it are byte for byte those assembled alone, with or without renewals."""
    ids = []
    for part in range(3):  # three initial batches
        ids += [depositor.deposit(f"window {part} {n}".encode(), case_ref="WINDOW").json()["id"] for n in range(7)]
        vault.seal_scheduler.seal_all_pending()
    pending = depositor.deposit(b"not sealed yet", case_ref="WINDOW").json()["id"]
    seqs = [vault.catalog.get(i)["seal_seq"] for i in [*ids, pending]]
    count = _statements(vault.reader)
    for renewal in (None, {"kind": "timestamp-renewal"}):
        if renewal:
            assert admin.post("/v1/admin/reseal", json=renewal).status_code == 200
        with vault.reader.connect() as connection:
            alone = [assemble(connection, seq) for seq in seqs]
            cache, count[0] = BatchCache(), 0
            cache.prefetch(connection, seqs[:10])
            cache.prefetch(connection, seqs[10:])
            prefetching, count[0] = count[0], 0
            windowed = [assemble(connection, seq, cache) for seq in seqs]
            assembling = count[0]
        assert renewal or (windowed[-1] is None and alone[-1] is None)
        assert [r and r.der for r in windowed] == [r and r.der for r in alone] and alone[0] is not None
        assert prefetching <= 10, prefetching  # 5 a window (batches, renewals, chunks, data groups), whatever its size
        # left: what prefetch does not cover (the renewal batch and its tree, the pending deposit's batch), once
        assert assembling <= 3, assembling


def test_a_package_larger_than_a_window_carries_every_lookup(vault, depositor, monkeypatch):
    import vault.package.lookahead as lookahead

    monkeypatch.setattr(lookahead, "WINDOW", 2)
    ids = [depositor.deposit(f"windowed {n}".encode(), case_ref="WIN").json()["id"] for n in range(3)]
    ids.append(depositor.deposit(signed_xml("WIN"), filename="evidence.xml", media_type="application/xml",
                                 case_ref="WIN").json()["id"])  # with a validation report
    consent = depositor.deposit(b'{"optin": true}', case_ref="WIN", policy="consent-record", kind="consent-record",
                                event_type="consent", subject="ann@example.org", purpose="newsletter").json()["id"]
    vault.seal_scheduler.seal_all_pending()
    ids.append(depositor.deposit(b"pending in the package", case_ref="WIN").json()["id"])
    response = depositor.get("/v1/cases/WIN/package")
    assert response.status_code == 200, response.text
    verdict = verify_package(BytesIO(response.content))
    assert verdict.ok, verdict.first_failure
    with zipfile.ZipFile(BytesIO(response.content)) as archive:
        top = archive.namelist()[0].split("/")[0]
        objects = {o["id"]: o for o in json.loads(archive.read(f"{top}/data/package.json"))["objects"]}
    assert set(objects) == {*ids, consent}
    assert [objects[i]["seal"] for i in ids] == ["sealed"] * 4 + ["pending"]
    assert objects[consent]["consent"]["purpose"] == "newsletter"
    assert all(objects[i]["consent"] is None for i in ids)
    assert [objects[i]["validation_report"] is not None for i in ids] == [False, False, False, True, False]
