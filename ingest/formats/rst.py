"""reStructuredText without docutils: titles by adornment, blocks by blank lines.

A title is a line with an underline (and optionally an overline) of one repeated
punctuation character; the order in which adornment styles first appear sets the levels.
"""

import csv
import re
import textwrap

from ingest.document import ParsedDocument
from ingest.formats.common import HeadingTrail, SectionList, squash

_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+\s*$")
_DIRECTIVE = re.compile(r"^\.\.\s+([\w:.+-]+)::\s*(.*)$")
_OPTION = re.compile(r"^:[\w -]+:")
_GRID_BORDER = re.compile(r"^\s*\+[-=+]+\+\s*$")
_SIMPLE_BORDER = re.compile(r"^\s*=+( +=+)+\s*$")
_LIST_ITEM = re.compile(r"^([-*+•]|\d+[.)]|#[.)]|\(\d+\)|:[^:\s][^:]*:)\s+")
_CODE = {"code", "code-block", "sourcecode", "literalinclude"}
_NO_TEXT = {"image", "include", "raw", "toctree", "contents", "meta", "sectnum", "index"}
_INLINE = [
    (re.compile(r"``(.+?)``"), r"\1"),
    (re.compile(r":[\w:+-]+:`([^`<]+?)(?:\s*<[^>]*>)?`"), r"\1"),
    (re.compile(r"`([^`<]+?)\s*<[^>]*>`__?"), r"\1"),
    (re.compile(r"`([^`]+)`_{0,2}"), r"\1"),
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),
    (re.compile(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])"), r"\1"),
]


def parse_rst(text: str) -> ParsedDocument:
    lines = text.expandtabs(8).splitlines()
    styles: list[tuple[str, bool]] = []
    trail, sections = HeadingTrail(), SectionList()
    body: list[str] = []
    i = 0
    while i < len(lines):
        found = _title_at(lines, i)
        if found is None:
            body.append(lines[i])
            i += 1
            continue
        title, style, used = found
        _blocks(body, trail.path, sections)
        body = []
        if style not in styles:
            styles.append(style)
        trail.enter(styles.index(style) + 1, clean_inline(title))
        i += used
    _blocks(body, trail.path, sections)
    return ParsedDocument(trail.first or "", list(sections))


def _title_at(lines: list[str], i: int) -> tuple[str, tuple[str, bool], int] | None:
    """(title, adornment style, lines used) when a section title starts at line i."""
    line = lines[i]
    after = lines[i + 1] if i + 1 < len(lines) else ""
    if _ADORNMENT.match(line) and i + 2 < len(lines) and after.strip():
        under = lines[i + 2].strip()
        if _ADORNMENT.match(under) and under[0] == line[0] and not _ADORNMENT.match(after):
            return after.strip(), (line[0], True), 3
    starts_block = i == 0 or not lines[i - 1].strip() or bool(_ADORNMENT.match(lines[i - 1]))
    if not line.strip() or line[0].isspace() or _ADORNMENT.match(line) or not starts_block:
        return None
    under = after.rstrip()
    if _ADORNMENT.match(under) and (len(under) >= len(line.strip()) or len(under) >= 4):
        return line.strip(), (under[0], False), 2
    return None


def clean_inline(text: str) -> str:
    """Drop inline markup (``code``, roles, links, emphasis), keep the words."""
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _indented_end(lines: list[str], start: int, base: int) -> int:
    """End of the run of blank lines and lines indented deeper than `base`."""
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > base):
        end += 1
    return end


def _blocks(lines: list[str], path: tuple[str, ...], sections: SectionList) -> None:
    j = 0
    while j < len(lines):
        if not lines[j].strip():
            j += 1
            continue
        end = j
        while end < len(lines) and lines[end].strip():
            end += 1
        block, first = lines[j:end], lines[j].strip()
        if first.startswith(".."):
            end = _indented_end(lines, j + 1, _indent(lines[j]))
            _directive(first, lines[j + 1 : end], path, sections)
        elif _GRID_BORDER.match(first):
            sections.add("\n".join(_grid_rows(block)), path, "table")
        elif _SIMPLE_BORDER.match(first):
            sections.add("\n".join(_simple_rows(block)), path, "table")
        elif _LIST_ITEM.match(first):
            sections.add(_list_text(block), path)
        elif not (len(block) == 1 and _ADORNMENT.match(first)):  # else a transition line
            end = _paragraph(lines, j, end, path, sections)
        j = end


def _paragraph(lines: list[str], j: int, end: int, path: tuple[str, ...], out: SectionList) -> int:
    """Add a paragraph; a trailing "::" makes the indented lines after it a code block."""
    text = clean_inline(squash(" ".join(lines[j:end])))
    if not text.endswith("::"):
        out.add(text, path)
        return end
    out.add(text[:-2].rstrip() if text == "::" or text.endswith(" ::") else text[:-1], path)
    code_end = _indented_end(lines, end, _indent(lines[j]))
    out.add(textwrap.dedent("\n".join(lines[end:code_end])).strip("\n").rstrip(), path, "code")
    return code_end


def _directive(first: str, body: list[str], path: tuple[str, ...], out: SectionList) -> None:
    match = _DIRECTIVE.match(first)
    if not match or match.group(1) in _NO_TEXT:
        return  # a comment, target, footnote or substitution; or a directive without text
    name, argument = match.groups()
    content = textwrap.dedent("\n".join(body)).splitlines()
    while content and (_OPTION.match(content[0]) or not content[0].strip()):
        content.pop(0)
    if name in _CODE:
        out.add("\n".join(content).rstrip(), path, "code")
    elif name == "csv-table":
        rows = csv.reader(line for line in content if line.strip())
        out.add("\n".join(" | ".join(cell.strip() for cell in row) for row in rows), path, "table")
    else:
        if name != "math":  # a formula's argument is no prose
            out.add(clean_inline(argument), path)
        _blocks(content, path, out)


def _list_text(block: list[str]) -> str:
    """One line per item; continuation lines joined to their item."""
    base = _indent(block[0])
    items: list[str] = []
    for line in block:
        if _LIST_ITEM.match(line.strip()) or not items:
            items.append(" " * max(_indent(line) - base, 0) + line.strip())
        else:
            items[-1] += " " + line.strip()
    return "\n".join(clean_inline(item) for item in items)


def _grid_rows(block: list[str]) -> list[str]:
    rows: list[str] = []
    for line in (line.strip() for line in block):
        if line.startswith("|"):
            rows.append(" | ".join(squash(cell) for cell in line.strip("|").split("|")))
        elif "=" in line and len(rows) == 1:  # +===+ ends a one-line header
            rows.append(" | ".join("---" for _ in rows[0].split(" | ")))
    return [clean_inline(row) for row in rows]


def _simple_rows(block: list[str]) -> list[str]:
    border = block[0]
    spans = [m.span() for m in re.finditer(r"=+", border)]
    rows: list[str] = []
    borders_seen = 0
    for line in block[1:]:
        if _SIMPLE_BORDER.match(line):
            borders_seen += 1
            if borders_seen == 1 and len(rows) == 1 and line is not block[-1]:
                rows.append(" | ".join("---" for _ in spans))
            continue
        cuts = [start for start, _ in spans[1:]]
        cells = [line[a:b] for a, b in zip([0, *cuts], [*cuts, len(line)], strict=True)]
        rows.append(" | ".join(squash(cell) for cell in cells))
    return [clean_inline(row) for row in rows if row.replace("|", "").strip()]
