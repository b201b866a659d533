"""Lessons: scripts from the bundled articles, narration with the real voice, the HTTP API
(with range requests), lesson context in retrieval, the quiz, and rebuilding on change.

The bundled lessons are built once per module with the real Piper voice (extractive
narration: the real LLM's rephrasing is exercised through a scripted fake below)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.core.config import BUNDLED_CORPUS, Settings
from server.core.documents import Article
from server.core.errors import NotFound
from server.engines import Engines
from server.lessons import Lessons, records
from server.lessons.narration import decoded_seconds
from server.lessons.quiz import QuizQuestion, cloze, grade
from server.lessons.script import MAX_SENTENCES, BuildCancelled, article_sentences, draft
from server.reason.answer.cite import Source
from server.reason.ingest.document import load_file
from server.storage.library import Library
from server.storage.store import Store
from server.web.app import create_app
from tests.fakes import FakeResponder, FakeSynthesizer, FakeTranscriber, fake_engines
from tests.uploads import add_article


@pytest.fixture(scope="module")
def built(engines: Engines, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Lessons]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("lessons"), threads=2, allowed_hosts=["testserver"]
    )
    store = Store(settings.db_path)
    Library(store).seed(settings.corpus_dir)
    lessons = Lessons(store, settings.cache_dir, tts=engines.tts, polite=False)
    asyncio.run(lessons.sync())
    return settings, lessons


@pytest.fixture(scope="module")
def client(built: tuple[Settings, Lessons], engines: Engines) -> Iterator[TestClient]:
    with TestClient(create_app(built[0], engines)) as c:
        yield c


def test_each_lesson_has_intro_points_recap_and_verbatim_sources(built) -> None:
    _, lessons = built
    articles = {a.id: a for a in lessons.store.articles()}
    assert len(articles) == 2
    for lesson_id in [*articles, records.ALL_ARTICLES]:
        script = lessons.script(lesson_id)
        kinds = [s.kind for s in script.segments]
        assert kinds[0] == "intro" and kinds[-1] == "recap"
        assert kinds.count("point") >= 3 and set(kinds[1:-1]) == {"point"}
        for segment in script.segments:
            assert segment.sources, segment
            for source in segment.sources:
                assert source.quote in articles[source.article_id].body  # verbatim
                assert source.title == articles[source.article_id].title
            assert not any(mark in segment.text for mark in ("**", "##", "\n", "`"))
        assert 3 <= len(script.quiz) <= 4
        for question in script.quiz:
            assert question.answer in question.source.quote
            assert not question.options or question.answer in question.options
            assert question.source.quote in articles[question.source.article_id].body


def test_narration_exists_for_every_segment_and_fits_the_text(built) -> None:
    _, lessons = built
    for summary in lessons.summaries():
        assert summary["duration_s"] and summary["duration_s"] > 10
        for segment in lessons.script(summary["id"]).segments:
            audio = lessons.narration.get(segment.text, lessons.voice)
            assert audio is not None and audio.path.exists()
            assert abs(decoded_seconds(audio.path) - audio.duration_s) < 0.2
            per_word = audio.duration_s / len(segment.text.split())
            assert 0.2 < per_word < 0.8, (segment.text, audio.duration_s)


def test_lesson_api_and_range_requests(client: TestClient, built) -> None:
    listed = client.get("/api/lessons").json()
    assert [lesson["article_id"] for lesson in listed] == [1, 2, None]
    assert [lesson["state"] for lesson in listed] == ["ready"] * 3
    assert all(lesson["segment_count"] >= 5 and lesson["duration_s"] > 0 for lesson in listed)

    lesson = client.get("/api/lessons/1").json()
    assert lesson["title"] == listed[0]["title"] and lesson["quiz"]
    assert "answer" not in lesson["quiz"][0]  # the quiz doesn't give itself away
    assert all(q["question"].endswith("?") for q in lesson["quiz"])
    assert any(len(q["options"]) >= 3 for q in lesson["quiz"]), lesson["quiz"]
    segment = lesson["segments"][1]
    assert segment["kind"] == "point" and segment["sources"][0]["quote"]
    whole = client.get(segment["audio_url"])
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/ogg"
    assert whole.content[:4] == b"OggS"
    size = len(whole.content)
    part = client.get(segment["audio_url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    assert part.content == whole.content[100:200]
    tail = client.get(segment["audio_url"], headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == whole.content[-50:]

    for url in ("/api/lessons/99", "/api/lessons/1/segments/99/audio"):
        missing = client.get(url)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def _until(ws, kind: str) -> list[dict]:
    events: list[dict] = []
    while not events or events[-1].get("type") != kind:
        message = ws.receive()
        if message.get("text"):
            events.append(json.loads(message["text"]))
        elif message.get("bytes"):
            events.append({"type": "audio", "bytes": len(message["bytes"])})
    return events


def test_an_answer_during_a_lesson_prefers_its_article(client: TestClient) -> None:
    """Both articles have a "Revenue pressure." paragraph: the lesson decides the source."""
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "ready"
        for article_id in (2, 1):
            ws.send_json({"type": "lesson.context", "lesson_id": article_id, "segment": 2})
            ws.send_json({"type": "text", "text": "What is the revenue pressure on Meta?"})
            done = next(e for e in _until(ws, "turn.metrics") if e["type"] == "answer.done")
            assert done["grounded"] and done["sources"][0]["article_id"] == article_id


def test_grading_right_partly_and_not_yet() -> None:
    source = Source(1, "Avocado", "Current estimates put it in Q1-Q2 2026.", 10)
    question = QuizQuestion(
        0, "When do current estimates put Avocado's launch?", "Q1-Q2 2026", source, kind="date"
    )
    assert grade("Q1 to Q2 2026", question).grade == "right"
    assert grade("it's planned for q1-q2 2026", question).grade == "right"
    partly = grade("sometime in 2026", question)
    assert partly.grade == "partly" and "Q1-Q2 2026" in partly.feedback
    wrong = grade("next summer, I think", question)
    assert wrong.grade == "not_yet" and source.quote in wrong.feedback
    assert cloze("The original plan was to launch by end of 2025.")[:2] == (
        "The original plan was to launch by",
        "end of 2025",
    )
    assert cloze("Llama 3.1 pushed context length to 128K tokens.")[1] == "128K tokens"


def test_grading_judges_the_answer_not_the_amount_of_text() -> None:
    body = load_file(BUNDLED_CORPUS / "meta-ai-strategy-avocado.raw.txt").text
    sentence = "Current estimates put it in Q1-Q2 2026."
    source = Source(1, "Avocado", sentence, 10)
    question = QuizQuestion(
        0, "When do current estimates put Avocado's launch?", "Q1-Q2 2026", source, kind="date"
    )
    at = body.index(sentence)
    pasted = body[max(0, at - 1000) : at + 1000]
    assert sentence in pasted and len(pasted) == 2000
    graded = grade(pasted, question)
    assert graded.grade != "right" and "Q1-Q2 2026" in graded.feedback
    guesses = " ".join(f"Q{q} {y}" for q in range(1, 5) for y in range(2024, 2030))
    assert grade(f"Q1-Q2 2026, or {guesses}", question).grade != "right"
    # A spoken answer with a few words of the learner's own is still right.
    spoken = "I think the article said they expect it sometime around Q1 to Q2 2026"
    assert grade(spoken, question).grade == "right"


def test_quiz_round_trip_over_the_socket(client: TestClient, built) -> None:
    _, lessons = built
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "speak": True})
        ready = ws.receive_json()
        session_id = ready["session_id"]
        ws.send_json({"type": "quiz.ask", "lesson_id": 1, "question": 0})
        events = _until(ws, "turn.metrics")
        asked = events[0]
        expected = lessons.question(1, 0)
        assert asked["type"] == "quiz.question" and asked["text"] == expected.question
        assert expected.question.endswith("?") and expected.kind != "cloze"
        assert asked["options"] == expected.options and asked["kind"] == expected.kind
        assert sum(e.get("bytes", 0) for e in events) > 22050  # the question is spoken
        ws.send_json({"type": "text", "text": expected.answer})
        result = next(e for e in _until(ws, "turn.metrics") if e["type"] == "quiz.result")
        assert result["grade"] == "right" and result["quote"] == expected.source.quote
        assert result["score"] == {"right": 1, "partly": 0, "not_yet": 0}

        ws.send_json({"type": "quiz.ask", "lesson_id": 1, "question": 1})
        _until(ws, "turn.metrics")
        ws.send_json({"type": "text", "text": "I have no idea", "speak": False})
        result = next(e for e in _until(ws, "turn.metrics") if e["type"] == "quiz.result")
        assert result["grade"] == "not_yet" and result["score"]["not_yet"] == 1

        ws.send_json({"type": "quiz.ask", "lesson_id": 77, "question": 0})
        assert ws.receive_json()["code"] == "not_found"
    mine = {"X-Session-Secret": ready["session_secret"]}
    quiz = client.get(f"/api/sessions/{session_id}", headers=mine).json()["quiz"]
    assert (quiz["right"], quiz["partly"], quiz["not_yet"]) == (1, 0, 1)
    assert [a["grade"] for a in quiz["answers"]] == ["right", "not_yet"]


def _fake_lessons(tmp_path: Path, **kwargs) -> tuple[Library, Lessons, Engines]:
    store = Store(tmp_path / "t.sqlite3")
    library = Library(store)
    library.seed(BUNDLED_CORPUS)
    engines = fake_engines(**kwargs)
    lessons = Lessons(store, tmp_path / "cache", tts=engines.tts, llm=engines.llm, polite=False)
    return library, lessons, engines


def test_an_article_edit_rebuilds_its_lesson_and_only_it(tmp_path: Path) -> None:
    library, lessons, _ = _fake_lessons(tmp_path)
    assert asyncio.run(lessons.sync(narrate=False)) == [1, 2, 0]
    assert asyncio.run(lessons.sync(narrate=False)) == []  # built once, kept
    stamps = {s["id"]: s["built_at"] for s in lessons.summaries()}

    with library.store.transaction() as db:  # edit article 2 in place
        db.execute(
            "UPDATE articles SET body = body || ?, content_hash = 'edited' WHERE id = 2",
            ("\n\nMeta also hired more engineers in 2025.",),
        )
    assert asyncio.run(lessons.sync(narrate=False)) == [2, 0]
    after = {s["id"]: s["built_at"] for s in lessons.summaries()}
    assert after[1] == stamps[1] and after[2] > stamps[2] and after[0] > stamps[0]

    # Remove and re-add a modified copy: a new article, a new lesson; lesson 1 untouched.
    path = sorted(BUNDLED_CORPUS.iterdir())[1]
    modified = load_file(path)
    library.remove(2)
    article, _ = library.add(
        replace(modified, paragraphs=(*modified.paragraphs, "Meta also hired more engineers."))
    )
    assert asyncio.run(lessons.sync(narrate=False)) == [article.id, 0]
    final = {s["id"]: s["built_at"] for s in lessons.summaries()}
    assert set(final) == {1, article.id, 0} and final[1] == stamps[1]


def test_llm_narration_is_kept_only_when_verified(tmp_path: Path) -> None:
    faithful = (
        "Meta is developing a new model codenamed Avocado under its Meta "
        "Superintelligence Labs, led by Chief AI Officer Alexandr Wang."
    )
    _, lessons, _ = _fake_lessons(tmp_path, reply=faithful)
    asyncio.run(lessons.sync(narrate=False))
    from_llm = [s for s in lessons.script(1).segments if s.llm]
    assert [s.text for s in from_llm] == [faithful]
    assert "Reports surfaced" in from_llm[0].sources[0].quote

    _, invented, _ = _fake_lessons(
        tmp_path / "b", reply="Meta spent $5 billion on Avocado in 1999, said Mark Smith."
    )
    asyncio.run(invented.sync(narrate=False))
    assert not any(s.llm for s in invented.script(1).segments)


def test_background_build_waits_for_learners(tmp_path: Path) -> None:
    _, lessons, engines = _fake_lessons(tmp_path)
    lessons.polite, lessons.grace_s = True, 0.0

    async def scenario() -> None:
        engines.llm.pending += 1  # a learner's answer is being generated
        task = asyncio.create_task(lessons.sync(narrate=False))
        await asyncio.sleep(0.3)
        assert records.built_from(lessons.store) == {}
        engines.llm.pending -= 1
        await task

    asyncio.run(scenario())
    assert set(records.built_from(lessons.store)) == {1, 2, 0}


def test_the_server_builds_missing_lessons_at_start(settings: Settings) -> None:
    settings.build_lessons = True
    engines = fake_engines(reply="")
    with TestClient(create_app(settings, engines)) as client:
        deadline = time.monotonic() + 120
        # Unbuilt lessons are listed with their state from the start: wait for all three.
        while time.monotonic() < deadline:
            listed = client.get("/api/lessons").json()
            if len(listed) == 3 and all(lesson["state"] == "ready" for lesson in listed):
                break
            time.sleep(0.2)
        assert [lesson["id"] for lesson in client.get("/api/lessons").json()] == [1, 2, 0]
        assert isinstance(engines.responder, FakeResponder)
        # Narration is rendered on demand when the build hasn't reached it yet.
        segment = client.get("/api/lessons/0").json()["segments"][-1]
        assert client.get(segment["audio_url"]).status_code == 200


def test_lesson_0_follows_the_library_without_the_builder(tmp_path: Path) -> None:
    """TUTOR_BUILD_LESSONS=false: lessons built earlier are served, but deleting the
    articles they come from takes them away, the lesson across all articles included."""
    settings = Settings(data_dir=tmp_path, build_lessons=False, allowed_hosts=["testserver"])
    store = Store(settings.db_path)
    Library(store).seed(settings.corpus_dir)
    engines = fake_engines(reply="")
    asyncio.run(Lessons(store, settings.cache_dir, tts=engines.tts, polite=False).sync(False))
    store.close()
    with TestClient(create_app(settings, engines)) as client:
        assert [lesson["id"] for lesson in client.get("/api/lessons").json()] == [1, 2, 0]
        text = (
            b"Alpaca farming in the Andes\n\nAlpacas are shorn once a year, in spring, for "
            b"their soft fleece. The fleece is spun into yarn by farmers in Peru and sold at "
            b"the market in Cusco every Sunday.\n"
        )
        third = add_article(client, "a.txt", text)["article"]["id"]
        assert [lesson["id"] for lesson in client.get("/api/lessons").json()] == [1, 2, 0]

        # Three articles left lesson 0 wanted, but it quotes the deleted one.
        assert client.delete("/api/articles/1").status_code == 204
        assert [lesson["id"] for lesson in client.get("/api/lessons").json()] == [2]
        for article_id in (2, third):
            assert client.delete(f"/api/articles/{article_id}").status_code == 204
        assert client.get("/api/lessons").json() == []
        for url in ("/api/lessons/0", "/api/lessons/0/segments/0/audio", "/api/lessons/2"):
            assert client.get(url).status_code == 404, url


def test_the_lesson_across_articles_prefers_the_segment_s_article(built) -> None:
    _, lessons = built
    script = lessons.script(records.ALL_ARTICLES)
    for index, segment in enumerate(script.segments):
        quoted = {s.article_id for s in segment.sources}
        expected = quoted.pop() if len(quoted) == 1 else None
        assert lessons.article_for(records.ALL_ARTICLES, index) == expected
    assert any(lessons.article_for(records.ALL_ARTICLES, i) for i in range(len(script.segments)))
    assert lessons.article_for(1, 99) == 1  # an article's lesson is always its article
    assert lessons.article_for(records.ALL_ARTICLES, 99) is None


# --- bounded building ------------------------------------------------------------------


class GatedResponder(FakeResponder):
    """Holds its first reply until released (or cancelled), so a test can act while a
    lesson is being built."""

    def __init__(self) -> None:
        super().__init__()
        self.started, self.release = threading.Event(), threading.Event()
        self.asked: list[str] = []  # every request, held or not

    def stream(self, messages, max_tokens, cancel):  # type: ignore[no-untyped-def]
        self.asked.append(messages[-1]["content"])
        if not self.started.is_set():
            self.started.set()
            while not self.release.wait(0.01):  # (a deadlock breaker, not a timing)
                if cancel.is_set():
                    return
        yield from super().stream(messages, max_tokens, cancel)


def test_deleting_an_article_stops_the_build_of_its_lesson(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.sqlite3")
    library = Library(store)
    library.seed(BUNDLED_CORPUS)
    first = store.article(1)
    long_points = [
        s for s in draft(first).segments if s.kind == "point" and len(s.text.split()) > 18
    ]
    assert len(long_points) >= 2  # each would be given to the LLM
    responder = GatedResponder()
    engines = Engines(FakeTranscriber(), responder, FakeSynthesizer())
    lessons = Lessons(store, tmp_path / "cache", tts=engines.tts, llm=engines.llm, polite=False)
    library.on_change(lessons.changed)

    async def scenario() -> None:
        lessons.start()
        assert await asyncio.to_thread(responder.started.wait, 60)
        with pytest.raises(NotFound, match="lesson 1 is building"):
            lessons.detail(1)  # its state is visible before it exists
        await asyncio.to_thread(library.remove, 1)  # as the server does: another thread
        responder.release.set()
        deadline = asyncio.get_running_loop().time() + 60
        while 2 not in records.built_from(store) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await lessons.stop()

    asyncio.run(scenario())
    assert set(records.built_from(store)) == {2}  # lesson 1 was never saved
    about_first = [m for m in responder.asked if any(p.text in m for p in long_points)]
    assert len(about_first) == 1  # the rephrasing under way, and nothing after it
    with pytest.raises(NotFound) as gone:
        lessons.detail(1)
    assert gone.value.code == "not_found"


def test_a_failed_lesson_says_so_and_the_others_are_built(tmp_path: Path) -> None:
    library, lessons, engines = _fake_lessons(tmp_path)
    asyncio.run(lessons.sync(narrate=False))
    assert [s["state"] for s in lessons.summaries()] == ["ready"] * 3
    old = lessons.script(1)
    with library.store.transaction() as db:  # edit both articles in place
        db.execute(
            "UPDATE articles SET body = body || ?, content_hash = 'edited' || id",
            ("\n\nMeta also hired more engineers in 2025.",),
        )

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the model file is damaged")
        yield  # pragma: no cover

    engines.responder.stream = broken  # type: ignore[method-assign]
    # Lessons 1 and 0 give the LLM long points to rephrase; lesson 2 has none.
    assert asyncio.run(lessons.sync(narrate=False)) == [2]
    states = {s["id"]: s["state"] for s in lessons.summaries()}
    assert states == {1: "failed", 2: "ready", 0: "failed"}
    assert lessons.script(1) == old  # the last good one still serves
    engines.responder.stream = FakeResponder().stream  # type: ignore[method-assign]
    assert asyncio.run(lessons.sync(narrate=False)) == [1, 0]
    assert {s["state"] for s in lessons.summaries()} == {"ready"}


def test_a_long_article_s_lesson_costs_no_more_than_a_capped_one() -> None:
    """Drafting scores at most MAX_SENTENCES sentences, shared out over the sections (so
    the last section still counts), and can be stopped between sentences."""
    doc = load_file(sorted(BUNDLED_CORPUS.iterdir())[0])
    paragraphs = []
    for part in range(80):
        paragraphs.append(f"Part {part} of the long report")
        paragraphs.extend(p for p in doc.paragraphs if len(p.split()) > 12)
    body = "\n\n".join(paragraphs)
    article = Article(1, "Long", None, None, None, "long.txt", "h", body, len(body.split()))
    assert article.word_count > 60_000
    scored = article_sentences(article)
    assert len(scored) <= MAX_SENTENCES
    assert {s.section for s in scored} == set(range(1, 81))  # every part has its say
    script = draft(article)
    assert len(script.segments) <= 8 and 2 <= len(script.quiz) <= 4
    stop = threading.Event()
    stop.set()
    with pytest.raises(BuildCancelled):
        article_sentences(article, stop=stop)


def test_lessons_not_built_yet_are_listed_with_their_state(tmp_path: Path) -> None:
    library, lessons, engines = _fake_lessons(tmp_path)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the model file is damaged")
        yield  # pragma: no cover

    engines.responder.stream = broken  # type: ignore[method-assign]
    asyncio.run(lessons.sync(narrate=False))  # nothing stored before: 1 and 0 fail
    listed = {s["id"]: s for s in lessons.summaries()}
    assert listed[2]["state"] == "ready" and listed[2]["segment_count"] > 0
    assert listed[1]["state"] == "failed" and listed[1]["segment_count"] == 0
    assert listed[1]["title"] == library.store.article(1).title
    assert listed[0]["state"] == "failed" and listed[0]["title"] == "All the articles"


def test_a_spoken_quiz_answer_through_the_voice_socket(client: TestClient, built, engines) -> None:
    """The learner says the answer (Piper speaks it; streamed at a microphone's pace): the
    transcript is graded as the answer to the pending question, by meaning and facts."""
    import numpy as np
    import soxr

    from tests.test_voice import collect, stream

    _, lessons = built
    quiz = lessons.script(1).quiz
    question = next((q for q in quiz if q.kind in ("date", "company")), quiz[0])
    voice = engines.synthesizer
    spoken = b"".join(voice.synthesize(f"I think it is {question.answer}."))
    audio = soxr.resample(np.frombuffer(spoken, np.int16), voice.sample_rate, 16_000)
    pcm = np.concatenate([np.zeros(4800), audio, np.zeros(24_000)]).astype(np.int16).tobytes()
    with client.websocket_connect("/ws/voice") as ws:
        ws.send_json({"type": "hello", "speak": False})
        ws.receive_json()
        ws.send_json({"type": "quiz.ask", "lesson_id": 1, "question": question.index})
        collect(ws, "turn.metrics")
        stream(ws, pcm)
        events, _ = collect(ws, "quiz.result")
    heard = next(e for e in events if e["type"] == "transcript.final")
    result = events[-1]
    assert result["grade"] in ("right", "partly"), (heard["text"], question.answer)
    assert result["quote"] == question.source.quote
