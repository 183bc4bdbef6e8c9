"""HTML: BeautifulSoup (stdlib html.parser) walk; block elements end a section."""

from collections.abc import Iterator

from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag

from ingest.document import ParsedDocument
from ingest.formats.common import HeadingTrail, SectionList, squash, tidy_lines

_SKIP = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object", "button"}
_HEADINGS = {f"h{n}" for n in range(1, 7)}
_BLOCKS = {
    "p", "div", "section", "article", "main", "header", "footer", "nav", "aside", "blockquote",
    "form", "fieldset", "figure", "figcaption", "address", "dl", "dt", "dd", "li", "body",
    "details", "summary", "hr", "center",
}  # fmt: skip


def html_text(fragment: str) -> str:
    """The visible text of an HTML fragment, on one line."""
    soup = BeautifulSoup(fragment, "html.parser")
    for tag in soup.find_all(list(_SKIP)):
        tag.decompose()
    return squash(soup.get_text(" "))


def parse_html(text: str) -> ParsedDocument:
    soup = BeautifulSoup(text, "html.parser")
    title_tag = next((t for t in soup.find_all("title") if not t.find_parent("svg")), None)
    title = squash(title_tag.get_text()) if title_tag else ""
    for tag in soup.find_all(list(_SKIP)):
        tag.decompose()
    walker = _Walker()
    walker.walk(soup)
    walker.flush()
    return ParsedDocument(title or walker.first_h1 or "", list(walker.sections))


class _Walker:
    def __init__(self) -> None:
        self.trail = HeadingTrail()
        self.sections = SectionList()
        self.buffer: list[str] = []
        self.first_h1: str | None = None

    def flush(self) -> None:
        self.sections.add(tidy_lines("".join(self.buffer)), self.trail.path)
        self.buffer.clear()

    def walk(self, root: Tag) -> None:
        """Depth-first, with an explicit stack: real pages nest deeper than Python recurses."""
        stack: list[tuple[Iterator[PageElement], bool]] = [(iter(root.children), False)]
        while stack:
            children, is_block = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if is_block:
                    self.flush()
            elif isinstance(child, NavigableString):
                if type(child) is NavigableString or isinstance(child, CData):
                    self.buffer.append(str(child).replace("\n", " "))
            elif isinstance(child, Tag) and not self.visit(child):
                block = child.name.lower() in _BLOCKS
                if block:
                    self.flush()
                stack.append((iter(child.children), block))

    def visit(self, tag: Tag) -> bool:
        """Handle a tag that is a unit of its own; False for one to descend into."""
        name = tag.name.lower()
        if name == "br":
            self.buffer.append("\n")
        elif name in _HEADINGS:
            self.flush()
            heading = squash(tag.get_text(" "))
            self.trail.enter(int(name[1]), heading)
            if name == "h1":
                self.first_h1 = self.first_h1 or heading
        elif name in ("pre", "table", "ul", "ol"):
            self.flush()
            if name == "pre":
                self.sections.add(tag.get_text().rstrip(), self.trail.path, "code")
            elif name == "table":
                self.sections.add("\n".join(table_rows(tag)), self.trail.path, "table")
            else:
                self.sections.add("\n".join(list_lines(tag, 0)), self.trail.path)
        else:
            return False
        return True


def table_rows(table: Tag) -> list[str]:
    """Cells joined with " | "; a header row of <th> cells gets a "---" row after it."""
    rows: list[str] = []
    for index, tr in enumerate(r for r in table.find_all("tr") if r.find_parent("table") is table):
        cells = tr.find_all(["td", "th"], recursive=False)
        texts = [squash(cell.get_text(" ")) for cell in cells]
        if not any(texts):
            continue
        rows.append(" | ".join(texts))
        if index == 0 and len(rows) == 1 and all(cell.name == "th" for cell in cells):
            rows.append(" | ".join("---" for _ in cells))
    return rows


def list_lines(tag: Tag, depth: int) -> list[str]:
    """One line per <li>, nested lists indented under their item."""
    lines: list[str] = []
    start = str(tag.get("start", "1"))
    number = int(start) if start.isdigit() else 1
    for item in tag.find_all("li", recursive=False):
        nested = [s for s in item.find_all(["ul", "ol"]) if s.find_parent(["ul", "ol"]) is tag]
        for sub in nested:
            sub.extract()
        marker = f"{number}." if tag.name == "ol" else "-"
        text = squash(item.get_text(" "))
        if text:
            lines.append(f"{'  ' * depth}{marker} {text}")
        number += 1
        for sub in nested:
            lines.extend(list_lines(sub, depth + 1))
    return lines
