"""A lesson's data, which its builders pass between them: an article's `Sentence` (where it
stands, how central it is) and a `QuizQuestion` made from one. Types only, so that the
script, the quiz and the grading read them without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.core.documents import Article
from server.reason.answer.cite import Source


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article, where it stands, and how central it is."""

    text: str
    paragraph: int
    section: int
    heading: str | None
    score: float = 0.0

    def source(self, article: Article) -> Source:
        return Source(article.id, article.title, self.text, self.paragraph)


@dataclass
class QuizQuestion:
    index: int
    question: str  # what is shown and spoken
    answer: str  # the expected answer, the article's own words
    source: Source  # the sentence it comes from, verbatim
    # The answer and 2-3 wrong answers of its kind, in a fixed shuffled order; empty when
    # the articles hold too few (a free answer only).
    options: list[str] = field(default_factory=list)
    # What the answer is: date | duration | amount | count | person | company | model |
    # term | reason, or cloze (a fill-in-the-blank of the sentence).
    kind: str = "cloze"
