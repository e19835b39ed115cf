"""The text of the documents a Converse request carries, as the emulated models read it.

``bodies`` validates the ``document`` content blocks (format, name, size, count) and keeps their bytes,
text or S3 location; :func:`attach_texts` adds each document's ``"text"``: PDF text extracted with pypdf (a
real PDF parser, page by page), UTF-8 for txt, md and csv, HTML without its tags. The emulated models do not
read Office formats (doc, docx, xls, xlsx): their text is empty. A PDF that cannot be parsed is a
``ValueError`` naming the document (the runtime answers ValidationException). ``answers`` then writes its
answers from ``"text"``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from html.parser import HTMLParser

from .bodies import ChatRequest

__all__ = ["attach_texts", "document_text"]

Reader = Callable[[str], bytes | None]


class _HtmlText(HTMLParser):
    _SKIP = ("script", "style")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in ("p", "br", "div", "li", "h1", "h2", "h3", "h4", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _pdf_text(data: bytes, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"The document {name!r} could not be read as a PDF file: {err}") from None


def document_text(document: dict, read: Reader | None = None) -> str:
    """The text of one validated document (``bodies._converse_document``); ``read(uri)`` fetches S3 bytes."""
    if isinstance(document.get("text"), str):
        return document["text"]
    data = document.get("bytes")
    if data is None and document.get("s3_uri"):
        data = read(document["s3_uri"]) if read is not None else None
        if data is None:
            raise ValueError(f"The document {document['name']!r} at {document['s3_uri']} could not be read")
    data = data or b""
    fmt = document.get("format", "txt")
    if fmt == "pdf":
        return _pdf_text(data, document["name"])
    if fmt in ("txt", "md", "csv"):
        return data.decode("utf-8", errors="replace")
    if fmt == "html":
        parser = _HtmlText()
        parser.feed(data.decode("utf-8", errors="replace"))
        return "".join(parser.parts)
    return ""  # doc, docx, xls, xlsx: not read by the emulated models


def attach_texts(request: ChatRequest, read: Reader | None = None) -> None:
    """Set ``"text"`` on every document of ``request``."""
    for document in request.documents:
        document["text"] = document_text(document, read)
