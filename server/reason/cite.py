"""Citations: an answer -> the article sentences behind it, quoted verbatim.

Each answer sentence is aligned with the passage sentence that shares most of its words;
aligned sentences of one paragraph become one quote. Every name and number the answer
says then stands in some quote (the eval checks it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from server.reason.lookup import Hit
from server.reason.text import sentences, terms


@dataclass(frozen=True)
class Source:
    article_id: int
    title: str
    quote: str
    paragraph: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cite(answer: str, hits: list[Hit], limit: int | None = None) -> list[Source]:
    """The article sentences behind the answer, quoted verbatim: each answer sentence
    is aligned with the passage sentence that shares most of its words; aligned
    sentences of one paragraph become one quote. Every name and number the answer
    says then stands in some quote. At most `limit` quotes: three, or one per answer
    sentence where there are more (a list's items each come from their own paragraph)."""
    said = sentences(answer)
    limit = limit if limit is not None else max(3, len(said))
    picked: dict[tuple[int, int], dict[int, str]] = {}
    order: list[tuple[int, int]] = []
    titles: dict[int, str] = {}
    for sentence in said:
        wanted = set(terms(sentence))
        if not wanted:
            continue
        best: tuple[float, Hit, int] | None = None
        for hit in hits:
            for i, candidate in enumerate(hit.passage.sentences):
                share = len(wanted & set(terms(candidate))) / len(wanted)
                share += 0.5 if candidate == sentence else 0.0  # the very sentence said
                if best is None or share > best[0]:
                    best = (share, hit, i)
        if best is None or best[0] < 0.5:
            continue
        _, hit, i = best
        key = (hit.passage.article_id, hit.passage.paragraph)
        if key not in picked:
            picked[key] = {}
            order.append(key)
        titles[hit.passage.article_id] = hit.passage.article_title
        picked[key][hit.passage.first_sentence + i] = hit.passage.sentences[i]
    return [
        Source(
            article_id,
            titles[article_id],
            " ".join(text for _, text in sorted(picked[(article_id, paragraph)].items())),
            paragraph,
        )
        for article_id, paragraph in order[:limit]
    ]
