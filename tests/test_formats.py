"""Office, OpenDocument, spreadsheet, e-book, mail and notebook loaders: text, headings,
tables and locators, on files written by each format's library (tests/writers.py) and on
files converted by LibreOffice (tests/fixtures, see fixtures/convert.py)."""

from pathlib import Path

import pytest
import writers
from helpers import minilm_counter

from ingest.chunker import chunk_document
from ingest.document import Chunk, LoadOptions, ParsedDocument, Section
from ingest.loaders import load_document
from kb.types import Locator

FIXTURES = Path(__file__).parent / "fixtures"


def load(path: Path, options: LoadOptions | None = None) -> ParsedDocument:
    return load_document(path, path.read_bytes(), options)


def under(doc: ParsedDocument, text: str) -> Section:
    return next(s for s in doc.sections if text in s.text)


def chunks(doc: ParsedDocument, max_tokens: int = 160) -> list[Chunk]:
    return chunk_document(doc, minilm_counter(), max_tokens)


def slide(n: int) -> Locator:
    return Locator("slide", str(n))


def page(n: int) -> Locator:
    return Locator("page", str(n))


@pytest.fixture(params=["python-docx", "libreoffice-docx", "libreoffice-odt"])
def handbook(request: pytest.FixtureRequest, tmp_path: Path) -> ParsedDocument:
    if request.param == "python-docx":
        return load(writers.make_docx(tmp_path / "handbook.docx"))
    suffix = request.param.rsplit("-", 1)[1]
    return load(FIXTURES / f"lo-handbook.{suffix}")


def test_word_documents_keep_headings_lists_tables_and_page_breaks(handbook):
    assert handbook.title == "Onboarding handbook"
    welcome = under(handbook, "Welcome to the team")
    assert (welcome.headings, welcome.locator) == (("Onboarding handbook",), page(1))
    accounts = ("Onboarding handbook", "Accounts")
    assert under(handbook, "service desk").headings == accounts
    items = [
        s.text for s in handbook.sections if "mail account" in s.text or "passphrase" in s.text
    ]
    assert "\n".join(items).replace("\n  - ", "\n- ").splitlines() == [
        "- Create your mail account",
        "- Choose a strong passphrase",
    ]
    table = under(handbook, "Laptop")
    assert table.kind == "table"
    assert table.text.splitlines() == ["Item | Cost", "--- | ---", "Laptop | 1,200", "Desk | 300"]
    assert table.headings == (*accounts, "Equipment budget")
    travel = under(handbook, "zeppelin portal")
    assert (travel.headings, travel.locator) == (("Onboarding handbook", "Travel"), page(2))


def test_word_list_nesting_from_the_list_styles(tmp_path):
    doc = load(writers.make_docx(tmp_path / "h.docx"))
    assert under(doc, "mail account").text == (
        "- Create your mail account\n  - Choose a strong passphrase"
    )


def test_word_document_without_page_breaks_has_no_locator(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Plain", 1)
    document.add_paragraph("No breaks anywhere in this file.")
    document.save(tmp_path / "plain.docx")
    section = under(load(tmp_path / "plain.docx"), "No breaks")
    assert (section.headings, section.locator) == (("Plain",), None)


def test_word_pages_follow_where_word_last_laid_them_out(tmp_path):
    """Word marks where each page began (w:lastRenderedPageBreak), also after an explicit
    break: counted once, and a page that begins inside a paragraph starts after it."""
    import docx
    from docx.oxml import OxmlElement

    document = docx.Document()
    document.add_paragraph("First page text.")
    document.add_page_break()
    second = document.add_paragraph("Second page, where Word started it.")
    second.runs[0]._r.insert(0, OxmlElement("w:lastRenderedPageBreak"))  # as Word writes it
    long = document.add_paragraph("Starts on page two")
    long.add_run()._r.append(OxmlElement("w:lastRenderedPageBreak"))
    long.add_run(" and runs onto page three.")
    document.add_paragraph("Third page text.")
    document.save(tmp_path / "laid-out.docx")
    doc = load(tmp_path / "laid-out.docx")
    assert [(s.text, s.locator) for s in doc.sections] == [
        ("First page text.", page(1)),
        ("Second page, where Word started it.", page(2)),
        ("Starts on page two and runs onto page three.", page(2)),
        ("Third page text.", page(3)),
    ]


def test_opendocument_text_headings_lists_tables_and_soft_page_breaks(tmp_path):
    doc = load(writers.make_odt(tmp_path / "guide.odt"))
    assert doc.title == "Field guide"
    assert under(doc, "northern marsh").locator == page(1)
    assert under(doc, "Grey heron").text == "- Grey heron\n- Purple heron"
    assert under(doc, "Grey heron").headings == ("Field guide", "Herons")
    assert under(doc, "Bittern").text.splitlines() == [
        "Bird | Seen",
        "--- | ---",
        "Bittern | twice",
    ]
    owls = under(doc, "barn owl")
    assert (owls.headings, owls.locator) == (("Field guide", "Owls"), page(2))


@pytest.fixture(params=["python-pptx", "libreoffice-pptx", "libreoffice-odp"])
def deck(request: pytest.FixtureRequest, tmp_path: Path) -> ParsedDocument:
    if request.param == "python-pptx":
        return load(writers.make_pptx(tmp_path / "deck.pptx"))
    return load(FIXTURES / f"lo-deck.{request.param.rsplit('-', 1)[1]}")


def test_slides_are_locators_with_titles_notes_and_tables(deck):
    assert deck.title == "Quarterly roadmap"
    body = under(deck, "marmalade")
    assert (body.headings, body.locator) == (("Quarterly roadmap",), slide(1))
    assert "Beta in May" in body.text
    assert "Quarterly roadmap" not in body.text  # the title is the heading, not body text
    notes = under(deck, "hiring freeze")
    assert notes.text == "Mention the hiring freeze."
    assert (notes.headings, notes.locator) == (("Quarterly roadmap", "Speaker notes"), slide(1))
    table = under(deck, "Platform")
    assert (table.kind, table.headings, table.locator) == ("table", ("Headcount",), slide(2))
    assert table.text.splitlines() == ["Team | People", "--- | ---", "Platform | 12", "Search | 7"]


def test_opendocument_presentation_slides(tmp_path):
    doc = load(writers.make_odp(tmp_path / "kickoff.odp"))
    assert doc.title == "Kickoff"
    assert [(s.headings, s.locator, s.text) for s in doc.sections] == [
        (("Kickoff",), slide(1), "Goals for the tangerine launch"),
        (("Kickoff", "Speaker notes"), slide(1), "Thank the sponsors."),
        (("Timeline",), slide(2), "Launch on the first of June"),
    ]


def test_workbook_values_as_displayed_with_sheet_ranges(tmp_path):
    doc = load(writers.make_xlsx(tmp_path / "plan.xlsx"))
    assert [s.headings for s in doc.sections] == [("Budget",), ("Q3 notes",)]
    budget = doc.sections[0]
    assert budget.kind == "table"
    assert budget.text.splitlines() == [
        "Item | Amount | Share | Due",
        "--- | --- | --- | ---",
        "line 0 | $1,234.50 | 12.5% | 2024-03-31",
        "line 1 | $1,235.50 | 12.5% | 2024-03-30",
        "line 2 | $1,236.50 | 12.5% | 2024-03-29",
    ]
    assert [c.locator for c in chunks(doc)] == [
        Locator("sheet", "Budget!A1:D4"),
        Locator("sheet", "'Q3 notes'!B2:C3"),  # where the data sits; names quoted as Excel does
    ]


@pytest.mark.parametrize("name", ["lo-formulas.xlsx", "lo-formulas.ods"])
def test_formula_results_as_the_producer_stored_them(name):
    doc = load(FIXTURES / name)
    assert doc.sections[0].text.splitlines() == [
        "Item | Q1 | Q2 | Total",
        "--- | --- | --- | ---",
        "item 0 | 0.50 | 250.00 | 250.50",
        "item 1 | 100.50 | 250.00 | 350.50",
        "item 2 | 200.50 | 250.00 | 450.50",
    ]
    assert [c.locator for c in chunks(doc)] == [Locator("sheet", "Budget!A1:D4")]


def test_long_sheet_chunked_between_rows_with_the_header_on_every_chunk(tmp_path):
    doc = load(writers.make_xlsx(tmp_path / "long.xlsx", rows=300))
    parts = chunks(doc, 96)[:-1]  # the last chunk is the second sheet
    assert len(parts) > 5
    header = ["Item | Amount | Share | Due", "--- | --- | --- | ---"]
    covered: list[int] = []
    for part in parts:
        lines = part.text.splitlines()
        assert lines[:2] == header
        numbers = [int(line.split(" |")[0].removeprefix("line ")) + 2 for line in lines[2:]]
        start = 1 if part is parts[0] else numbers[0]
        assert part.locator == Locator("sheet", f"Budget!A{start}:D{numbers[-1]}")
        covered.extend(numbers)
    assert covered == list(range(2, 302))


def test_opendocument_spreadsheet_skips_repeated_blank_rows(tmp_path):
    doc = load(writers.make_ods(tmp_path / "sales.ods"))
    assert doc.sections[0].text.splitlines() == [
        "Region | Sales",
        "--- | ---",
        "North | 1,500",
        "South | 2,250",
    ]
    assert [c.locator for c in chunks(doc)] == [Locator("sheet", "Sales!A1:B3")]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("people.csv", 'name,city\nAna,"Lisbon, PT"\n\nBo,Oslo\n'),
        ("people.csv", "name;city\nAna;Lisbon, PT\n\nBo;Oslo\n"),  # a semicolon locale
        ("people.tsv", "name\tcity\nAna\tLisbon, PT\n\nBo\tOslo\n"),
    ],
)
def test_delimited_text_is_a_table_with_row_ranges(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    doc = load(path)
    assert doc.sections[0].text.splitlines() == [
        "name | city",
        "--- | ---",
        "Ana | Lisbon, PT",
        "Bo | Oslo",
    ]
    assert [c.locator for c in chunks(doc)] == [Locator("sheet", "A1:B4")]


def test_epub_chapters_in_reading_order(tmp_path):
    doc = load(writers.make_epub(tmp_path / "book.epub"))
    assert doc.title == "The lighthouse keeper"
    assert [(s.headings, s.locator, s.text) for s in doc.sections] == [
        (("Arrival",), Locator("chapter", "1"), "The keeper rowed to the island at dawn."),
        (("Storm",), Locator("chapter", "2"), "Waves broke the lamp."),
    ]


def test_mail_message_with_metadata_and_an_attachment(tmp_path):
    attachment = writers.make_docx(tmp_path / "handbook.docx")
    doc = load(writers.make_eml(tmp_path / "review.eml", attachment))
    assert doc.title == "Budget review"
    where = Locator("message", "Budget review (2024-03-04)")
    assert {s.locator for s in doc.sections} == {where}
    assert doc.sections[0].text.splitlines() == [
        "From: Ana Lima <ana@example.com>",
        "To: team@example.com",
        "Date: Mon, 04 Mar 2024 09:30:00 +0000",
    ]
    assert under(doc, "kumquat").headings == ("Budget review",)
    attached = under(doc, "zeppelin portal")
    assert attached.headings == ("Budget review", "handbook.docx", "Onboarding handbook", "Travel")
    assert attached.locator == where  # the message locates the attachment's text


def test_mailbox_messages_each_their_own_locator(tmp_path):
    doc = load(writers.make_mbox(tmp_path / "team.mbox"))
    assert doc.title == "team"
    lisbon, porto = under(doc, "Lisbon"), under(doc, "Porto")
    assert (lisbon.headings, lisbon.locator) == (
        ("Offsite",),
        Locator("message", "Offsite (2024-03-05)"),
    )
    assert porto.text == "From now on we meet in Porto."  # the mbox escape of "From " undone
    assert porto.locator == Locator("message", "Re: Offsite (2024-03-06)")


def test_notebook_cells_headings_code_and_outputs(tmp_path):
    doc = load(writers.make_ipynb(tmp_path / "churn.ipynb"))
    assert doc.title == "Churn analysis"
    assert [(s.kind, s.headings, s.locator, s.text) for s in doc.sections] == [
        ("text", ("Churn analysis",), Locator("cell", "1"), "We look at customer churn."),
        ("code", ("Churn analysis",), Locator("cell", "2"), "print(churn_rate)"),
        ("code", ("Churn analysis",), Locator("cell", "2"), "Output:\n0.042"),
        (
            "text",
            ("Churn analysis", "Findings"),
            Locator("cell", "3"),
            "Churn is highest in the nebula plan.",
        ),
        ("code", ("Churn analysis", "Findings"), Locator("cell", "4"), "plot()"),
    ]


def test_chunks_never_span_two_slides_or_two_cells(tmp_path):
    for doc in (
        load(writers.make_pptx(tmp_path / "deck.pptx")),
        load(writers.make_ipynb(tmp_path / "churn.ipynb")),
    ):
        for part in chunks(doc, 256):
            origins = {s.locator for s in doc.sections if s.text in part.text}
            assert origins == {part.locator}
