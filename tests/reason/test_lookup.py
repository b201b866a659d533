from pathlib import Path

import pytest

from server.reason.index import lookup
from server.reason.index.lookup import Index
from server.reason.ingest.document import parse
from server.storage.library import Library

PARAPHRASES = [
    ("Who runs Meta Superintelligence Labs?", "Alexandr Wang"),
    ("How long a context could Llama 3.1 handle?", "128K tokens"),
    ("What are the codenames of Meta's secret models?", "Mango"),
    ("What did Chinese labs allegedly do with API models?", "distillation"),
    ("Why did Llama 4 disappoint?", "lukewarm"),
    ("How expensive is it to train a frontier model?", "hundreds of millions"),
    ("What business analogy with Linux does the author draw?", "Red Hat"),
]


@pytest.mark.parametrize("question,expected", PARAPHRASES)
def test_paraphrased_questions_find_the_passage(index: Index, question: str, expected: str) -> None:
    hits = index.search(question, k=4)
    assert any(expected in h.passage.text for h in hits), [h.passage.text for h in hits]


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "How do I change a flat tire?",
        "Who won the World Cup in 2022?",
        "Who is the CEO of OpenAI?",
        "How do I bake bread?",
    ],
)
def test_out_of_scope_questions_have_low_coverage(index: Index, question: str) -> None:
    hits = index.search(question, k=4)
    assert not hits or hits[0].coverage < 0.6


def test_passages_keep_positions(index: Index, library: Library) -> None:
    for passage in index.passages:
        article = library.store.article(passage.article_id)
        if passage.is_metadata:
            assert article.title in passage.text and article.author in passage.text
            continue
        paragraph = article.paragraphs[passage.paragraph]
        assert passage.text in paragraph  # verbatim, so sources quote the article


def test_index_is_saved_reused_and_rebuilt_on_change(
    index: Index, library: Library, tmp_path: Path
) -> None:
    saved = (tmp_path / "index" / "fingerprint").read_text()
    again = Index(tmp_path / "index")
    again.rebuild(library.store.articles())
    assert again.fingerprint == saved and len(again.passages) == len(index.passages)

    doc = parse(
        b"Alpaca farming\n\nAlpacas are shorn once a year in spring for their soft "
        b"fleece, which is spun into yarn by farmers in Peru.",
        "alpacas.txt",
    )
    article, created = library.add(doc)
    assert created
    assert index.fingerprint != saved
    assert index.search("When are alpacas shorn?")[0].passage.article_id == article.id
    library.remove(article.id)
    assert index.fingerprint == saved
    assert all(h.passage.article_id != article.id for h in index.search("alpacas shorn"))


def test_a_saved_index_is_rebuilt_when_the_indexed_words_change(
    index: Index, library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A saved index holds its terms: made with other stopwords, it must not be reused."""
    saved = (tmp_path / "index" / "fingerprint").read_text()
    monkeypatch.setattr(lookup, "STOPWORDS", lookup.STOPWORDS - {"every"})
    again = Index(tmp_path / "index")
    again.rebuild(library.store.articles())
    assert again.fingerprint != saved


def test_vocabulary_has_the_articles_names(index: Index) -> None:
    vocab = index.vocabulary()
    assert {"Meta", "Llama", "Avocado", "Wang"} <= set(vocab)
    assert "The" not in vocab


def test_a_questions_name_free_form_is_read_the_same_with_it_or_without(index: Index) -> None:
    """The search embeds a question's name-free form beside it, in one batch, for the
    gate to read next; computed on its own it gives the same closeness."""
    text = "how do I peel a mango without a knife"
    alone = index.unnamed_dense(text)
    index.search(text)
    batched = index.unnamed_dense(text)
    assert alone is not None and batched is not None
    assert abs(alone - batched) < 1e-4
    # Without a name it is the question itself, read against the name-free sentences.
    plain = "how do I bake bread"
    alone = index.unnamed_dense(plain)
    index.search(plain)
    assert alone is not None and abs(alone - (index.unnamed_dense(plain) or 0.0)) < 1e-4
