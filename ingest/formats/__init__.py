"""One parser per file format; `ingest.loaders` dispatches to them."""
