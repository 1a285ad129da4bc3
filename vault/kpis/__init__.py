"""LRE key performance indicators per tenant and period, folded from the proofs (issue 20; docs/kpis.md)."""
