"""Loaders: real parsing of every format, and a clear LoadError for every bad input."""

import io
from pathlib import Path

import pypdf
import pytest
from helpers import make_pdf

from ingest.document import LoadError, ParsedDocument, Section
from ingest.loaders import SUPPORTED_SUFFIXES, load_document
from kb.types import page_of

SEC_DOCS = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "sec-10-q" / "docs"


def load(name: str, text: str | bytes) -> ParsedDocument:
    data = text.encode() if isinstance(text, str) else text
    return load_document(Path(name), data)


def texts(doc: ParsedDocument, kind: str | None = None) -> list[str]:
    return [s.text for s in doc.sections if kind is None or s.kind == kind]


def under(doc: ParsedDocument, text: str) -> Section:
    return next(s for s in doc.sections if text in s.text)


def test_supported_suffixes() -> None:
    text = {".md", ".markdown", ".txt", ".rst", ".html", ".htm", ".pdf"}
    office = {".docx", ".odt", ".pptx", ".odp", ".xlsx", ".xlsm", ".ods", ".csv", ".tsv"}
    other = {".epub", ".eml", ".mbox", ".ipynb", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}
    assert text | office | other | {".webp"} == SUPPORTED_SUFFIXES
    with pytest.raises(LoadError, match="unsupported"):
        load("notes.doc", "text")


MARKDOWN = """\
---
layout: page
---
# User Guide

Intro with **bold**, `code` and a [link](http://example.com).
Second line of the same paragraph.

## Install

- first step
  - nested detail
- second step

1. one
2. two

```python
print("hi")
```

### Tables

| Name | Value |
|------|------:|
| a    | 1     |
| b    | 2     |

## Usage

> Quoted advice.

<div>Raw <b>HTML</b> block<script>hidden()</script></div>
"""


def test_markdown_title_headings_and_blocks() -> None:
    doc = load("guide.md", MARKDOWN)
    assert doc.title == "User Guide"
    intro = under(doc, "Intro")
    assert intro.text == ("Intro with bold, code and a link. Second line of the same paragraph.")
    assert intro.headings == ("User Guide",)
    assert under(doc, "first step").text == "- first step\n  - nested detail\n- second step"
    assert under(doc, "one").text == "1. one\n2. two"
    code = under(doc, "print")
    assert (code.kind, code.text, code.headings) == (
        "code",
        'print("hi")',
        ("User Guide", "Install"),
    )
    table = under(doc, "Name")
    assert table.kind == "table"
    assert table.text.splitlines() == [
        "| Name | Value |",
        "|------|------:|",
        "| a | 1 |",
        "| b | 2 |",
    ]
    assert table.headings == ("User Guide", "Install", "Tables")
    assert under(doc, "Quoted").headings == ("User Guide", "Usage")  # h3 popped by h2
    assert under(doc, "Raw").text == "Raw HTML block"
    assert all(s.locator is None for s in doc.sections)


def test_markdown_front_matter_title_and_fallback() -> None:
    assert load("a.md", "---\ntitle: From Front Matter\n---\n\nText.").title == "From Front Matter"
    assert load("notes.markdown", "Just text, no heading.").title == "notes"


HTML = """\
<html><head><title>Troubleshooting</title><style>p { color: red }</style>
<script>var secret = "never indexed";</script></head>
<body>
<noscript>Enable JavaScript</noscript><template><p>template text</p></template>
<h1>Main heading</h1>
<p>First   paragraph
spans lines.</p>
<div>Loose text in a div<br>after a break</div>
<h2>Details</h2>
<ul><li>alpha<ul><li>alpha child</li></ul></li><li>beta</li></ul>
<pre>x = 1
y = 2</pre>
<table><tr><th>Symptom</th><th>Fix</th></tr>
<tr><td>Slow</td><td>Add <b>RAM</b></td></tr></table>
<script>console.log("body script")</script>
<h1>Second</h1><p>Last words.</p>
</body></html>
"""


def test_html_title_headings_and_blocks() -> None:
    doc = load("page.html", HTML)
    assert doc.title == "Troubleshooting"
    joined = "\n".join(texts(doc))
    for hidden in ("secret", "color", "JavaScript", "template text", "console"):
        assert hidden not in joined
    assert under(doc, "First").text == "First paragraph spans lines."
    assert under(doc, "First").headings == ("Main heading",)
    assert under(doc, "Loose").text == "Loose text in a div\nafter a break"
    assert under(doc, "alpha").text == "- alpha\n  - alpha child\n- beta"
    assert under(doc, "alpha").headings == ("Main heading", "Details")
    assert under(doc, "x = 1").kind == "code"
    assert under(doc, "x = 1").text == "x = 1\ny = 2"
    table = under(doc, "Symptom")
    assert table.kind == "table"
    assert table.text.splitlines() == ["Symptom | Fix", "--- | ---", "Slow | Add RAM"]
    assert under(doc, "Last words").headings == ("Second",)


def test_deeply_nested_html() -> None:
    depth = 5000
    doc = load("deep.html", "<div>" * depth + "deep text" + "</div>" * depth)
    assert texts(doc) == ["deep text"]


def test_html_title_falls_back_to_h1_then_file_name() -> None:
    assert load("a.htm", "<h2>Sub</h2><h1>Top</h1><p>x</p>").title == "Top"
    assert load("plain-page.htm", "<p>only a paragraph</p>").title == "plain-page"


RST = """\
=============
Project Guide
=============

Intro with ``literal`` and `a link <http://x.org>`_.

Install
=======

Run this::

    pip install thing
    thing --help

- item one
  continues here
- item two

Details
-------

=====  =====
Name   Value
=====  =====
a      1
b      2
=====  =====

.. code-block:: python
   :linenos:

   print("hello")

.. note:: Mind the gap.

.. this is a comment and is dropped

Usage
=====

Final words.
"""


def test_rst_levels_follow_adornment_order() -> None:
    doc = load("guide.rst", RST)
    assert doc.title == "Project Guide"
    assert under(doc, "Intro").text == "Intro with literal and a link."
    assert under(doc, "Intro").headings == ("Project Guide",)
    assert under(doc, "Run this").text == "Run this:"
    code = under(doc, "pip install")
    assert (code.kind, code.text) == ("code", "pip install thing\nthing --help")
    assert code.headings == ("Project Guide", "Install")
    assert under(doc, "item one").text == "- item one continues here\n- item two"
    table = under(doc, "Name")
    assert table.kind == "table"
    assert table.text.splitlines() == ["Name | Value", "--- | ---", "a | 1", "b | 2"]
    assert table.headings == ("Project Guide", "Install", "Details")
    assert under(doc, 'print("hello")').kind == "code"
    assert under(doc, "Mind the gap").headings == ("Project Guide", "Install", "Details")
    assert "comment" not in "\n".join(texts(doc))
    assert under(doc, "Final words").headings == ("Project Guide", "Usage")


def test_rst_grid_table_and_underline_only_title() -> None:
    doc = load(
        "t.rst",
        "Title\n#####\n\nSub\n***\n\n+----+----+\n| H1 | H2 |\n+====+====+\n| x  | y  |\n"
        "+----+----+\n",
    )
    assert doc.title == "Title"
    table = under(doc, "H1")
    assert (table.kind, table.headings) == ("table", ("Title", "Sub"))
    assert table.text.splitlines() == ["H1 | H2", "--- | ---", "x | y"]


def test_text_paragraphs_without_headings() -> None:
    doc = load("faq.txt", "First para\nsecond line.\n\n\n  Second para.  \n\t\nThird.")
    assert doc.title == "faq"
    assert texts(doc) == ["First para\nsecond line.", "Second para.", "Third."]
    assert all(s.headings == () and s.kind == "text" for s in doc.sections)


def test_decoding_utf8_bom_utf16_and_cp1252() -> None:
    assert texts(load("a.txt", b"\xef\xbb\xbfcaf\xc3\xa9")) == ["café"]
    assert texts(load("a.txt", "naïve text".encode("utf-16"))) == ["naïve text"]
    cp1252 = "café – naïve".encode("cp1252")
    assert texts(load("a.txt", cp1252)) == ["café – naïve"]
    long = "Le café – naïve résumé, “quoted” text.\nDéjà vu.".encode("cp1252")
    assert texts(load("a.md", long)) == ["Le café – naïve résumé, “quoted” text. Déjà vu."]


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(1, 32)) * 20, b"text\x00with nul"],
)
def test_binary_file_with_text_suffix(data: bytes) -> None:
    with pytest.raises(LoadError, match="binary file, not text"):
        load("image.txt", data)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.txt", b""),
        ("blank.md", b"  \n\n \t\n"),
        ("empty.pdf", b""),
        ("only-markup.html", b"<html><script>x()</script></html>"),
    ],
)
def test_no_text(name: str, data: bytes) -> None:
    with pytest.raises(LoadError, match="no text"):
        load(name, data)


def test_pdf_pages_are_one_based_and_tables_grouped() -> None:
    pages = [
        ["Quarterly report", "Revenue grew in the third quarter."],
        ["Net sales $ 82,959 $ 81,434", "Cost of sales 47,074 46,179", "Closing remarks."],
        [],
        ["Last page text."],
    ]
    doc = load("report.pdf", make_pdf(pages, title="Quarterly Report Q3"))
    assert doc.title == "Quarterly Report Q3"
    assert [(page_of(s.locator), s.kind) for s in doc.sections] == [
        (1, "text"),
        (2, "table"),
        (2, "text"),
        (4, "text"),
    ]
    assert doc.sections[0].text == "Quarterly report Revenue grew in the third quarter."
    table = doc.sections[1].text
    assert table == "Net sales $ 82,959 $ 81,434\nCost of sales 47,074 46,179"


def test_pdf_whitespace_only_rows_end_tables_and_paragraphs() -> None:
    """Filings draw table rules and empty paragraphs as rows of spaces, which pdfium's text
    drops; they still separate a subtotal from the next rows and one paragraph from another."""
    rows = ["Net sales 82,959 81,434", "Cost of sales 47,074 46,179"]
    lines = [*rows, " ", "Gross margin 35,885 35,255", "Expenses grew", " ", "as planned"]
    doc = load("q3.pdf", make_pdf([lines]))
    assert [(s.kind, s.text) for s in doc.sections] == [
        ("table", "\n".join(rows)),
        ("table", "Gross margin 35,885 35,255"),
        ("text", "Expenses grew"),
        ("text", "as planned"),
    ]


@pytest.mark.parametrize("meta", [None, "", "0000320193-22-000070", "Untitled"])
def test_pdf_meaningless_metadata_title_falls_back_to_file_name(meta: str | None) -> None:
    assert load("2023 Q1 AAPL.pdf", make_pdf([["Some text."]], title=meta)).title == "2023 Q1 AAPL"


def test_pdf_without_text() -> None:
    with pytest.raises(LoadError, match=r"^no extractable text$"):
        load("blank.pdf", make_pdf([[], []]))


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\nthis is not really a pdf",
        make_pdf([["Some text that is cut off."]])[:120],
        b"\x00\x01garbage" * 50,
    ],
)
def test_corrupt_pdf(data: bytes) -> None:
    with pytest.raises(LoadError, match="corrupt PDF: "):
        load("broken.pdf", data)


def _encrypted(user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf([["Secret plan."]]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdf_needs_password() -> None:
    with pytest.raises(LoadError, match="encrypted PDF: password required"):
        load("locked.pdf", _encrypted("secret"))


def test_encrypted_pdf_with_empty_user_password_is_read() -> None:
    assert texts(load("open.pdf", _encrypted(""))) == ["Secret plan."]
