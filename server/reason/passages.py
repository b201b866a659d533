"""Articles -> passages. A passage is a few consecutive sentences of one paragraph, with
its article, paragraph index and sentence range, so a source can quote the article word
for word. Windows of up to 3 sentences overlap by one, so a fact that spans two
sentences is whole in some passage. The section heading travels with each passage (it
helps retrieval: "What This Means for Developers" answers "what should developers do")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from server.reason.text import is_heading, sentences
from server.store import Article

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

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    @property
    def is_metadata(self) -> bool:
        return self.paragraph == METADATA_PARAGRAPH

    @property
    def search_text(self) -> str:
        return f"{self.heading}. {self.text}" if self.heading else self.text


def split_article(article: Article, start_id: int = 0) -> list[Passage]:
    passages: list[Passage] = []
    heading: str | None = None
    for p_index, paragraph in enumerate(article.paragraphs):
        sents = sentences(paragraph)
        if len(sents) == 1 and is_heading(paragraph):
            heading = paragraph
            continue
        starts = range(0, max(1, len(sents) - WINDOW + STRIDE), STRIDE)
        for s in starts:
            window = tuple(sents[s : s + WINDOW])
            if not window:
                continue
            passages.append(
                Passage(
                    id=start_id + len(passages),
                    article_id=article.id,
                    article_title=article.title,
                    paragraph=p_index,
                    first_sentence=s,
                    sentences=window,
                    heading=heading,
                )
            )
    return passages


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
    )


def spoken_date(iso: str) -> str:
    """2026-03-12 -> March 12, 2026 (as a person says it); other forms pass through."""
    try:
        day = dt.date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{day:%B} {day.day}, {day.year}"
