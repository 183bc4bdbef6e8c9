"""The offline model's answers match words by the lexical index's own terms: a word counts
for an answer as the index counts it, also where other Porter stemmers differ, and
stopwords are left out as a query leaves them out."""

from pathlib import Path

from kb.index.catalog import DocumentRecord, NewChunk
from kb.index.lexical import query_terms
from kb.index.sqlite import SqliteCatalog
from kb.index.tokens import text_terms

DOCS = Path(__file__).resolve().parents[1] / "data" / "docs"
TEXT_FILES = {".md", ".txt", ".rst", ".html"}
# The index's terms of words Snowball's original Porter (kb's stemmer before) stems
# otherwise: "technologi", "possibli", "sensibli", "µs", "café", "naïv".
DIFFERENT = {
    "technology": "technolog",
    "possibly": "possibl",
    "sensibly": "sensibl",
    "µs": "μ",  # the micro sign folds to the Greek mu, then Porter drops the "s"
    "café": "cafe",
    "naïve": "naiv",
}


def index_terms(path: Path, texts: list[str]) -> list[set[str]]:
    """The terms the embedded lexical index holds for each text, a passage each."""
    catalog = SqliteCatalog(path / "catalog.sqlite")
    record = DocumentRecord("d", "/docs", "d.md", 1, 1, "h", "", None, 1.0)
    with catalog.transaction() as db:
        catalog.upsert_document(db, record)
        chunks = [NewChunk(f"d-{n}", "", "", None, text) for n, text in enumerate(texts)]
        catalog.replace_chunks(db, "d", chunks)
    catalog.db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, chunks_fts, instance)")
    found = catalog.db.execute("SELECT c.ord, v.term FROM temp.v v JOIN chunks c ON c.id = v.doc")
    terms: list[set[str]] = [set() for _ in texts]
    for ord_, term in found:
        terms[ord_].add(term)
    catalog.close()
    return terms


def sample_words() -> list[str]:
    """The distinct words of the sample docs written as text, stopwords left out."""
    text = "\n".join(p.read_text() for p in sorted(DOCS.glob("*")) if p.suffix in TEXT_FILES)
    return query_terms(text)


def test_words_count_as_the_lexical_index_counts_them(tmp_path: Path):
    words = sample_words()
    assert len(words) > 900
    words += list(DIFFERENT)
    assert text_terms(words) == index_terms(tmp_path, words)
    assert text_terms(list(DIFFERENT)) == [{term} for term in DIFFERENT.values()]


def test_stopwords_are_left_out(tmp_path: Path):
    assert index_terms(tmp_path, ["does", "the"]) == [{"doe"}, {"the"}]
    assert text_terms(["does", "the"]) == [set(), set()]
    questions = ["Which formats does kb ingest?", "ingesting ingested ingests"]
    assert text_terms(questions) == [{"format", "kb", "ingest"}, {"ingest"}]
