"""The offline model's answer: the passages' sentences, list items and table rows that
answer the question, chosen by meaning (the embedding model) and by words (stemmed as the
lexical index stems them), led by the single best sentence, each line cited as [n].

A row is shown in its table, under the table's header; list items as a list; sentences as
they are written. Lines from the file the best unit came from are preferred: a question is
usually about one document, and a quote from another is more often noise than evidence.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kb.index.tokens import text_terms
from server.passages import Passage, parse_passages
from server.units import Unit, cells, passage_units

Embed = Callable[[list[str]], np.ndarray]  # texts -> unit-length vectors, one row each

NOTHING_FOUND = (
    "I couldn't find anything about that in the knowledge base. "
    "Try other words, or check that the documents you expect are ingested (`kb status`)."
)
AMOUNT_QUESTION = re.compile(
    r"\b(how (much|many)|what (was|were|is|are) the|total|amount|revenue|sales|income|"
    r"margin|cost|price|percent|percentage|rate|ratio|growth|change|increase|decrease)\b",
    re.IGNORECASE,
)
FIGURE = re.compile(r"\$\s?\d|\d[\d,]*\.?\d*\s?%|\d{1,3}(,\d{3})+")
COMMAND = re.compile(r"^[a-z$./~]|^[A-Z_]+=")


@dataclass(frozen=True)
class Weights:
    """How a unit's evidence adds up (tuned on the tune splits of evaluation/sample-docs and
    of the SEC questions: `figure`, `other_file` and `sentences` on SEC, README)."""

    dense: float = 1.0  # cosine similarity of the question and the unit
    lexical: float = 0.6  # share of the question's (IDF-weighted) stems the unit holds
    context: float = 0.4  # of the score of the lead-in ("...:") of its list or table
    answer: float = 1.0  # an FAQ answer's first sentence, when its question is the user's
    answer_decay: float = 0.8  # ... and less for each later sentence of the answer
    paraphrase: float = 0.5  # questions less similar than this are no paraphrase at all
    figure: float = 0.3  # a unit stating an amount, when the question asks for one
    rank: float = 0.02  # less per search rank of its passage
    relative: float = 0.6  # shown: a score at least this share of the best one's
    other_file: float = 0.7  # ... of the best one's, from another file than the best unit
    floor: float = 0.3  # nothing relevant: the best score is below this
    sentences: int = 8  # at most this many sentences and other lines
    items: int = 8  # at most this many list items
    rows: int = 12  # at most this many table rows


WEIGHTS = Weights()


@dataclass(frozen=True)
class Scored:
    unit: Unit
    where: str  # the passage's file, locator and heading
    score: float


def compose_answer(
    question: str, passages_text: str, embed: Embed | None = None, weights: Weights = WEIGHTS
) -> str:
    passages = parse_passages(passages_text)
    scored = score_units(question, passages, embed, weights)
    chosen = choose(scored, weights)
    return render(chosen) if chosen else NOTHING_FOUND


def score_units(
    question: str, passages: list[Passage], embed: Embed | None, weights: Weights
) -> list[Scored]:
    units = [(p, u) for p in passages for u in passage_units(p)]
    if not units:
        return []
    texts = [_meaning_text(u) for _, u in units]
    # all the texts in one batch; a row's header words count for meaning only
    terms, *unit_terms = text_terms([question, *(u.text for _, u in units)])
    idf = _idf(terms, unit_terms)
    lexical = np.array([_coverage(terms, found, idf) for found in unit_terms])
    rank = {p.number: n for n, p in enumerate(passages)}
    prior = [-weights.rank * rank[u.passage] for _, u in units]
    # Without an embedder, the share of the question's words stands in for meaning.
    dense = _similarities(question, texts, embed) if embed else lexical
    own = weights.dense * dense + weights.lexical * lexical + np.array(prior)
    if AMOUNT_QUESTION.search(question):
        own += np.array([weights.figure * bool(FIGURE.search(u.text)) for _, u in units])
    scores = own + np.array(_lent_all(units, own, dense, weights))
    return [Scored(u, p.where, float(s)) for (p, u), s in zip(units, scores, strict=True)]


def _lent_all(
    units: list[tuple[Passage, Unit]], own: np.ndarray, dense: np.ndarray, weights: Weights
) -> list[float]:
    """What each unit's context lends it (_lent). A list or table the chunker cut off from
    its lead-in borrows the lead-in that ends another passage under the same heading; the
    rows of a table split over passages share what the best-led row got."""
    index = {(u.passage, u.position): n for n, (_, u) in enumerate(units)}
    lent = [
        _lent(u, index.get((u.passage, u.context)), units, own, dense, weights) for _, u in units
    ]
    dangling = {p.where: float(own[n]) for n, (p, _) in enumerate(units) if _dangles(n, units)}
    starts = {p.number: u.position for p, u in reversed(units)}
    for n, (p, u) in enumerate(units):
        if u.kind in ("item", "row") and u.context < 0 and u.group == starts[p.number]:
            lent[n] = max(lent[n], weights.context * dangling.get(p.where, 0.0))
    by_header: dict[str, float] = {}
    for (_, u), amount in zip(units, lent, strict=True):
        if u.kind == "row" and u.header:
            by_header[u.header] = max(amount, by_header.get(u.header, 0.0))
    return [
        by_header[u.header] if u.kind == "row" and u.header else amount
        for (_, u), amount in zip(units, lent, strict=True)
    ]


def _dangles(n: int, units: list[tuple[Passage, Unit]] | list[Scored]) -> bool:
    """A lead-in ("...:") that ends its passage: its list or table is in another one."""
    unit = _unit(units[n])
    last = n + 1 == len(units) or _unit(units[n + 1]).passage != unit.passage
    return last and unit.kind == "sentence" and unit.text.endswith(":")


def _unit(item: tuple[Passage, Unit] | Scored) -> Unit:
    return item.unit if isinstance(item, Scored) else item[1]


def _lent(
    unit: Unit,
    context: int | None,
    units: list[tuple[Passage, Unit]],
    own: np.ndarray,
    dense: np.ndarray,
    weights: Weights,
) -> float:
    """What a unit's context lends it. An FAQ's question lends to its answer as far as it
    asks what the user asks (the model is good at telling paraphrases), the first sentence
    most; a list's lead-in lends its score to every item."""
    if context is None:
        return 0.0
    lead = units[context][1]
    if lead.kind != "question":
        return weights.context * float(own[context])
    paraphrase = max(0.0, float(dense[context]) - weights.paraphrase) / (1 - weights.paraphrase)
    return weights.answer * paraphrase * weights.answer_decay ** (unit.position - lead.position - 1)


def _meaning_text(unit: Unit) -> str:
    """A row reads as `Header: value. Header: value.`, so that its words and meaning
    include what its columns are."""
    if unit.kind != "row" or not unit.header:
        return unit.text
    names = cells(unit.header.split("\n")[0])
    pairs = zip(names, cells(unit.text), strict=False)
    return ". ".join(f"{name}: {value}" for name, value in pairs if value)


def _idf(terms: set[str], unit_terms: list[set[str]]) -> dict[str, float]:
    """Rarer stems among these passages weigh more: `kb` in every sentence tells little."""
    count = len(unit_terms)
    return {t: math.log(1 + (count + 1) / (sum(t in u for u in unit_terms) + 0.5)) for t in terms}


def _coverage(terms: set[str], found: set[str], idf: dict[str, float]) -> float:
    total = sum(idf.values())
    return sum(idf[t] for t in terms & found) / total if total else 0.0


def _similarities(question: str, texts: list[str], embed: Embed) -> np.ndarray:
    vectors = embed([question, *texts])
    return np.asarray(vectors[1:] @ vectors[0], dtype=np.float64)


def choose(scored: list[Scored], weights: Weights = WEIGHTS) -> list[Scored]:
    """The units worth showing, best first; a list's lead-in brings its items along."""
    shown = [
        s for n, s in enumerate(scored) if s.unit.kind != "question" and not _dangles(n, scored)
    ]
    candidates = sorted(shown, key=lambda s: -s.score)
    if not candidates or candidates[0].score < weights.floor:
        return []
    best = candidates[0]
    focus = _file(best.where)
    shares = {True: weights.relative, False: weights.other_file}
    picked = [c for c in candidates if c.score >= best.score * shares[_file(c.where) == focus]]
    leads = {(s.unit.passage, s.unit.position) for s in picked if s.unit.text.endswith(":")}
    picked += [
        c for c in candidates if (c.unit.passage, c.unit.context) in leads and c not in picked
    ]
    return _within_limits(picked, weights)


def _within_limits(picked: list[Scored], weights: Weights) -> list[Scored]:
    """At most so many lines of each kind, and no line twice (one file often repeats
    another's sentence)."""
    limits = {"row": weights.rows, "item": weights.items}
    taken: dict[str, int] = {}
    chosen: list[Scored] = []
    seen: set[str] = set()
    terms = text_terms([c.unit.text for c in picked])
    for candidate, found in zip(picked, terms, strict=True):
        kind = candidate.unit.kind if candidate.unit.kind in limits else "sentence"
        key = " ".join(sorted(found)) or candidate.unit.text
        if key in seen or taken.get(kind, 0) >= limits.get(kind, weights.sentences):
            continue
        seen.add(key)
        taken[kind] = taken.get(kind, 0) + 1
        chosen.append(candidate)
    return chosen


def _file(where: str) -> str:
    return where.split(" — ")[0].split(",")[0]


def render(chosen: list[Scored]) -> str:
    """The best sentence first; then passage by passage (best first), in reading order:
    a list's lead-in above its items, rows under their table's header, other lines as a
    list."""
    lead = next((s for s in chosen if s.unit.kind == "sentence"), None)
    order = {s.unit.passage: n for n, s in reversed(list(enumerate(chosen)))}
    rest = sorted(
        (s.unit for s in chosen if s is not lead),
        key=lambda u: (order[u.passage], u.position),
    )
    blocks: list[list[str]] = [[_cited(lead.unit)]] if lead else []
    for unit in rest:
        _add(blocks, unit)
    return "\n\n".join("\n".join(block) for block in blocks)


def _add(blocks: list[list[str]], unit: Unit) -> None:
    """Adds a unit's line to the block it continues (its table, a list) or a new one."""
    if unit.kind == "row" and unit.header:
        line = f"{unit.text[:-1].rstrip()} [{unit.passage}] |"
        header = unit.header.split("\n")
        table = next((b for b in blocks if b[: len(header)] == header), None)
        if table:
            table.append(line)
        else:
            blocks.append([*header, line])
    elif unit.kind == "sentence" and unit.text.endswith(":"):
        blocks.append([_cited(unit)])
    elif blocks and blocks[-1][-1].startswith("- "):
        blocks[-1].append(f"- {_cited(unit)}")
    else:
        blocks.append([f"- {_cited(unit)}"])


def _cited(unit: Unit) -> str:
    text = f"`{unit.text}`" if unit.kind == "line" and COMMAND.match(unit.text) else unit.text
    if unit.kind == "row":
        text = " | ".join(cells(text))
    return f"{text} [{unit.passage}]"
