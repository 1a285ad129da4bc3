"""ETSI TS 119 102-2 validation reports for the signatures outside PDFs — S/MIME's CMS (RFC 8551) and XML
signatures (XMLDSig, XAdES) — written with pyHanko's bindings of the report's schema; PDF signatures get theirs
from pyHanko's own generator (:mod:`vault.validation.pades`), and :func:`vault.validation.pades.merge_reports`
joins one report per signature.

Each report names the signature by its value and the digest of its DTBSR (CMS: the DER SignedAttributes, RFC 5652
§5.4; XML: the canonicalized SignedInfo, XMLDSig 1.1 §3.1.2), the signed content by its digest (CMS), the signer's certificate and chain as validation objects, the time the
chain was evaluated at (a signature timestamp's genTime when one proved it: TS 119 102-1 §5.5, validation with
time, else the validation time itself: the basic process), and the verdict as TS 119 102-1 §5.1.3 indications.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from asn1crypto import cms, core, x509
from pyhanko.generated.etsi import ts_11910202, xades
from pyhanko.generated.w3c import xmldsig_core
from pyhanko.sign.validation.ades import derive_validation_object_binary_data, derive_validation_object_identifier
from pyhanko.sign.validation.report.tools import DIGEST_ALGO_URIS, NAMESPACES
from pyhanko_certvalidator.ltv.poe import ValidationObject, ValidationObjectType
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.models.datatype import XmlDateTime

from vault.validation.verdicts import MAIN_INDICATIONS, VALID, SignatureVerdict

MAIN_INDICATION = {verdict: "urn:etsi:019102:mainindication:" + name.lower()
                   for verdict, name in MAIN_INDICATIONS.items()}  # TS 119 102-2's URNs
SUB_INDICATION = "urn:etsi:019102:subindication:"
PROCESS = "urn:etsi:019102:validationprocess:"
_SET_OF = b"\x31"  # the universal SET OF tag the signed attributes are hashed under, instead of their [0]


def cms_signature_report(signer_info: cms.SignerInfo, content: bytes, verdict: SignatureVerdict, signer_cert,
                         chain: list, evaluated_at: datetime, time_proven: bool,
                         claimed_signing_time: datetime | None) -> str | None:
    """The report of one CMS signature over ``content`` (S/MIME): its DTBSR is the DER SignedAttributes under
    their SET OF tag (RFC 5652 §5.4), or the content itself when there are none."""
    algorithm = signer_info["digest_algorithm"]["algorithm"].native
    attributes = signer_info["signed_attrs"]
    signed_attributes = not isinstance(attributes, core.Void) and len(attributes) > 0
    return signature_report(signer_info["signature"].native, _SET_OF + attributes.dump()[1:] if signed_attributes
                            else content, algorithm, content, verdict, signer_cert, chain, evaluated_at,
                            time_proven, claimed_signing_time)


def signature_report(signature_value: bytes, dtbsr: bytes, algorithm: str, document: bytes | None,
                     verdict: SignatureVerdict, signer_cert: x509.Certificate | None, chain: list[x509.Certificate],
                     evaluated_at: datetime, time_proven: bool, claimed_signing_time: datetime | None) -> str | None:
    """A ValidationReport for one signature: identified by ``signature_value`` and the ``algorithm`` digest of its
    ``dtbsr``, over ``document`` (its digest; None to leave it out), with ``signer_cert`` and ``chain``
    (asn1crypto certificates) as validation objects. None when ``algorithm`` has no XML name (the schema needs
    one) or no certificate names the signer."""
    uri = DIGEST_ALGO_URIS.get(algorithm)
    if uri is None or signer_cert is None:
        return None

    def digest(data: bytes) -> xades.DigestAlgAndValueType:
        return xades.DigestAlgAndValueType(digest_method=xmldsig_core.DigestMethod(uri),
                                           digest_value=xmldsig_core.DigestValue(hashlib.new(algorithm, data).digest()))

    certificates = [signer_cert, *[c for c in chain if c.dump() != signer_cert.dump()]]
    objects = [ValidationObject(ValidationObjectType.CERTIFICATE, c) for c in certificates]
    sub = verdict.details.get("sub_indication")
    single = ts_11910202.SignatureValidationReportType(
        signature_identifier=ts_11910202.SignatureIdentifierType(
            signature_value=xmldsig_core.SignatureValue(signature_value),
            digest_alg_and_value=digest(dtbsr), hash_only=False, doc_hash_only=False),
        validation_time_info=ts_11910202.ValidationTimeInfoType(
            validation_time=XmlDateTime.from_datetime(verdict.validated_at),
            best_signature_time=ts_11910202.POEType(poetime=XmlDateTime.from_datetime(evaluated_at),
                                                    type_of_proof="urn:etsi:019102:poetype:validation")),
        signers_document=None if document is None else ts_11910202.SignersDocumentType(
            digest_alg_and_value=digest(document)),
        signature_attributes=ts_11910202.SignatureAttributesType(signing_time=(
            ts_11910202.SASigningTimeType(signed=True, time=XmlDateTime.from_datetime(claimed_signing_time))
            if claimed_signing_time is not None else None)),
        signer_information=ts_11910202.SignerInformationType(signer_certificate=ts_11910202.VOReferenceType(
            voreference=(derive_validation_object_identifier(objects[0]),))),
        signature_validation_process=ts_11910202.SignatureValidationProcessType(
            signature_validation_process_id=PROCESS + ("LTVM" if time_proven else "Basic")),
        signature_validation_status=ts_11910202.ValidationStatusType(
            main_indication=MAIN_INDICATION[verdict.verdict],
            sub_indication=(SUB_INDICATION + sub,) if sub and verdict.verdict != VALID else ()),
    )
    report = ts_11910202.ValidationReport(
        signature_validation_report=(single,),
        signature_validation_objects=ts_11910202.ValidationObjectListType(tuple(
            ts_11910202.ValidationObjectType(
                id=derive_validation_object_identifier(vo), object_type=vo.object_type.urn(),
                validation_object_representation=ts_11910202.ValidationObjectRepresentationType(
                    base64=derive_validation_object_binary_data(vo)))
            for vo in objects)))
    return XmlSerializer(config=SerializerConfig(indent="  ")).render(report, ns_map=NAMESPACES)
