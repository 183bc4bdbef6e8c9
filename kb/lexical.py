"""Query-side text processing for lexical search.

Documents are tokenised and stemmed by FTS5 (`porter unicode61`); queries drop English
stopwords first, so common words neither cost time nor dilute BM25.
"""

import re

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# A standard English stopword list (the one used by common BM25 toolkits).
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()  # noqa: SIM905 - a word list reads better as text
)


def query_terms(query: str) -> list[str]:
    """Distinct lower-cased query words without stopwords, in order of appearance."""
    words = (w.lower() for w in _WORD.findall(query))
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS))
