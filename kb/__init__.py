"""kb: a local, offline-first knowledge base you can search and chat with."""
