"""The side-by-side table `kb eval` prints."""

from rich.markup import escape
from rich.table import Table

BEIR_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "p50_ms", "p95_ms")
SEC_METRICS = ("doc_hit@5", "evidence_recall@5", "chars@5", "p50_ms", "p95_ms")


def result_table(result: dict) -> Table:
    first = next(iter(result["modes"].values()))
    metrics = BEIR_METRICS if "ndcg@10" in first else SEC_METRICS
    title = f"{result['dataset']} ({result['split']}, {result['queries']} queries)"
    table = Table(title=escape(title))  # a folder name is not markup
    table.add_column("mode")
    for metric in metrics:
        table.add_column(metric, justify="right")
    for mode, scores in result["modes"].items():
        table.add_row(mode, *(_cell(m, scores[m]) for m in metrics))
        groups = {**scores.get("by_split", {}), **scores.get("by_type", {})}
        for name, sub in groups.items():
            table.add_row(
                f"  {name} ({sub['queries']})",
                *(_cell(m, sub[m]) if m in sub else "" for m in metrics),
                style="dim",
            )
    return table


def _cell(metric: str, value: float) -> str:
    return f"{value:.4f}" if "@" in metric and "chars" not in metric else f"{value:.4g}"


def answers_table(answers: dict) -> Table:
    table = Table(title=escape(f"Answers ({answers['model']}, {answers['questions']} questions)"))
    for column in ("evidence_recall", "citation_precision", "p50_ms", "p95_ms"):
        table.add_column(column, justify="right")
    table.add_row(
        *(
            f"{answers[c]:.4g}"
            for c in ("evidence_recall", "citation_precision", "p50_ms", "p95_ms")
        )
    )
    return table


def facts_table(result: dict) -> Table:
    """Fact recall by split (tune on one, report the other)."""
    title = f"{result['dataset']} ({result['model']}, {result['questions']} questions)"
    table = Table(title=escape(title))
    columns = ("fact_recall_tune", "fact_recall_test", "fact_recall", "p50_ms", "p95_ms")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(*(f"{result[c]:.4g}" for c in columns))
    return table


def fact_misses(result: dict) -> list[str]:
    """One line per question whose answer missed a fact."""
    return [
        f"{miss['split']}: {miss['question']} — missed {', '.join(miss['missed'])}"
        for miss in result["misses"]
    ]
