"""A passage read as the offline model quotes it: sentences of prose, items of lists, rows
of tables (each knowing its table's header), and the other lines (commands, figures) as
they are."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from server.passages import Passage

UnitKind = Literal["sentence", "question", "item", "row", "line"]

BLOCK_GAP = re.compile(r"\n\s*\n")
WRAPPED = re.compile(r"(?<=[a-z,])\n\s*\n(?=[a-z])")  # a sentence cut by a blank line (OCR)
SENTENCE_END = re.compile(r"(?<=[?!])\s+|(?<=\.)\s+(?=[A-Z0-9\"'(\[])")
LIST_ITEM = re.compile(r"^([-*+•]|\d{1,3}[.)])\s+")
DELIMITER_ROW = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
SENTENCE_DONE = re.compile(r"[.!?:]$")
MIN_LENGTH = 12  # shorter fragments ("Options:", "1.") say nothing alone


@dataclass(frozen=True)
class Unit:
    passage: int  # the passage's number, cited as [n]
    position: int  # reading order within the passage
    kind: UnitKind
    text: str  # as the answer shows it; a row as a Markdown table row
    group: int  # the table or list it belongs to (its first unit's position), else itself
    header: str = ""  # a row's table header: header row and delimiter row, as Markdown
    context: int = -1  # the unit it goes on from: an FAQ's question, a list's lead-in ("...:")


def passage_units(passage: Passage) -> list[Unit]:
    units: list[Unit] = []
    for block in BLOCK_GAP.split(WRAPPED.sub(" ", passage.text)):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        question = -1
        for kind, text, index, header in _block_units(lines):
            position = len(units)
            group = position - index
            context = question if kind == "sentence" else _lead_in(units, group, kind)
            units.append(Unit(passage.number, position, kind, text, group, header, context))
            question = position if kind == "question" else question
    return [u for u in units if len(u.text) >= MIN_LENGTH or u.kind == "row"]


def _lead_in(units: list[Unit], group: int, kind: UnitKind) -> int:
    """The sentence ending in a colon just before a list or table."""
    if kind not in ("item", "row") or group == 0:
        return -1
    before = units[group - 1]
    return before.position if before.kind == "sentence" and before.text.endswith(":") else -1


def _block_units(lines: list[str]) -> Iterator[tuple[UnitKind, str, int, str]]:
    """(kind, text, index within its table or list, header) for each unit of a block."""
    # Prose if any of its lines ends a sentence (hard-wrapped lines need not); else the
    # lines are commands or figures, each shown as it is.
    prose = any(SENTENCE_DONE.search(line) for line in lines if _line_kind(line) == "text")
    start = 0
    while start < len(lines):
        kind = _line_kind(lines[start])
        end = start + 1
        while end < len(lines) and _continues(kind, lines[end]):
            end += 1
        if kind == "text":
            kind = "prose" if prose else "lines"
        yield from _run_units(kind, lines[start:end])
        start = end


def _line_kind(line: str) -> str:
    if _is_row(line):
        return "table"
    return "list" if LIST_ITEM.match(line) else "text"


def _continues(kind: str, line: str) -> bool:
    """Whether `line` goes on a run of `kind`: a list takes its items' wrapped lines."""
    following = _line_kind(line)
    return following != "table" if kind == "list" else following == kind


def _is_row(line: str) -> bool:
    return " | " in line or (len(line) > 2 and line.startswith("|") and line.endswith("|"))


def _run_units(kind: str, lines: list[str]) -> Iterator[tuple[UnitKind, str, int, str]]:
    if kind == "table":
        yield from _table_units(lines)
    elif kind == "list":
        yield from _list_units(lines)
    elif kind == "lines":
        for line in lines:
            yield "line", line, 0, ""
    else:
        for sentence in SENTENCE_END.split(" ".join(lines)):
            text = sentence.strip()
            yield ("question" if text.endswith("?") else "sentence"), text, 0, ""


def _table_units(lines: list[str]) -> Iterator[tuple[UnitKind, str, int, str]]:
    has_header = len(lines) > 1 and bool(DELIMITER_ROW.match(lines[1]))
    header = f"{markdown_row(lines[0])}\n{_delimiter(lines[0])}" if has_header else ""
    for offset, line in enumerate(lines[2:] if has_header else lines):
        yield "row", markdown_row(line), offset, header


def _list_units(lines: list[str]) -> Iterator[tuple[UnitKind, str, int, str]]:
    items: list[str] = []
    for line in lines:
        marker = LIST_ITEM.match(line)
        if marker or not items:
            items.append(line[marker.end() :] if marker else line)
        else:
            items[-1] += " " + line
    for offset, item in enumerate(items):
        yield "item", item.replace("**", ""), offset, ""


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def markdown_row(row: str) -> str:
    return "| " + " | ".join(cells(row)) + " |"


def _delimiter(header: str) -> str:
    return "| " + " | ".join("---" for _ in cells(header)) + " |"
