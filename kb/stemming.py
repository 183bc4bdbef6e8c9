"""Words as the lexical index sees them: the Porter stems of SQLite FTS5's `porter`
tokenizer, so that text matched outside the index (the offline model's answer sentences)
matches as the index would (tests/test_stemming.py checks the two agree)."""

import threading

import snowballstemmer

from kb.index.lexical import query_terms

# FTS5's porter tokenizer leaves tokens shorter than this as they are.
MIN_STEMMED = 3

_local = threading.local()  # a snowball stemmer keeps state between calls: one per thread


def stem(word: str) -> str:
    """The Porter stem of a lower-case word, as FTS5 writes it into the index."""
    if len(word) < MIN_STEMMED:
        return word
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("porter")
    return str(stemmer.stemWord(word))


def stems(text: str) -> set[str]:
    """The stems of a text's words, stopwords left out."""
    return {stem(word) for word in query_terms(text)}
