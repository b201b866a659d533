"""The browser client against a server that needs an access token (TUTOR_API_TOKEN), or
that refuses the page's origin: the page asks for the token once, in an accessible dialog,
keeps it, uses it everywhere but never in a URL (sockets open with a single-use ticket,
lesson audio plays from signed URLs), and never reconnects in a loop while refused. Real
Chromium, real server and models; no assertion is about timing (generous Playwright waits
only)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.core.config import Settings
from server.engines import Engines
from server.lessons import Lessons
from server.storage.library import Library
from server.storage.store import Store
from tests.client.conftest import serve

pytestmark = pytest.mark.slow

TOKEN = "s3cret-token"
TURN_MS = 180_000  # a turn takes seconds; the CPU is small and shared
OPEN = "document.querySelector('#conn').dataset.state === 'open'"
DIALOG_OPEN = "document.querySelector('#token-dialog').open"
ARTICLES = "document.querySelectorAll('#articles li .title').length >= 2"


@pytest.fixture(scope="module")
def guarded_url(engines: Engines, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # One question an hour: the second typed question meets the rate limit.
    with serve(
        engines,
        tmp_path_factory.mktemp("guarded-data"),
        api_token=TOKEN,
        question_rate_limit="1/hour",
    ) as url:
        yield url


@pytest.fixture(scope="module")
def shots(output_dir: Path) -> Path:
    folder = output_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def watch(page) -> dict[str, list]:
    """Every websocket the page opens, every URL it requests, the Authorization header of
    each article fetch, and the status of each ticket request."""
    seen: dict[str, list] = {"sockets": [], "urls": [], "article_auth": [], "tickets": []}
    page.on("websocket", lambda ws: seen["sockets"].append(ws.url))

    def request(r) -> None:
        seen["urls"].append(r.url)
        if r.url.endswith("/api/articles"):
            seen["article_auth"].append(r.headers.get("authorization"))

    page.on("request", request)
    page.on(
        "response",
        lambda r: seen["tickets"].append(r.status) if r.url.endswith("/api/ticket") else None,
    )
    return seen


def no_token_in_urls(seen: dict[str, list], token: str = TOKEN) -> None:
    for url in seen["urls"] + seen["sockets"]:
        assert "token=" not in url and token not in url, url


def submit_token(page, value: str) -> None:
    page.fill("#token-input", value)
    page.press("#token-input", "Enter")


def test_token_is_asked_once_checked_kept_and_used(browser, guarded_url, shots):
    page = browser()
    seen = watch(page)
    page.goto(guarded_url)

    # Asked for the token: a modal dialog with a labelled field that has the focus.
    page.wait_for_function(DIALOG_OPEN)
    page.wait_for_function("document.querySelector('#conn').dataset.state === 'blocked'")
    assert page.locator("#conn").inner_text() == "Access token needed"
    assert page.evaluate("document.activeElement.id") == "token-input"
    assert page.get_by_label("Access token", exact=True).count() == 1
    page.wait_for_function("document.querySelector('#token-error').textContent === ''")
    page.screenshot(path=str(shots / "token.png"), full_page=True)

    # A wrong token: an error, still asked, nothing stored, and no reconnect storm.
    submit_token(page, "wrong")
    page.wait_for_function(
        "document.querySelector('#token-error').textContent.includes('not right')"
    )
    assert page.evaluate(DIALOG_OPEN)
    assert page.get_attribute("#token-input", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "token-input"
    assert page.evaluate("localStorage.getItem('tutor.token')") is None
    page.screenshot(path=str(shots / "token-wrong.png"), full_page=True)
    assert len(seen["sockets"]) == 1, seen["sockets"]  # refused once, not retried
    assert "token=" not in seen["sockets"][0]

    # The right token: connected, articles listed, and it is kept for next time.
    submit_token(page, TOKEN)
    page.wait_for_function(OPEN)
    assert page.locator("#conn").inner_text() == "Connected"
    assert not page.evaluate(DIALOG_OPEN)
    page.wait_for_function(ARTICLES)
    assert page.evaluate("localStorage.getItem('tutor.token')") == TOKEN
    assert "?ticket=" in seen["sockets"][-1]  # the socket opened with a ticket,
    assert seen["tickets"] == [200]  # asked for with the token in a header
    assert f"Bearer {TOKEN}" in seen["article_auth"]  # fetches carry it as a header
    assert page.locator("#notice").is_hidden()

    # A typed question is answered over the authorised socket.
    page.click("nav .tab[data-panel=chat]")
    page.fill("#chat-input", "How was Llama 4 received?")
    page.press("#chat-input", "Enter")
    page.wait_for_function("window.tutorStats.answers >= 1", timeout=TURN_MS)
    assert "lukewarm" in page.locator("#log .answer .text").first.inner_text().lower()

    # Past the rate limit (1 an hour here): a plain message; the session stays open.
    page.fill("#chat-input", "When is Avocado expected to launch?")
    page.press("#chat-input", "Enter")
    page.wait_for_function("window.tutorStats.errors.includes('rate_limited')", timeout=TURN_MS)
    assert "a lot of questions" in page.locator("#notice").inner_text()
    assert page.evaluate(OPEN)

    # A reload uses the kept token: no question asked.
    page.reload()
    page.wait_for_function(OPEN)
    page.wait_for_function(ARTICLES)
    assert not page.evaluate(DIALOG_OPEN)
    assert seen["tickets"] == [200, 200]  # a fresh ticket for the new socket
    no_token_in_urls(seen)


def test_a_refused_saved_token_is_forgotten_and_asked_for_again(browser, guarded_url):
    page = browser()
    seen = watch(page)
    page.goto(f"{guarded_url}/healthz")  # same origin, to seed localStorage
    page.evaluate("localStorage.setItem('tutor.token', 'old-token')")
    page.goto(guarded_url)
    page.wait_for_function(DIALOG_OPEN)
    page.wait_for_function(
        "document.querySelector('#token-error').textContent.includes('no longer accepted')"
    )
    assert page.evaluate("localStorage.getItem('tutor.token')") is None
    assert seen["tickets"] == [401] and seen["sockets"] == []  # refused before any socket
    # Dismissed with Escape: a way back is offered; acting while refused asks again
    # instead of reconnecting.
    page.keyboard.press("Escape")
    page.wait_for_function(f"!{DIALOG_OPEN}")
    assert page.locator("#token-open").is_visible()
    assert page.evaluate("document.activeElement.id") == "token-open"
    page.click("nav .tab[data-panel=chat]")
    page.fill("#chat-input", "How was Llama 4 received?")
    page.press("#chat-input", "Enter")
    page.wait_for_function(DIALOG_OPEN)
    assert seen["sockets"] == [] and seen["tickets"] == [401]
    submit_token(page, TOKEN)
    page.wait_for_function(OPEN)
    page.wait_for_function(ARTICLES)
    assert page.locator("#token-open").is_hidden()
    assert len(seen["sockets"]) == 1 and "?ticket=" in seen["sockets"][0]
    no_token_in_urls(seen, "old-token")
    no_token_in_urls(seen)


def test_a_lapsed_ticket_is_replaced_not_taken_for_a_wrong_token(browser, guarded_url):
    """A ticket the server no longer knows (it restarted, or the tab slept past 30 s) is
    refused like a wrong token; the page asks for a fresh ticket, once, instead of
    forgetting a good token."""
    page = browser()
    seen = watch(page)
    lapsed: list[str] = []

    def ticket(route) -> None:
        if lapsed:
            route.continue_()
        else:
            lapsed.append("lapsed-ticket")
            route.fulfill(json={"ticket": "lapsed-ticket", "expires_in": 30})

    page.route("**/api/ticket", ticket)
    page.goto(f"{guarded_url}/healthz")  # same origin, to seed localStorage
    page.evaluate(f"localStorage.setItem('tutor.token', {TOKEN!r})")
    page.goto(guarded_url)
    page.wait_for_function(OPEN)
    assert len(seen["sockets"]) == 2, seen["sockets"]
    assert seen["sockets"][0].endswith("?ticket=lapsed-ticket")
    assert "?ticket=" in seen["sockets"][1] and "lapsed" not in seen["sockets"][1]
    assert not page.evaluate(DIALOG_OPEN)
    assert page.evaluate("localStorage.getItem('tutor.token')") == TOKEN
    assert page.locator("#notice").is_hidden()
    no_token_in_urls(seen)


def test_a_foreign_origin_is_told_plainly_and_not_retried(browser, engines, tmp_path):
    with serve(engines, tmp_path / "data", allowed_origins=["https://elsewhere.example"]) as url:
        page = browser()
        seen = watch(page)
        page.goto(url)
        page.wait_for_function("document.querySelector('#conn').dataset.state === 'blocked'")
        assert page.locator("#conn").inner_text() == "Not allowed from this address"
        assert "address the tutor does not allow" in page.locator("#notice").inner_text()
        assert not page.evaluate(DIALOG_OPEN)  # a token would not help
        page.wait_for_function(ARTICLES)  # reading is still allowed
        page.click("nav .tab[data-panel=chat]")
        page.fill("#chat-input", "How was Llama 4 received?")
        page.press("#chat-input", "Enter")
        assert page.evaluate("document.querySelector('#conn').dataset.state") == "blocked"
        assert len(seen["sockets"]) == 1, seen["sockets"]


@pytest.fixture
def lesson_data(engines: Engines, tmp_path: Path) -> Path:
    """A data folder holding the bundled articles and their lesson scripts, so a server
    started on it has lessons at once (narration is rendered when first played). Ask for
    it before `browser`, whose Playwright runs an event loop in this thread."""
    settings = Settings(data_dir=tmp_path / "lesson-data")
    store = Store(settings.db_path)
    Library(store).seed(settings.corpus_dir)
    asyncio.run(Lessons(store, settings.cache_dir, tts=engines.tts, polite=False).sync(False))
    store.close()
    return settings.data_dir


def test_lesson_audio_plays_from_signed_urls(lesson_data, browser, engines):
    """An <audio> element cannot send the token: it plays from the short-lived signed URLs
    the lessons API hands out; one refused (expired, say) makes the page fetch the lesson
    again for fresh ones, once."""
    with serve(engines, lesson_data, api_token=TOKEN, build_lessons=False) as url:
        page = browser()
        seen = watch(page)
        refused: list[str] = []

        def audio(route) -> None:
            if refused:
                route.continue_()
            else:  # the first as if it had expired
                refused.append(route.request.url)
                route.fulfill(status=401, json={"error": {"code": "unauthorized", "message": ""}})

        page.route(re.compile(r"/segments/[0-9]+/audio\?"), audio)
        page.goto(f"{url}/healthz")  # same origin, to seed localStorage
        page.evaluate(f"localStorage.setItem('tutor.token', {TOKEN!r})")
        page.goto(url)
        page.wait_for_function(OPEN)
        page.click("nav .tab[data-panel=lessons]")
        page.locator("#lesson-list button.lesson").first.click()
        page.click("#lesson-play")
        page.wait_for_function(
            "document.querySelector('#lesson-audio').currentTime > 0.3", timeout=TURN_MS
        )
        assert page.evaluate("window.tutorStats.lesson.state") == "playing"
        audio_urls = [u for u in seen["urls"] if "/segments/" in u]
        assert len(refused) == 1 and len(audio_urls) >= 2
        assert all(re.search(r"\?exp=[0-9]+&sig=[0-9a-f]{64}$", u) for u in audio_urls), audio_urls
        details = [u for u in seen["urls"] if re.search(r"/api/lessons/[0-9]+$", u)]
        assert len(details) == 2, details  # fetched again after the refusal
        assert not page.evaluate(DIALOG_OPEN)
        no_token_in_urls(seen)
