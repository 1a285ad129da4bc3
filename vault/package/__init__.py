"""Export packages: BagIt bags (RFC 8493) in a ZIP that carry proofs and everything needed to verify them."""
