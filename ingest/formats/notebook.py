"""Jupyter notebooks (.ipynb) via nbformat: Markdown cells under their heading path (a
heading in one cell holds for the cells after it), code cells as code with their text
outputs; locator "cell N", counting every cell from 1. Outputs that are images or HTML
only are left out; nothing is executed."""

import json
import warnings
from typing import Any, cast

import nbformat

from ingest.document import LoadError, ParsedDocument, Section
from ingest.formats.common import HeadingTrail, squash
from ingest.formats.markdown import markdown_sections
from kb.types import Locator

OUTPUT = "Output"


def parse_notebook(text: str) -> ParsedDocument:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbformat warns about missing cell ids, old versions
        try:
            reads = cast(Any, nbformat.reads)  # nbformat is untyped
            notebook = reads(text, as_version=4, capture_validation_error={})
        except (json.JSONDecodeError, nbformat.reader.NotJSONError) as error:
            raise LoadError(f"not a Jupyter notebook: {error}") from error
        except Exception as error:  # nbformat raises several types on a malformed notebook
            raise LoadError(f"corrupt Jupyter notebook: {error}") from error
    trail = HeadingTrail()
    sections: list[Section] = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        locator = Locator("cell", str(number))
        source = _text(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            blocks = markdown_sections(source, trail)
            sections.extend(Section(b.text, b.headings, locator, b.kind) for b in blocks)
        elif cell.get("cell_type") == "code":
            sections.extend(_code_cell(source, cell.get("outputs", []), trail.path, locator))
    title = squash(str(notebook.get("metadata", {}).get("title") or "")) or trail.first or ""
    return ParsedDocument(title, sections)


def _code_cell(
    source: str, outputs: list[Any], headings: tuple[str, ...], locator: Locator
) -> list[Section]:
    sections = [Section(source.rstrip(), headings, locator, "code")] if source.strip() else []
    for output in outputs:
        text = _output_text(output)
        if text.strip():
            sections.append(Section(f"{OUTPUT}:\n{text.rstrip()}", headings, locator, "code"))
    return sections


def _output_text(output: Any) -> str:
    if output.get("output_type") == "stream":
        return _text(output.get("text", ""))
    if output.get("output_type") == "error":
        return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
    return _text(output.get("data", {}).get("text/plain", ""))


def _text(value: Any) -> str:
    """Notebook text fields are a string or a list of lines."""
    return "".join(value) if isinstance(value, list) else str(value or "")
