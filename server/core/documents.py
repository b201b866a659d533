"""An article, as every layer sees it: `Document` (what ingestion read from a file, not
yet stored), `Article` (a stored one, with its id), and the structure both keep: a list
of blocks (headings, prose paragraphs, list items, table rows), stored one block a
paragraph in the article's body.

Why a body of marked paragraphs, not a new table: the body is what every store (SQLite,
Postgres) already keeps, exports and fingerprints, and a paragraph's index is what a
citation points at. A block is written as a line of Markdown would be, so the stored
body still reads as the article:

    ## Benchmarks            a heading (level 2)
    - Supports FP8 KV cache   a list item (depth 0; two spaces a level deeper)
    | Llama 3.1 70B — TTFT: 5.1x; Throughput: 1.8x      a table row, its columns named
    Anything else             a prose paragraph

Articles stored before structure was kept have only prose paragraphs, and read as they
always did (`structured` is False: headings are then guessed from their shape)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["heading", "prose", "item", "row"]

_HEADING = re.compile(r"^(#{1,6}) (.+)$", re.DOTALL)
_ITEM = re.compile(r"^((?:  )*)- (.+)$", re.DOTALL)
_ROW = re.compile(r"^\| (.+)$", re.DOTALL)
# Markers a prose paragraph must not start with, or it would read back as a block.
_MARKER = re.compile(r"^(?:#{1,6} |(?:  )*- |\| )")


@dataclass(frozen=True)
class Block:
    kind: Kind
    text: str
    level: int = 0  # a heading's level (1-6); a list item's depth (0 at the top)

    def encode(self) -> str:
        text = " ".join(self.text.split())
        if self.kind == "heading":
            return f"{'#' * max(1, min(6, self.level))} {text}"
        if self.kind == "item":
            return f"{'  ' * self.level}- {text}"
        if self.kind == "row":
            return f"| {text}"
        return _MARKER.sub("", text)


def decode(paragraph: str) -> Block:
    if m := _HEADING.match(paragraph):
        return Block("heading", m.group(2).strip(), len(m.group(1)))
    if m := _ITEM.match(paragraph):
        return Block("item", m.group(2).strip(), len(m.group(1)) // 2)
    if m := _ROW.match(paragraph):
        return Block("row", m.group(1).strip())
    return Block("prose", paragraph)


def decode_all(body: str) -> list[Block]:
    return [decode(p) for p in body.split("\n\n")]


def structured(blocks: list[Block]) -> bool:
    """Whether the blocks came from a reader that kept structure (any non-prose block):
    only then are prose paragraphs never guessed to be headings."""
    return any(b.kind != "prose" for b in blocks)


def render_row(header: list[str], cells: list[str]) -> str:
    """A table row as one statement a listener can follow: its first cell names the row,
    the others are said with their column's name ("Llama 3.1 70B — TTFT: 5.1x;
    Throughput: 1.8x"). Empty cells are left out; a table without a header row gives its
    cells in order."""
    cells = [" ".join(c.split()) for c in cells]
    header = [" ".join(h.split()) for h in header]
    if not any(cells):
        return ""
    first, rest = cells[0], cells[1:]
    named = []
    for i, cell in enumerate(rest, 1):
        if not cell:
            continue
        column = header[i] if i < len(header) else ""
        named.append(f"{column}: {cell}" if column else cell)
    if not named:
        return first
    return f"{first} — {'; '.join(named)}" if first else "; ".join(named)


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
    def blocks(self) -> list[Block]:
        return [decode(p) for p in self.paragraphs]

    @property
    def word_count(self) -> int:
        return sum(len(decode(p).text.split()) for p in self.paragraphs)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Article:
    id: int
    title: str
    site: str | None
    author: str | None
    published: str | None
    source: str
    content_hash: str
    body: str
    word_count: int
    details: dict[str, str] = field(default_factory=dict)  # clean.find_details

    @property
    def blocks(self) -> list[Block]:
        """The body's headings, prose, list items and table rows (`reason/blocks.py`)."""
        return decode_all(self.body)

    @property
    def paragraphs(self) -> list[str]:
        """Each block's words, without its structure marks: what is shown and quoted
        (a citation's paragraph is an index into this list and into `blocks`)."""
        return [b.text for b in self.blocks]

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "site": self.site,
            "author": self.author,
            "date": self.published,
            "word_count": self.word_count,
            "source": self.source,
        }
