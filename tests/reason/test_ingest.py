from pathlib import Path

import pytest

from server.core.config import BUNDLED_CORPUS
from server.core.documents import Block
from server.core.errors import IngestError
from server.reason.ingest.document import load_file, parse

SHARED = Path(__file__).resolve().parents[3] / "shared" / "articles"
CHROME_LINES = [
    "Back to Blog",
    "Loading comments",
    "Scroll to Top",
    "min read",
    "883 words",
    "Leave a Comment",
    "Learn more",
    "Browse Topics",
    "Written by",
    "\\n",
    "Explore AI Companions",
    "Enjoyed this article",
    "Last updated",
    "AgntBox Meta",
    "| stayupdatedwith.ai",
]


def avocado():
    return load_file(BUNDLED_CORPUS / "meta-ai-strategy-avocado.raw.txt")


def secret():
    return load_file(BUNDLED_CORPUS / "meta-secret-ai-models.raw.txt")


def test_bundled_corpus_is_the_shared_articles() -> None:
    if not SHARED.exists():
        pytest.skip("../shared is not beside this checkout")
    for path in SHARED.glob("*.raw.txt"):
        assert (BUNDLED_CORPUS / path.name).read_bytes() == path.read_bytes()


@pytest.mark.parametrize("load", [avocado, secret])
def test_no_chrome_line_survives(load) -> None:
    doc = load()
    for paragraph in doc.paragraphs:
        for chrome in CHROME_LINES:
            assert chrome not in paragraph, (chrome, paragraph)
    titles = [p for p in doc.paragraphs if p.replace("’", "'") == doc.title.replace("’", "'")]
    assert not titles, "the duplicated title is gone from the body"


def test_metadata_avocado() -> None:
    doc = avocado()
    assert doc.title == (
        "Meta’s AI Strategy Just Got Weird: Open Source, Closed Source, and the Avocado Problem"
    )
    assert (doc.site, doc.author, doc.published) == ("AgntBox", "Jake Chen", "2026-03-12")


def test_metadata_secret_models() -> None:
    doc = secret()
    assert doc.title == "Meta’s Secret AI Models: Why the Open-Source Giant Is Going Closed"
    assert doc.site == "stayupdatedwith.ai"
    assert doc.author == "stayupdatedwith.ai Team"
    assert doc.published == "2026-04-08"


def test_page_details_from_badges_and_the_author_card() -> None:
    """Reading time, the page's own word count and update date (one badge line, glued:
    "📖 5 min read883 wordsUpdated Mar 26, 2026"; "April 8, 20264 min read"), and the
    author card's line about the author."""
    assert avocado().details == {
        "reading_minutes": "5",
        "stated_words": "883",
        "updated": "2026-03-26",
        "author_bio": "Software reviewer and AI tool expert. Independently tests and "
        "benchmarks AI products. No sponsored reviews — ever.",
    }
    details = secret().details
    assert details["reading_minutes"] == "4" and "stated_words" not in details
    assert details["author_bio"].startswith("AI education researchers")


def test_a_body_sentence_about_words_or_minutes_is_not_a_page_detail() -> None:
    text = (
        "A Long Enough Title For This Page\n\nA Long Enough Title For This Page\n\n"
        + "The essay asks for 1,000 words and takes 5 min read aloud by a teacher. " * 5
    )
    assert parse(text.encode(), "essay.txt").details == {}


def test_every_body_paragraph_is_kept() -> None:
    doc = avocado()
    assert doc.paragraphs[0].startswith("Meta has been the loudest champion")
    assert doc.paragraphs[-1].startswith("My bet: Meta will keep Llama competitive")
    assert "Llama 4’s reception was lukewarm." in doc.text
    assert "Have a fallback plan with Mistral, Qwen, or other open models." in doc.text
    # Every line of the raw page from the first body paragraph to the last is kept.
    raw = [
        line.strip()
        for line in (BUNDLED_CORPUS / "meta-ai-strategy-avocado.raw.txt").read_text().split("\n")
    ]
    first = next(i for i, line in enumerate(raw) if line.startswith("Meta has been the loudest"))
    last = next(i for i, line in enumerate(raw) if line.startswith("My bet: Meta"))
    body_lines = [line for line in raw[first : last + 1] if line]
    assert len(body_lines) > 25
    assert body_lines == list(doc.paragraphs)

    doc2 = secret()
    assert (
        len(
            [
                p
                for p in doc2.paragraphs
                if p.startswith(
                    (
                        "Safety concerns.",
                        "Competitive intelligence.",
                        "Revenue pressure.",
                        "The security breach factor.",
                    )
                )
            ]
        )
        == 4
    )
    assert doc2.paragraphs[-1].startswith("Whether Meta’s hybrid approach")
    assert not any(p.startswith(("AI education researchers", "SA")) for p in doc2.paragraphs)


def test_html_goes_through_trafilatura_and_the_same_cleaning() -> None:
    body = " ".join(["Llamas are domesticated South American camelids."] * 3)
    html = f"""<html><head><title>All about llamas | Camelid Weekly</title>
    <meta name="author" content="Ana Ruiz"><meta property="og:site_name" content="Camelid Weekly">
    <meta name="date" content="2025-06-01"></head><body>
    <nav><a href="/">Home</a> <a href="/blog">Back to Blog</a></nav>
    <article><h1>All about llamas</h1><p>{body}</p>
    <p>They were used as pack animals by the Inca for centuries across the Andes.</p></article>
    <footer><p>Scroll to Top</p><p>Loading comments...</p></footer></body></html>"""
    doc = parse(html.encode(), "llamas.html")
    assert doc.title == "All about llamas"
    assert doc.author == "Ana Ruiz" and doc.published == "2025-06-01"
    assert "pack animals by the Inca" in doc.text
    assert "Scroll to Top" not in doc.text and "Back to Blog" not in doc.text


def test_markdown() -> None:
    md = (
        "# Alpacas\n\nAlpacas are *smaller* than llamas and are bred for their fiber, "
        "which is soft and warm.\n\n## Care\n\n- They live in herds of several animals.\n"
        "- See [the guide](http://example.invalid) for feeding times and hay.\n"
    )
    doc = parse(md.encode(), "alpacas.md")
    assert doc.title == "Alpacas"
    assert "Alpacas are smaller than llamas" in doc.text
    assert Block("item", "See the guide for feeding times and hay.") in doc.blocks
    assert "http" not in doc.text


def test_hard_wrapped_text_is_rejoined() -> None:
    txt = (
        "Notes on camels\n\nThe dromedary has one hump and lives in\nthe deserts of the "
        "Middle East and\nnorth Africa, where it carries loads.\n\nThe Bactrian camel has "
        "two humps and lives in the cold steppes of Central Asia.\n"
    )
    doc = parse(txt.encode(), "camels.txt")
    assert doc.title == "Notes on camels"
    assert doc.paragraphs[0] == (
        "The dromedary has one hump and lives in the deserts of the "
        "Middle East and north Africa, where it carries loads."
    )


@pytest.mark.parametrize(
    "data,name,code",
    [
        (b"", "empty.txt", "empty_document"),
        (b"   \n\n  ", "blank.md", "empty_document"),
        (b"Too short.", "short.txt", "empty_document"),
        (b"\x00\x01binary", "x.txt", "bad_document"),
        (b"hello", "slides.pdf", "unsupported_type"),
        (b"<html><body><nav>Home</nav></body></html>", "nav.html", "empty_document"),
    ],
)
def test_bad_documents_get_typed_errors(data: bytes, name: str, code: str) -> None:
    with pytest.raises(IngestError) as info:
        parse(data, name)
    assert info.value.code == code


STRUCTURED_MD = """---
layout: post
title: "Serving Owls at Scale: Notes"
author:
  - Mira Quell
  - Tomas Ek
date: 2024-10-23
---

The Owlserve team is happy to announce Owlserve 2.0 today.

### What is new

Owlserve 2.0 brings three changes:

- Supports a context length of 64k tokens.
- Runs on two kinds of hardware:
  - the Hexa accelerator, with 96 GB of memory;
  - plain CPUs.
- Quantised weights load in half the time.

| Model | Licence | Score |
|-------|---------|-------|
| Owl-7B | Apache-2.0 | 71.2 |
| Owl-70B | Custom | 80.4 |

```bash
pip install owlserve==2.0
```

It requires about 40 GB of RAM for the largest model.

### Acknowledgements

We thank everyone who tested the betas.

### Links

- [Docs](https://example.invalid/docs)
- [Code](https://example.invalid/code)
"""


def test_markdown_keeps_front_matter_lists_and_tables() -> None:
    doc = parse(STRUCTURED_MD.encode(), "owlserve.md")
    assert doc.title == "Serving Owls at Scale: Notes"
    assert doc.author == "Mira Quell and Tomas Ek"
    assert doc.published == "2024-10-23"
    blocks = doc.blocks
    kinds = [(b.kind, b.level) for b in blocks]
    assert ("heading", 3) in kinds
    items = [b for b in blocks if b.kind == "item"]
    assert [b.level for b in items] == [0, 0, 1, 1, 0]
    assert items[2].text == "the Hexa accelerator, with 96 GB of memory;"
    rows = [b.text for b in blocks if b.kind == "row"]
    assert rows == [
        "Owl-7B — Licence: Apache-2.0; Score: 71.2",
        "Owl-70B — Licence: Custom; Score: 80.4",
    ]
    text = " ".join(b.text for b in blocks)
    # Code, the thanks, the link list and the front matter's other keys are not the article.
    assert "pip install" not in text and "betas" not in text and "Docs" not in text
    assert "layout" not in text and "|" not in text


HTML_WITH_TABLE = """<html><head><title>Owl speeds | Owl Weekly</title>
<meta name="author" content="Ana Ruiz"><meta name="date" content="2025-06-01"></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/blog">Blog</a></li>
<li><a href="/about">About us</a></li></ul></nav>
<article><h1>Owl speeds</h1>
<p>Owls are quiet fliers, and this page measures how fast three species fly over open
ground at dusk, in still air, over a measured course of two kilometres.</p>
<h2>Results</h2>
<table><tr><th>Species</th><th>Top speed</th></tr>
<tr><td>Barn owl</td><td>64 km/h</td></tr><tr><td>Snowy owl</td><td>80 km/h</td></tr></table>
<p>The snowy owl was the fastest of the three species on every day of the trial.</p>
<pre><code>speed = distance / time</code></pre>
</article><footer><p>Copyright Owl Weekly</p></footer></body></html>"""


def test_html_keeps_headings_and_table_rows_and_drops_navigation() -> None:
    doc = parse(HTML_WITH_TABLE.encode(), "owls.html")
    assert doc.title == "Owl speeds"
    assert doc.author == "Ana Ruiz" and doc.published == "2025-06-01"
    blocks = doc.blocks
    assert Block("heading", "Results", 2) in blocks
    assert Block("row", "Barn owl — Top speed: 64 km/h") in blocks
    assert Block("row", "Snowy owl — Top speed: 80 km/h") in blocks
    text = " ".join(b.text for b in blocks)
    assert "About us" not in text and "speed = distance" not in text and "Copyright" not in text


def test_passages_carry_their_section_lead_in_and_subject(tmp_path: Path) -> None:
    from server.reason.index.passages import split_article
    from server.storage.store import Store

    store = Store(tmp_path / "t.sqlite3")
    article, _ = store.add_article(parse(STRUCTURED_MD.encode(), "owlserve.md"))
    passages = split_article(article)
    by_text = {p.text: p for p in passages}
    item = by_text["Supports a context length of 64k tokens."]
    assert item.kind == "item" and item.heading == "What is new"
    assert item.lead == "Owlserve 2.0 brings three changes:"
    nested = by_text["the Hexa accelerator, with 96 GB of memory;"]
    assert nested.lead is not None and "Runs on two kinds of hardware" in nested.lead
    row = by_text["Owl-70B — Licence: Custom; Score: 80.4"]
    assert row.kind == "row"
    # "It requires ..." is about what the sentence before it names.
    it = next(p for p in passages if p.text.startswith("It requires"))
    assert it.lead is not None
    # No passage is a heading, code or the thanks; the quoted paragraph is the block's text.
    assert all("pip install" not in p.text and "betas" not in p.text for p in passages)
    assert article.paragraphs[item.paragraph] == item.text
