"""The metric code against hand-computed values, and `kb eval` on tiny datasets."""

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from evaluation.beir import evaluate_beir
from evaluation.facts import answer_all, load_fact_set, stated
from evaluation.metrics import evidence_recall, figures, mrr_at, ndcg_at, percentile, recall_at
from evaluation.sec import evaluate_sec
from tests.serving import REPO, copy_index


def test_ndcg_binary_and_graded():
    # one relevant document at rank 2 of two relevant ones
    assert ndcg_at(["a", "b", "c"], {"b": 1, "d": 1}, 10) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )
    assert ndcg_at(["b", "a"], {"a": 2, "b": 1}, 10) == pytest.approx(
        (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    )
    assert ndcg_at(["a", "b"], {"a": 1}, 10) == 1.0
    assert ndcg_at(["x", "y"], {"a": 1}, 10) == 0.0
    assert ndcg_at(["x", "a"], {"a": 1}, 1) == 0.0  # cut-off respected


def test_recall_and_mrr():
    assert recall_at(["a", "b"], {"b": 1, "c": 1}, 1) == 0.0
    assert recall_at(["a", "b"], {"b": 1, "c": 1}, 2) == 0.5
    assert recall_at(["c", "b"], {"b": 1, "c": 1}, 10) == 1.0
    assert mrr_at(["x", "y", "a"], {"a": 1}, 10) == pytest.approx(1 / 3)
    assert mrr_at(["x", "y", "a"], {"a": 1}, 2) == 0.0
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile([float(i) for i in range(1, 101)], 95) == 95


def test_figures_and_evidence_recall():
    reference = "Net sales were $82,959 million in the quarter ended June 25, 2022, up 18.5%."
    assert figures(reference) == {"82,959", "18.5"}
    assert evidence_recall(reference, "Total net sales 82,959 ... growth of 18.5 %") == 1.0
    assert evidence_recall(reference, "Total net sales 182,959 and 18.55") == 0.0
    assert evidence_recall(reference, "Only $82,959 here.") == 0.5
    assert evidence_recall("No figures at all in 2023.", "anything") is None


def _beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    corpus = {
        "d1": ("Walrus migration", "Walruses migrate north along the ice edge in spring."),
        "d2": ("Penguin diets", "Penguins eat krill, squid and small fish."),
        "d3": ("Volcano eruptions", "Magma chambers pressurise before an eruption."),
        "d4": ("Coral bleaching", "Warm water makes corals expel their algae."),
    }
    with (folder / "corpus.jsonl").open("w") as handle:
        for doc_id, (title, text) in corpus.items():
            handle.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    queries = {"q1": "Do walruses migrate north?", "q2": "What do penguins eat?"}
    with (folder / "queries.jsonl").open("w") as handle:
        for query_id, text in queries.items():
            handle.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    return folder


def test_beir_evaluation_reports_every_mode(tmp_path, settings, embedder):
    result = evaluate_beir(_beir(tmp_path / "tiny"), "test", settings, embedder)
    assert (result["dataset"], result["split"], result["queries"]) == ("tiny", "test", 2)
    assert set(result["modes"]) == {"dense", "lexical", "hybrid"}
    for scores in result["modes"].values():
        assert scores["ndcg@10"] == 1.0 and scores["mrr@10"] == 1.0
        assert scores["recall@100"] == 1.0 and scores["p95_ms"] >= scores["p50_ms"] > 0
    assert settings.embedding_cache.exists()  # shared cache: the next run embeds nothing


def test_sec_layout_and_cli_json(tmp_path, settings, embedder):
    folder = tmp_path / "sec"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "2023 Q1 ACME.md").write_text(
        "# ACME 10-Q\n\nTotal net sales were $1,234 million, up 12.5%."
    )
    (folder / "docs" / "2023 Q1 OTHER.md").write_text("# OTHER 10-Q\n\nRevenue was $9,999 million.")
    (folder / "qna_data.csv").write_text(
        "Question,Source Docs,Question Type,Source Chunk Type,Answer\n"
        'What were ACME total net sales?,*ACME*,Single-Doc,Table,"$1,234 million, up 12.5%"\n'
    )
    result = evaluate_sec(folder, settings, embedder)
    hybrid = result["modes"]["hybrid"]
    assert hybrid["doc_hit@5"] == 1.0 and hybrid["evidence_recall@5"] == 1.0
    assert hybrid["by_type"]["Single-Doc"]["queries"] == 1
    assert hybrid["by_split"]["tune"]["queries"] == 1  # the first question is a tuning one
    assert hybrid["chars@5"] >= len("Total net sales were $1,234 million, up 12.5%.")
    run = CliRunner().invoke(cli, ["eval", str(folder), "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.output)["modes"]["lexical"]["doc_hit@5"] == 1.0


def test_eval_refuses_unknown_layout(tmp_path):
    run = CliRunner().invoke(cli, ["eval", str(tmp_path)])
    assert run.exit_code == 1 and "neither a BEIR folder" in run.output


def test_tuning_prefers_a_plateau_to_a_lone_peak():
    from evaluation.tune import smoothed
    from kb.search import FusionParams

    def score(alpha: float, weight: float) -> float:
        if (alpha, weight) == (0.5, 0.0):
            return 0.9  # a lone peak
        return 0.8 if alpha >= 0.65 and weight >= 0.7 else 0.5

    grid = [
        (score(a / 20, w / 10), FusionParams(alpha=a / 20, document_weight=w / 10))
        for a in range(8, 17)
        for w in range(0, 11)
    ]
    assert max(grid, key=lambda r: r[0])[1].alpha == 0.5
    best = smoothed(grid)[0][1]
    assert best.alpha >= 0.7 and best.document_weight >= 0.8


SAMPLE_QUESTIONS = REPO / "evaluation" / "sample-docs"
QUICK = (
    "What file formats can kb ingest?",
    "How do I use Ollama?",
    "Which HTTP endpoints does the server offer?",
    "What is the default of KB_MAX_REQUEST_KB?",
    "Which Debian packages install Tesseract?",
)


def test_fact_set_is_about_the_sample_docs_and_split_for_tuning():
    docs, questions = load_fact_set(SAMPLE_QUESTIONS)
    assert docs == REPO / "data" / "docs" and len(questions) >= 40
    assert {q.split for q in questions} == {"tune", "test"}
    assert all(q.facts and all(q.facts) for q in questions)


def test_facts_are_stated_as_whole_words_whatever_the_markup():
    assert stated([".docx", "Word"], "| Word | `.docx` [2] |")
    assert stated(["KB_OCR=off"], "Set **`KB_OCR=off`** [1]")
    assert not stated(["off"], "kb is offline [1]")
    assert not stated(["1"], "See the table [1]")  # a citation is no figure


def test_offline_answers_state_the_facts_of_a_few_questions(settings, sample_index, embedder):
    """A quick look at `kb eval evaluation/sample-docs` (make eval runs all questions)."""
    copy_index(sample_index / "index", settings.index_dir)
    _, questions = load_fact_set(SAMPLE_QUESTIONS)
    result = answer_all(settings, embedder, [q for q in questions if q.text in QUICK])
    assert result["model"] == "offline" and result["questions"] == len(QUICK)
    assert result["fact_recall"] >= 0.8, result["misses"]
