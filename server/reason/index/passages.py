"""Articles -> passages. A passage is a few consecutive sentences of one paragraph, with
its article, paragraph index and sentence range, so a source can quote the article word
for word. Windows of up to 3 sentences overlap by one, so a fact that spans two
sentences is whole in some passage. The section heading travels with each passage (it
helps retrieval: "What This Means for Developers" answers "what should developers do")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from server.core.documents import Article, structured
from server.reason.text import is_heading, sentences
from server.reason.words import REFERS_BACK

METADATA_PARAGRAPH = -1  # the article's title, site, author and date, said as sentences
METADATA_HEADING = (
    "About the article: who wrote it, the site that published it and when, its title, "
    "length and reading time"
)

WINDOW = 3
STRIDE = 2


@dataclass(frozen=True)
class Passage:
    id: int
    article_id: int
    article_title: str
    paragraph: int
    first_sentence: int
    sentences: tuple[str, ...]
    heading: str | None
    # "prose", "item" (a list item), "row" (a table row) or "meta" (the details).
    kind: str = "prose"
    # What the passage is about when its own words do not say it: a list item's lead-in
    # ("The new release brings:"), a parent item, or the sentence before one that opens
    # with "It"/"This"/"They". Read by retrieval and the subject check, never quoted as
    # the passage's own words.
    lead: str | None = None
    # The paragraph the lead-in is quoted from, when it is one sentence of one paragraph
    # (an answer from a list item may then say it first, and cite it).
    lead_at: int | None = None

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    @property
    def is_metadata(self) -> bool:
        return self.paragraph == METADATA_PARAGRAPH

    @property
    def context(self) -> str:
        """What a reader knows when reading the passage: its heading and lead-in."""
        return " ".join(x for x in (self.heading, self.lead) if x)

    @property
    def search_text(self) -> str:
        return f"{self.context}. {self.text}" if self.context else self.text


LEAD_WORDS = 30  # a lead-in longer than this is a paragraph, not a lead-in: its last sentence


def split_article(article: Article, start_id: int = 0) -> list[Passage]:
    """Prose paragraphs become overlapping windows of sentences; each list item and table
    row a passage of its own, with its lead-in (the sentence before the list, or the
    parent item) as context. Headings are context, never passages."""
    passages: list[Passage] = []
    blocks = article.blocks
    keeps_structure = structured(blocks)
    heading: str | None = None
    last_prose: str | None = None  # the last sentence of the last prose paragraph
    last_prose_at: int | None = None  # ... and its paragraph
    parents: list[str] = []  # open list items, by depth

    def add(
        p_index: int,
        first: int,
        window: tuple[str, ...],
        kind: str,
        lead: str | None,
        lead_at: int | None = None,
    ) -> None:
        passages.append(
            Passage(
                id=start_id + len(passages),
                article_id=article.id,
                article_title=article.title,
                paragraph=p_index,
                first_sentence=first,
                sentences=window,
                heading=heading,
                kind=kind,
                lead=lead,
                lead_at=lead_at,
            )
        )

    for p_index, block in enumerate(blocks):
        if block.kind == "heading":
            heading, last_prose, last_prose_at, parents = block.text, None, None, []
            continue
        sents = sentences(block.text)
        if not sents:
            continue
        if (
            block.kind == "prose"
            and not keeps_structure
            and len(sents) == 1
            and is_heading(block.text)
        ):
            heading, last_prose, last_prose_at, parents = block.text, None, None, []
            continue
        if block.kind == "item":
            parents = parents[: block.level]
            lead = " ".join(x for x in (last_prose, *parents) if x) or None
            lead_at = last_prose_at if not parents else None
            # A long item is read in windows like prose, each with the same lead-in.
            for s in _windows(sents):
                add(p_index, s, tuple(sents[s : s + WINDOW]), "item", lead, lead_at)
            parents.append(_short(block.text))
            continue
        if block.kind == "row":
            # The sentence before a table introduces it only when it says so ("...:").
            intro = last_prose if last_prose and last_prose.endswith(":") else None
            add(p_index, 0, (block.text,), "row", intro, last_prose_at if intro else None)
            continue
        parents = []
        before = last_prose
        for s in _windows(sents):
            window = tuple(sents[s : s + WINDOW])
            refers = REFERS_BACK.match(window[0])
            lead = (sents[s - 1] if s > 0 else before) if refers else None
            add(p_index, s, window, "prose", lead)
        # The paragraph's last sentence introduces what follows, when it is short; it is
        # quoted from here when said as it stands (whitespace and all).
        last = sents[-1]
        last_prose = " ".join(last.split()) if len(last.split()) <= LEAD_WORDS else None
        last_prose_at = p_index if last_prose == last else None
    return passages


def _windows(sents: list[str]) -> range:
    return range(0, max(1, len(sents) - WINDOW + STRIDE), STRIDE)


def _short(text: str) -> str:
    """A lead-in as context: its last sentence, at most LEAD_WORDS words."""
    said = sentences(text)
    return " ".join((said[-1] if said else text).split()[:LEAD_WORDS])


def metadata_passage(article: Article, passage_id: int) -> Passage:
    """The article's metadata as sentences, so "who wrote ...", "which site ..." and "when
    was it published" are answered, and quoted, like any other fact. Each sentence names
    the title, so it is retrieved with the article it describes."""
    # Sentences name the article by its short title (before any colon): spoken answers
    # stay short, and the full title has a sentence of its own.
    short = f"“{article.title.split(': ')[0].strip()}”"
    where = f" on {article.site}" if article.site else ""
    when = f" on {spoken_date(article.published)}" if article.published else ""
    by = f" written by {article.author}" if article.author else ""
    # One sentence for who, where and when: "who wrote the AgntBox article?" names the
    # site, and must find the author beside it.
    facts = " and".join(x for x in (by, f" published{where}{when}" if where or when else "") if x)
    details = article.details
    # The page's own count, when it gives one, is what a reader of the page saw.
    length = details.get("stated_words") or str(article.word_count)
    said = [f"The article {short} is {length} words long."]
    if minutes := details.get("reading_minutes"):
        said.append(f"The article {short} takes about {minutes} minutes to read.")
    if updated := details.get("updated"):
        said.append(f"The article {short} was last updated on {spoken_date(updated)}.")
    if facts:
        said.insert(0, f"The article {short} was{facts}.")
    if article.author and (bio := details.get("author_bio")):
        said.append(f"The author of {short}, {article.author}, is described as: {bio}")
    if short != f"“{article.title}”":
        said.append(f"The full title of {short} is “{article.title}”.")
    return Passage(
        id=passage_id,
        article_id=article.id,
        article_title=article.title,
        paragraph=METADATA_PARAGRAPH,
        first_sentence=0,
        sentences=tuple(said),
        heading=f"{METADATA_HEADING}: “{article.title}”",
        kind="meta",
    )


def spoken_date(iso: str) -> str:
    """2026-03-12 -> March 12, 2026 (as a person says it); other forms pass through."""
    try:
        day = dt.date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{day:%B} {day.day}, {day.year}"
