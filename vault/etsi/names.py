"""Element names of ETSI TS 119 512 (V1.2.1): the JSON member names of the "JSON Syntax" sub-clauses of clause 5
(Tables 1 to 24) and the XML element names they stand for. Pure: no I/O.

vault answers with the JSON names; on input it also accepts the XML names (and the long names vault used before)
by renaming them, component by component, to the JSON ones (:func:`normalise`). ``OptionalInputs`` content is a
service's own (``vault:`` names) and is left as it is.
"""

from __future__ import annotations

from typing import Any

# Request and response members of the operations (Tables 1-15; clause 5.3.1 for reqId/optIn/optOut).
MESSAGE = {"RequestID": "reqId", "OptionalInputs": "optIn", "OptionalOutputs": "optOut", "Profile": "pro",
           "Status": "stat", "PO": "po", "POID": "poId", "VersionID": "versionId", "SubjectOfRetrieval": "sor",
           "POFormat": "poFormat", "EvidenceFormat": "evFormat", "Mode": "mod", "ClaimedRequestorName": "crn",
           "Reason": "reason", "DeltaPOC": "deltaPoc", "Trace": "trace", "Evidence": "ev",
           "ValidationReport": "valRep", "ProofOfExistence": "poe", "Filter": "fi"}
# The PO component (Table 20) and the Evidence component (Table 19, which adds poId and verId).
OBJECT = {"BinaryData": "binaryData", "Binary": "binaryData", "FormatId": "formatId", "FormatID": "formatId",
          "MimeType": "mimeType", "PronomId": "pronomId", "ID": "id", "RelatedObjects": "relObj",
          "POID": "poId", "VersionID": "verId"}
BINARY = {"Value": "value"}  # binaryData's content (base64), as the independent implementation sends it
DIGEST_LIST = {"DigestMethod": "digAlg", "DigestValue": "digVal", "Evidence": "ev"}  # Table 24

DIGEST_LIST_FORMAT = "http://uri.etsi.org/19512/format/DigestList"  # a PO holding a DigestList (Annex A)


def renamed(value: Any, names: dict[str, str]) -> Any:
    if not isinstance(value, dict):
        return value
    return {names.get(key, key): item for key, item in value.items()}


def _object(value: Any) -> Any:
    found = renamed(value, OBJECT)
    if isinstance(found, dict) and "binaryData" in found:
        found["binaryData"] = renamed(found["binaryData"], BINARY)
    return found


def _objects(value: Any) -> Any:
    return [_object(item) for item in value] if isinstance(value, list) else _object(value)


def normalise(request: dict) -> dict:
    """``request`` with every known XML (or older long) name replaced by the specification's JSON name; a JSON
    name wins when a request carries both spellings."""
    found: dict[str, Any] = {}
    for key, value in request.items():
        name = MESSAGE.get(key, "digestList" if key == "DigestList" else key)
        if name in found and name != key:
            continue
        found[name] = value
    for key in ("po", "ev", "deltaPoc"):
        if key in found:
            found[key] = _objects(found[key])
    if isinstance(found.get("digestList"), dict):
        found["digestList"] = renamed(found["digestList"], DIGEST_LIST)
    return found
