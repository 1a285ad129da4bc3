"""Documents the archive issues about objects and cases: signed receipts and probative-value reports."""
