"""The preservation profiles of this service (ETSI TS 119 512 clause 5.3.2, RetrieveInfo; the Profile component,
Table 21, in its JSON syntax), one per retention policy in force. Pure: built from the policies given.

The Profile extends the OASIS DSS-X Metadata ``ProfileType`` (Preservation-API XSD V1.1.2, clause 5.4.6), so its
``op`` items are DSS-X Metadata Operations (``{name}``), its ``pol`` items Policies (``{type, pbref: {polid}}``,
PolicyByRef/PolicyID) and its ``ef`` items Formats (``{fid}``, FormatID): docs/etsi-119512.md says where each name
was read.

A profile is named by a URI (``pid``); it says the preservation goal (``pg``, clause 4.2), the storage model
(``psm``, clause 5.4.6), the evidence format (``ef``: RFC 4998 evidence records), the retention policy (``pol``)
and, in its ``ext`` (Extension), vault's hash algorithms, timestamp policy and retention.
"""

from __future__ import annotations

from typing import Any, Iterable

PROFILE_BASE = "urn:vault:etsi:119512:profile:"
GOAL_GENERAL_DATA = "http://uri.etsi.org/19512/goal/pgd"  # preservation of general data (clause 4.2)
STORAGE_MODEL = "WithStorage"  # the storage-model value of clause 5.4.6 (a token, not a URI)
POLICY_TYPE = "http://uri.etsi.org/19512/policy/preservation-evidence"  # clause 5.4.7
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
    """The Profile component (Table 21, JSON names) of one retention policy in force."""
    return {
        "pid": profile_uri(policy.id),
        "op": [{"name": name} for name in OPERATIONS],
        "pol": [{"type": POLICY_TYPE, "pbref": {"polid": RETENTION_POLICY_BASE + f"{policy.id}:v{policy.version}"}}],
        "desc": [{"lang": "en", "value": f"{policy.title} — retained {policy.duration.text} "
                                         f"from {policy.start}, then {policy.final_action}"}],
        "psm": STORAGE_MODEL,
        "pg": [GOAL_GENERAL_DATA],
        "ef": [{"fid": EVIDENCE_FORMAT}],
        "ext": {"vault:HashAlgorithm": [HASH_URIS.get(a, a) for a in policy.hash_algorithms],
                "vault:TimeStampPolicy": [f"urn:oid:{tsa_policy}"] if tsa_policy else [],
                "vault:Retention": {"Duration": policy.duration.text, "Start": policy.start,
                                    "FinalAction": policy.final_action}},
    }


def profiles(policies: Iterable, tsa_policy: str | None, only: str | None = None) -> list[dict[str, Any]]:
    """The Profile elements of every policy in force (or only the one ``only`` names)."""
    found = [profile(p, tsa_policy) for p in sorted(policies, key=lambda p: p.id)]
    return [p for p in found if only is None or p["pid"] == only]
