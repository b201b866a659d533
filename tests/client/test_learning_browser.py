"""The learner's side of the page in real headless Chromium against the real server and
models: the learner id and secret the server issues, the progress view and its
"Continue", the review of due items, the speaking speed and name, the export, and the
suggestion buttons under an answer. The learner routes answer only with the learner's
secret, which the page keeps and sends; so the test reads it from the page's storage.

The bundled articles' lessons are drafted before the server starts (scripts without the
LLM's rephrasing; narration is rendered by the server's Piper when a segment is first
played), so no background build competes with the turns for the CPU. A missed quiz item
comes due one minute after the answer (FSRS's first learning step): instead of waiting,
the test moves that learner's card an hour into the past in the same SQLite file, with
server/teach's own functions, as if the answer had been given then. No assertion is about
timing: every wait is a generous Playwright wait on what the page shows or counts."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from server.core.config import Settings
from server.engines import Engines
from server.lessons import Lessons
from server.storage.library import Library
from server.storage.store import Store
from server.teach import learners
from tests.client.conftest import serve
from tests.fakes import fake_engines

pytestmark = pytest.mark.slow

TURN_MS = 180_000  # a turn takes seconds; the CPU is small and shared
LEARNER_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")  # the server's own
LEARNER_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
HOUR = 3600.0


@pytest.fixture(scope="module")
def tutor(engines: Engines, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(url, data folder) of the real app over the bundled articles with their lessons."""
    data = tmp_path_factory.mktemp("learning-data")
    config = Settings(data_dir=data)
    store = Store(config.db_path)
    Library(store).seed(config.corpus_dir)
    asyncio.run(Lessons(store, config.cache_dir, tts=None, polite=False).sync(narrate=False))
    store.close()
    with serve(engines, data, build_lessons=False) as url:
        yield url, data


@pytest.fixture(scope="module")
def shots(output_dir: Path) -> Path:
    folder = output_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def get_json(url: str, headers: dict[str, str] | None = None) -> object:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as res:
        return json.load(res)


def status_of(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        get_json(url, headers)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def open_page(page, url: str) -> str:
    """Opens the tutor, waits for the socket; returns the page's learner id."""
    page.goto(url)
    page.wait_for_function("document.querySelector('#conn').dataset.state === 'open'")
    return page.evaluate("localStorage.getItem('tutor.learner_id')")


def secret_of(page) -> dict[str, str]:
    """The header the learner routes take, with the secret the page keeps."""
    secret = page.evaluate("localStorage.getItem('tutor.learner_secret')")
    assert secret and LEARNER_SECRET.match(secret), secret
    return {"X-Learner-Secret": secret}


def show_progress(page) -> None:
    """Opens (or reopens) the progress panel and waits for it to be drawn afresh."""
    loads = page.evaluate("window.tutorStats.learning.progressLoads")
    page.get_by_role("button", name="Progress", exact=True).click()
    page.wait_for_function(f"window.tutorStats.learning.progressLoads > {loads}")


def statuses(page) -> list[str]:
    return page.eval_on_selector_all(
        "#progress-articles .point", "els => els.map((e) => e.dataset.status)"
    )


def answer_a_quiz_question_wrong(page) -> None:
    """In the lessons panel, asks the open lesson's (or the first lesson's) first quiz
    question and gives a wrong answer."""
    page.get_by_role("button", name="Lessons", exact=True).click()
    if page.locator("#player").is_hidden():
        page.locator("#lesson-list button.lesson:not([disabled])").first.click()
        page.wait_for_function("!document.querySelector('#player').hidden")
    results = page.evaluate("window.tutorStats.events['quiz.result'] ?? 0")
    page.locator("#quiz-list button").first.click()
    page.wait_for_function("!document.querySelector('#quiz-form').hidden", timeout=TURN_MS)
    page.fill("#quiz-answer", "I have no idea, sorry")
    page.press("#quiz-answer", "Enter")
    page.wait_for_function(
        f"(window.tutorStats.events['quiz.result'] ?? 0) > {results}", timeout=TURN_MS
    )
    if page.evaluate("!document.querySelector('#lesson-audio').paused"):
        page.click("#lesson-play")  # pause: the lesson is not what is tested here


def test_learner_id_is_made_once_kept_and_sent_in_hello(browser, tutor):
    url, _ = tutor
    page = browser()
    learner = open_page(page, url)
    assert learner and LEARNER_ID.match(learner), learner
    mine = secret_of(page)
    # The server made the learner at the socket's first hello, and handed over its id and
    # secret; the routes answer only with the secret.
    assert get_json(f"{url}/api/learners/{learner}", mine)["id"] == learner
    assert status_of(f"{url}/api/learners/{learner}") == 404
    assert status_of(f"{url}/api/learners/{learner}", {"X-Learner-Secret": "x" * 43}) == 404

    page.get_by_role("button", name="Type", exact=True).click()
    page.fill("#chat-input", "How was Llama 4 received?")
    page.press("#chat-input", "Enter")
    page.wait_for_function("window.tutorStats.answers >= 1", timeout=TURN_MS)
    # The session, with that question, is the learner's.
    session = page.evaluate("sessionStorage.getItem('tutor.session_id')")
    exported = get_json(f"{url}/api/learners/{learner}/export", mine)
    sessions = {s["session_id"]: s for s in exported["sessions"]}
    assert session in sessions, (session, list(sessions))
    assert [t["question"] for t in sessions[session]["turns"]] == ["How was Llama 4 received?"]

    page.reload()  # kept across reloads (localStorage), and sent again
    assert open_page(page, url) == learner and secret_of(page) == mine
    assert page.evaluate("window.tutorStats.learning.learnerId") == learner
    stranger = browser()
    other = open_page(stranger, url)  # another browser is another learner
    assert other != learner and LEARNER_ID.match(other)
    assert status_of(f"{url}/api/learners/{learner}", secret_of(stranger)) == 404


def test_progress_view_lists_points_and_follows_lessons_and_quiz(browser, tutor, shots):
    url, _ = tutor
    page = browser()
    learner = open_page(page, url)
    show_progress(page)
    # Every bundled article, each with its key points, all new for a new learner.
    titles = page.locator("#progress-articles .progress-article h3").all_inner_texts()
    served = [a["title"] for a in get_json(f"{url}/api/articles")]
    assert sorted(titles) == sorted(served) and len(titles) >= 2
    assert page.locator("#progress-articles .progress-article").nth(0).locator(".point").count()
    assert set(statuses(page)) == {"new"}
    assert "new" in page.locator("#progress-articles .counts").first.inner_text()
    assert page.get_by_role("button", name="Review", exact=True).is_visible()

    # "Continue" follows `next`: the first segment that teaches a new point, played.
    expected = get_json(f"{url}/api/learners/{learner}/progress", secret_of(page))["next"]
    assert expected["kind"] == "lesson", expected
    assert f"part {expected['segment'] + 1}" in page.inner_text("#continue-what")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_function("!document.querySelector('#player').hidden")
    page.wait_for_function(f"window.tutorStats.lesson.segment === {expected['segment']}")
    assert (
        page.get_by_role("button", name="Lessons", exact=True).get_attribute("aria-pressed")
        == "true"
    )
    page.wait_for_function("window.tutorStats.lesson.state === 'playing'", timeout=TURN_MS)
    page.click("#lesson-play")  # pause

    # The segment's lesson.context counted its points as heard.
    show_progress(page)
    page.wait_for_function("document.querySelector('#progress-articles .point[data-status=heard]')")
    after = get_json(f"{url}/api/learners/{learner}/progress", secret_of(page))["next"]
    assert after != expected  # Continue now points further on

    # A quiz answer: its point is quizzed, with a mastery and a review time.
    answer_a_quiz_question_wrong(page)
    show_progress(page)
    quizzed = page.locator("#progress-articles .point[data-state=quizzed]")
    assert quizzed.count() >= 1
    assert quizzed.first.get_attribute("data-status") in ("learning", "familiar", "due")
    assert "review" in quizzed.first.locator(".badge").inner_text().lower()
    page.screenshot(path=str(shots / "progress.png"), full_page=True)


def make_due(data: Path, learner: str) -> learners.CardRow:
    """As if the learner's quiz answers had been given an hour ago: each card due by now.
    Uses server/teach's own functions on the server's SQLite file (WAL: two connections
    are fine)."""
    store = Store(Settings(data_dir=data).db_path)
    try:
        cards = learners.cards(store, learner)
        assert cards, "the quiz answer made no review card"
        for card in cards:
            state = json.loads(card.card)
            for key in ("due", "last_review"):
                if state.get(key):
                    earlier = datetime.fromisoformat(state[key]) - timedelta(seconds=HOUR)
                    state[key] = earlier.isoformat()
            moved = replace(
                card,
                card=json.dumps(state),
                due=card.due - HOUR,
                updated_at=card.updated_at - HOUR,
            )
            assert learners.save_card(store, learner, moved)
        return cards[0]
    finally:
        store.close()


def test_review_asks_a_due_item_and_shows_the_result(browser, tutor, shots):
    url, data = tutor
    page = browser()
    learner = open_page(page, url)
    answer_a_quiz_question_wrong(page)
    card = make_due(data, learner)
    due = get_json(f"{url}/api/learners/{learner}/review", secret_of(page))["items"]
    assert [i["item"] for i in due] == [card.item]

    show_progress(page)
    page.wait_for_function("document.querySelector('#progress-articles .point[data-status=due]')")
    review = page.get_by_role("button", name="Review (1 due)")
    assert review.is_visible()
    assert "review" in page.inner_text("#continue-what").lower()  # next: the review
    questions = page.evaluate("window.tutorStats.events['quiz.question'] ?? 0")
    review.click()
    page.wait_for_function(
        f"(window.tutorStats.events['quiz.question'] ?? 0) > {questions}", timeout=TURN_MS
    )
    page.wait_for_function("!document.querySelector('#review-form').hidden")
    assert page.inner_text("#review-left") == "1 question left to review."
    assert page.inner_text("#review-question").strip() == card.text
    # Answered with the expected answer, typed: graded, with feedback and the quote.
    page.fill("#review-answer", card.answer)
    page.press("#review-answer", "Enter")
    page.wait_for_function(
        "window.tutorStats.learning.review.results >= 1 "
        "&& !window.tutorStats.learning.review.active",
        timeout=TURN_MS,
    )
    grade = page.inner_text("#review-result .grade")
    assert grade in ("Right", "Partly right", "Not yet"), grade
    assert page.inner_text("#review-result blockquote").strip() == card.quote.strip()
    assert page.locator("#review-result p").nth(1).inner_text().strip()  # the feedback
    # Nothing else is due (the item just answered comes back later, not now).
    assert page.inner_text("#review-left") == "Review done: nothing else is due now."
    assert get_json(f"{url}/api/learners/{learner}/review", secret_of(page))["items"] == []
    reviewed = learners_card(data, learner, card.item)
    assert reviewed.reviews == card.reviews + 1
    page.wait_for_function("!document.querySelector('#progress-articles .point[data-status=due]')")
    page.screenshot(path=str(shots / "review.png"), full_page=True)


def learners_card(data: Path, learner: str, item: str) -> learners.CardRow:
    store = Store(Settings(data_dir=data).db_path)
    try:
        found = learners.card(store, learner, item)
        assert found is not None
        return found
    finally:
        store.close()


def test_speed_and_name_are_saved_and_the_data_downloads(browser, tutor, tmp_path, shots):
    url, _ = tutor
    page = browser(width=375, height=812)  # and it fits a phone
    learner = open_page(page, url)
    show_progress(page)
    assert page.get_by_label("Speaking speed").input_value() == "1"
    page.get_by_label("Speaking speed").select_option("1.25")
    page.wait_for_function("window.tutorStats.learning.speedSaved === 1.25")
    assert get_json(f"{url}/api/learners/{learner}", secret_of(page))["speed"] == 1.25
    assert "1.25" in page.inner_text("#profile-status")

    page.get_by_label("Your name (optional)").fill("Ada")
    page.get_by_role("button", name="Save name").click()
    page.wait_for_function("window.tutorStats.learning.nameSaved === 'Ada'")
    assert get_json(f"{url}/api/learners/{learner}", secret_of(page))["display_name"] == "Ada"

    page.reload()  # shown again from the server
    open_page(page, url)
    show_progress(page)
    page.wait_for_function("document.querySelector('#speed').value === '1.25'")
    assert page.get_by_label("Your name (optional)").input_value() == "Ada"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(shots / "phone-progress.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data").click()
    saved = tmp_path / "export.md"
    download.value.save_as(saved)
    text = saved.read_text()
    assert text.startswith("# Learning record: Ada"), text[:200]
    assert f"Learner id: `{learner}`" in text
    assert "Speaking speed: 1.25" in text


def test_suggestion_buttons_appear_and_ask_the_question(browser, tutor, shots):
    """answer.done's suggestions are buttons under the answer; pressing one (keyboard)
    asks it as a typed question, and the articles answer it."""
    url, _ = tutor
    page = browser()
    open_page(page, url)
    page.get_by_role("button", name="Type", exact=True).click()
    page.fill("#chat-input", "How was Llama 4 received?")
    page.press("#chat-input", "Enter")
    page.wait_for_function("window.tutorStats.answers >= 1", timeout=TURN_MS)
    group = page.get_by_role("group", name="Ask next")
    buttons = group.get_by_role("button")
    assert 1 <= buttons.count() <= 3, buttons.count()
    suggestion = buttons.first.inner_text().strip()
    assert suggestion.endswith("?"), suggestion

    buttons.first.focus()
    page.keyboard.press("Enter")  # a button, so the keyboard works
    page.wait_for_function("window.tutorStats.answers >= 2", timeout=TURN_MS)
    second = page.locator("#log .turn").nth(1)
    assert second.locator(".question").inner_text().endswith(suggestion)
    assert "not-covered" not in (second.get_attribute("class") or "")  # the articles answer it
    assert second.locator(".answer .text").inner_text().strip()
    page.screenshot(path=str(shots / "suggestions.png"), full_page=True)


def test_with_an_access_token_the_learner_routes_and_download_send_it(browser, tmp_path):
    """Behind TUTOR_API_TOKEN the page's learner requests carry the token as a header (a
    plain link could not: the download is fetched and handed over as a file), never in
    a URL. Fake engines: no model's output is looked at."""
    token = "s3cret-learner"
    with serve(fake_engines(), tmp_path / "data", api_token=token, build_lessons=False) as url:
        page = browser()
        urls: list[str] = []
        page.on("request", lambda r: urls.append(r.url))
        page.goto(url)
        page.wait_for_function("document.querySelector('#token-dialog').open")
        page.fill("#token-input", token)
        page.press("#token-input", "Enter")
        page.wait_for_function("document.querySelector('#conn').dataset.state === 'open'")
        learner = page.evaluate("localStorage.getItem('tutor.learner_id')")
        show_progress(page)
        page.get_by_label("Speaking speed").select_option("0.75")
        page.wait_for_function("window.tutorStats.learning.speedSaved === 0.75")
        request = urllib.request.Request(
            f"{url}/api/learners/{learner}",
            headers={"Authorization": f"Bearer {token}", **secret_of(page)},
        )
        with urllib.request.urlopen(request, timeout=30) as res:
            assert json.load(res)["speed"] == 0.75
        with page.expect_download() as download:
            page.get_by_role("link", name="Download my data").click()
        saved = tmp_path / "export.md"
        download.value.save_as(saved)
        assert f"Learner id: `{learner}`" in saved.read_text()
    assert all(token not in u for u in urls), urls
    secret = secret_of(page)["X-Learner-Secret"]
    assert all(secret not in u for u in urls), urls  # the learner's secret neither
