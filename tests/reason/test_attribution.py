"""Answers attributed to the right article: two articles with parallel facts (each
release supports a different context length, needs a different amount of memory, has a
different licence). Each question gets its own article's fact, never the other's."""

import asyncio

import pytest

from server.reason.answer.respond import Answer, Answerer, answer
from server.reason.index.embed import Embedder
from server.reason.index.lookup import Index
from server.storage.library import Library
from server.storage.store import Store

OWLSERVE = """---
title: "Owlserve 2.0 is out"
author: Mira Quell
---

The Owlserve team is happy to announce Owlserve 2.0, our inference server for owls.

## What is new

Owlserve 2.0 brings these changes:

- Supports a context length of 64k tokens.
- Loads quantised weights in half the time.

The largest Owlserve model is big. It requires about 40 GB of RAM.

| Model | Licence |
|-------|---------|
| Owl-Small | MIT |
"""

BATCAVE = """---
title: "Batcave 3 released"
author: Tomas Ek
---

Batcave 3 is the third major release of the Batcave serving engine for bats.

## Highlights

The release of Batcave 3 comes with the following:

- Supports a context length of 256k tokens.
- Streams tokens over websockets.

The default Batcave model is small. It requires about 6 GB of RAM.

| Model | Licence |
|-------|---------|
| Bat-Tiny | Apache-2.0 |
"""


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Answerer:
    folder = tmp_path_factory.mktemp("attribution")
    library = Library(Store(folder / "t.sqlite3"))
    library.add_bytes(OWLSERVE.encode(), "owlserve.md")
    library.add_bytes(BATCAVE.encode(), "batcave.md")
    index = Index(folder / "index", embedder)
    index.rebuild(library.store.articles())
    return Answerer(index, None)


def ask(a: Answerer, q: str) -> Answer:
    return asyncio.run(answer(a, q))


@pytest.mark.parametrize(
    ("question", "right", "wrong"),
    [
        ("What context length does Owlserve 2.0 support?", "64k", "256k"),
        ("What context length does Batcave 3 support?", "256k", "64k"),
        ("How much RAM does the largest Owlserve model need?", "40 GB", "6 GB"),
        ("How much RAM does the default Batcave model require?", "6 GB", "40 GB"),
    ],
)
def test_each_question_gets_its_own_articles_fact(
    answerer: Answerer, question: str, right: str, wrong: str
) -> None:
    result = ask(answerer, question)
    assert result.grounded, (question, result.text)
    assert right in result.text and wrong not in result.text, (question, result.text)
    titles = {s.title for s in result.sources}
    expected = "Owlserve" if "Owlserve" in question else "Batcave"
    assert titles and all(expected in t for t in titles), (question, titles)


def test_a_list_item_is_answered_with_its_lead_in(answerer: Answerer) -> None:
    result = ask(answerer, "What context length does Owlserve 2.0 support?")
    # The bullet alone ("Supports a context length of 64k tokens.") does not say whose.
    assert "Owlserve" in result.text, result.text
    quotes = " ".join(s.quote for s in result.sources)
    assert "Supports a context length of 64k tokens." in quotes


def test_a_table_row_is_quoted_as_a_row_not_pipes(answerer: Answerer) -> None:
    result = ask(answerer, "Which licence does Bat-Tiny have?")
    assert result.grounded and "Apache-2.0" in result.text, result.text
    assert "|" not in result.text
