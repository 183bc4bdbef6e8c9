"""Chunker: the token budget holds exactly (real MiniLM tokenizer) and structure is kept."""

import re
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from helpers import make_pdf, minilm_counter

from ingest.chunker import chunk_document, vector_texts
from ingest.document import Chunk, ParsedDocument, Section, SheetRows, embedding_text
from ingest.loaders import load_document
from kb.types import Locator, page_locator, page_of

SENTENCES = [
    f"Sentence number {i} explains how the quarterly revenue of segment {i % 7} changed."
    for i in range(400)
]


def chunk(doc: ParsedDocument, max_tokens: int) -> list[Chunk]:
    return chunk_document(doc, minilm_counter(), max_tokens)


def tokens(doc: ParsedDocument, chunks: list[Chunk]) -> list[int]:
    texts = [embedding_text(doc.title, c.headings, c.text) for c in chunks]
    return minilm_counter().count_tokens(texts)


def mixed_document() -> ParsedDocument:
    long_heading = "A very long heading about " + " ".join(f"topic{i}" for i in range(60))
    rows = "\n".join(f"| item {i} | {i * 1000:,} | {i * 3.5} |" for i in range(120))
    return ParsedDocument(
        "Quarterly report of a company with a rather long and descriptive document title",
        [
            Section("Short intro.", ("Overview",)),
            Section(" ".join(SENTENCES[:120]), ("Overview",)),
            Section("\n\n".join(SENTENCES[120:160]), ("Overview", "Paragraphs")),
            Section("x" * 3000 + " supercalifragilistic" * 300, ("Overview", "Words")),
            Section("| Name | Amount | Rate |\n|---|---|---|\n" + rows, ("Tables",), kind="table"),
            Section("\n".join(f"print({i})" for i in range(300)), ("Code",), kind="code"),
            Section("Under a long heading path.", (long_heading, long_heading + " again")),
            Section("Page text.", (), page_locator(3)),
        ],
    )


@pytest.mark.parametrize("max_tokens", [64, 128, 256, 512])
def test_every_chunk_fits_the_budget_exactly(max_tokens: int) -> None:
    doc = mixed_document()
    chunks = chunk(doc, max_tokens)
    counts = tokens(doc, chunks)
    assert max(counts) <= max_tokens
    assert all(c.text.strip() for c in chunks)
    assert sum(counts) / len(counts) > max_tokens * 0.5  # packed, not one sentence per chunk


def test_small_sections_under_one_path_are_packed_together() -> None:
    doc = ParsedDocument(
        "Doc",
        [
            Section("One.", ("A",)),
            Section("Two.", ("A",)),
            Section("Three.", ("B",)),
            Section("Four.", ("A",)),
        ],
    )
    assert chunk(doc, 256) == [
        Chunk("One.\n\nTwo.", ("A",)),
        Chunk("Three.", ("B",)),
        Chunk("Four.", ("A",)),
    ]


def test_chunks_never_span_locators_or_heading_paths() -> None:
    sections = [
        Section(" ".join(SENTENCES[i : i + 15]), (f"H{i // 15 % 3}",), page_locator(1 + i // 60))
        for i in range(0, 300, 15)
    ]
    doc = ParsedDocument("Report", sections)
    chunks = chunk(doc, 200)
    for c in chunks:
        numbers = {int(n) for n in re.findall(r"Sentence number (\d+)", c.text)}
        origin = {
            (s.locator, s.headings) for s in sections for n in numbers if SENTENCES[n] in s.text
        }
        assert origin == {(c.locator, c.headings)}


def test_sentences_stay_whole_when_they_fit() -> None:
    doc = ParsedDocument("Doc", [Section(" ".join(SENTENCES))])
    chunks = chunk(doc, 100)
    assert len(chunks) > 10
    for c in chunks:
        parts = [p for p in re.split(r"(?<=\.) ", c.text) if p]
        assert all(p in SENTENCES for p in parts), c.text
    assert " ".join(c.text for c in chunks) == " ".join(SENTENCES)


def test_paragraph_boundaries_preferred_over_sentences() -> None:
    paragraphs = [" ".join(SENTENCES[i : i + 3]) for i in range(0, 30, 3)]
    doc = ParsedDocument("", [Section("\n\n".join(paragraphs))])
    chunks = chunk(doc, 128)
    assert all(p in paragraphs for c in chunks for p in c.text.split("\n\n"))


def test_table_split_between_rows_with_header_repeated() -> None:
    header = "| Name | Amount |\n|---|---:|"
    rows = [f"| row {i} | {i * 7:,} |" for i in range(200)]
    doc = ParsedDocument("Tables", [Section(header + "\n" + "\n".join(rows), ("T",), kind="table")])
    chunks = chunk(doc, 96)
    assert len(chunks) > 3
    seen: list[str] = []
    for c in chunks:
        lines = c.text.split("\n")
        assert lines[:2] == header.split("\n")
        assert all(line in rows for line in lines[2:])
        seen.extend(lines[2:])
    assert seen == rows
    assert max(tokens(doc, chunks)) <= 96


def test_hand_aligned_table_repeats_its_header_too() -> None:
    """A delimiter row padded with dashes to align the columns (as in data/docs) is
    written compactly, so the header is small enough to repeat in every chunk."""
    dashes = "|" + "|".join("-" * 40 for _ in range(4)) + "|"
    header = "| Format | Extensions | Notes | Locator |"
    rows = [f"| Format {i} | `.f{i}` | notes on format {i} | page {i} |" for i in range(40)]
    text = "\n".join([header, dashes, *rows])
    doc = ParsedDocument("Formats", [Section(text, ("Supported",), kind="table")])
    chunks = chunk(doc, 96)
    assert len(chunks) > 3
    for c in chunks:
        assert c.text.split("\n")[:2] == [header, "| --- | --- | --- | --- |"]
    assert [line for c in chunks for line in c.text.split("\n")[2:]] == rows


def test_table_without_header_splits_between_rows_only() -> None:
    rows = [f"Revenue segment {i} $ {i * 1234:,} $ {i * 999:,}" for i in range(100)]
    doc = ParsedDocument("", [Section("\n".join(rows), kind="table", locator=page_locator(2))])
    chunks = chunk(doc, 80)
    assert [line for c in chunks for line in c.text.split("\n")] == rows
    assert {c.locator for c in chunks} == {page_locator(2)}


def test_sheet_chunks_name_the_rows_they_hold() -> None:
    header = "Item | Amount\n--- | ---"
    rows = [f"widget {i} | {i * 1000:,}" for i in range(200)]
    numbers = (3, None, *range(4, 204))  # header on sheet row 3, data rows 4..203
    sheet = SheetRows("Budget", "B", "C", numbers)
    section = Section(f"{header}\n" + "\n".join(rows), ("Budget",), Locator("sheet", "Budget"))
    doc = ParsedDocument("Plan", [replace(section, kind="table", rows=sheet)])
    chunks = chunk(doc, 96)
    assert len(chunks) > 3
    seen: list[int] = []
    for c in chunks:
        lines = c.text.split("\n")
        assert lines[:2] == header.split("\n")  # the header repeated on every chunk
        held = [4 + rows.index(line) for line in lines[2:]]
        start = 3 if c is chunks[0] else held[0]  # the first chunk holds the header row
        assert c.locator == Locator("sheet", f"Budget!B{start}:C{held[-1]}")
        seen.extend(held)
    assert seen == list(range(4, 204))


def test_giant_word_is_cut_by_characters() -> None:
    # no whitespace but many tokens (a run of over 100 letters would be one [UNK])
    word = ",".join(str(i) for i in range(3000))
    doc = ParsedDocument("Blob", [Section(word)])
    chunks = chunk(doc, 64)
    assert len(chunks) > 5
    assert max(tokens(doc, chunks)) <= 64
    assert "".join(c.text for c in chunks) == word


def test_long_heading_path_is_shortened_to_fit() -> None:
    heading = " ".join(f"word{i}" for i in range(300))
    doc = ParsedDocument("Title", [Section("Body text.", ("Outer", heading))])
    [only] = chunk(doc, 64)
    assert only.text == "Body text."
    assert only.headings[0].startswith("word0 word1")
    assert tokens(doc, [only])[0] <= 64


def test_whitespace_normalised_but_line_structure_kept() -> None:
    doc = ParsedDocument(
        "",
        [
            Section("  spaced \t out   words \n\n\n\n next   para  "),
            Section("- item  one\n  - nested   item", ("L",)),
            Section("\n\ndef f():\n    return 1   \n\n", ("C",), kind="code"),
            Section("   ", ("Empty",)),
        ],
    )
    assert [c.text for c in chunk(doc, 256)] == [
        "spaced out words\n\nnext para",
        "- item one\n  - nested item",
        "def f():\n    return 1",
    ]


def test_deterministic_and_batched() -> None:
    doc = ParsedDocument("Doc", [Section(" ".join(SENTENCES * 5), (f"H{i}",)) for i in range(3)])
    counter = minilm_counter()
    before = counter.calls
    first = chunk(doc, 128)
    calls = counter.calls - before
    assert first == chunk(doc, 128)
    assert calls < 20  # 6,000 sentences counted in a handful of batches


def test_empty_document_gives_no_chunks() -> None:
    assert chunk(ParsedDocument("T", [Section(" \n ")]), 128) == []


def test_pdf_to_chunks_keeps_pages(tmp_path: Path) -> None:
    pages = [[SENTENCES[i]] * 12 for i in range(4)]
    data = make_pdf(pages, title="Generated")
    doc = load_document(tmp_path / "gen.pdf", data)
    chunks = chunk(doc, 128)
    assert {page_of(c.locator) for c in chunks} == {1, 2, 3, 4}
    for c in chunks:
        assert f"number {(page_of(c.locator) or 0) - 1} " in c.text
    assert max(tokens(doc, chunks)) <= 128


def test_title_that_cannot_fit_is_refused() -> None:
    doc = ParsedDocument("word " * 200, [Section("text")])
    with pytest.raises(ValueError, match="title too long"):
        chunk(doc, 64)


def test_prose_is_embedded_as_sentence_pairs_and_the_rest_whole() -> None:
    prose = Chunk(" ".join(SENTENCES[:4]), ("Overview",))
    assert vector_texts("Report", prose) == [
        embedding_text("Report", ("Overview",), f"{first} {second}")
        for first, second in pairwise(SENTENCES[:4])
    ]
    for whole in (
        Chunk(" ".join(SENTENCES[:2]), ("Overview",)),
        Chunk("| Name | Amount |\n|---|---|\n| Widgets Inc. | 1.5 |", ("Tables",)),
    ):
        assert vector_texts("Report", whole) == [
            embedding_text("Report", whole.headings, whole.text)
        ]
    assert vector_texts("Report", prose, windows=False) == [
        embedding_text("Report", prose.headings, prose.text)
    ]
