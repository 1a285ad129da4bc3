"""The preservation profiles of this service (ETSI TS 119 512 clause 5.3.2, RetrieveInfo; the Profile component of
clause 5.4.3 and its sub-components), one per retention policy in force. Pure: built from the policies given.

A profile is named by a URI; it says the preservation goal, the storage model, the evidence format (RFC 4998
evidence records), the hash algorithms and timestamp policy used, and the retention policy (``PolicyID``).
"""

from __future__ import annotations

from typing import Any, Iterable

PROFILE_BASE = "urn:vault:etsi:119512:profile:"
# Preservation goals of TS 119 511 / TS 119 512 (general data, with storage); URIs as recalled, see the doc.
GOAL_GENERAL_DATA = "http://uri.etsi.org/19512/goal/pgd"
STORAGE_MODEL = "http://uri.etsi.org/19512/psm/WithStorage"
EVIDENCE_FORMAT = "urn:ietf:rfc:4998"  # an RFC 4998 EvidenceRecord, DER
ERS_MEDIA_TYPE = "application/vnd.vault.ers"  # what GET /v1/objects/{id}/evidence-record answers
RETENTION_POLICY_BASE = "urn:vault:retention-policy:"
HASH_URIS = {"sha256": "http://www.w3.org/2001/04/xmlenc#sha256", "sha384": "http://www.w3.org/2001/04/xmldsig-more#sha384",
             "sha512": "http://www.w3.org/2001/04/xmlenc#sha512"}
OPERATIONS = ("RetrieveInfo", "PreservePO", "RetrievePO", "DeletePO", "UpdatePOC", "RetrieveTrace",
              "ValidateEvidence", "Search")


def profile_uri(policy_id: str) -> str:
    return PROFILE_BASE + policy_id


def policy_of(uri: str | None, known: Iterable[str]) -> str | None:
    """The retention policy a profile URI names, None when it names none of ``known``."""
    if not uri or not uri.startswith(PROFILE_BASE):
        return None
    policy_id = uri[len(PROFILE_BASE):]
    return policy_id if policy_id in set(known) else None


def profile(policy, tsa_policy: str | None) -> dict[str, Any]:
    """The Profile element (clause 5.4.3) of one retention policy in force."""
    return {
        "ProfileIdentifier": profile_uri(policy.id),
        "Operation": [{"Name": name} for name in OPERATIONS],
        "PolicyID": [RETENTION_POLICY_BASE + f"{policy.id}:v{policy.version}"],
        "Description": [{"lang": "en", "value": f"{policy.title} — retained {policy.duration.text} "
                                                f"from {policy.start}, then {policy.final_action}"}],
        "PreservationStorageModel": STORAGE_MODEL,
        "PreservationGoal": [GOAL_GENERAL_DATA],
        "EvidenceFormat": [{"FormatID": EVIDENCE_FORMAT, "MimeType": ERS_MEDIA_TYPE}],
        "vault:HashAlgorithm": [HASH_URIS.get(a, a) for a in policy.hash_algorithms],
        "vault:TimeStampPolicy": [f"urn:oid:{tsa_policy}"] if tsa_policy else [],
        "vault:Retention": {"Duration": policy.duration.text, "Start": policy.start,
                            "FinalAction": policy.final_action},
    }


def profiles(policies: Iterable, tsa_policy: str | None, only: str | None = None) -> list[dict[str, Any]]:
    """The Profile elements of every policy in force (or only the one ``only`` names)."""
    found = [profile(p, tsa_policy) for p in sorted(policies, key=lambda p: p.id)]
    return [p for p in found if only is None or p["ProfileIdentifier"] == only]
