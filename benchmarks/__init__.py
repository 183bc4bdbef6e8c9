"""`kb bench`: ingest, search and chat measured side by side on this machine.

Ratios (cold ingest over the floor, warm over cold) are measured in one run, so they hold on
a noisy machine; absolute figures are recorded for reference. Results go to
`<KB_DATA_DIR>/bench/<UTC timestamp>.json`.
"""
