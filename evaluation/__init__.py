"""Measure retrieval (and answer) quality on real datasets: `kb eval`."""
