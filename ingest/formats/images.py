"""Image files (.png, .jpg, .jpeg, .tif, .tiff, .webp): OCR text by page (every frame of
a multi-page TIFF is a page; any other image is page 1)."""

import io
import warnings
from collections.abc import Iterator

from PIL import Image, ImageSequence, UnidentifiedImageError

from ingest.document import LoadError, LoadOptions, ParsedDocument, SkipFile
from ingest.formats.ocr import ocr_pages
from ingest.formats.pdf import page_sections

MAX_PAGES = 2000


def parse_image(data: bytes, options: LoadOptions) -> ParsedDocument:
    if options.ocr == "off":
        raise SkipFile("image not read: KB_OCR is off")
    texts = ocr_pages(_frames(data), options)
    sections = [s for page, text in enumerate(texts, start=1) for s in page_sections(text, page)]
    if not sections:
        raise SkipFile("no text found by OCR (an image without text?)")
    return ParsedDocument("", sections)


def _frames(data: bytes) -> Iterator[Image.Image]:
    """The image's pages; a corrupt, truncated or enormous image is a LoadError."""
    with _open(data) as image:
        try:
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                if number > MAX_PAGES:
                    raise LoadError(f"more than {MAX_PAGES} pages in one image file")
                frame.load()
                yield frame.copy()
        except (OSError, SyntaxError, ValueError) as error:
            raise LoadError(f"corrupt image: {error}") from error


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise LoadError(f"image too large to OCR: {error}") from error
        except UnidentifiedImageError as error:
            raise LoadError("not an image, or an image format Pillow cannot read") from error
        except (OSError, SyntaxError, ValueError) as error:
            raise LoadError(f"corrupt image: {error}") from error
