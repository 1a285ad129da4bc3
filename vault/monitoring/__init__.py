"""What the service measures about itself: deposit outcomes, request latencies, alert conditions."""
