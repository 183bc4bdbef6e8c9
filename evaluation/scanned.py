"""OCR measured on real filings: an image-only copy of a few SEC 10-Qs.

    python -m evaluation.scanned ../shared/eval/sec-10-q data/eval/sec-10-q-scanned
    kb eval data/eval/sec-10-q-scanned

The first renders every page of FILINGS to a 200 dpi grayscale image (what an office
scanner makes) and writes the images back as PDFs with no text layer (docs/), beside the
text originals (originals/) and the questions whose source documents are among them
(qna_data.csv). `kb eval` on that folder indexes both, OCR and all, and reports the word
recall of the OCR text against the original text layer, page by page, and doc-hit@5 of
the questions on the OCR copy next to the text originals.
"""

import argparse
import csv
import re
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pypdfium2

from evaluation.sec import Question, evaluate_mode, is_sec, load_questions
from evaluation.workspace import Workspace, workspace
from ingest.progress import IngestProgress
from kb.embedder import Embedder
from kb.settings import Settings
from kb.types import SearchMode

# Three filings of one company: a question must find the right quarter, not just Apple.
FILINGS = ("2022 Q3 AAPL.pdf", "2023 Q2 AAPL.pdf", "2023 Q3 AAPL.pdf")
SCAN_DPI = 200
_WORD = re.compile(r"[^\W_]+")


def make_scanned_copy(sec: Path, out: Path, filings: tuple[str, ...] = FILINGS) -> Path:
    for folder in ("docs", "originals"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for name in filings:
        shutil.copyfile(sec / "docs" / name, out / "originals" / name)
        _image_only(sec / "docs" / name, out / "docs" / name)
    questions = [q for q in load_questions(sec) if any(q.matches(name) for name in filings)]
    with (out / "qna_data.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Question", "Source Docs", "Question Type", "Answer"])
        writer.writerows((q.text, q.source_glob, q.kind, q.answer) for q in questions)
    return out


def _image_only(source: Path, target: Path) -> None:
    pdf = pypdfium2.PdfDocument(source)
    try:
        pages = [
            pdf[i].render(scale=SCAN_DPI / 72, grayscale=True).to_pil() for i in range(len(pdf))
        ]
    finally:
        pdf.close()
    pages[0].save(target, format="PDF", save_all=True, append_images=pages[1:], resolution=SCAN_DPI)


def is_scanned(folder: Path) -> bool:
    return is_sec(folder) and (folder / "originals").is_dir()


def evaluate_scanned(
    folder: Path,
    settings: Settings,
    embedder: Embedder | None = None,
    progress: IngestProgress | None = None,
) -> dict[str, Any]:
    questions = load_questions(folder)
    with workspace(settings, folder / "originals", embedder, progress) as text:
        started = time.perf_counter()
        with workspace(settings, folder / "docs", embedder, progress) as scans:
            ocr_seconds = time.perf_counter() - started
            originals, ocred = page_texts(text), page_texts(scans)
            modes = _modes(text, scans, questions)
    return {
        "dataset": folder.name,
        "split": "image-only copy",
        "queries": len(questions),
        "pages": len(originals),
        "word_recall": round(word_recall(originals, ocred), 4),
        "ocr_ingest_s": round(ocr_seconds, 1),
        "modes": modes,
    }


def _modes(text: Workspace, scans: Workspace, questions: list[Question]) -> dict[str, Any]:
    modes: dict[str, Any] = {}
    for mode in SearchMode:
        modes[f"text {mode}"] = evaluate_mode(text, questions, mode)
        modes[f"ocr {mode}"] = evaluate_mode(scans, questions, mode)
    return modes


def page_texts(space: Workspace) -> dict[tuple[str, str], str]:
    """(file, page) -> the indexed text of that page."""
    rows = space.searcher.index.catalog.db.execute(
        "SELECT d.path, c.locator_value, c.text FROM chunks c JOIN documents d USING (doc_id)"
        " WHERE c.locator_kind = 'page' ORDER BY d.path, c.ord"
    )
    pages: dict[tuple[str, str], list[str]] = {}
    for path, page, chunk in rows:
        pages.setdefault((path, page), []).append(chunk)
    return {key: "\n".join(chunks) for key, chunks in pages.items()}


def word_recall(originals: dict[tuple[str, str], str], ocred: dict[tuple[str, str], str]) -> float:
    """Share of the original text layer's words (with repeats) that OCR found on the same
    page; case and punctuation aside."""
    wanted = found = 0
    for key, text in originals.items():
        words = Counter(_WORD.findall(text.lower()))
        seen = Counter(_WORD.findall(ocred.get(key, "").lower()))
        wanted += sum(words.values())
        found += sum((words & seen).values())
    return found / wanted if wanted else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sec", type=Path, help="the SEC 10-Q folder (docs/, qna_data.csv)")
    parser.add_argument("out", type=Path, help="where to write the image-only copy")
    args = parser.parse_args()
    out = make_scanned_copy(args.sec, args.out)
    print(f"wrote {out}: {len(FILINGS)} image-only filings and their questions")


if __name__ == "__main__":
    main()
