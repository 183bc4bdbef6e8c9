"""`kb ingest` as the previous release ran it, for the bench's side-by-side cold ingest:
PDF text from pypdf's plain mode (this release reads it with pdfium, ingest/formats/pdf.py).
The embedder and the parsing processes are the bench's settings (torch fp32, one process).

Run as the main module (`python -m benchmarks.previous_release ingest DIR`), not with
`-c`: the parsing processes are spawned, and a spawned process imports the parent's main
module again, so every process of the run reads PDFs as the previous release did.
"""

import io

import pypdf

from ingest.document import LoadError, LoadOptions, ParsedDocument
from ingest.formats import pdf

# The 10-Qs hold arrays of over 100,000 elements (pypdf's default cap) in their object
# streams; 20 million stays bounded against hostile files.
PDF_LIMITS = pypdf.Configuration(
    array_maximum_element_count=20_000_000, disable_legacy_handling=True
)


def page_texts(data: bytes) -> list[str]:
    """Each page's text as pypdf's plain mode extracts it."""
    with pypdf.apply_configuration(PDF_LIMITS):
        reader = pypdf.PdfReader(io.BytesIO(data))
        return [page.extract_text() for page in reader.pages]


def parse_pdf(data: bytes, options: LoadOptions | None = None) -> ParsedDocument:
    """The previous release's reading of a PDF with a text layer (the bench's corpora have
    no scans, so OCR is left out)."""
    texts = page_texts(data)
    sections = [s for n, text in enumerate(texts, start=1) for s in pdf.page_sections(text, n)]
    if not sections:
        raise LoadError("no extractable text")
    return ParsedDocument("", sections)


if __name__ in ("__main__", "__mp_main__"):  # the script and the processes it spawns
    pdf.parse_pdf = parse_pdf  # ingest.loaders looks the parser up by name at each call
if __name__ == "__main__":
    from cli.main import main

    main()
