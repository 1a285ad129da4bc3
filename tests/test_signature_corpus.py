"""The whole signature corpus through the API (issue 8): every file deposited, each verdict as expected.

``../shared/vectors/signatures`` (its README.md and INDEX.tsv) holds 99 third-party files: signed PDFs, XAdES and
REM evidences, RFC 3161 tokens, and the data, chains and schema that go with them. Here every one of them is
deposited through ``POST /v1/objects`` as ``application/octet-stream`` (so the format is found from the bytes),
into one vault whose clock is fixed at the PAdES unit test's NOW and whose trust directory holds the union of
the anchors the three validator unit tests configure (each documents why, in the operator's role). What is
checked: every answer is 201 within a bound, never 5xx; each verdict at deposit is INDEX.tsv's ``expected``
except where the unit tests' tables (imported, not copied) or the local tables below say otherwise and why; the
files the README says make the parsing library raise still get a reasoned verdict; the report and the search by
verdict agree with the receipts.

The unit tests validate XML at each file's claimed signing time and RFC 3161 tokens with the data they cover; a
deposit validates at the vault's clock and has only the file itself. AT_DEPOSIT lists what that changes.
"""

from __future__ import annotations

import csv
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import pem
from defusedxml.ElementTree import fromstring
from starlette.testclient import TestClient

from tests import test_validation_pades as pades_unit
from tests import test_validation_tst as tst_unit
from tests import test_validation_xades as xades_unit
from tests.conftest import ADMIN_KEY, SHARED_VECTORS, Api, make_settings
from tests.test_bad_input import assert_problem
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock, iso_z
from vault.validation.trust import TrustAnchors
from vault.validation.verdicts import INDETERMINATE, INVALID, VALID

CORPUS = SHARED_VECTORS / "signatures"
NOW = pades_unit.NOW  # 2026-11-01T00:00:00Z: the imported PAdES table holds at this clock
CASE = "CORPUS"
SECONDS_PER_DEPOSIT = 20.0
SUMMARY_KEYS = ("kind", "signer", "verdict", "reason", "validated_at")  # GET /v1/objects/{id}'s `validation`
KINDS_BY_INDEX = {"pades": {"pades", "pdf-timestamp"}, "xades": {"xades", "xmldsig"},
                  "rem-evidence": {"xades", "xmldsig"}, "tst": {"rfc3161"}, "other": set()}

pytestmark = [pades_unit.needs_corpus,
              pytest.mark.filterwarnings("ignore::UserWarning")]  # cryptography on odd names in old certificates

# Answers other than 201, and why (asserted: status and problem type).
REFUSED = {
    "xades/dss/empty.xml": (422, "empty-file", "zero bytes: the API refuses a file of zero bytes by design "
                            "(docs/api.md, 'nothing to archive'); a refusal with a problem document, not a failure"),
}

# path -> (worst verdict at deposit, ETSI sub-indication of a signature with that verdict, why it differs from
# what INDEX.tsv or the unit tests' tables say). Asserted exactly; an entry that no longer differs fails.
AT_DEPOSIT = {
    "xades/dss/dss-signed.xml": (
        INDETERMINATE, "OUT_OF_BOUNDS_NO_POE", "B-B, no signature timestamp: good-user's certificate expired on "
        "2019-12-18, before 2026-11-01; the XAdES unit test validates at the claimed signing time, when it was valid"),
    "xades/dss/dss-signed-altered-refRemoved.xml": (
        INVALID, "SIG_CRYPTO_FAILURE", "DSS says SIGNED_DATA_NOT_FOUND; removing the reference changed SignedInfo, "
        "so the signature value no longer verifies (whatever the clock; the XAdES unit test allows invalid here)"),
    **{f"evidence/rem/ecodex-client/{name}.xml": (
        INDETERMINATE, "OUT_OF_BOUNDS_NO_POE", "the signer ecodex-q.justiz.gv.at's certificate expired on "
        "2019-11-27 and no signature timestamp proves an earlier time; valid at the claimed signing time (the "
        "XAdES unit test's OBSERVED)")
       for name in ("SUBMISSION_ACCEPTANCE", "SUBMISSION_REJECTION", "RELAY_REMMD_ACCEPTANCE", "DELIVERY",
                    "RETRIEVAL", "incoming-SUBMISSION_ACCEPTANCE")},
}

# Signed (or signature-looking) files INDEX.tsv says nothing about and no unit-test table pins: what a deposit
# gives, same shape as AT_DEPOSIT.
UNSTATED = {
    "pades/dss/pdf-spoofing-attack.pdf": (INDETERMINATE, "FORMAT_FAILURE", "/Encrypt null: pyHanko raises"),
    "pades/dss/BadEncodedCMS.pdf": (INDETERMINATE, "FORMAT_FAILURE", "/Contents is not CMS: pyHanko raises "
                                    "AssertionError"),
    "pades/dss/pades_infinite_loop.pdf": (INVALID, "HASH_FAILURE", "pyHanko cannot open it (a stream ends "
                                          "prematurely); the raw ByteRange digest does not match"),
    "pades/dss/malformed-pades.pdf": (INVALID, "HASH_FAILURE", "the %PDF header is overwritten with garbage inside "
                                      "the signed range: the raw ByteRange digest fails (what validate_pdf says)"),
    "pades/dss/EmptyPage-corrupted.pdf": (INDETERMINATE, "FORMAT_FAILURE", "no EOF marker: pyHanko cannot open "
                                          "it"),
    "pades/pyhanko/signed-encrypted-pubkey-with-catalog-ref.pdf": (
        INDETERMINATE, "FORMAT_FAILURE", "public-key encrypted: the archive holds no recipient key"),
    "xades/dss/broken-dom.xml": (INDETERMINATE, "FORMAT_FAILURE", "not well-formed XML"),
    "xades/dss/malformed-xades.xml": (INDETERMINATE, "FORMAT_FAILURE", "binary garbage replaces the XML "
                                      "declaration: not XML, but the XMLDSig namespace says it is a signature"),
    "xades/dss/xades-with-dtd-injection.xml": (INDETERMINATE, "FORMAT_FAILURE", "a DTD is refused, never expanded"),
    "evidence/rem/ecodex-connector/ConvertIntoEvidenceTypetestFileA.xml": (None, None, "unsigned evidence"),
    "evidence/rem/vefa/test-version-1.xml": (None, None, "unsigned evidence"),
    "tst/dss/d-trust.tsr": (VALID, None, "a bare token; D-Trust's root is in the token and is an operator anchor "
                            "(the TST unit test's choice); imprint not compared, the covered data is not shipped"),
    "tst/dss/disig.tst": (INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND", "the token carries no self-signed root, so "
                          "the TST unit test configures no anchor for it"),
}

# Imported from the unit tests: where their verdict differs from INDEX.tsv, and why (same anchors; the PAdES one
# at this very clock; the XAdES and TST ones hold at deposit too, else AT_DEPOSIT says so).
KNOWN_DIFFERENCES = {**pades_unit.KNOWN_DIFFERENCES, **xades_unit.KNOWN_DIFFERENCES, **tst_unit.KNOWN_DIFFERENCES}
# The README's "files that make pyHanko raise". Its list also names two RFC 3161 responses without their TSA
# certificate: our token validator is not pyHanko, and with the TSA chain configured they are valid (INDEX says so).
RAISERS = pades_unit.RAISERS
# The files whose verdict says that a library raised on them (details["error"]): those README raisers that reach the
# library (an unfilled field has nothing to check; a public-key encrypted PDF is recognised before pyHanko opens
# it), and the XML the safe parser refuses. Any other file saying so hides its real verdict behind an error.
LIBRARY_FAILS = (set(RAISERS) - pades_unit.NO_SIGNATURE - {"pades/pyhanko/signed-encrypted-pubkey-with-catalog-ref.pdf"}
                 | {"xades/dss/broken-dom.xml", "xades/dss/xades-with-dtd-injection.xml", "xades/dss/malformed-xades.xml"})


def index_rows() -> list[dict[str, str]]:
    if not (CORPUS / "INDEX.tsv").is_file():
        return []
    with open(CORPUS / "INDEX.tsv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


ROWS = {row["path"]: row for row in index_rows()}


def stated(row: dict[str, str]) -> str | None:
    """The worst verdict INDEX.tsv or the unit tests' tables give for ``row``: ``unknown`` when none does."""
    path = row["path"]
    if path in KNOWN_DIFFERENCES:
        return KNOWN_DIFFERENCES[path][0]
    if path in xades_unit.OBSERVED:
        return xades_unit.OBSERVED[path][1]  # with the operator's anchors
    if path in pades_unit.NO_SIGNATURE or row["kind"] == "other":
        return None
    return row["expected"]


def at_deposit(row: dict[str, str]) -> str | None:
    """The worst verdict this test asserts for ``row``."""
    local = AT_DEPOSIT.get(row["path"]) or UNSTATED.get(row["path"])
    return local[0] if local else stated(row)


def worst(summaries: list[dict]) -> str | None:
    found = {s["verdict"] for s in summaries}
    return next((v for v in (INVALID, INDETERMINATE, VALID) if v in found), None)


# --- one vault, every file ----------------------------------------------------------------------------------------

def operator_trust_dir(directory: Path) -> TrustAnchors:
    """Write the union of the unit tests' operator anchors as one PEM file into ``directory``."""
    anchors = pades_unit.corpus_anchors().plus(xades_unit.operator_anchors().certificates)
    for row in tst_unit.TST_ROWS:
        anchors = anchors.plus(tst_unit.operator_anchors(row["path"]).certificates)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "corpus-operator-anchors.pem").write_bytes(
        b"".join(pem.armor("CERTIFICATE", cert.dump()) for cert in anchors.certificates))
    return anchors


@contextmanager
def corpus_archive(tmp_path: Path, database_url: str):
    """A vault at NOW trusting the operator anchors, and a depositor's API client (5xx answered, not raised)."""
    anchors = operator_trust_dir(tmp_path / "trust")
    settings = make_settings(tmp_path, database_url, trust_dir=tmp_path / "trust")
    vault = Vault.open(settings, FixedClock(NOW), sweep_in_background=False, background_jobs=False)
    try:
        admin = Api(TestClient(create_app(vault), raise_server_exceptions=False), ADMIN_KEY)
        yield admin.as_key(admin.new_key("depositor", "acme")), anchors
    finally:
        vault.close()


@dataclass
class Deposited:
    status: int | None  # None: no answer within the bound
    seconds: float
    receipt: dict  # the problem document for a refusal
    metadata: dict | None = None
    report: dict | None = None


def deposit(api: Api, path: str, case_ref: str = CASE) -> Deposited:
    """Deposit one corpus file, waiting at most SECONDS_PER_DEPOSIT (a hung call is reported, not waited for)."""
    data, answer = (CORPUS / path).read_bytes(), {}

    def call():
        try:
            answer["response"] = api.deposit(data, filename=Path(path).name, media_type="application/octet-stream",
                                             case_ref=case_ref)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            answer["error"] = exc

    started = time.monotonic()
    worker = threading.Thread(target=call, name=f"deposit {path}", daemon=True)
    worker.start()
    worker.join(SECONDS_PER_DEPOSIT)
    seconds = time.monotonic() - started
    response = answer.get("response")
    if response is None:
        return Deposited(None, seconds, {"error": repr(answer.get("error", "no answer"))})
    done = Deposited(response.status_code, seconds, response.json())
    if done.status == 201:
        object_id = done.receipt["id"]
        done.metadata = api.get(f"/v1/objects/{object_id}").json()
        done.report = api.get(f"/v1/objects/{object_id}/validation-report").json()
    return done


@dataclass(repr=False)  # a short repr in failure reports
class CorpusRun:
    api: Api
    anchors: TrustAnchors  # in force
    results: dict[str, Deposited]  # by INDEX.tsv path
    seconds: float  # every deposit, with its metadata and report reads


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> CorpusRun:
    """Every INDEX.tsv file deposited once, in index order, into one SQLite vault."""
    tmp_path = tmp_path_factory.mktemp("corpus")
    with corpus_archive(tmp_path, f"sqlite:///{tmp_path / 'data' / 'vault.db'}") as (api, anchors):
        started = time.monotonic()
        results = {path: deposit(api, path) for path in ROWS}
        yield CorpusRun(api, anchors, results, time.monotonic() - started)


# --- the tests ----------------------------------------------------------------------------------------------------

def test_the_corpus_and_the_tables():
    assert len(ROWS) == 99
    every = set(ROWS)
    assert set(REFUSED) | set(AT_DEPOSIT) | set(UNSTATED) | set(RAISERS) <= every
    assert set(KNOWN_DIFFERENCES) | set(xades_unit.OBSERVED) <= every
    assert not set(AT_DEPOSIT) & set(UNSTATED)
    for path, (verdict, _sub, why) in AT_DEPOSIT.items():
        assert verdict != stated(ROWS[path]) and why, f"{path}: no longer a difference, remove it from AT_DEPOSIT"
    for path, (_verdict, _sub, why) in UNSTATED.items():
        assert stated(ROWS[path]) == "unknown" and why, f"{path} is pinned elsewhere: remove it from UNSTATED"
    assert [p for p, row in ROWS.items() if p not in REFUSED and at_deposit(row) == "unknown"] == []  # see UNSTATED


def test_every_file_is_answered_201_within_the_bound(corpus):
    results = corpus.results
    for path, done in results.items():
        assert done.status is not None, f"{path}: no HTTP answer within {SECONDS_PER_DEPOSIT} s: {done.receipt}"
        assert done.status < 500, f"{path}: {done.status} {done.receipt}"
        assert done.seconds < SECONDS_PER_DEPOSIT, path
        if path in REFUSED:
            status, slug, _why = REFUSED[path]
            assert (done.status, done.receipt["type"]) == (status, f"urn:vault:problem:{slug}"), path
        else:
            assert done.status == 201, f"{path}: {done.status} {done.receipt}"
    stored = [d.receipt for d in results.values() if d.status == 201]
    assert len({r["id"] for r in stored}) == len(stored) == len(ROWS) - len(REFUSED)  # one object per file
    assert corpus.seconds < 60


@pytest.mark.parametrize("path", [p for p in ROWS if p not in REFUSED])
def test_verdict_at_deposit(corpus, path):
    row, done = ROWS[path], corpus.results[path]
    assert done.status == 201, done.receipt
    receipt, summaries, report = done.receipt, done.receipt["validation"], done.report
    assert (receipt["sha256"], receipt["size"], receipt["filename"]) == (row["sha256"], int(row["bytes"]),
                                                                         Path(path).name)
    assert done.metadata["validation"] == summaries and done.metadata["case_ref"] == CASE
    assert [{k: s[k] for k in SUMMARY_KEYS} for s in report["signatures"]] == summaries
    assert report["worst"] == worst(summaries)
    for summary in summaries:
        assert summary["kind"] in KINDS_BY_INDEX[row["kind"]] and summary["reason"].strip()
        assert summary["validated_at"] == iso_z(NOW)
    if summaries:  # every configured anchor was in force
        assert set(corpus.anchors.fingerprints()) <= {a["sha256"] for a in report["trust_anchors"]}

    got, expected = worst(summaries), row["expected"]
    why = AT_DEPOSIT.get(path) or UNSTATED.get(path) or KNOWN_DIFFERENCES.get(path) or (None, None, row["note"])
    reasons = [s["reason"] for s in summaries]
    assert got == at_deposit(row), f"{path}: {why[-1]} -- the service says {reasons}"
    if path not in KNOWN_DIFFERENCES:  # INDEX.tsv's own bounds, whatever the clock
        if expected in (INVALID, INDETERMINATE):
            assert got != VALID, reasons
        if expected == VALID:
            assert got != INVALID, reasons
    local = AT_DEPOSIT.get(path) or UNSTATED.get(path)
    if local and local[1]:
        assert local[1] in {s["details"].get("sub_indication") for s in report["signatures"] if s["verdict"] == got}


@pytest.mark.parametrize("path", RAISERS)
def test_files_the_library_raises_on_get_a_reasoned_verdict(corpus, path):
    summaries = corpus.results[path].receipt["validation"]
    if path in pades_unit.NO_SIGNATURE:  # an unfilled signature field: nothing was signed
        assert summaries == []
        return
    assert summaries, f"{path}: a signed file got no verdict at all (format {corpus.results[path].receipt['format']})"
    assert worst(summaries) in (INVALID, INDETERMINATE)
    assert all(s["verdict"] != VALID and s["reason"].strip() for s in summaries)


def test_only_the_files_a_library_fails_on_say_so(corpus):
    said = {path: [s["reason"] for s in done.report["signatures"] if "error" in s["details"]]
            for path, done in corpus.results.items() if done.status == 201}
    said = {path: reasons for path, reasons in said.items() if reasons}
    unexpected = sorted(set(said) - LIBRARY_FAILS)
    assert unexpected == [], f"{len(unexpected)} files, e.g. {[(p, said[p]) for p in unexpected[:3]]}"
    assert sorted(LIBRARY_FAILS - set(said)) == []


def test_validation_report_json_and_etsi_xml(corpus):
    api, results = corpus.api, corpus.results
    pdf = results["pades/pyhanko/pades-lta-dss-indirect-arrs-test.pdf"].receipt
    assert [s["verdict"] for s in pdf["validation"]] == [VALID, VALID]
    report = api.get(f"/v1/objects/{pdf['id']}/validation-report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("application/json")
    body = report.json()
    assert (body["object_id"], body["worst"], body["validated_at"]) == (pdf["id"], VALID, iso_z(NOW))
    assert [{k: s[k] for k in SUMMARY_KEYS} for s in body["signatures"]] == pdf["validation"]
    assert body["signatures"][0]["details"]["validation_time"] == "2020-11-01T00:00:00Z"  # proven by the timestamp

    etsi = api.get(f"/v1/objects/{pdf['id']}/validation-report", headers={"Accept": "application/xml"})
    assert etsi.status_code == 200 and etsi.headers["content-type"].startswith("application/xml")
    root = fromstring(etsi.content)
    assert root.tag.startswith("{" + pades_unit.ETSI_NAMESPACE) and root.tag.endswith("}ValidationReport")

    token = results["tst/rfc3161-client/test_tsa-response.tsr"].receipt
    assert [s["kind"] for s in token["validation"]] == ["rfc3161"]
    assert api.get(f"/v1/objects/{token['id']}/validation-report").json()["signatures"]
    assert_problem(api.get(f"/v1/objects/{token['id']}/validation-report", headers={"Accept": "application/xml"}),
                   404, "no-etsi-report")


@pytest.mark.parametrize("verdict", [VALID, INVALID, INDETERMINATE, "none"])
def test_search_by_verdict_finds_exactly_those_objects(corpus, verdict):
    api, results = corpus.api, corpus.results
    wanted = {d.receipt["id"] for d in results.values()
              if d.status == 201 and (worst(d.receipt["validation"]) or "none") == verdict}
    found, cursor = [], None
    while True:  # small pages, to go through the cursor
        page = api.get("/v1/objects", params={"case_ref": CASE, "verdict": verdict, "limit": 7,
                                              **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        found += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert len(found) == len(set(found)) and set(found) == wanted
    assert wanted  # the corpus populates every class


def test_the_same_bytes_again_are_a_new_object_with_the_same_verdicts(corpus):
    """No two corpus files are the same bytes; deposit one again (deduplicated storage, its own object)."""
    api, results = corpus.api, corpus.results
    assert len({row["sha256"] for row in ROWS.values()}) == len(ROWS)
    path = "pades/dss/hello_signed_INCSAVE_signed_EDITED.pdf"
    again = deposit(api, path, case_ref=CASE + "-AGAIN")
    first = results[path].receipt
    assert again.status == 201 and again.receipt["id"] != first["id"]
    assert again.receipt["sha256"] == first["sha256"] and again.receipt["validation"] == first["validation"]
    assert api.get(f"/v1/objects/{again.receipt['id']}/content").content == (CORPUS / path).read_bytes()


REPRESENTATIVE = ["pades/pyhanko/pades-lta-dss-indirect-arrs-test.pdf",
                  "evidence/rem/ecodex-connector/msg2-SUBMISSION_ACCEPTANCE.xml",
                  "tst/rfc3161-client/test_tsa-response.tsr"]


def test_each_database_stores_the_same_verdicts(corpus, tmp_path, database_url):
    """A PDF, a REM evidence and a timestamp response on this storage: what the SQLite corpus run recorded."""
    results = corpus.results
    with corpus_archive(tmp_path, database_url) as (api, _anchors_again):
        for path in REPRESENTATIVE:
            done = deposit(api, path)
            assert done.status == 201 and done.seconds < SECONDS_PER_DEPOSIT, done.receipt
            assert done.receipt["validation"] == results[path].receipt["validation"] == done.metadata["validation"]
            assert done.report["signatures"] == results[path].report["signatures"]
            listed = api.get("/v1/objects", params={"case_ref": CASE, "verdict": worst(done.receipt["validation"])})
            assert done.receipt["id"] in [item["id"] for item in listed.json()["items"]]
