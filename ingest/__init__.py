"""Turn a folder of documents into chunks in the knowledge index."""
