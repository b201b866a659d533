"""Markdown and HTML -> blocks (`blocks.py`) and the article's details, read from the
documents' own trees: markdown-it-py's tokens, and trafilatura's XML of the page's main
content (it drops navigation, footers and comments) walked with lxml.

What is never an answer nor narration is left out here: code blocks, images, raw HTML
that is not prose, lists whose items are only links, and the sections that thank or cite
("Acknowledgements", "References", ...). Front matter (YAML) and the page's meta tags give
the title, authors and date."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from server.core.documents import Block, render_row

# Sections that thank, cite or point elsewhere: never answers, never narrated.
BACK_MATTER = re.compile(
    r"^(acknowledge?ments?|thanks|references|footnotes|notes|citations?|bibliography|"
    r"further reading|related (posts|articles|reading)|see also|links|resources|"
    r"updates and errata|reuse|contributors?|author contributions|license)\b",
    re.IGNORECASE,
)
UNPAIRED_EMPHASIS = re.compile(r"\*\*+|__+")
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


class BackMatter:
    """Where a walk over a document's headings stands: inside a section that thanks or
    cites (`BACK_MATTER`), with its subsections, or not."""

    def __init__(self) -> None:
        self.level = 0  # the back-matter heading's level; 0 outside one

    def heading(self, level: int, text: str) -> bool:
        """Read a heading; whether it opens (or lies inside) back matter, to be left out."""
        if self.level and level > self.level:
            return True
        self.level = level if BACK_MATTER.match(text) else 0
        return bool(self.level)

    @property
    def inside(self) -> bool:
        return bool(self.level)


@dataclass
class Read:
    blocks: list[Block] = field(default_factory=list)
    title: str | None = None
    author: str | None = None
    published: str | None = None
    site: str | None = None


# --- Markdown --------------------------------------------------------------------------


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML front matter (as a dict) and the text after it."""
    m = FRONT_MATTER.match(text)
    if not m:
        return {}, text
    import yaml

    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        data = None
    return (data if isinstance(data, dict) else {}), text[m.end() :]


def _people(value: Any) -> str | None:
    """`author: X`, `authors: [X, Y]` or `[{name: X}, ...]` -> "X and Y"."""
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        names = [n for n in (_people(v) for v in value) if n]
        if not names:
            return None
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return None


def _date(value: Any) -> str | None:
    if value is None:
        return None
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:10] if re.match(r"\d{4}-\d{2}-\d{2}", text) else text or None


def _inline(token: Any) -> tuple[str, bool]:
    """An inline token's words (links keep their words; images, code marks and raw HTML
    go) and whether every word was a link's (a link list's item)."""
    out: list[str] = []
    linked = 0
    depth = 0
    for child in token.children or []:
        if child.type == "link_open":
            depth += 1
        elif child.type == "link_close":
            depth = max(0, depth - 1)
        elif child.type in ("text", "code_inline"):
            out.append(child.content)
            if depth:
                linked += len(child.content.split())
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
    # Emphasis CommonMark could not pair ("**Paper: **Title" closes after a space) is
    # left as literal asterisks: they are marks, never words.
    text = " ".join(UNPAIRED_EMPHASIS.sub("", "".join(out)).split())
    return text, bool(text) and linked >= len(text.split())


def read_markdown(text: str) -> Read:
    from markdown_it import MarkdownIt

    meta, body = front_matter(text)
    read = Read(
        title=str(meta["title"]).strip() if meta.get("title") else None,
        author=_people(meta.get("author") or meta.get("authors")),
        published=_date(meta.get("date") or meta.get("published")),
    )
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    depth = -1  # list nesting: -1 outside any list
    in_item: list[bool] = []  # per open item: its first paragraph was taken
    back = BackMatter()
    row: list[str] = []
    header: list[str] = []
    in_head = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind = tok.type
        if kind == "heading_open":
            level = int(tok.tag[1])
            words, _ = _inline(tokens[i + 1])
            i += 3
            if back.heading(level, words) or not words:
                continue
            if level == 1 and read.title is None and not read.blocks:
                read.title = words
                continue
            if read.title and words.lower() == read.title.lower():
                continue  # the title again, as the page's first heading
            read.blocks.append(Block("heading", words, level))
            continue
        if back.inside:
            i += 1
            continue
        if kind in ("bullet_list_open", "ordered_list_open"):
            depth += 1
        elif kind in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
        elif kind == "list_item_open":
            in_item.append(False)
        elif kind == "list_item_close":
            in_item.pop()
        elif kind == "inline" and tokens[i - 1].type == "paragraph_open":
            words, all_links = _inline(tok)
            if words:
                if in_item and not in_item[-1]:
                    in_item[-1] = True
                    if not all_links:  # a list of links is a list of places to go
                        read.blocks.append(Block("item", words, max(0, depth)))
                elif in_item and read.blocks and read.blocks[-1].kind == "item":
                    # An item's second paragraph belongs to it.
                    last = read.blocks.pop()
                    read.blocks.append(Block("item", f"{last.text} {words}", last.level))
                elif not all_links or len(words.split()) > 12:
                    read.blocks.append(Block("prose", words))
        elif kind == "html_block":
            words = _html_text(tok.content)
            if _is_prose(words):
                read.blocks.append(Block("prose", words))
        elif kind == "thead_open":
            in_head = True
        elif kind == "thead_close":
            in_head = False
        elif kind == "tr_open":
            row = []
        elif kind in ("th_open", "td_open"):
            row.append(_inline(tokens[i + 1])[0])
        elif kind == "tr_close":
            if in_head:
                header = row
            elif text := render_row(header, row):
                read.blocks.append(Block("row", text))
        elif kind == "table_close":
            header = []
        # fence, code_block, hr, images: nothing a learner hears
        i += 1
    return read


def _html_text(html: str) -> str:
    import lxml.html

    try:
        fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    except Exception:  # noqa: BLE001 - lxml raises several kinds on broken markup
        return ""
    for bad in fragment.xpath(".//script|.//style|.//code|.//pre"):
        bad.drop_tree()
    return " ".join(fragment.text_content().split())


def _is_prose(text: str) -> bool:
    """Raw HTML in Markdown is mostly figures; a caption or paragraph of real sentences
    is kept."""
    return len(text.split()) >= 6 and text.rstrip().endswith((".", "!", "?", ")", "”", '"'))


# --- HTML -------------------------------------------------------------------------------


def read_html(html: str) -> Read:
    """The page's main content as trafilatura's XML (headings, paragraphs, lists, tables,
    code), walked in document order; its details from trafilatura's metadata."""
    import lxml.html
    import trafilatura
    from lxml import etree

    page = _page(html)  # parsed once: for the notes, and for headings trafilatura drops
    if page is not None and _move_asides(page):
        html = lxml.html.tostring(page, encoding="unicode")
    xml = trafilatura.extract(
        html,
        output_format="xml",
        include_tables=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        include_formatting=False,
        with_metadata=True,
        favor_recall=True,
    )
    read = Read()
    if not xml:
        return read
    root = etree.fromstring(xml.encode())
    read.title = root.get("title") or None
    read.author = root.get("author") or None
    read.published = root.get("date") or None
    read.site = root.get("sitename") or None
    main = root.find("main")
    if main is None:
        return read
    back = BackMatter()
    headers: dict[Any, list[str]] = {}  # table -> its header row's cells
    for el in main.iter("head", "p", "item", "row", "quote", "code", "list", "table"):
        tag = el.tag
        if tag == "head":
            level = _head_level(el)
            words = _words(el)
            if back.heading(level, words) or not words:
                continue
            if read.title and words.lower() == read.title.lower():
                continue
            read.blocks.append(Block("heading", words, level))
            continue
        if back.inside or _inside(el, ("code",)):
            continue
        if tag == "p" and not _inside(el, ("item", "cell", "quote")):
            words = _words(el)
            if words:
                read.blocks.append(Block("prose", words))
        elif tag == "quote" and not _inside(el, ("item", "cell")):
            words = _words(el)
            if words:
                read.blocks.append(Block("prose", words))
        elif tag == "item":
            words = _words(el, skip=("list",))
            depth = sum(1 for a in el.iterancestors("list")) - 1
            if words:
                read.blocks.append(Block("item", words, max(0, depth)))
        elif tag == "row":
            cells = [_words(c) for c in el.findall("cell")]
            if el.find("cell[@role='head']") is not None:
                headers[el.getparent()] = cells
                continue
            if text := render_row(headers.get(el.getparent(), []), cells):
                read.blocks.append(Block("row", text))
    if page is not None and not any(b.kind == "heading" for b in read.blocks):
        read.blocks = _with_page_headings(page, read.blocks)
    return read


def _key(text: str) -> str:
    return " ".join(text.split())[:60].lower()


def _with_page_headings(tree: Any, blocks: list[Block]) -> list[Block]:
    """trafilatura drops the headings of some pages (inside custom elements such as
    `<d-article>`): they are put back from the page's own tree, each before the first
    kept paragraph that follows it there."""
    pending: list[Block] = []
    before: dict[str, list[Block]] = {}
    for el in tree.iter("h1", "h2", "h3", "h4", "h5", "h6", "p", "li"):
        text = " ".join(el.text_content().split())
        if not text:
            continue
        if el.tag.startswith("h"):
            pending.append(Block("heading", text, int(el.tag[1])))
        elif pending:
            before.setdefault(_key(text), pending)
            pending = []
    out: list[Block] = []
    back = BackMatter()
    for block in blocks:
        for heading in before.pop(_key(block.text), []):
            if not back.heading(heading.level, heading.text) and heading.level > 1:
                out.append(heading)
        if not back.inside:
            out.append(block)
    return out


def _page(html: str) -> Any | None:
    """The page's tree (lxml), or None when lxml cannot read it."""
    import lxml.html

    try:
        return lxml.html.fromstring(html)
    except Exception:  # noqa: BLE001 - lxml raises several kinds on broken markup
        return None


def _move_asides(tree: Any) -> bool:
    """Move the page's inline footnotes (`<d-footnote>`, `<aside class="footnote">`, ...)
    out of their sentences into paragraphs of their own after the block they hang from,
    and drop citation markers (`<d-cite>`, `<sup class="citation">`): read inline, a
    note's text is glued into its sentence ("... we don't support them.There is a
    strange kind ..."). Whether anything moved."""
    import lxml.html

    changed = False
    for el in list(tree.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        names = f"{el.tag} {el.get('class') or ''} {el.get('role') or ''}".lower()
        if any(w in names for w in ("d-cite", "citation", "doc-noteref")):
            el.drop_tree()
            changed = True
        elif "footnote" in names and "list" not in names:
            text = " ".join(el.text_content().split())
            block = next((a for a in el.iterancestors() if a.tag in ("p", "li")), None)
            el.drop_tree()
            changed = True
            if text and block is not None and block.getparent() is not None:
                note = lxml.html.Element("p")
                note.text = text
                block.addnext(note)
    return changed


def _head_level(el: Any) -> int:
    rend = el.get("rend") or "h2"
    return int(rend[1]) if re.fullmatch(r"h[1-6]", rend) else 2


def _inside(el: Any, tags: tuple[str, ...]) -> bool:
    return any(a.tag in tags for a in el.iterancestors())


def _words(el: Any, skip: tuple[str, ...] = ()) -> str:
    """An element's text, without the text of nested `skip` elements (an item's sub-list
    is read as items of its own)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.tag in skip and node is not el:
            if node.tail:
                parts.append(node.tail)
            return
        if node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tag not in skip and child.tail:
                parts.append(child.tail)

    if el.tag == "code":
        return ""
    if el.text:
        parts.append(el.text)
    for child in el:
        if child.tag in skip or child.tag == "code" and len(_text(child).split()) > 3:
            if child.tail:
                parts.append(child.tail)
            continue
        walk(child)
        if child.tail:
            parts.append(child.tail)
    return " ".join("".join(parts).split())


def _text(el: Any) -> str:
    return "".join(el.itertext())
