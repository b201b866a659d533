"""One question, one trace: why an answer was given or declined, read off the answer path
(real retrieval and gate; fake LLMs where one is needed)."""

import asyncio
import json

import pytest

from server.engines import ModelWorker
from server.reason.answer.gate import RULES
from server.reason.answer.respond import Answer, Answerer, answer
from server.reason.index.lookup import BM25_WEIGHT, COVERAGE_WEIGHT, DENSE_WEIGHT, Index
from tests.fakes import FakeResponder


def ask(a: Answerer, q: str, history=None) -> Answer:
    return asyncio.run(answer(a, q, history))


def test_an_answered_question_traces_its_candidates_rule_and_sentences(index: Index) -> None:
    a = Answerer(index, None)
    result = ask(a, "When is Avocado now expected to launch?")
    trace = result.trace
    assert trace is not None and result.grounded
    assert trace.asked == "When is Avocado now expected to launch?" and not trace.follow_up
    assert trace.question.kind == "date" and "Avocado" in trace.question.entities
    assert trace.decision.answerable and trace.decision.rule == "model_yes"
    assert trace.decision.rule in RULES and set(trace.decision.features) == {
        "dense",
        "coverage",
        "unknown",
        "attribute",
    }
    assert trace.candidates and len(trace.candidates) <= a.k * 2
    for c in trace.candidates:  # the fused score is its parts, weighed
        parts = DENSE_WEIGHT * c.dense + COVERAGE_WEIGHT * c.coverage + BM25_WEIGHT * c.bm25
        assert c.score == pytest.approx(parts + c.boost, abs=1e-4)
        assert c.article_title and c.kind == "prose" and 0 <= c.bm25 <= 1 + 1e-6
    assert max(c.bm25 for c in trace.candidates) == pytest.approx(1.0, abs=1e-4)
    # The sentences said, each with the extractor's score of the sentence it is.
    assert trace.llm == "not asked" and trace.fallback == "no model" and not trace.grounding
    assert " ".join(s.sentence for s in trace.answer) == result.text
    assert all(s.sentence in result.text for s in trace.answer)
    lead = trace.answer[0]
    assert lead.score is not None and lead.passage_id is not None
    best = [s.score for s in trace.extractor]
    assert best == sorted(best, reverse=True) and lead.score <= best[0]
    assert "2026" in result.text


def test_the_trace_changes_nothing_of_the_answer(index: Index) -> None:
    """The answer the trace rides on is the one the path gave before it: the extractor's
    own answer for the same question and hits, and its sources."""
    from server.reason.answer.cite import cite

    a = Answerer(index, None)
    for q in ("How was Llama 4 received?", "Who is Meta's Chief AI Officer?"):
        result = ask(a, q)
        parsed, hits, decision = a.decide(q, [])
        assert result.trace is not None and result.trace.decision == decision
        widened = a.extractor.widen(parsed.search_text, hits)
        said = a.extractor.extractive(parsed.search_text, widened)
        assert result.text == " ".join(said)
        assert result.sources == cite(result.text, widened)


def test_a_declined_question_traces_the_rule_that_declined_it(index: Index) -> None:
    a = Answerer(index, None)
    result = ask(a, "What is the capital of Australia?")
    trace = result.trace
    assert trace is not None and not result.grounded
    assert trace.decision.rule == "unknown_entity" and not trace.decision.answerable
    assert "Australia" in trace.decision.reason and "Australia" in trace.question.unknown_entities
    assert trace.candidates and all(c.dense < 0.3 for c in trace.candidates)
    assert not trace.answer and not trace.extractor and trace.llm == ""
    founded = ask(a, "Who founded Mistral AI?").trace
    assert founded is not None and founded.decision.rule == "unknown_actor"
    text = trace.render()
    assert "rule unknown_entity" in text and "candidates (" in text and "decline" in text


def test_the_llm_path_traces_its_grounding_checks(index: Index) -> None:
    kept = Answerer(
        index,
        ModelWorker(
            FakeResponder(
                "Llama 4's reception was lukewarm. It didn't generate the same excitement "
                "as Llama 3."
            ),
            "llm",
        ),
    )
    result = ask(kept, "How was Llama 4 received?")
    trace = result.trace
    assert trace is not None and trace.llm == "answered" and trace.fallback is None
    assert [g.sentence for g in trace.grounding] == [s.sentence for s in trace.answer]
    assert all(g.ok for g in trace.grounding)
    assert " ".join(s.sentence for s in trace.answer) == result.text

    invented = Answerer(
        index, ModelWorker(FakeResponder("Avocado will launch in 2031 after Meta."), "llm")
    )
    result = ask(invented, "When is Avocado now expected to launch?")
    trace = result.trace
    assert trace is not None and trace.llm == "replaced"
    assert trace.fallback == result.fallback == "unsupported names or numbers"
    failed = trace.grounding[-1]
    assert not failed.ok and "2031" in failed.unsupported
    assert "2031" not in result.text and all(s.sentence in result.text for s in trace.answer)
    text = trace.render()
    assert "FAIL" in text and "replaced: unsupported names or numbers" in text


def test_a_trace_is_plain_json_and_commands_have_none(index: Index) -> None:
    a = Answerer(index, None)
    result = ask(a, "How was Llama 4 received?")
    assert result.trace is not None
    data = json.loads(json.dumps(result.trace.to_dict()))
    assert data["decision"]["rule"] == "model_yes" and data["follow_up"] is False
    assert {"passage_id", "score", "dense", "coverage", "bm25"} <= set(data["candidates"][0])
    assert data["answer"][0]["sentence"] in result.text
    again = ask(a, "say that again", [("How was Llama 4 received?", result.text)])
    assert again.trace is None


def test_a_follow_up_traces_the_question_it_became(index: Index) -> None:
    a = Answerer(index, None)
    first = ask(a, "When is Avocado now expected to launch?")
    result = ask(a, "Who is leading it?", [("When is Avocado now expected to launch?", first.text)])
    trace = result.trace
    assert trace is not None and trace.asked == "Who is leading it?"
    assert trace.follow_up and "Avocado" in trace.question.text
    assert "as a follow-up" in trace.render()
