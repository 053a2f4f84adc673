"""Game days: probes, faults that always revert, detection, the response, measured times, reports."""
