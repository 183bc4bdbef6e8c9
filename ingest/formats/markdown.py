"""Markdown: markdown-it-py block tokens -> sections under their heading path."""

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.document import ParsedDocument, Section
from ingest.formats.common import HeadingTrail, SectionList, squash, tidy_lines
from ingest.formats.html import html_text

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_LIST_OPEN = ("bullet_list_open", "ordered_list_open")


def parse_markdown(text: str) -> ParsedDocument:
    text, front_title = _strip_front_matter(text)
    trail = HeadingTrail()
    sections = markdown_sections(text, trail)
    return ParsedDocument(front_title or trail.first or "", sections)


def markdown_sections(text: str, trail: HeadingTrail) -> list[Section]:
    """The blocks of `text` under their heading path; `trail` carries the path on (from one
    notebook cell to the next)."""
    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").enable("table").enable("strikethrough").parse(text)
    sections = SectionList()
    add = sections.add
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "heading_open":
            trail.enter(int(token.tag[1]), inline_text(tokens[i + 1]))
        elif token.type == "paragraph_open":
            sections.add(inline_text(tokens[i + 1]), trail.path)
        elif token.type in ("fence", "code_block"):
            sections.add(token.content.rstrip(), trail.path, "code")
        elif token.type == "html_block":
            add(html_text(token.content), trail.path)
        elif token.type == "table_open" and token.map:
            add(tidy_lines("\n".join(lines[token.map[0] : token.map[1]])), trail.path, "table")
        elif token.type in _LIST_OPEN:
            end = _closing(tokens, i)
            sections.add("\n".join(_list_lines(tokens[i : end + 1])), trail.path)
            i = end
        if token.type in ("heading_open", "paragraph_open", "table_open"):
            i = _closing(tokens, i)
        i += 1
    return list(sections)


def _strip_front_matter(text: str) -> tuple[str, str | None]:
    """YAML front matter would otherwise parse as a setext heading."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, None
    title = _FRONT_TITLE.search(match.group(1))
    return text[match.end() :], title.group(1).strip("'\"") if title else None


def _closing(tokens: list[Token], start: int) -> int:
    """Index of the token closing tokens[start] (same level, nesting -1)."""
    level = tokens[start].level
    for j in range(start + 1, len(tokens)):
        if tokens[j].level == level and tokens[j].nesting == -1:
            return j
    return len(tokens) - 1


def inline_text(token: Token) -> str:
    """Plain text of an inline token: markup dropped, link text and image alt kept."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline", "image"):  # image: alt text
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return squash("".join(parts))


def _list_lines(tokens: list[Token]) -> list[str]:
    """One line per item ("- x" or "1. x"), nested lists indented, code kept."""
    lines: list[str] = []
    markers: list[str] = []  # per open list: "-" or the next number
    item_started = False
    for token in tokens:
        if token.type in _LIST_OPEN:
            markers.append("-" if token.type == "bullet_list_open" else "1")
        elif token.type.endswith("_list_close"):
            markers.pop()
        elif token.type == "list_item_open":
            item_started = True
            if markers[-1] != "-":
                markers[-1] = token.info or markers[-1]
        elif token.type == "inline" or token.type in ("fence", "code_block"):
            indent = "  " * (len(markers) - 1)
            text = inline_text(token) if token.type == "inline" else token.content.rstrip()
            if item_started:
                marker = "-" if markers[-1] == "-" else f"{markers[-1]}."
                lines.append(f"{indent}{marker} {text}")
                item_started = False
            else:
                lines.extend(f"{indent}  {line}" for line in text.splitlines())
    return [line for line in lines if line.strip()]
