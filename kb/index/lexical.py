"""Lexical search: BM25 exactly as SQLite FTS5's bm25() ranks (`porter unicode61`), each
row scored once, over either index that holds the terms: FTS5 (embedded, kb.index.fts) or
the postings kept in PostgreSQL (kb.index.postings).

Queries drop English stopwords first, so common words neither cost time nor dilute BM25.

Scoring a row reads its length and is most of the cost of a search; finding the rows that
hold a term is cheap. So a search scores only rows holding one of its rarer terms, in one
pass that also scores the rows it is asked about (the dense side's candidates):
- BM25 sums over the terms idf(t) * tf (k1 + 1) / (tf + k1 (1 - b + b len / avglen)), so
  a term adds at most idf(t) (k1 + 1). A row holding only common terms whose bounds sum to
  less than a score `limit` rows are known to reach cannot be in the top `limit`
  (MaxScore): skipping such rows changes nothing.
- The rows scored are also capped (`SCORED_ROWS`, by the terms' document frequencies):
  beyond that, the most common terms only add to the scores of rows found by rarer ones.
  Up to the cap (every query on indexes of up to ~25k chunks) the result is exactly that
  of scoring every row.
"""

import math
import re
from collections.abc import Iterable
from typing import Protocol

from kb.types import DocFilter

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
K1 = 1.2  # FTS5's bm25() constants
B = 0.75
# Rows a search scores at most (beyond the rows it was asked to score), ~25 ms here: the
# bound on its work, whatever the size of the index. Below it the result is exact.
SCORED_ROWS = 25_000

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


class TermIndex(Protocol):
    """One lexical table (passages, or documents whole) as BM25 search needs it."""

    def count(self, term: str) -> int:
        """Rows holding the query word `term`."""
        ...

    def rows(self) -> int:
        """At least the number of rows (the N of idf)."""
        ...

    def score(
        self,
        terms: list[str],
        essential: list[str],
        limit: int,
        also: list[int],
        within: DocFilter | None,
    ) -> dict[int, float]:
        """Row -> BM25 over `terms` of the best `limit` rows that hold an `essential` term
        (and are `within` the documents), and of the rows `also` that hold any term."""
        ...


def bm25_rows(
    index: TermIndex,
    terms: list[str],
    limit: int,
    also: Iterable[int] = (),
    within: DocFilter | None = None,
) -> dict[int, float]:
    """Row -> BM25 of the best `limit` rows and of the rows `also` (those holding a
    query term)."""
    if not terms:
        return {}
    essential = _essential(index, terms, limit, within) if limit else []
    return index.score(terms, essential, limit, sorted(set(also)), within)


def _essential(
    index: TermIndex, terms: list[str], limit: int, within: DocFilter | None
) -> list[str]:
    """The terms a row must hold one of to be scored: all of them while their rows fit
    the budget; else the rarest ones such that a row holding none of them cannot be
    among the best `limit` (the bounds of the other terms sum to less than a score that
    `limit` rows are known to reach), cut to the budget when that is still too many."""
    counts = {term: index.count(term) for term in terms}
    by_rarity = sorted(terms, key=counts.__getitem__)
    if sum(counts.values()) <= SCORED_ROWS:
        return by_rarity
    rows = index.rows()
    probe = _rarest(by_rarity, counts, SCORED_ROWS // 5, limit)  # a fifth of the work, at most
    reached = _lower_bound(index, probe, limit, within)
    common = 0.0  # the bound of the terms left out, most common first
    cut = len(by_rarity)
    while cut > 1:
        common += idf(rows, counts[by_rarity[cut - 1]]) * (K1 + 1)
        if common >= reached:
            break
        cut -= 1
    return _rarest(by_rarity[:cut], counts, SCORED_ROWS, limit)


def _rarest(by_rarity: list[str], counts: dict[str, int], budget: int, limit: int) -> list[str]:
    """The rarest terms whose rows add up to at most `budget`, or to `limit` rows (the
    top must be full whenever enough rows hold a term)."""
    chosen = by_rarity[:1]
    for term in by_rarity[1:]:
        rows = sum(counts[t] for t in chosen)
        if rows >= limit and rows + counts[term] > budget:
            break
        chosen.append(term)
    return chosen


def _lower_bound(index: TermIndex, probe: list[str], limit: int, within: DocFilter | None) -> float:
    """A score at least `limit` rows reach: the `limit`-th best BM25 share of the probe
    terms (a row's full score is at least its share of some of the terms); 0 when fewer
    rows hold them."""
    scores = sorted(index.score(probe, probe, limit, [], within).values(), reverse=True)
    return scores[limit - 1] if len(scores) >= limit else 0.0


def idf(rows: int, count: int) -> float:
    """FTS5's idf of a term in `count` of `rows` rows (an upper bound for rows >= the
    true count), floored as FTS5 floors it."""
    value = math.log((rows - count + 0.5) / (count + 0.5)) if rows > count else 0.0
    return max(value, 1e-6)
