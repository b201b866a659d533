"""The browser client in real headless Chromium against the real server and models.
The fake microphone plays spoken questions (Piper voice fixtures). No assertion is about
timing: every wait is a generous Playwright wait on what the page shows or counts
(window.tutorStats)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.client.conftest import serve, spoken_wav
from tests.fakes import fake_engines
from tests.test_readme import socket_error_codes

pytestmark = pytest.mark.slow

TURN_MS = 180_000  # a voice turn takes seconds; the CPU is small and shared
QUESTION = "chief_officer.piper.wav"


@pytest.fixture(scope="module")
def shots(output_dir: Path) -> Path:
    folder = output_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("document.querySelector('#conn').dataset.state === 'open'")
    page.wait_for_function("document.querySelectorAll('#articles li .title').length >= 2")


def stats(page, expr: str):
    return page.evaluate(f"window.tutorStats.{expr}")


def ask_typed(page, question: str, answers_before: int) -> None:
    page.fill("#chat-input", question)
    page.press("#chat-input", "Enter")
    page.wait_for_function(f"window.tutorStats.answers > {answers_before}", timeout=TURN_MS)


def test_reconnects_with_the_same_session(browser, server_url):
    page = browser()
    open_page(page, server_url)
    session = page.evaluate("sessionStorage.getItem('tutor.session_id')")
    assert session
    page.evaluate("window.tutorDebug.conn.ws.close()")  # as if the network dropped
    page.wait_for_function("window.tutorStats.events.ready >= 2")
    page.wait_for_function("document.querySelector('#conn').dataset.state === 'open'")
    assert page.evaluate("sessionStorage.getItem('tutor.session_id')") == session
    page.reload()  # a reload continues the same conversation too
    open_page(page, server_url)
    assert page.evaluate("sessionStorage.getItem('tutor.session_id')") == session


def test_voice_question_is_heard_answered_and_spoken(browser, server_url, tmp_path, shots):
    wav = spoken_wav(tmp_path / "question.wav", [(None, 1.0), (QUESTION, 0), (None, 2.0)])
    page = browser(wav)
    open_page(page, server_url)
    page.click("#mic")
    page.wait_for_function("window.tutorStats.answers >= 1", timeout=TURN_MS)

    heard = page.locator("#log .question").first.inner_text().lower()
    assert "chief" in heard and "officer" in heard, heard
    turn = page.locator("#log .turn").first
    assert "not-covered" not in (turn.get_attribute("class") or "")
    assert turn.locator(".sources li").count() >= 1
    assert page.locator("#log .answer .text").first.inner_text().strip()
    # The reply audio was played, not merely received: count samples that left the worklet.
    page.wait_for_function(
        "window.tutorStats.playedSamples > window.tutorStats.outputRate * 0.5", timeout=TURN_MS
    )
    turn.locator(".sources summary").first.click()
    assert turn.locator(".sources blockquote").first.inner_text().strip()
    page.screenshot(path=str(shots / "voice.png"), full_page=True)


def test_typed_questions_stream_answers_and_say_when_not_covered(browser, server_url, shots):
    page = browser()
    open_page(page, server_url)
    page.click("nav .tab[data-panel=chat]")
    ask_typed(page, "How was Llama 4 received?", 0)
    first = page.locator("#log .turn").nth(0)
    assert "lukewarm" in first.locator(".answer .text").inner_text().lower()
    assert first.locator(".sources li").count() >= 1
    assert stats(page, "events['answer.delta']") >= 1  # streamed, not one block

    ask_typed(page, "What is the capital of Australia?", 1)
    second = page.locator("#log .turn").nth(1)
    assert "not-covered" in (second.get_attribute("class") or "")
    assert "don't cover" in second.locator(".answer .text").inner_text()
    assert second.locator(".sources li").count() == 0
    first.locator(".sources summary").first.click()
    page.screenshot(path=str(shots / "chat.png"), full_page=True)


def test_speaking_over_the_reply_stops_playback(browser, server_url, tmp_path):
    # Chromium's fake microphone replays its file from the start each time it is opened:
    # once the reply is audibly playing, turning the microphone off and on again makes the
    # learner ask again over the reply (a barge-in that does not depend on timing).
    wav = spoken_wav(tmp_path / "question.wav", [(None, 1.0), (QUESTION, 0), (None, 2.0)])
    page = browser(wav)
    open_page(page, server_url)
    page.click("#mic")
    page.wait_for_function(
        "window.tutorStats.playedSamples > window.tutorStats.outputRate "
        "&& window.tutorStats.queuedSamples > 0",
        timeout=TURN_MS,
    )
    page.click("#mic")  # off
    page.click("#mic")  # on: the question again, while the reply plays
    page.wait_for_function("window.tutorStats.interrupted >= 1", timeout=TURN_MS)
    stop = stats(page, "lastStop")
    assert stop["was_playing"], stop
    assert stop["played_samples"] > 0, stop
    # The page told the server how much of the stopped reply was heard.
    reports = {r["turn_id"]: r["played_ms"] for r in stats(page, "reports")}
    assert reports.get(stop["turn_id"], 0) > 0, reports
    stopped_turn = page.locator(f"#log .answer[data-turn='{stop['turn_id']}']")
    assert stopped_turn.locator(".badge.stopped").count() == 1
    # The second question gets its own answer; the stopped reply never plays again.
    page.wait_for_function("window.tutorStats.answers >= 2", timeout=TURN_MS)
    assert stats(page, f"turnPlayed[{json.dumps(stop['turn_id'])}]") == stop["played_samples"]


def test_push_to_talk_sends_audio_only_while_held(browser, server_url, tmp_path):
    wav = spoken_wav(tmp_path / "question.wav", [(None, 2.5), (QUESTION, 0), (None, 2.0)])
    page = browser(wav)
    open_page(page, server_url)
    page.check("input[name=talk-mode][value=push]")
    page.click("#mic")
    page.wait_for_function("!document.querySelector('#ptt').hidden")
    assert stats(page, "framesSent") == 0  # the microphone is open but nothing is sent
    box = page.locator("#ptt").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_function("window.tutorStats.events['transcript.final'] >= 1", timeout=TURN_MS)
    page.mouse.up()
    sent = stats(page, "framesSent")
    assert sent > 0
    page.wait_for_function("window.tutorStats.answers >= 1", timeout=TURN_MS)
    heard = page.locator("#log .question").first.inner_text().lower()
    assert "officer" in heard, heard
    assert stats(page, "framesSent") == sent  # released: nothing more went out


def play_pause_ask_resume(page) -> None:
    """Open the first lesson: play, pause, play, ask a typed question, see it answered and
    the lesson resume from where it stopped."""
    page.click("nav .tab[data-panel=lessons]")
    page.locator("#lesson-list button.lesson").first.click()
    page.click("#lesson-play")
    page.wait_for_function("window.tutorStats.lesson.state === 'playing'")
    page.wait_for_function("document.querySelector('#lesson-audio').currentTime > 0.3")
    page.click("#lesson-play")
    page.wait_for_function("window.tutorStats.lesson.state === 'paused'")
    paused_at = page.evaluate("document.querySelector('#lesson-audio').currentTime")
    assert page.evaluate("document.querySelector('#lesson-progress').value") > 0

    page.click("#lesson-play")
    page.wait_for_function("window.tutorStats.lesson.state === 'playing'")
    page.fill("#lesson-question", "How was Llama 4 received?")
    page.press("#lesson-question", "Enter")
    page.wait_for_function("window.tutorStats.lesson.state === 'asking'")
    asked_at = page.evaluate("document.querySelector('#lesson-audio').currentTime")
    assert asked_at >= paused_at
    page.wait_for_function("window.tutorStats.answers >= 1", timeout=TURN_MS)
    assert "lukewarm" in page.locator("#log .answer .text").first.inner_text().lower()
    page.wait_for_function("window.tutorStats.lesson.resumes >= 1", timeout=TURN_MS)
    page.wait_for_function("window.tutorStats.lesson.state === 'playing'")
    # It resumed where it stopped, not from the start of the segment.
    assert page.evaluate("document.querySelector('#lesson-audio').currentTime") >= asked_at


def stub_lessons(page, tmp_path: Path) -> None:
    """The lessons contract (GET /api/lessons, /api/lessons/{id}, segment audio), served by
    the test, for the player while the server's lessons are not in."""
    audio = spoken_wav(
        tmp_path / "segment.wav",
        [
            ("avocado_launch.piper.wav", 0),
            (None, 0.5),
            ("llama4.piper.wav", 0),
            (None, 0.5),
            ("fallback.piper.wav", 0),
            (None, 0.5),
            ("stability.piper.wav", 0),
            (None, 0.5),
        ],
    )
    source = {
        "article_id": 1,
        "title": "Meta’s AI Strategy",
        "quote": "Llama 4’s reception was lukewarm.",
        "paragraph": 12,
    }
    segments = [
        {
            "index": i,
            "kind": kind,
            "text": f"{kind.title()}: <b>not bold</b> {i}",
            "sources": [source],
            "duration_s": 9.0,
            "audio_url": f"/stub/seg{i}.wav",
        }
        for i, kind in enumerate(["intro", "point", "recap"])
    ]
    lesson = {
        "id": 1,
        "title": "Meta’s AI strategy",
        "article_id": 1,
        "segments": segments,
        "quiz": [{"index": 0, "question": "How was Llama 4 received?"}],
    }
    summary = [
        {"id": 1, "title": lesson["title"], "article_id": 1, "segment_count": 3, "duration_s": 27.0}
    ]
    wav = audio.read_bytes()
    page.route("**/api/lessons", lambda r: r.fulfill(json=summary))
    page.route("**/api/lessons/1", lambda r: r.fulfill(json=lesson))
    page.route("**/stub/*.wav", lambda r: r.fulfill(body=wav, content_type="audio/wav"))


def test_lesson_player_follows_the_lessons_contract(browser, server_url, tmp_path, shots):
    page = browser()
    stub_lessons(page, tmp_path)
    open_page(page, server_url)
    play_pause_ask_resume(page)
    assert page.locator("#seg-text").inner_text().startswith("Intro: <b>")  # text, not HTML
    page.click("#seg-next")
    page.wait_for_function("window.tutorStats.lesson.segment === 1")
    page.screenshot(path=str(shots / "lessons.png"), full_page=True)


def lessons_available(url: str) -> list:
    """The server's lessons, waiting for the background build to produce the first."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/lessons", timeout=30) as res:
                lessons = json.load(res)
        except urllib.error.HTTPError:
            return []  # no lessons route on this server
        if lessons:
            return lessons
        time.sleep(2)
    return []


def test_lesson_plays_pauses_answers_a_question_and_resumes(browser, server_url, shots):
    if not lessons_available(server_url):
        pytest.skip(
            "the server has no /api/lessons yet (lessons issue not merged); the "
            "player is tested against the contract with stubbed routes above"
        )
    page = browser()
    open_page(page, server_url)
    play_pause_ask_resume(page)
    page.screenshot(path=str(shots / "lessons-server.png"), full_page=True)
    # The quiz: the tutor asks (and speaks) a question; a typed answer is graded.
    page.click("#lesson-play")  # pause
    page.locator("#quiz-list button").first.click()
    page.wait_for_function("window.tutorStats.events['quiz.question'] >= 1", timeout=TURN_MS)
    assert page.locator("#quiz-question").inner_text().strip()
    page.fill("#quiz-answer", "I am not sure")
    page.press("#quiz-answer", "Enter")
    page.wait_for_function("window.tutorStats.events['quiz.result'] >= 1", timeout=TURN_MS)
    assert page.locator("#quiz-result .grade").inner_text() in ("Right", "Partly right", "Not yet")
    assert "Score:" in page.locator("#quiz-result").inner_text()
    page.screenshot(path=str(shots / "quiz.png"), full_page=True)


def test_screens_fit_a_phone(browser, server_url, shots):
    page = browser(width=375, height=812)
    open_page(page, server_url)
    page.screenshot(path=str(shots / "phone-talk.png"), full_page=True)
    page.click("nav .tab[data-panel=chat]")
    ask_typed(page, "When is Avocado expected to launch?", 0)
    # Nothing is wider than the screen (no sideways scrolling at 375 px).
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(shots / "phone-chat.png"), full_page=True)
    page.click("nav .tab[data-panel=lessons]")
    page.wait_for_function(
        "document.querySelector('#lessons-empty').textContent !== 'Loading lessons…'"
    )
    page.screenshot(path=str(shots / "phone-lessons.png"), full_page=True)


def test_every_error_a_socket_sends_has_a_plain_message(browser, tmp_path):
    """Each code the server's socket modules send (docs/protocol.md's list) is put in plain words
    by the page, not its generic "Something went wrong (code)" (fake engines: only the
    page's own messages are looked at)."""
    codes = sorted(socket_error_codes())
    with serve(fake_engines(), tmp_path / "data") as url:
        page = browser()
        page.goto(url)
        said = page.evaluate(
            "async (codes) => { const v = await import('/static/views.js');"
            " return Object.fromEntries(codes.map((c) => [c, v.errorText(c, '')])); }",
            codes,
        )
    generic = {c: text for c, text in said.items() if text.startswith("Something went wrong")}
    assert not generic, generic
    assert "too fast" in said["audio_too_fast"]
