"""The openings the voice prepares (`Answerer.openings`) are how answers really start:
when `extractive` or `focus` change how an answer begins, this fails until `openings`
follows (server/speak/cache.py)."""

import asyncio

from server.ops.bench.voice import DEFAULT_QUESTIONS
from server.reason.answer.respond import Answerer, answer
from server.reason.index.lookup import Index
from server.speak.cache import first_piece

QUESTIONS = [
    *DEFAULT_QUESTIONS,  # the bench's, the decline among them
    "Why might Meta keep its most powerful models proprietary?",
    "What did the TBD Lab work on?",
]


def test_answers_start_with_an_opening_the_voice_prepares(index: Index) -> None:
    answerer = Answerer(index, None)
    prepared = {first_piece(text) for text in answerer.openings()}
    # A few per sentence of the two articles, not every phrase in them.
    sentences = sum(len(p.sentences) for p in index.passages)
    assert sentences < len(prepared) < 3 * sentences

    async def first_pieces() -> list[str]:
        return [first_piece((await answer(answerer, q)).text) for q in QUESTIONS]

    missing = [piece for piece in asyncio.run(first_pieces()) if piece not in prepared]
    assert not missing
