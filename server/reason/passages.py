"""Articles -> passages. A passage is a few consecutive sentences of one paragraph, with
its article, paragraph index and sentence range, so a source can quote the article word
for word. Windows of up to 3 sentences overlap by one, so a fact that spans two
sentences is whole in some passage. The section heading travels with each passage (it
helps retrieval: "What This Means for Developers" answers "what should developers do")."""

from __future__ import annotations

from dataclasses import dataclass

from server.reason.text import is_heading, sentences
from server.store import Article

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
