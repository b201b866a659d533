"""Citations: an answer -> the article sentences behind it, quoted verbatim.

Each answer sentence is aligned with the passage sentence that shares most of its words;
aligned sentences of one paragraph become one quote. Every name and number the answer
says then stands in some quote (the eval checks it)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from server.reason.index.lookup import Hit
from server.reason.text import sentences, terms


@dataclass(frozen=True)
class Source:
    article_id: int
    title: str
    quote: str
    paragraph: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LEAD = -1  # the passage's lead-in, as a sentence index
FIGURE = re.compile(r"\d+(?:[.,]\d+)*")


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
    # Each passage sentence (and quotable lead-in), with its terms and figures, read once
    # for all the answer's sentences: (hit, sentence index or LEAD, text, terms, figures).
    quotable = [
        (hit, i, text, set(terms(text)), set(FIGURE.findall(text)))
        for hit in hits
        for i, text in [
            *enumerate(hit.passage.sentences),
            *(
                [(LEAD, hit.passage.lead)]
                if hit.passage.lead and hit.passage.lead_at is not None
                else []
            ),
        ]
    ]
    for sentence in said:
        wanted = set(terms(sentence))
        if not wanted:
            continue
        # Rows of one table share their words and differ in their figures: the row with
        # the sentence's figures is the one it says.
        figures = set(FIGURE.findall(sentence))
        best: tuple[float, Hit, int] | None = None
        for hit, i, candidate, held, said_figures in quotable:
            share = len(wanted & held) / len(wanted)
            if i != LEAD:  # a list item's answer may say its lead-in first: words only
                share += 0.5 if candidate == sentence else 0.0  # the very sentence said
                if figures:
                    share += 0.3 * len(figures & said_figures) / len(figures)
            if best is None or share > best[0]:
                best = (share, hit, i)
        aligned = [(best[1], best[2])] if best is not None and best[0] >= 0.5 else []
        # An answer sentence may hold two of the article's (a cut never splits a
        # parenthesis, and a sentence split inside one is joined again): each is quoted.
        aligned += [
            (hit, i)
            for hit, i, candidate, _, _ in quotable
            if i != LEAD
            and len(candidate) > 20
            and candidate in sentence
            and (hit, i) not in aligned
        ]
        for hit, i in aligned:
            p = hit.passage
            paragraph = p.lead_at if i == LEAD and p.lead_at is not None else p.paragraph
            key = (p.article_id, paragraph)
            if key not in picked:
                picked[key] = {}
                order.append(key)
            titles[p.article_id] = p.article_title
            if i == LEAD:
                picked[key][-1] = p.lead or ""
            else:
                picked[key][p.first_sentence + i] = p.sentences[i]
    return [
        Source(
            article_id,
            titles[article_id],
            " ".join(text for _, text in sorted(picked[(article_id, paragraph)].items())),
            paragraph,
        )
        for article_id, paragraph in order[:limit]
    ]
