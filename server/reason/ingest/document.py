"""Files -> articles. In: a .txt, .md or .html document (path or bytes). Out: a `Document`
(title, site, author, date, paragraphs) or an IngestError that says what is wrong.

HTML goes through trafilatura (well kept, strips navigation/boilerplate, reads metadata)
and Markdown through markdown-it; both keep the document's structure as blocks
(`readers.py`, `blocks.py`): headings, list items, table rows. Plain text is a scraped
page: the chrome cleaner (`clean.py`) finds its paragraphs and details."""

from __future__ import annotations

import re
from pathlib import Path

from server.core.documents import Document
from server.core.documents import decode as decode_block
from server.core.errors import IngestError
from server.reason.ingest.clean import CHROME, Cleaned, clean
from server.reason.ingest.readers import Read, read_html, read_markdown

SUFFIXES = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}
MIN_WORDS = 20


def kind_of(filename: str) -> str:
    name = filename.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return SUFFIXES[suffix]
    raise IngestError(
        f"{filename}: unsupported file type; use .txt, .md or .html", code="unsupported_type"
    )


def decode(data: bytes, filename: str) -> str:
    if b"\x00" in data[:4096]:
        raise IngestError(f"{filename}: looks like a binary file, not text")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IngestError(f"{filename}: not valid UTF-8 text")


def _structured(read: Read) -> Cleaned:
    """Blocks from a reader that kept structure, with the scraped-chrome lines (share
    buttons, reading-time badges) left out as for scraped text."""
    cleaned = Cleaned()
    cleaned.title, cleaned.author = read.title, read.author
    cleaned.published, cleaned.site = read.published, read.site
    for block in read.blocks:
        if block.kind == "prose" and any(p.search(block.text) for p in CHROME):
            continue
        cleaned.paragraphs.append(block.encode())
    return cleaned


def parse(data: bytes, filename: str) -> Document:
    kind = kind_of(filename)
    text = decode(data, filename)
    if not text.strip():
        raise IngestError(f"{filename}: the file is empty", code="empty_document")
    stem = re.sub(r"(\.raw)?\.[a-z]+$", "", Path(filename).name, flags=re.IGNORECASE)
    fallback = stem.replace("-", " ").replace("_", " ").strip().capitalize() or filename
    if kind == "html":
        cleaned = _structured(read_html(text))
    elif kind == "markdown":
        cleaned = _structured(read_markdown(text))
    else:
        cleaned = clean(text, fallback_title=fallback)
    words = sum(len(decode_block(p).text.split()) for p in cleaned.paragraphs)
    if words < MIN_WORDS:
        raise IngestError(
            f"{filename}: found only {words} words of article text (need {MIN_WORDS})",
            code="empty_document",
        )
    return Document(
        title=(cleaned.title or fallback).strip(),
        site=cleaned.site,
        author=cleaned.author,
        published=cleaned.published,
        paragraphs=tuple(cleaned.paragraphs),
        source=Path(filename).name,
        details=dict(cleaned.details),
    )


def load_file(path: Path) -> Document:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror})", code="unreadable") from exc
    return parse(data, path.name)
