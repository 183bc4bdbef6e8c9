"""The embedded lexical index: SQLite FTS5 tables (`porter unicode61 remove_diacritics 2`),
ranked by FTS5's own bm25()."""

import json
import sqlite3

from kb.index.lexical import TermIndex
from kb.types import DocFilter


class Fts5Terms(TermIndex):
    """An FTS5 table (`chunks_fts` keyed by chunk row ids, or `documents_fts`)."""

    def __init__(self, db: sqlite3.Connection, table: str) -> None:
        self._db = db
        self._table = table

    def count(self, term: str) -> int:
        sql = f"SELECT COUNT(*) FROM {self._table} WHERE {self._table} MATCH ?"
        return int(self._db.execute(sql, (_match([term]),)).fetchone()[0])

    def rows(self) -> int:
        # the largest chunk row id is at least the number of rows of either table
        return int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0])

    def score(
        self,
        terms: list[str],
        essential: list[str],
        limit: int,
        also: list[int],
        within: DocFilter | None,
    ) -> dict[int, float]:
        table = self._table
        scored = (
            f"SELECT rowid AS id, -bm25({table}) AS score FROM {table} WHERE {table} MATCH :all"
        )
        wanted = ["+rowid IN (SELECT value FROM json_each(:also))"]
        if essential and set(essential) != set(terms):
            wanted.append(
                f"+rowid IN (SELECT e.rowid FROM {table} e WHERE e.{table} MATCH :essential)"
            )
        elif essential:  # every term is essential: every row holding one is scored
            wanted = ["1"]
        scored += f" AND ({' OR '.join(wanted)}){_within(within)}"
        sql = (
            f"WITH scored AS MATERIALIZED ({scored}) SELECT id, score FROM"
            " (SELECT id, score FROM scored ORDER BY score DESC LIMIT :limit)"
            " UNION SELECT id, score FROM scored WHERE id IN (SELECT value FROM json_each(:also))"
        )
        params = {
            "all": _match(terms),
            "essential": _match(essential),
            "also": json.dumps(also),
            "within": None if within is None else json.dumps(within.ids),
            "limit": limit,
        }
        return dict(self._db.execute(sql, params).fetchall())


def _within(within: DocFilter | None) -> str:
    if within is None:
        return ""
    inside = "NOT IN" if within.excluded else "IN"
    return (
        " AND +rowid IN (SELECT id FROM chunks"
        f" WHERE doc_id {inside} (SELECT value FROM json_each(:within)))"
    )


def _match(terms: list[str]) -> str:
    return " OR ".join(f'"{term}"' for term in terms)
