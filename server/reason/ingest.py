"""Files -> articles. In: a .txt, .md or .html document (path or bytes). Out: a `Document`
(title, site, author, date, paragraphs) or an IngestError that says what is wrong.

HTML goes through trafilatura (well kept, strips navigation/boilerplate, reads metadata);
Markdown is rendered with markdown-it and read block by block; every kind then goes
through the same chrome cleaner as scraped text (`clean.py`)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from server.errors import IngestError
from server.reason.clean import Cleaned, clean

SUFFIXES = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}
MIN_WORDS = 20


@dataclass(frozen=True)
class Document:
    title: str
    site: str | None
    author: str | None
    published: str | None
    paragraphs: tuple[str, ...]
    source: str
    details: dict[str, str] = field(default_factory=dict)  # clean.find_details

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        return len(self.text.split())

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


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


def _from_html(html: str) -> tuple[Cleaned, str]:
    import trafilatura

    extracted = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
    )
    if extracted is None:
        return Cleaned(), ""
    meta = extracted if isinstance(extracted, dict) else extracted.as_dict()
    text = meta.get("text") or ""
    cleaned = clean(text)
    # trafilatura reads <title>, <meta> and JSON-LD, which beat our text heuristics.
    cleaned.title = meta.get("title") or cleaned.title
    cleaned.site = meta.get("sitename") or cleaned.site
    cleaned.author = meta.get("author") or cleaned.author
    cleaned.published = meta.get("date") or cleaned.published
    return cleaned, text


def _from_markdown(md: str) -> Cleaned:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(md)
    title: str | None = None
    blocks: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.type != "inline":
            continue
        # Inline children -> plain text: links keep their words, images and code marks go.
        text = "".join(
            child.content for child in tok.children or [] if child.type in ("text", "code_inline")
        ).strip()
        if not text:
            continue
        opener = tokens[i - 1]
        if opener.type == "heading_open" and opener.tag == "h1" and title is None:
            title = text
            continue
        blocks.append(text)
    cleaned = clean("\n".join(blocks))
    cleaned.title = title or cleaned.title
    return cleaned


def parse(data: bytes, filename: str) -> Document:
    kind = kind_of(filename)
    text = decode(data, filename)
    if not text.strip():
        raise IngestError(f"{filename}: the file is empty", code="empty_document")
    stem = re.sub(r"(\.raw)?\.[a-z]+$", "", Path(filename).name, flags=re.IGNORECASE)
    fallback = stem.replace("-", " ").replace("_", " ").strip().capitalize() or filename
    if kind == "html":
        cleaned, _ = _from_html(text)
    elif kind == "markdown":
        cleaned = _from_markdown(text)
    else:
        cleaned = clean(text, fallback_title=fallback)
    words = sum(len(p.split()) for p in cleaned.paragraphs)
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
