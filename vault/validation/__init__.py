"""Signature validation at deposit: each signature in a proof gets a verdict that is kept as evidence."""
