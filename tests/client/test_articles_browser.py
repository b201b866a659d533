"""The Articles panel in real headless Chromium against the real server and models: an
article the learner adds (a Markdown file through the file picker) is followed to ready,
answered from (quoting its fact) and removed (with the confirm step), after which the
same question is declined; uploads the tutor refuses, at once or after reading them, are
said in plain words. A server of its own: the shared one keeps its two articles. No
assertion is about timing: every wait is a generous Playwright wait on what the page
shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.engines import Engines
from tests.client.conftest import serve
from tests.client.test_browser import TURN_MS, ask_typed, open_page

pytestmark = pytest.mark.slow

TITLE = "The Quillfeather Lighthouse"
PARAGRAPHS = (
    "The Quillfeather Lighthouse stands on the basalt headland of Merrow Point, on the "
    "northern coast of the island of Tessary. It was built in 1862 by the engineer Orla "
    "Vantreece, who designed it to survive the winter gales that sweep in from the Grey Sea.",
    "The Quillfeather Lighthouse is 47 metres tall, which makes it the tallest lighthouse on "
    "Tessary. Its walls are made of pale granite quarried at Dunhallow and are almost two "
    "metres thick at the base.",
    "The lamp was first lit with whale oil and later with paraffin. Since 1931 it has used an "
    "electric lamp whose beam can be seen 38 kilometres out to sea. The light flashes white "
    "twice every ten seconds.",
    "The last keeper, Ansel Brightwater, left the tower in 1987, when the light was automated. "
    "Today the keeper's cottage is a small museum about the shipwrecks of Merrow Point.",
)
# One line per paragraph: what is tested is the panel, not how Markdown is wrapped.
ARTICLE = "\n\n".join((f"# {TITLE}", *PARAGRAPHS)) + "\n"
QUESTION = "How tall is the Quillfeather Lighthouse?"
FILE_CHOOSER = "#article-file"


@pytest.fixture
def tutor(engines: Engines, tmp_path: Path) -> Iterator[str]:
    with serve(engines, tmp_path / "data", build_lessons=False) as url:
        yield url


def status_text(page) -> str:
    return page.locator("#article-status-text").inner_text()


def wait_status(page, kind: str) -> str:
    """The status line once it says the upload ended ("ok" or "error")."""
    page.wait_for_function(
        f"document.querySelector('#article-status').dataset.kind === '{kind}'", timeout=TURN_MS
    )
    return status_text(page)


def titles(page) -> list[str]:
    return page.locator("#articles li .title").all_inner_texts()


def test_an_added_article_is_answered_from_then_removed(browser, tutor, output_dir):
    page = browser()
    open_page(page, tutor)
    page.click("#article-add summary")
    page.set_input_files(
        FILE_CHOOSER,
        files=[
            {"name": "quillfeather.md", "mimeType": "text/markdown", "buffer": ARTICLE.encode()}
        ],
    )
    page.click("#article-file-submit")
    said = wait_status(page, "ok")
    assert said.startswith(f"Added “{TITLE}”"), said
    page.wait_for_function(
        f"[...document.querySelectorAll('#articles li .title')]"
        f".some((t) => t.textContent === {TITLE!r})"
    )
    assert len(titles(page)) == 3
    assert page.evaluate("window.tutorStats.articles.added") == 1
    page.screenshot(path=str(shots(output_dir) / "articles-added.png"), full_page=True)

    page.click("nav .tab[data-panel=chat]")
    ask_typed(page, QUESTION, 0)
    first = page.locator("#log .turn").nth(0)
    answer = first.locator(".answer .text").inner_text()
    assert "47" in answer, answer
    assert "not-covered" not in (first.get_attribute("class") or "")
    assert any(TITLE in s for s in first.locator(".sources summary").all_inner_texts())

    item = page.locator("#articles li.article", has_text=TITLE)
    item.locator("button.remove").click()
    confirm = item.locator(".confirm")
    assert "no longer answer" in confirm.inner_text()
    confirm.get_by_role("button", name="Keep it").click()  # changed my mind: still there
    assert item.locator(".confirm").count() == 0 and TITLE in titles(page)
    item.locator("button.remove").click()
    item.locator(".confirm").get_by_role("button", name="Remove it").click()
    page.wait_for_function("document.querySelectorAll('#articles li .title').length === 2")
    assert TITLE not in titles(page)

    ask_typed(page, QUESTION, 1)
    second = page.locator("#log .turn").nth(1)
    assert "not-covered" in (second.get_attribute("class") or "")
    assert "don't cover" in second.locator(".answer .text").inner_text()
    assert second.locator(".sources li").count() == 0


def test_refused_uploads_are_said_in_plain_words(browser, tutor, output_dir):
    """Refused at once (another type, empty) and found by reading it (too few words, from
    the paste form): each in plain words, and the list is unchanged. On a phone's screen:
    the open panel fits it."""
    page = browser(width=375, height=812)
    open_page(page, tutor)
    page.click("#article-add summary")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for name, data, words in [
        ("slides.pdf", b"%PDF-1.4", "takes Markdown (.md), web pages"),
        ("empty.txt", b"", "no article text"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not text the tutor can read"),
    ]:
        page.set_input_files(
            FILE_CHOOSER, files=[{"name": name, "mimeType": "text/plain", "buffer": data}]
        )
        page.click("#article-file-submit")
        said = wait_status(page, "error")
        assert words in said, (name, said)
        page.evaluate("document.querySelector('#article-status').dataset.kind = ''")

    page.fill("#article-title", "Too short")
    page.fill("#article-text", "Only a few words here.")
    page.click("#article-paste-submit")
    said = wait_status(page, "error")
    assert "too short" in said, said
    assert page.evaluate("window.tutorStats.articles.errors") == [
        "unsupported_type",
        "empty_document",
        "bad_document",
        "empty_document",
    ]
    assert len(titles(page)) == 2

    # Pasted text with its title: the title is the article's.
    page.evaluate("document.querySelector('#article-status').dataset.kind = ''")
    page.fill("#article-title", "Marsh owls of Fennick")
    page.fill("#article-text", PASTED)
    page.click("#article-paste-submit")
    said = wait_status(page, "ok")
    assert said.startswith("Added “Marsh owls of Fennick”"), said
    page.wait_for_function("document.querySelectorAll('#articles li .title').length === 3")
    assert "Marsh owls of Fennick" in titles(page)
    assert page.input_value("#article-title") == ""  # the form is ready for the next one
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(shots(output_dir) / "phone-articles.png"), full_page=True)


PASTED = (
    "The marsh owls of Fennick nest in the reed beds along the river Sallow. They hunt at "
    "dusk, flying low over the water meadows, and each pair raises three or four owlets "
    "every spring. Local farmers welcome them because they keep the voles away from the "
    "barley fields."
)


def shots(output_dir: Path) -> Path:
    folder = output_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
