"""Documents the archive signs: readable PDFs (pdf.py) and JWS over canonical JSON (jws.py)."""
