"""Cases: every proof of one sending as a timeline, and whether the expected chain of events is complete."""
