"""The corpora the bench ingests, the questions it asks of each, and the one-file change."""

import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from benchmarks.procs import REPO
from kb.errors import KBError

EVAL = REPO.parent / "shared" / "eval"
SAMPLE_DOCS = REPO / "data" / "docs"
SEC = EVAL / "sec-10-q"
SCIFACT = EVAL / "scifact"

SAMPLE_QUESTIONS = [
    "How do I ingest a folder of documents?",
    "Which file types can kb read?",
    "How do I use Ollama as the chat model?",
    "How do I change the embedding model?",
    "What is hybrid search?",
    "How do I search only PDF files?",
    "Which port does kb serve listen on?",
    "How do I protect the server with a token?",
    "Why was my file skipped?",
    "Where are the logs of tool calls?",
    "Does kb work without a network connection?",
    "What changed in the latest release?",
]


@dataclass(frozen=True)
class Corpus:
    name: str
    fill: Callable[[Path], None]  # writes the corpus into an empty folder
    questions: Callable[[int], list[str]]


def corpora(quick: bool) -> list[Corpus]:
    if quick:
        return [Corpus("sample_docs", _copier(SAMPLE_DOCS), _sample_questions)]
    for needed in (SEC / "docs", SEC / "qna_data.csv", SCIFACT / "corpus.jsonl"):
        if not needed.exists():
            raise KBError(f"{needed} is missing: the full bench needs ../shared/eval")
    return [
        Corpus("sec_10q", _copier(SEC / "docs"), _sec_questions),
        Corpus("scifact", _scifact_corpus, _scifact_questions),
    ]


def team_corpus(quick: bool) -> Corpus:
    """The corpus ingested into each backend: the first 1,000 SciFact abstracts (many small
    files, so the writes to the index weigh most; all 5,183 would take most of an hour to
    embed cold on two cores first); the sample docs in a quick run."""
    if quick:
        return corpora(quick)[0]
    if not (SCIFACT / "corpus.jsonl").exists():
        raise KBError(f"{SCIFACT / 'corpus.jsonl'} is missing: the team bench needs ../shared/eval")
    return Corpus("scifact_1k", partial(_scifact_corpus, limit=1000), _scifact_questions)


def _copier(source: Path) -> Callable[[Path], None]:
    def fill(target: Path) -> None:
        for path in sorted(source.iterdir()):
            if path.is_file():
                shutil.copyfile(path, target / path.name)  # writable copies, fresh mtimes

    return fill


def _scifact_corpus(target: Path, limit: int | None = None) -> None:
    from evaluation.beir import write_corpus

    write_corpus(SCIFACT, target, limit)


def _sample_questions(limit: int) -> list[str]:
    return SAMPLE_QUESTIONS[:limit]


def _sec_questions(limit: int) -> list[str]:
    with (SEC / "qna_data.csv").open(encoding="utf-8-sig") as handle:
        return [row["Question"] for row in csv.DictReader(handle)][:limit]


def _scifact_questions(limit: int) -> list[str]:
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for _, line in zip(range(limit), handle, strict=False)]


def change_one_file(folder: Path) -> Path:
    """Change the median-sized Markdown file (else PDF) so that its bytes differ."""
    for suffix, change in ((".md", _append_sentence), (".pdf", _add_pdf_metadata)):
        files = sorted(folder.glob(f"*{suffix}"), key=lambda p: (p.stat().st_size, p.name))
        if files:
            chosen = files[len(files) // 2]
            change(chosen)
            return chosen
    raise KBError(f"{folder} has no Markdown or PDF file to change")


def _append_sentence(path: Path) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\nThis sentence was added by kb bench to change the file.\n")


def _add_pdf_metadata(path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(path))
    writer.add_metadata({"/KbBench": "changed by kb bench"})
    with path.open("wb") as handle:
        writer.write(handle)
