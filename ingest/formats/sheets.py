"""Spreadsheets (.xlsx, .xlsm, .ods) and delimited text (.csv, .tsv): each sheet one
table section whose first non-empty row is the header, values as displayed.

The chunker keeps rows whole, repeats the header at the top of every chunk, and names
the rows each chunk holds ("Budget!A12:D40"). Workbooks are read by openpyxl in
read-only mode (rows streamed; stored results of formulas, never recomputed; macros never
run), OpenDocument by odfpy. More than KB_MAX_ROWS rows with content refuses the file.
"""

import csv
import io
from collections.abc import Iterable, Iterator

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from ingest.document import LoadError, LoadOptions, ParsedDocument, Section, SheetRows
from ingest.formats.common import pipe_table, reading, squash
from ingest.formats.containers import open_zip
from ingest.formats.numfmt import display
from ingest.formats.odf import Row, ods_sheets
from ingest.formats.text import decode_text
from kb.types import Locator

EXCEL = "Excel workbook"


def parse_xlsx(data: bytes, options: LoadOptions) -> ParsedDocument:
    open_zip(data, options.max_bytes, EXCEL)
    with reading(EXCEL):
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            title = squash(book.properties.title or "")
            sheets = [(sheet.title, _xlsx_rows(sheet)) for sheet in book.worksheets]
            sections = _sections(sheets, options.max_rows)
        finally:
            book.close()
    return ParsedDocument(title, sections)


def _xlsx_rows(sheet: ReadOnlyWorksheet) -> Iterator[Row]:
    sheet.reset_dimensions()  # a wrong <dimension> in the file would cut rows off
    for number, cells in enumerate(sheet.iter_rows(), start=1):
        values = [display(cell.value, getattr(cell, "number_format", None)) for cell in cells]
        yield number, [squash(value) for value in values]


def parse_ods(data: bytes, options: LoadOptions) -> ParsedDocument:
    with reading("OpenDocument spreadsheet"):
        return ParsedDocument("", _sections(ods_sheets(data, options), options.max_rows))


def parse_delimited(data: bytes, options: LoadOptions, delimiter: str) -> ParsedDocument:
    """CSV or TSV: one sheet without a name; row numbers count records, as a spreadsheet
    application numbers them."""
    text = decode_text(data)
    if delimiter == ",":
        delimiter = _sniff(text)
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = ((number, [squash(c) for c in cells]) for number, cells in enumerate(records, 1))
    try:
        return ParsedDocument("", _sections([("", rows)], options.max_rows))
    except csv.Error as error:
        raise LoadError(f"malformed delimited text: {error}") from error


def _sniff(text: str) -> str:
    """Comma, or the semicolon that spreadsheets in many locales write instead."""
    first = text[:4096].split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


def _sections(sheets: Iterable[tuple[str, Iterator[Row]]], max_rows: int) -> list[Section]:
    sections: list[Section] = []
    total = 0
    for name, rows in sheets:
        kept: list[Row] = []
        for number, cells in rows:
            if any(cells):
                total += 1
                if total > max_rows:
                    raise LoadError(
                        f"more than KB_MAX_ROWS ({max_rows:,}) rows with content: not indexed"
                    )
                kept.append((number, cells))
        if kept:
            sections.append(_sheet_section(name, kept))
    return sections


def _sheet_section(name: str, rows: list[Row]) -> Section:
    first = min(next(i for i, c in enumerate(cells) if c) for _, cells in rows)
    last = max(len(cells) for _, cells in rows)
    table = [cells[first:last] + [""] * (last - len(cells)) for _, cells in rows]
    numbers: list[int | None] = [number for number, _ in rows]
    if len(numbers) > 1:
        numbers.insert(1, None)  # the header's "---" line
    spans = SheetRows(name, get_column_letter(first + 1), get_column_letter(last), tuple(numbers))
    headings = (name,) if name else ()
    locator = Locator("sheet", name or "rows")
    return Section(pipe_table(table), headings, locator, "table", spans)
