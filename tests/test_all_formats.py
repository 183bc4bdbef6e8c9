"""A folder holding every supported format: `kb ingest` indexes each one with its locators,
`kb search` shows them (and `--json` carries them), and an unchanged re-ingest reads
nothing."""

import json
import shutil
from pathlib import Path

import pytest
import writers
from click.testing import CliRunner
from helpers import make_pdf

from cli.main import cli
from ingest.pipeline import ingest
from kb.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"

# file -> (a word only it holds, the locator label its passage must carry)
EXPECTED = {
    "handbook.docx": ("zeppelin", "page 2"),
    "guide.odt": ("owl", "page 2"),
    "deck.pptx": ("marmalade", "slide 1"),
    "kickoff.odp": ("tangerine", "slide 1"),
    "plan.xlsx": ("pomegranate", "'Q3 notes'!B2:C3"),
    "lo-formulas.xlsx": ("450.50", "Budget!A1:D4"),
    "sales.ods": ("South", "Sales!A1:B3"),
    "people.csv": ("Reykjavik", "A1:B3"),
    "people.tsv": ("Trondheim", "A1:B3"),
    "book.epub": ("keeper", "chapter 1"),
    "review.eml": ("kumquat", "Budget review (2024-03-04)"),
    "team.mbox": ("Lisbon", "Offsite (2024-03-05)"),
    "churn.ipynb": ("nebula", "cell 3"),
    "memo.png": ("heliotrope", "page 1"),
    "scan.pdf": ("walnuts", "page 1"),
    "report.pdf": ("hazelnuts", "page 1"),
}


def fill(docs: Path) -> None:
    writers.make_docx(docs / "handbook.docx")
    writers.make_odt(docs / "guide.odt")
    writers.make_pptx(docs / "deck.pptx")
    writers.make_odp(docs / "kickoff.odp")
    writers.make_xlsx(docs / "plan.xlsx")
    shutil.copyfile(FIXTURES / "lo-formulas.xlsx", docs / "lo-formulas.xlsx")
    writers.make_ods(docs / "sales.ods")
    (docs / "people.csv").write_text("name,city\nAna,Reykjavik\nBo,Oslo\n", encoding="utf-8")
    (docs / "people.tsv").write_text("name\tcity\nAna\tTrondheim\nBo\tOslo\n", encoding="utf-8")
    writers.make_epub(docs / "book.epub")
    writers.make_eml(docs / "review.eml")
    writers.make_mbox(docs / "team.mbox")
    writers.make_ipynb(docs / "churn.ipynb")
    writers.make_image(docs / "memo.png")
    writers.make_scanned_pdf(docs / "scan.pdf", [["Page one mentions walnuts."]])
    (docs / "report.pdf").write_bytes(make_pdf([["A text page about hazelnuts."]]))


@pytest.fixture
def ingested(settings: Settings, docs: Path, embedder) -> Path:
    fill(docs)
    report = ingest(settings, docs, embedder=embedder)
    assert (report.failures, report.skips) == ([], [])
    assert sorted(report.added) == sorted(EXPECTED)
    again = ingest(settings, docs, embedder=embedder)
    assert sorted(again.unchanged) == sorted(EXPECTED) and not again.added + again.updated
    return docs


def search(*args: str) -> str:
    run = CliRunner().invoke(cli, ["search", *args])
    assert run.exit_code == 0, run.output
    return run.output


def test_every_format_is_searchable_with_its_locator(ingested):
    for name, (word, label) in EXPECTED.items():
        hits = json.loads(search(word, "--mode", "lexical", "--source", name, "-k", "1", "--json"))
        assert hits, f"{name}: nothing found for {word!r}"
        assert hits[0]["source"] == name and word.lower() in hits[0]["text"].lower()
        assert hits[0]["locator"]["label"] == label, name
        kind = hits[0]["locator"]["kind"]
        assert hits[0]["page"] == (int(hits[0]["locator"]["value"]) if kind == "page" else None)


def test_search_output_names_slides_and_sheet_ranges(ingested):
    deck = search("marmalade", "--mode", "lexical", "-k", "1")
    assert "deck.pptx  slide 1" in deck and "Quarterly roadmap" in deck
    sheet = search("pomegranate", "--mode", "lexical", "-k", "1")
    assert "plan.xlsx  'Q3 notes'!B2:C3" in sheet
