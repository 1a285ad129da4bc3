"""The destruction certificate as a readable PDF, signed with pyHanko (PAdES B-B; B-T with the archive's TSA;
B-LT when the TSA's validation data is at hand, i.e. with the built-in TSA).

The PDF is a rendering of the signed JSON certificate (which stays the authoritative form): text pages written
and signed by :mod:`vault.documents.pdf`, shared with the deposit receipts and probative-value reports.
"""

from __future__ import annotations

from vault.documents.pdf import (  # noqa: F401 (re-exported: the names callers and tests know)
    LINES_PER_PAGE, WIDTH, load_or_create_pdf_identity, render_pdf, sign_pdf, verify_signed_pdf, wrap,
)
from vault.sandbox import notice_lines

verify_certificate_pdf = verify_signed_pdf


def certificate_lines(signed: dict) -> list[str]:
    """What the PDF says: the certificate's facts, one per line, then every object."""
    certificate = signed["certificate"]
    lines = notice_lines(certificate) + ["Destruction certificate", "",
             f"Batch {certificate['batch']}, tenant {certificate['tenant']}"]
    for step in ("proposal", "approval", "execution"):
        part = certificate[step]
        lines.append(f"{step.capitalize():10} by {part['by']} at {part['at']}, journal index {part['journal_index']}")
    lines += ["", f"{len(certificate['objects'])} object(s) destroyed:"]
    for item in certificate["objects"]:
        lines += ["", f"Object {item['id']}  policy {item['policy']}  size {item['size']} bytes",
                  f"  deposited {item['deposited_at']}, retention {item['retention_start']} to {item['retention_until']}",
                  f"  SHA-256 {item['sha256']}", f"  SHA-512 {item['sha512'][:64]}", f"          {item['sha512'][64:]}",
                  f"  case reference pseudonym {item['case_ref_pseudonym']}"]
        lines += [f"  copy {c['store']}: {c['result']}" for c in item["copies"]]
    lines += ["", "The signed JSON certificate is authoritative; its Ed25519 signature:",
              f"  key {signed['signature']['key_id']}  {signed['signature']['value']}"]
    return wrap(lines)


def certificate_pdf(signed: dict, cert, key, timestamp=None, validation_data=None) -> bytes:
    return sign_pdf(render_pdf(certificate_lines(signed)), cert, key, timestamp,
                    reason="Destruction certificate of vault", validation_data=validation_data)

