"""What a signed PDF carries besides its signatures, for offline validation (ETSI EN 319 142-1 PAdES).

Certificates and revocation data come from the signatures' CMS certificate sets, the Document Security Store
(PAdES-LT/LTA, EN 319 142-1 §5.4.2) and Adobe's ``adbe-revocationInfoArchival`` signed attribute. They are used to
build chains and check revocation, never as trust anchors (only the operator's configured anchors are trusted).

Also here: readable names for certificates (RFC 4514), and :func:`raw_integrity`, a ByteRange digest check
that needs no PDF parser, for files the PDF library cannot open (ISO 32000-1 §12.8.1: the signature covers the
bytes named by ``/ByteRange``, and the gap between its two ranges is the ``/Contents`` hex string).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import cms, tsp, x509
from asn1crypto import crl as asn1_crl, ocsp as asn1_ocsp

from vault.clock import iso_z

# RFC 4514 §3 short names, plus the ones RFC 4519 / X.520 readers expect
_SHORT = {"common_name": "CN", "organization_name": "O", "organizational_unit_name": "OU", "country_name": "C",
          "locality_name": "L", "state_or_province_name": "ST", "street_address": "STREET",
          "domain_component": "DC", "user_id": "UID", "email_address": "emailAddress",
          "serial_number": "serialNumber", "given_name": "GN", "surname": "SN", "title": "title",
          "organization_identifier": "organizationIdentifier", "pseudonym": "pseudonym", "name": "name",
          "dn_qualifier": "dnQualifier"}


def rfc4514(name: x509.Name) -> str:
    """``CN=Alice,O=Example,C=BE``: most specific RDN first, special characters escaped (RFC 4514 §2.4)."""
    parts = []
    try:
        for rdn in reversed(list(name.chosen)):
            values = []
            for atv in rdn:
                kind = atv["type"]
                key = _SHORT.get(kind.native) or kind.dotted
                try:
                    value = str(atv["value"].native)
                except Exception:  # noqa: BLE001 - an undecodable value is shown as hex, not fatal
                    value = "#" + atv["value"].dump().hex()
                value = re.sub(r'([,+"\\<>;=])', r"\\\1", value)
                value = re.sub(r"^([ #])|( )$", r"\\\1\2", value)
                values.append(f"{key}={value}")
            parts.append("+".join(values))
    except Exception:  # noqa: BLE001 - a name asn1crypto cannot walk still gets a description
        return name.human_friendly if hasattr(name, "human_friendly") else repr(name)
    return ",".join(parts)


def describe(cert: x509.Certificate) -> dict[str, Any]:
    """The ``certificates`` entry of a verdict's details (see verdicts.py)."""
    out: dict[str, Any] = {"sha256": hashlib.sha256(cert.dump()).hexdigest()}
    try:
        validity = cert["tbs_certificate"]["validity"]
        out.update(subject=rfc4514(cert.subject), issuer=rfc4514(cert.issuer), serial=format(cert.serial_number, "x"),
                   not_before=iso_z(validity["not_before"].native), not_after=iso_z(validity["not_after"].native))
    except Exception as exc:  # noqa: BLE001
        out["error"] = f"{type(exc).__name__}: {exc}"[:200]
    return out


@dataclass
class Material:
    """Untrusted certificates and revocation data found in the file, shared by all its signatures."""

    certs: list[x509.Certificate] = field(default_factory=list)
    crls: list[asn1_crl.CertificateList] = field(default_factory=list)
    ocsps: list[asn1_ocsp.OCSPResponse] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def collect_material(reader, signatures) -> Material:
    """DSS certificates, CRLs and OCSP responses, every CMS certificate and every revocationInfoArchival entry.

    Each part is read on its own: a broken DSS stream is recorded in ``problems`` and the rest is still used.
    """
    from pyhanko.pdf_utils.decode_limits import DecodePurpose
    from pyhanko.sign.general import find_cms_attribute_iter
    from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError

    found = Material()
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        dss = None
    except Exception as exc:  # noqa: BLE001 - pyhanko raises assorted errors on malformed stores
        dss = None
        found.problems.append(f"DSS: {type(exc).__name__}: {exc}"[:200])
    if dss is not None:
        for refs, loader, purpose, into in (
                (dss.certs.values(), x509.Certificate.load, DecodePurpose.CERTIFICATE, found.certs),
                (dss.crls, asn1_crl.CertificateList.load, DecodePurpose.CRL, found.crls),
                (dss.ocsps, asn1_ocsp.OCSPResponse.load, DecodePurpose.OCSP_RESPONSE, found.ocsps)):
            for ref in refs:
                try:
                    item = loader(ref.get_object().read_data(purpose))
                    _ = item.native  # parse now, so that a broken entry fails here
                    into.append(item)
                except Exception as exc:  # noqa: BLE001
                    found.problems.append(f"DSS entry: {type(exc).__name__}: {exc}"[:200])
    for sig in signatures:
        try:
            for choice in sig.signed_data["certificates"] or ():
                if choice.name == "certificate":
                    found.certs.append(choice.chosen)
            for archival in find_cms_attribute_iter(sig.signer_info["signed_attrs"], "adobe_revocation_info_archival"):
                found.crls.extend(archival["crl"] or ())
                found.ocsps.extend(archival["ocsp"] or ())
        except Exception as exc:  # noqa: BLE001
            found.problems.append(f"{getattr(sig, 'field_name', '?')}: {type(exc).__name__}: {exc}"[:200])
    return found


TST_INFO = "1.2.840.113549.1.9.16.1.4"  # id-ct-TSTInfo (RFC 3161)
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]")


def raw_integrity(data: bytes, limit: int = 20) -> list[dict[str, Any]]:
    """For each ``/ByteRange`` found by scanning the bytes: does the digest of the covered bytes equal the
    ``messageDigest`` signed attribute of the CMS in the gap? (``intact``: True, False, or None if unknown)."""
    results = []
    for match in list(_BYTE_RANGE.finditer(data))[:limit]:
        a, b, c, d = (int(x) for x in match.groups())
        entry: dict[str, Any] = {"byte_range": [a, b, c, d], "intact": None}
        results.append(entry)
        try:
            gap = data[a + b:c].strip()
            if not (gap.startswith(b"<") and gap.endswith(b">")) or a != 0 or c + d > len(data) or a + b > c:
                beyond = c + d > len(data)
                entry["intact"] = False if beyond else None
                entry["detail"] = ("the ByteRange reaches beyond the end of the file" if beyond
                                   else "the ByteRange does not frame a /Contents hex string")
                continue
            contents = bytes.fromhex(re.sub(rb"\s", b"", gap[1:-1]).decode("ascii"))
            if not contents.strip(b"\x00"):
                entry["detail"] = "empty signature value"
                continue
            signed_data = cms.ContentInfo.load(contents)["content"]
            encapsulated = signed_data["encap_content_info"]
            if encapsulated["content_type"].dotted == TST_INFO:  # a document timestamp: RFC 3161 messageImprint
                imprint = tsp.TSTInfo.load(bytes(encapsulated["content"]))["message_imprint"]
                algorithm, expected = imprint["hash_algorithm"]["algorithm"].native, imprint["hashed_message"].native
                what = "messageImprint"
            else:
                signer = signed_data["signer_infos"][0]
                algorithm, expected, what = signer["digest_algorithm"]["algorithm"].native, None, "messageDigest"
                for attr in signer["signed_attrs"] or ():
                    if attr["type"].native == "message_digest":
                        expected = attr["values"][0].native
            if expected is None:
                entry["detail"] = "no messageDigest signed attribute to compare with"
                continue
            digest = hashlib.new(algorithm, data[a:a + b] + data[c:c + d]).digest()
            entry["intact"] = digest == expected
            entry["detail"] = f"{algorithm} digest of the signed byte ranges " + (
                f"matches the signed {what}" if entry["intact"] else f"differs from the signed {what}")
        except Exception as exc:  # noqa: BLE001 - a part we cannot decode leaves the answer unknown
            entry["detail"] = f"{type(exc).__name__}: {exc}"[:200]
    return results
