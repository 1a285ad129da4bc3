"""Rectification (GDPR art. 16, ETSI TS 119 512 UpdatePOC) and erasure (GDPR art. 17) of an object's business
metadata: a correction writes the next sealed record version, an erasure deletes the salts and clear values of
personal fields and leaves every proof intact (issue 22, docs/metadata-record.md)."""
