"""Real files of every supported format, written at test time by each format's own
library (python-docx, python-pptx, openpyxl, odfpy, ebooklib, nbformat, email), and
scanned pages rendered by PDFium from a PDF's text. Each holds the words the tests look
for, under known headings and locators."""

import datetime as dt
import io
import mailbox
from email.message import EmailMessage
from pathlib import Path

import docx
import nbformat
import openpyxl
import pptx
import pypdfium2
from ebooklib import epub
from helpers import make_pdf
from odf.namespaces import PRESENTATIONNS
from odf.opendocument import OpenDocumentPresentation, OpenDocumentSpreadsheet, OpenDocumentText
from odf.style import MasterPage, PageLayout
from odf.table import Table, TableCell, TableColumn, TableRow
from odf.text import H, List, ListItem, P, SoftPageBreak
from PIL import Image
from pptx.util import Inches

SCAN_LINES = [
    "Scanned memo about the heliotrope project.",
    "The heliotrope budget was approved in March.",
]


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.core_properties.title = "Onboarding handbook"
    document.add_heading("Onboarding handbook", 0)
    document.add_paragraph("Welcome to the team. Read this before your first day.")
    document.add_heading("Accounts", 1)
    document.add_paragraph("Ask the service desk for a laptop and a badge.")
    document.add_paragraph("Create your mail account", style="List Bullet")
    document.add_paragraph("Choose a strong passphrase", style="List Bullet 2")
    document.add_heading("Equipment budget", 2)
    table = document.add_table(rows=3, cols=2)
    rows = [["Item", "Cost"], ["Laptop", "1,200"], ["Desk", "300"]]
    for row, cells in zip(table.rows, rows, strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_page_break()
    document.add_heading("Travel", 1)
    document.add_paragraph("Book trains through the zeppelin portal.")
    document.save(str(path))
    return path


def make_pptx(path: Path) -> Path:
    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Quarterly roadmap"
    body = first.placeholders[1].text_frame
    body.text = "Ship the marmalade release"
    nested = body.add_paragraph()
    nested.text = "Beta in May"
    nested.level = 1
    first.notes_slide.notes_text_frame.text = "Mention the hiring freeze."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Headcount"
    shape = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2))
    for r, cells in enumerate([["Team", "People"], ["Platform", "12"], ["Search", "7"]]):
        for c, text in enumerate(cells):
            shape.table.cell(r, c).text = text
    deck.save(str(path))
    return path


def make_xlsx(path: Path, rows: int = 3) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Budget"
    sheet.append(["Item", "Amount", "Share", "Due"])
    for i in range(rows):
        due = dt.datetime(2024, 3, 31) - dt.timedelta(days=i)
        sheet.append([f"line {i}", 1234.5 + i, 0.125, due])
    for row in sheet.iter_rows(min_row=2):
        row[1].number_format = '"$"#,##0.00'
        row[2].number_format = "0.0%"
        row[3].number_format = "yyyy-mm-dd"
    notes = book.create_sheet("Q3 notes")
    notes["B2"] = "Owner"
    notes["C2"] = "Topic"
    notes["B3"] = "Ana"
    notes["C3"] = "Pomegranate supplier contract"
    book.save(path)
    return path


def make_odt(path: Path) -> Path:
    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Field guide"))
    document.text.addElement(P(text="Birds of the northern marsh."))
    document.text.addElement(H(outlinelevel=2, text="Herons"))
    items = List()
    for text in ("Grey heron", "Purple heron"):
        item = ListItem()
        item.addElement(P(text=text))
        items.addElement(item)
    document.text.addElement(items)
    document.text.addElement(_odf_table([["Bird", "Seen"], ["Bittern", "twice"]]))
    document.text.addElement(SoftPageBreak())
    document.text.addElement(H(outlinelevel=2, text="Owls"))
    document.text.addElement(P(text="The barn owl hunts at dusk."))
    document.save(str(path))
    return path


def make_odp(path: Path) -> Path:
    from odf.draw import Frame, Page, TextBox
    from odf.presentation import Notes

    document = OpenDocumentPresentation()
    layout = PageLayout(name="layout")
    document.automaticstyles.addElement(layout)
    master = MasterPage(name="master", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for title, body, notes in [
        ("Kickoff", "Goals for the tangerine launch", "Thank the sponsors."),
        ("Timeline", "Launch on the first of June", ""),
    ]:
        page = Page(masterpagename=master)
        for kind, text in (("title", title), ("outline", body)):
            frame = Frame(width="20cm", height="3cm", x="1cm", y="1cm")
            frame.setAttrNS(PRESENTATIONNS, "class", kind)
            box = TextBox()
            box.addElement(P(text=text))
            frame.addElement(box)
            page.addElement(frame)
        if notes:
            note = Notes()
            frame = Frame(width="20cm", height="3cm", x="1cm", y="1cm")
            box = TextBox()
            box.addElement(P(text=notes))
            frame.addElement(box)
            note.addElement(frame)
            page.addElement(note)
        document.presentation.addElement(page)
    document.save(str(path))
    return path


def make_ods(path: Path) -> Path:
    document = OpenDocumentSpreadsheet()
    sheet = _odf_table([["Region", "Sales"], ["North", "1,500"], ["South", "2,250"]], "Sales")
    blank = TableRow(numberrowsrepeated="1000000")  # what LibreOffice writes after the data
    blank.addElement(TableCell())
    sheet.addElement(blank)
    document.spreadsheet.addElement(sheet)
    document.save(str(path))
    return path


def _odf_table(rows: list[list[str]], name: str = "Table1") -> Table:
    table = Table(name=name)
    table.addElement(TableColumn(numbercolumnsrepeated=len(rows[0])))
    for cells in rows:
        row = TableRow()
        for text in cells:
            cell = TableCell(valuetype="string")
            cell.addElement(P(text=text))
            row.addElement(cell)
        table.addElement(row)
    return table


def make_epub(path: Path) -> Path:
    book = epub.EpubBook()
    book.set_identifier("kb-test-book")
    book.set_title("The lighthouse keeper")
    book.set_language("en")
    chapters = []
    for number, (heading, text) in enumerate(
        [
            ("Arrival", "The keeper rowed to the island at dawn."),
            ("Storm", "Waves broke the lamp."),
        ],
        start=1,
    ):
        chapter = epub.EpubHtml(title=heading, file_name=f"ch{number}.xhtml", lang="en")
        chapter.content = f"<html><body><h1>{heading}</h1><p>{text}</p></body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    epub.write_epub(str(path), book)
    return path


def make_message(
    subject: str, body: str, when: str, attachment: Path | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ana Lima <ana@example.com>"
    message["To"] = "team@example.com"
    message["Subject"] = subject
    message["Date"] = when
    message.set_content(body)
    if attachment is not None:
        message.add_attachment(
            attachment.read_bytes(),
            maintype="application",
            subtype="octet-stream",
            filename=attachment.name,
        )
    return message


def make_eml(path: Path, attachment: Path | None = None) -> Path:
    message = make_message(
        "Budget review",
        "Please review the kumquat budget.",
        "Mon, 04 Mar 2024 09:30:00 +0000",
        attachment,
    )
    path.write_bytes(message.as_bytes())
    return path


def make_mbox(path: Path) -> Path:
    box = mailbox.mbox(path)
    box.add(make_message("Offsite", "The offsite is in Lisbon.", "Tue, 05 Mar 2024 10:00:00 +0000"))
    box.add(
        make_message(
            "Re: Offsite", "From now on we meet in Porto.", "Wed, 06 Mar 2024 11:00:00 +0000"
        )
    )
    box.close()
    return path


def make_ipynb(path: Path) -> Path:
    v4 = nbformat.v4
    notebook = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# Churn analysis\n\nWe look at customer churn."),
            v4.new_code_cell(
                "print(churn_rate)",
                outputs=[v4.new_output("stream", name="stdout", text="0.042\n")],
            ),
            v4.new_markdown_cell("## Findings\n\nChurn is highest in the nebula plan."),
            v4.new_code_cell(
                "plot()", outputs=[v4.new_output("display_data", data={"image/png": ""})]
            ),
        ]
    )
    nbformat.write(notebook, str(path))
    return path


def scan_images(pages: list[list[str]], dpi: int = 200) -> list[Image.Image]:
    """Pages of text rendered by PDFium, as a scanner would image them (no text layer)."""
    pdf = pypdfium2.PdfDocument(make_pdf(pages))
    try:
        return [pdf[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(len(pdf))]
    finally:
        pdf.close()


def make_scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """An image-only PDF: each page a picture of text, without a text layer."""
    images = scan_images(pages)
    images[0].save(path, format="PDF", save_all=True, append_images=images[1:], resolution=200)
    return path


def make_image(path: Path, lines: list[str] | None = None, format: str | None = None) -> Path:
    scan_images([lines if lines is not None else SCAN_LINES])[0].save(path, format=format)
    return path


def image_bytes(lines: list[str], format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    scan_images([lines])[0].save(buffer, format=format)
    return buffer.getvalue()
