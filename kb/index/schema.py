"""The catalog's schema as ordered, named migrations (kb/index/catalog.py applies them)."""

# Each migration is a sequence of statements, executed one by one by the driver; a
# migration's name is recorded in `migrations` (with the time) once all of it has run.
SQLITE_MIGRATIONS: list[tuple[str, tuple[str, ...]]] = [
    (
        "001_initial",
        (
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE documents (
                doc_id TEXT PRIMARY KEY,
                root TEXT NOT NULL,
                path TEXT NOT NULL,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                content_hash TEXT,
                title TEXT,
                error TEXT,
                indexed_at REAL,
                UNIQUE (root, path)
            )""",
            """CREATE TABLE chunks (
                id INTEGER PRIMARY KEY,
                chunk_id TEXT NOT NULL UNIQUE,
                doc_id TEXT NOT NULL REFERENCES documents(doc_id),
                ord INTEGER NOT NULL,
                title TEXT NOT NULL,
                heading TEXT NOT NULL,
                page INTEGER,
                text TEXT NOT NULL
            )""",
            "CREATE INDEX chunks_doc ON chunks (doc_id, ord)",
            """CREATE VIRTUAL TABLE chunks_fts USING fts5(
                body, tokenize = 'porter unicode61 remove_diacritics 2'
            )""",
            # vector ids written to Chroma but not yet committed here (crash recovery)
            "CREATE TABLE pending_vectors (chunk_id TEXT PRIMARY KEY)",
        ),
    ),
    (
        # Title and headings in a field of their own: BM25 normalises each field by its own
        # length (BM25F-like): +0.3 nDCG@10 points lexical on SciFact train, see README.
        "002_lexical_fields",
        (
            "DROP TABLE chunks_fts",
            """CREATE VIRTUAL TABLE chunks_fts USING fts5(
                context, text, tokenize = 'porter unicode61 remove_diacritics 2'
            )""",
            """INSERT INTO chunks_fts (rowid, context, text)
                SELECT id, title || ' ' || heading, text FROM chunks""",
        ),
    ),
    (
        # Each document as a whole, for BM25 of the document a passage belongs to: a
        # question names the company or topic of a filing that its passages rarely repeat.
        # The rowid is the id of the document's first chunk, which lives exactly as long.
        "003_document_lexical",
        (
            """CREATE VIRTUAL TABLE documents_fts USING fts5(
                title, text, tokenize = 'porter unicode61 remove_diacritics 2'
            )""",
            """INSERT INTO documents_fts (rowid, title, text)
                SELECT MIN(id), MIN(title), group_concat(text, char(10))
                FROM chunks GROUP BY doc_id""",
        ),
    ),
    (
        # How many vectors (windows of its text) each chunk has in Chroma; chunks indexed
        # before had exactly one.
        "004_chunk_vectors",
        ("ALTER TABLE chunks ADD COLUMN vectors INTEGER NOT NULL DEFAULT 1",),
    ),
    (
        # Where a chunk sits in its file, for every format (page, slide, sheet range,
        # chapter, message, cell), instead of a PDF page number alone.
        "005_locators",
        (
            "ALTER TABLE chunks ADD COLUMN locator_kind TEXT",
            "ALTER TABLE chunks ADD COLUMN locator_value TEXT",
            """UPDATE chunks SET locator_kind = 'page', locator_value = CAST(page AS TEXT)
                WHERE page IS NOT NULL""",
            "ALTER TABLE chunks DROP COLUMN page",
        ),
    ),
    (
        # Every document belongs to a collection (the unit of permissions, kb grant); a
        # folder's documents take the collection they were last ingested with.
        "006_collections",
        (
            "ALTER TABLE documents ADD COLUMN collection TEXT NOT NULL DEFAULT 'default'",
            "CREATE INDEX documents_collection ON documents (collection)",
        ),
    ),
    (
        # The Library pages through documents in these orders; with an index a page deep
        # in 100,000 documents is read in order, not sorted first.
        "007_library_order",
        (
            "CREATE INDEX documents_path ON documents (path COLLATE NOCASE, doc_id)",
            "CREATE INDEX documents_indexed ON documents (indexed_at, doc_id)",
            "CREATE INDEX documents_size ON documents (size, doc_id)",
        ),
    ),
]

# The same catalog on PostgreSQL (kb.index.postgres), in a schema of its own. The lexical
# index is postings with the term statistics BM25 needs, kept in the same transactions:
# table 0 holds passages (rows: chunk row ids), table 1 documents whole (rows: the row id of
# a document's first chunk), as the two FTS5 tables do.
POSTGRES_MIGRATIONS: list[tuple[str, tuple[str, ...]]] = [
    (
        "001_initial",
        (
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE documents (
                doc_id TEXT PRIMARY KEY,
                root TEXT NOT NULL,
                path TEXT NOT NULL,
                size BIGINT NOT NULL,
                mtime_ns BIGINT NOT NULL,
                content_hash TEXT,
                title TEXT,
                error TEXT,
                indexed_at DOUBLE PRECISION,
                collection TEXT NOT NULL DEFAULT 'default',
                UNIQUE (root, path)
            )""",
            "CREATE INDEX documents_collection ON documents (collection)",
            "CREATE INDEX documents_path ON documents (lower(path), doc_id)",
            "CREATE INDEX documents_indexed ON documents (indexed_at, doc_id)",
            "CREATE INDEX documents_size ON documents (size, doc_id)",
            """CREATE TABLE chunks (
                id BIGSERIAL PRIMARY KEY,
                chunk_id TEXT NOT NULL UNIQUE,
                doc_id TEXT NOT NULL REFERENCES documents(doc_id),
                ord INTEGER NOT NULL,
                title TEXT NOT NULL,
                heading TEXT NOT NULL,
                text TEXT NOT NULL,
                vectors INTEGER NOT NULL DEFAULT 1,
                locator_kind TEXT,
                locator_value TEXT
            )""",
            "CREATE INDEX chunks_doc ON chunks (doc_id, ord)",
            "CREATE TABLE pending_vectors (chunk_id TEXT PRIMARY KEY)",
            """CREATE TABLE lexical_postings (
                tab SMALLINT NOT NULL,
                term TEXT NOT NULL,
                row_id BIGINT NOT NULL,
                tf INTEGER NOT NULL,
                length INTEGER NOT NULL,
                PRIMARY KEY (tab, term, row_id)
            )""",
            "CREATE INDEX lexical_postings_row ON lexical_postings (tab, row_id)",
            """CREATE TABLE lexical_terms (
                tab SMALLINT NOT NULL,
                term TEXT NOT NULL,
                rows BIGINT NOT NULL,
                PRIMARY KEY (tab, term)
            )""",
            """CREATE TABLE lexical_rows (
                tab SMALLINT PRIMARY KEY,
                rows BIGINT NOT NULL,
                tokens BIGINT NOT NULL
            )""",
            "INSERT INTO lexical_rows (tab, rows, tokens) VALUES (0, 0, 0), (1, 0, 0)",
            # The indexed bytes of each document, for "Open original" on any worker (one may
            # run on a host without the ingested folder), by content: copies are kept once.
            "CREATE TABLE originals (content_hash TEXT PRIMARY KEY, data BYTEA NOT NULL)",
            "CREATE INDEX documents_content ON documents (content_hash)",
        ),
    ),
]
