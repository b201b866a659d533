"""Spoken and typed commands: how they are recognised (many phrasings, and questions that
only look like them), and what the Answerer does with them on the real index."""

import asyncio

import pytest

from server.engines import MAX_LENGTH_SCALE, MIN_LENGTH_SCALE
from server.reason import ground
from server.reason.answer.commands import Command, PastTurn, adjust_speed, detect, simplest
from server.reason.answer.respond import Answer, Answerer
from server.reason.index.lookup import Index
from server.reason.text import terms

PHRASINGS = {
    "more": [
        "tell me more",
        "Tell me more.",
        "okay, tell me more please",
        "Go on.",
        "Could you tell me more about that?",
        "what else",
        "keep going",
    ],
    "repeat": [
        "say that again",
        "Say that again, please.",
        "say that again please",
        "Repeat that.",
        "Could you repeat?",
        "could you repeat that please",
        "Sorry, can you say it again?",
        "Can you repeat the last part?",
        "What did you say?",
        "I didn't catch that.",
        "One more time, please.",
        "Pardon?",
        "Come again?",
    ],
    "simpler": [
        "simpler",
        "Simpler, please.",
        "explain that simply",
        "Can you say it more simply?",
        "could you explain that in simpler terms",
        "Say it in plain English.",
        "Make it simpler.",
        "simplify that",
        "I don't understand.",
        "That's too complicated.",
        "Explain it like I'm five.",
    ],
    "slower": [
        "slower",
        "Slower, please.",
        "slower please",
        "speak slower",
        "Speak more slowly.",
        "Could you talk a bit slower?",
        "slow down",
        "You're talking too fast!",
        "Please go a little slower.",
        "not so fast",
    ],
    "faster": [
        "faster",
        "Faster please.",
        "speak faster",
        "Can you talk a bit quicker?",
        "speed up",
        "you're going too slow",
        "Hurry up.",
    ],
}
QUESTIONS = [
    "What is slower inference?",
    "how does Meta repeat its strategy",
    "Is Avocado faster than Llama 4?",
    "Why is open source simpler?",
    "Can you explain Avocado simply?",
    "Tell me more about Avocado.",
    "What else did Meta build?",
    "Why did Meta slow down its open releases?",
    "I don't understand why Meta went closed.",
    "Say again when Avocado launches?",
    "What is Llama?",
    "more models from Meta?",
]


@pytest.mark.parametrize(
    ("kind", "text"), [(k, t) for k, texts in PHRASINGS.items() for t in texts]
)
def test_commands_are_recognised_in_many_phrasings(kind: str, text: str) -> None:
    assert detect(text) == Command(kind), text  # type: ignore[arg-type]


@pytest.mark.parametrize("text", QUESTIONS)
def test_questions_that_look_like_commands_stay_questions(text: str) -> None:
    assert detect(text) is None


def test_speed_steps_are_bounded_and_said_so() -> None:
    slower, said = adjust_speed(1.0, "slower")
    assert slower > 1.0 and "slowly" in said
    faster, _ = adjust_speed(slower, "faster")
    assert faster == pytest.approx(1.0)
    at_most, said = adjust_speed(MAX_LENGTH_SCALE, "slower")
    assert at_most == MAX_LENGTH_SCALE and "as slowly as" in said
    at_least, said = adjust_speed(MIN_LENGTH_SCALE, "faster")
    assert at_least == MIN_LENGTH_SCALE and "as fast as" in said


def run(a: Answerer, text: str, past: list[PastTurn]) -> Answer:
    async def go() -> Answer:
        history = [(t.question, t.answer) for t in past]
        items = [i async for i in a.stream(text, history, past=past)]
        assert isinstance(items[-1], Answer)
        return items[-1]

    result = asyncio.run(go())
    past.append(PastTurn(text, result.text, tuple(result.sources), result.grounded))
    return result


def test_say_that_again_repeats_the_last_answer_with_its_sources(index: Index) -> None:
    a = Answerer(index, None)
    past: list[PastTurn] = []
    first = run(a, "When is Avocado expected to launch?", past)
    again = run(a, "Could you say that again, please?", past)
    assert again.command == Command("repeat")
    assert again.text == first.text and again.sources == first.sources and again.grounded
    # "slower" in between says nothing: the answer before it is repeated.
    assert run(a, "slower please", past).command == Command("slower")
    assert run(a, "repeat that", past).text == first.text


def test_say_that_again_works_from_plain_history_too(index: Index) -> None:
    """Without the stored turns, the sources are found again from the question."""
    a = Answerer(index, None)
    first = run(a, "How was Llama 4 received?", [])
    history = [("How was Llama 4 received?", first.text)]

    async def go() -> Answer:
        return [i async for i in a.stream("say that again", history)][-1]  # type: ignore[return-value]

    again = asyncio.run(go())
    assert again.text == first.text and again.grounded
    assert {s.paragraph for s in again.sources} == {s.paragraph for s in first.sources}


def test_simpler_is_a_shorter_grounded_sentence_with_a_fact_of_the_last_answer(
    index: Index,
) -> None:
    a = Answerer(index, None)
    for question in (
        "When is Avocado expected to launch?",
        "Who leads Meta Superintelligence Labs?",
        "How much does training a frontier model cost?",
        "What is Avocado?",
    ):
        past: list[PastTurn] = []
        first = run(a, question, past)
        simple = run(a, "Can you say it more simply?", past)
        assert simple.command == Command("simpler")
        assert simple.grounded and simple.sources, (question, first.text, simple.text)
        assert len(simple.text.split()) < len(first.text.split()), (first.text, simple.text)
        quotes = " ".join(s.quote for s in first.sources)
        assert ground.check(simple.text, quotes).ok, simple.text
        # The same fact: its names and numbers are the answer's, and its words mostly.
        said = set(terms(simple.text))
        assert len(said & set(terms(first.text))) >= len(said) - 1, (first.text, simple.text)
        assert set(ground.claims(simple.text)) <= set(ground.claims(first.text))


def test_simplest_keeps_the_question_topic() -> None:
    from server.reason.answer.cite import Source

    quote = (
        "Reports surfaced that Meta is developing a new model codenamed “Avocado” under its "
        "Meta Superintelligence Labs (MSL), led by Chief AI Officer Alexandr Wang."
    )
    turn = PastTurn("What is Avocado?", quote, (Source(1, "t", quote, 9),))
    simple = simplest(turn)
    assert simple is not None and "Avocado" in simple and len(simple) < len(quote)


def test_simpler_says_so_when_the_answer_is_already_one_short_clause(index: Index) -> None:
    a = Answerer(index, None)
    past: list[PastTurn] = []
    first = run(a, "Why is Meta's retreat from open models significant?", past)
    assert "because" in first.text and "," not in first.text  # one clause: nothing to cut
    simple = run(a, "simpler", past)
    assert simple.text == "That's as simply as the articles put it." and not simple.grounded


def test_slower_and_faster_are_acknowledged_for_the_session_to_act_on(index: Index) -> None:
    a = Answerer(index, None)
    past: list[PastTurn] = []
    slower = run(a, "Could you speak a bit slower?", past)
    assert slower.command == Command("slower") and slower.command.changes_speed
    assert slower.text == "Okay, I'll speak more slowly." and not slower.sources
    faster = run(a, "faster please", past)
    assert faster.command == Command("faster") and "faster" in faster.text


def test_a_command_before_any_answer_asks_for_a_question(index: Index) -> None:
    a = Answerer(index, None)
    for text in ("say that again", "simpler"):
        result = run(a, text, [])
        assert not result.grounded and "question" in result.text
