"""Standard ranking metrics (as in BEIR / pytrec_eval) and evidence matching."""

import math
import re
from collections.abc import Mapping, Sequence


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """nDCG@k with graded relevance: gain rel / log2(rank + 1)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], 1))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, 1))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    wanted = {doc for doc, gain in relevant.items() if gain > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    for rank, doc in enumerate(ranked[:k], 1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


_FIGURE = re.compile(r"\$?\d[\d,]*(?:\.\d+)?%?")
_YEAR = re.compile(r"^(19|20)\d\d$")


def figures(text: str) -> set[str]:
    """The figures a reference answer rests on: `$82,959`, `18.5%`, `1,234.5`.

    Money, percentages and numbers with separators or decimals count; bare years and
    small integers (dates, footnote numbers) do not. Returned without `$` and `%`.
    """
    found = set()
    for match in _FIGURE.findall(text):
        core = match.strip("$%").rstrip(",.")
        if not core or _YEAR.match(core):
            continue
        meaningful = match.startswith("$") or match.endswith("%") or "," in core or "." in core
        if meaningful and any(ch.isdigit() for ch in core):
            found.add(core)
    return found


def evidence_recall(reference: str, evidence: str) -> float | None:
    """Share of the reference's figures present in `evidence`; None if it has none."""
    wanted = figures(reference)
    if not wanted:
        return None
    present = {
        f for f in wanted if re.search(rf"(?<![\d.,]){re.escape(f)}(?![\d]|[.,]\d)", evidence)
    }
    return len(present) / len(wanted)
