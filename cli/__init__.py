"""The `kb` command line: thin commands over the kb / ingest / server APIs."""
