"""Consent records: opt-in and opt-out per data subject and purpose, and the state at any date with its proof."""
