"""The answer path with fake LLMs (fast) and the real one (the eval bar)."""

import asyncio
import json
from pathlib import Path

import pytest

from server.engines import ModelWorker
from server.reason.answer.respond import Answer, AnswerDelta, Answerer, answer, with_referent
from server.reason.index.lookup import Index
from tests.fakes import FakeResponder

EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval" / "qa_public.json"


def answerer_with(index: Index, reply: str) -> tuple[Answerer, FakeResponder]:
    fake = FakeResponder(reply)
    return Answerer(index, ModelWorker(fake, "llm")), fake


def ask(a: Answerer, q: str, history=None) -> Answer:
    return asyncio.run(answer(a, q, history))


def test_verified_llm_answer_is_kept_with_quoted_sources(index: Index) -> None:
    a, _ = answerer_with(
        index,
        "Llama 4's reception was lukewarm. It didn't generate the same excitement as Llama 3.",
    )
    result = ask(a, "How was Llama 4 received?")
    assert result.grounded and result.fallback is None
    assert result.text.startswith("Llama 4's reception was lukewarm.")
    assert result.sources and "Llama 4’s reception was lukewarm." in result.sources[0].quote
    assert result.sources[0].title.startswith("Meta’s AI Strategy")


def test_a_true_sentence_that_does_not_answer_when_is_replaced(index: Index) -> None:
    # Grounded, but no date: "when" is answered by the article's sentence that has one.
    a, _ = answerer_with(index, "Avocado is being developed under tighter control.")
    result = ask(a, "When is Avocado now expected to launch?")
    assert result.grounded and result.fallback == "no date in it"
    assert "2026" in result.text


def test_a_sentence_that_only_names_what_is_asked_about_is_replaced(index: Index) -> None:
    # "What is Avocado?" is answered by what it is, not by a sentence that names it.
    a, _ = answerer_with(index, "Meta is developing a new model codenamed Avocado.")
    result = ask(a, "What is Avocado?")
    assert result.grounded and result.fallback == "no definition in it", result.fallback
    assert "frontier" in result.text.lower(), result.text


def test_invented_number_is_replaced_by_an_extractive_answer(index: Index) -> None:
    a, _ = answerer_with(index, "Avocado will launch in 2031 after Meta spent $1.2 billion.")
    result = ask(a, "When is Avocado now expected to launch?")
    assert result.grounded and result.fallback == "unsupported names or numbers"
    assert "2031" not in result.text and "1.2" not in result.text
    assert "Q1-Q2 2026" in result.text
    quotes = " ".join(s.quote for s in result.sources)
    assert "Q1-Q2 2026" in quotes  # every number said stands in a quote


def test_out_of_scope_question_is_declined_without_asking_the_llm(index: Index) -> None:
    a, fake = answerer_with(index, "Canberra is the capital of Australia.")
    result = ask(a, "What is the capital of Australia?")
    assert not result.grounded and result.sources == []
    assert "don't cover" in result.text and "Meta" in result.text
    assert fake.calls == []


def test_follow_up_uses_the_previous_question(index: Index) -> None:
    a, fake = answerer_with(index, "Not a real answer.")
    history = [("What is Avocado?", "Avocado is a frontier LLM that Meta is developing.")]
    result = ask(a, "And when was it supposed to launch?", history)
    assert result.grounded and "2025" in result.text
    sent = fake.calls[-1]
    assert {"role": "user", "content": "What is Avocado?"} in sent  # history reaches the LLM


def test_a_follow_up_asks_its_own_question_about_the_last_ones_subject(index: Index) -> None:
    """The pronoun is the last question's subject; what is asked is the new question's:
    a name here, not the launch date the first question asked for."""
    a, _ = answerer_with(index, "Not a real answer.")
    history = [("When is Avocado expected to launch?", "Current estimates put it in 2026.")]
    result = ask(a, "Who is leading it?", history)
    assert result.grounded and "Wang" in result.text.split(".")[0], result.text


@pytest.mark.parametrize(
    "text,previous,expected",
    [
        ("Who is leading it?", "When is Avocado expected to launch?", "Who is leading Avocado?"),
        (
            "What is its context length?",
            "Tell me about Llama 3.1",
            "What is Llama 3.1's context length?",
        ),
        ("Who made them?", "What are Scout and Maverick?", "Who made Scout and Maverick?"),
        ("Who is leading it?", "what happened next", None),
        ("What about Mango?", "What is Avocado?", None),
    ],
)
def test_with_referent(index: Index, text: str, previous: str, expected: str | None) -> None:
    assert with_referent(text, index.question(previous)) == expected


def test_stream_sends_deltas_before_the_answer(index: Index) -> None:
    a, _ = answerer_with(
        index,
        "Llama 4's reception was lukewarm. Llama 4 didn't generate the same excitement as Llama 3.",
    )

    async def collect() -> list:
        return [item async for item in a.stream("How was Llama 4 received?")]

    items = asyncio.run(collect())
    assert isinstance(items[-1], Answer)
    deltas = [i for i in items if isinstance(i, AnswerDelta)]
    assert len(deltas) == 2 and "".join(d.text for d in deltas) == items[-1].text


@pytest.mark.skipif(not EVAL.exists(), reason="../shared/eval is not beside this checkout")
def test_public_eval_bar_with_the_real_model(index: Index, engines) -> None:
    """Every abstain item abstains, ≥8/9 answerable items have their facts, and no answer
    says a name or number absent from its sources."""
    from server.ops.bench.evaluate import run

    results = asyncio.run(run(Answerer(index, engines.llm), EVAL))
    items = json.loads(EVAL.read_text())
    answerable = [r for r, i in zip(results, items, strict=True) if not i.get("abstain")]
    abstain = [r for r, i in zip(results, items, strict=True) if i.get("abstain")]
    assert all(r.passed for r in abstain), [r.answer.text for r in abstain if not r.passed]
    assert sum(r.passed for r in answerable) >= 8, [
        (r.question, r.answer.text) for r in answerable if not r.passed
    ]
    assert not [r for r in results if r.unsupported]


def test_spoken_turns_wait_for_the_llm_only_once_it_has_been_used(index: Index) -> None:
    a, fake = answerer_with(index, "Avocado launches in 2031.")  # always unverified
    window = a.spoken_llm.window
    question = "How was Llama 4 received?"

    async def spoken(turns: int) -> list[Answer]:
        """Spoken turns one after another, as in a session (its LLM tries included)."""
        answers = []
        for _ in range(turns):
            answers.append([i async for i in a.stream(question, deadline=5.0)][-1])
            await asyncio.gather(*a.probes)
        return answers

    skipped = asyncio.run(spoken(window))
    # None waits for the LLM: every one is the extractive answer, said at once...
    assert [r.fallback for r in skipped] == ["llm unlikely"] * window
    assert all(r.grounded and r.text for r in skipped)
    assert len(fake.calls) == 1  # ... and the window-th tries it aside, unverified
    assert not a.spoken_llm.worth_waiting()
    # Text turns (no deadline) always ask the LLM.
    ask(a, question)
    assert len(fake.calls) == 2

    # A model whose answer is verified is noticed at the next try, then asked every turn.
    fake.reply = "Llama 4's reception was lukewarm."
    asyncio.run(spoken(window))
    assert len(fake.calls) == 3 and a.spoken_llm.worth_waiting()
    used = asyncio.run(spoken(3))
    assert len(fake.calls) == 6 and all(r.fallback is None for r in used)
