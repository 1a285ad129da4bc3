"""ValidateEvidence (ETSI TS 119 512 clause 5.3.8): verify an uploaded RFC 4998 evidence record against the data
or the digests it should cover, or a whole export package, with :mod:`vault_verify` (the offline verifier).

The request carries ``Evidence`` (``{"Binary": {"Value": base64 DER ER}}``) with ``PO`` (data, base64 ``Binary``)
or ``DigestList`` (``{"DigestMethod": URI, "DigestValue": [base64]}``); or ``vault:Package`` (a base64 export
ZIP). The answer's ``Result`` says valid (``ResultMinor`` …:valid) or invalid (…:invalid, with the first failing
check as ``ResultMessage``); ``ValidationReport`` holds every named check.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

from vault_verify.ers import DataObject, verify_evidence_record
from vault_verify.package import verify_package

from vault.etsi.messages import INVALID, SUCCESS, VALID, MessageError, b64, options, response
from vault.etsi.profiles import HASH_URIS

_ALGORITHM_OF_URI = {uri: name for name, uri in HASH_URIS.items()}
_ALGORITHM_OF_URI.update({name: name for name in HASH_URIS})


def _data(request: dict) -> list[DataObject]:
    if "DigestList" in request:
        digests = request["DigestList"]
        if not isinstance(digests, dict) or not isinstance(digests.get("DigestValue"), list):
            raise MessageError("DigestList must be an object with DigestMethod and a list DigestValue")
        algorithm = _ALGORITHM_OF_URI.get(digests.get("DigestMethod"))
        if algorithm is None:
            raise MessageError(f"DigestMethod must be one of {', '.join(HASH_URIS.values())}")
        return [DataObject(digests={algorithm: b64(v, "DigestList.DigestValue")}, label=f"digest {i}")
                for i, v in enumerate(digests["DigestValue"])]
    items = request.get("PO")
    if not isinstance(items, list) or not items:
        raise MessageError("give the covered data as PO (a list of {Binary: {Value}}) or as DigestList")
    found = []
    for i, po in enumerate(items):
        binary = po.get("Binary") if isinstance(po, dict) else None
        data = b64(binary.get("Value") if isinstance(binary, dict) else None, f"PO[{i}].Binary.Value")
        found.append(DataObject(digests={name: hashlib.new(name, data).digest() for name in HASH_URIS},
                                label=f"PO {i}"))
    return found


def validate_evidence(request: dict, tsa_roots: list, journal_key: str) -> tuple[dict[str, Any], bool]:
    """The ValidateEvidence response for ``request`` and whether the evidence is valid. ``tsa_roots`` are the
    trusted TSA roots (certificates) and ``journal_key`` the journal's note verifier key, for packages.
    Raises :class:`MessageError` for a malformed request."""
    package = options(request).get("vault:Package")
    if package is not None:
        verdict = verify_package(io.BytesIO(b64(package, "OptionalInputs['vault:Package']")),
                                 tsa_roots=list(tsa_roots), journal_key=journal_key)
        report = verdict.as_dict()
    else:
        evidence = request.get("Evidence")
        binary = evidence.get("Binary") if isinstance(evidence, dict) else None
        der = b64(binary.get("Value") if isinstance(binary, dict) else None, "Evidence.Binary.Value")
        verdict = verify_evidence_record(der, _data(request), roots=list(tsa_roots))
        report = verdict.to_json()
    valid, failure = verdict.ok, verdict.first_failure
    message = None if valid else (f"{failure.name}: {failure.detail}" if failure else "nothing could be verified")
    return response(request, SUCCESS, VALID if valid else INVALID, message, ValidationReport=report), valid
