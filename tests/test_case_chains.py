"""The expected chain of an LRE case, evaluated from the events' own times (pure, no I/O)."""

from datetime import datetime, timedelta, timezone

import pytest

from vault.cases.chains import LRE_CHAIN, ChainError, evaluate, load_chain, parse_chain

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SENT = T0 + timedelta(hours=2)


def test_a_full_chain_is_complete_whichever_outcome():
    for outcome in ("receipt", "refusal"):
        result = evaluate(LRE_CHAIN, {"deposit": T0, "sending": SENT, outcome: SENT + timedelta(days=3)},
                          T0 + timedelta(days=400))
        assert (result.status, result.missing, result.due_at, result.anomalies) == ("complete", [], None, [])
    late = evaluate(LRE_CHAIN, {"deposit": T0, "sending": SENT, "negligence": SENT + timedelta(days=15, hours=1)},
                    T0 + timedelta(days=400))
    assert late.status == "complete" and late.anomalies == []


def test_without_an_outcome_the_case_is_incomplete_then_overdue_after_fifteen_days_and_one():
    events = {"deposit": T0, "sending": SENT}
    before = evaluate(LRE_CHAIN, events, SENT + timedelta(days=15))
    assert (before.status, before.missing) == ("incomplete", ["outcome"])
    assert before.due_at == SENT + timedelta(days=16)
    assert evaluate(LRE_CHAIN, events, SENT + timedelta(days=16)).status == "overdue"


def test_a_deposit_never_sent_is_overdue_after_two_days():
    assert evaluate(LRE_CHAIN, {"deposit": T0}, T0 + timedelta(days=1)).status == "incomplete"
    result = evaluate(LRE_CHAIN, {"deposit": T0}, T0 + timedelta(days=2))
    assert (result.status, result.missing, result.due_at) == ("overdue", ["sending", "outcome"], T0 + timedelta(days=2))


def test_without_the_deposit_proof_nothing_sets_a_deadline_but_it_is_missing():
    result = evaluate(LRE_CHAIN, {"sending": SENT, "receipt": SENT + timedelta(days=1)}, T0 + timedelta(days=90))
    assert (result.status, result.missing, result.due_at) == ("incomplete", ["deposit"], None)


def test_anomalies_are_reported_not_hidden():
    early = evaluate(LRE_CHAIN, {"deposit": T0, "sending": SENT, "negligence": SENT + timedelta(days=3)}, T0)
    assert early.status == "complete"
    assert early.anomalies == ["negligence at 2026-03-05T11:00:00Z is less than 15 days after sending "
                               "(2026-03-02T11:00:00Z)"]
    backwards = evaluate(LRE_CHAIN, {"deposit": T0, "sending": SENT, "receipt": T0 - timedelta(hours=1)}, T0)
    assert backwards.anomalies == ["outcome (2026-03-02T08:00:00Z) is earlier than sending (2026-03-02T11:00:00Z)"]


def test_a_chain_file_replaces_the_default(tmp_path):
    path = tmp_path / "chain.toml"
    path.write_text('id = "simple"\n[[steps]]\nname = "sent"\nevents = ["sending"]\n'
                    '[[steps]]\nname = "answer"\nevents = ["receipt"]\ndue = "PT12H"\n')
    chain = load_chain(path)
    assert [s.name for s in chain.steps] == ["sent", "answer"]
    assert evaluate(chain, {"sending": T0}, T0 + timedelta(hours=12)).status == "overdue"
    assert chain.fingerprint != LRE_CHAIN.fingerprint and load_chain(None) is LRE_CHAIN


@pytest.mark.parametrize("data,problem", [
    ({"steps": [{"name": "a", "events": ["deposit"]}]}, "'id'"),
    ({"id": "x", "steps": []}, "'steps'"),
    ({"id": "x", "steps": [{"name": "a", "events": ["posted"]}]}, "'events'"),
    ({"id": "x", "steps": [{"name": "a", "events": ["deposit"], "due": "P1D"}]}, "first step"),
    ({"id": "x", "steps": [{"name": "a", "events": ["deposit"]}, {"name": "b", "events": ["sending"],
                                                                    "due": "P1M"}]}, "not years or months"),
    ({"id": "x", "steps": [{"name": "a", "events": ["deposit"]}, {"name": "b", "events": ["sending"],
                                                                    "due": "soon"}]}, "ISO 8601"),
])
def test_bad_chain_definitions_are_refused_with_the_field_named(data, problem):
    with pytest.raises(ChainError, match=problem):
        parse_chain(data)
