"""Retention: policy files, retention periods (holds and disposal come with the retention issue)."""
