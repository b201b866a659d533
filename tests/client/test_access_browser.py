"""The browser client against a server that needs an access token (TUTOR_API_TOKEN), or
that refuses the page's origin: the page asks for the token once, in an accessible dialog,
keeps it, uses it everywhere, and never reconnects in a loop while refused. Real Chromium,
real server and models; no assertion is about timing (generous Playwright waits only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.engines import Engines
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
    """Every websocket the page opens, and the Authorization header of each article fetch."""
    seen: dict[str, list] = {"sockets": [], "article_auth": []}
    page.on("websocket", lambda ws: seen["sockets"].append(ws.url))
    page.on(
        "request",
        lambda r: (
            seen["article_auth"].append(r.headers.get("authorization"))
            if r.url.endswith("/api/articles")
            else None
        ),
    )
    return seen


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
    assert f"token={TOKEN}" in seen["sockets"][-1]  # websockets carry it as a parameter
    assert f"Bearer {TOKEN}" in seen["article_auth"]  # fetches as a header
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
    assert "token=old-token" in seen["sockets"][0]
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
    assert len(seen["sockets"]) == 1, seen["sockets"]
    submit_token(page, TOKEN)
    page.wait_for_function(OPEN)
    page.wait_for_function(ARTICLES)
    assert page.locator("#token-open").is_hidden()


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
