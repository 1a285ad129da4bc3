"""ValidateEvidence (ETSI TS 119 512 clause 5.3.8, Tables 12-13): verify an uploaded RFC 4998 evidence record
against the data or the digests it should cover, or a whole export package, with :mod:`vault_verify`.

The request carries ``ev`` (``{"binaryData": {"value": base64 DER ER}}``, Table 19) with ``po`` (Table 20): data
(``binaryData.value``) or a DigestList PO (``formatId`` ``http://uri.etsi.org/19512/format/DigestList``, its
``binaryData.value`` the base64 of ``{"digAlg": OID or URI, "digVal": [base64]}``, Table 24); or
``optIn["vault:Package"]`` (a base64 export ZIP). The answer's ``result`` says valid (``min`` …:valid) or invalid
(…:invalid, with the first failing check as ``msg``); ``valRep`` holds every named check.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

from vault_verify.ers import DataObject, verify_evidence_record
from vault_verify.package import verify_package

from vault.etsi.messages import INVALID, SUCCESS, VALID, MessageError, b64, options, response
from vault.etsi.names import DIGEST_LIST, DIGEST_LIST_FORMAT, renamed
from vault.etsi.profiles import HASH_URIS
from vault.lre.events import digest_algorithm

ALGORITHMS = tuple(HASH_URIS)


def _digests(digest_list: Any, where: str) -> list[DataObject]:
    """The DigestList component (Table 24: ``digAlg``, ``digVal``) as data objects."""
    if not isinstance(digest_list, dict) or not isinstance(digest_list.get("digVal"), list):
        raise MessageError(f"{where} must be an object with digAlg and a list digVal")
    algorithm = digest_algorithm(digest_list.get("digAlg"))
    if algorithm not in ALGORITHMS:
        raise MessageError(f"{where}.digAlg must name one of {', '.join(ALGORITHMS)} (an OID or a URI)")
    return [DataObject(digests={algorithm: b64(v, f"{where}.digVal")}, label=f"digest {i}")
            for i, v in enumerate(digest_list["digVal"])]


def _data(request: dict) -> list[DataObject]:
    if "digestList" in request:  # vault's earlier spelling: the DigestList at the top of the request
        return _digests(request["digestList"], "DigestList")
    items = request.get("po")
    if not isinstance(items, list) or not items:
        raise MessageError("give the covered data as po (a list of {binaryData: {value}}), data or a DigestList")
    found = []
    for i, po in enumerate(items):
        binary = po.get("binaryData") if isinstance(po, dict) else None
        data = b64(binary.get("value") if isinstance(binary, dict) else None, f"po[{i}].binaryData.value")
        if po.get("formatId") == DIGEST_LIST_FORMAT:
            try:
                digest_list = json.loads(data)
            except ValueError:
                raise MessageError(f"po[{i}].binaryData.value must be a JSON DigestList") from None
            found += _digests(renamed(digest_list, DIGEST_LIST), f"po[{i}] DigestList")
        else:
            found.append(DataObject(digests={name: hashlib.new(name, data).digest() for name in ALGORITHMS},
                                    label=f"PO {i}"))
    return found


def validate_evidence(request: dict, tsa_roots: list, journal_key: str) -> tuple[dict[str, Any], bool]:
    """The ValidateEvidence response for ``request`` and whether the evidence is valid. ``tsa_roots`` are the
    trusted TSA roots (certificates) and ``journal_key`` the journal's note verifier key, for packages.
    Raises :class:`MessageError` for a malformed request."""
    package = options(request).get("vault:Package")
    if package is not None:
        verdict = verify_package(io.BytesIO(b64(package, "optIn['vault:Package']")),
                                 tsa_roots=list(tsa_roots), journal_key=journal_key)
        report = verdict.as_dict()
    else:
        evidence = request.get("ev")
        binary = evidence.get("binaryData") if isinstance(evidence, dict) else None
        der = b64(binary.get("value") if isinstance(binary, dict) else None, "ev.binaryData.value")
        verdict = verify_evidence_record(der, _data(request), roots=list(tsa_roots))
        report = verdict.to_json()
    valid, failure = verdict.ok, verdict.first_failure
    message = None if valid else (f"{failure.name}: {failure.detail}" if failure else "nothing could be verified")
    return response(request, SUCCESS, VALID if valid else INVALID, message, valRep=report), valid
