"""The read side of the archive: find objects by id, by business reference, and as case timelines."""
