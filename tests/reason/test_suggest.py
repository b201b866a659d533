"""Follow-up suggestions on the bundled articles, with the real retrieval models: every
suggestion the tutor can make is asked back and gets a grounded answer."""

import asyncio

from server.reason import ground
from server.reason.answer.commands import PastTurn
from server.reason.answer.respond import Answer, Answerer, answer
from server.reason.index.lookup import Index
from server.reason.suggest.phrase import Paragraph, candidates
from server.reason.suggest.suggest import with_suggestions
from server.reason.text import sentences


def ask(a: Answerer, q: str, history: list[tuple[str, str]] | None = None) -> Answer:
    return asyncio.run(answer(a, q, history))


def ask_with_suggestions(a: Answerer, q: str, past: list[PastTurn] | None = None) -> Answer:
    async def run() -> Answer:
        items = [i async for i in a.stream(q, past=past, suggest=True)]
        assert isinstance(items[-1], Answer)
        return items[-1]

    return asyncio.run(run())


def assert_grounded(result: Answer, question: str) -> None:
    assert result.grounded and result.sources, (question, result.text)
    assert "don't cover" not in result.text, question
    quotes = " ".join(s.quote for s in result.sources)
    for sentence in sentences(result.text):
        check = ground.check(sentence, ground.Evidence(quotes))
        assert check.ok, (question, sentence, check)


def test_every_suggestion_for_the_bundled_articles_gets_a_grounded_answer(index: Index) -> None:
    a = with_suggestions(Answerer(index, None))
    made = a.suggester.all()
    for article in {p.article_id for p in index.passages}:
        assert len([s for s in made if s.origin[0] == article]) >= 8, article
    previous = ("How was Llama 4 received?", "Llama 4’s reception was lukewarm.")
    for s in made:
        assert len(s.text.split()) <= 10 and s.text.endswith("?"), s
        result = ask(a, s.text)
        assert_grounded(result, s.text)
        # It lands where the check said: the answer quotes that paragraph.
        assert s.landing[0] in {(x.article_id, x.paragraph) for x in result.sources}, s
        # Clicked right after another answer, it is still answered (not mixed with it).
        assert_grounded(ask(a, s.text, [previous]), s.text)


def test_answers_carry_suggestions_about_points_not_met_yet(index: Index) -> None:
    a = with_suggestions(Answerer(index, None))
    past: list[PastTurn] = []
    for q in (
        "What is Avocado?",
        "When is Avocado expected to launch?",
        "How was Llama 4 received?",
        "What should developers do if they built on Llama?",
        "Why is Meta moving away from open source?",
    ):
        result = ask_with_suggestions(a, q, past)
        assert result.grounded
        assert 2 <= len(result.suggestions) <= 3, (q, result.suggestions)
        quoted = {(s.article_id, s.paragraph) for t in past for s in t.sources}
        quoted |= {(s.article_id, s.paragraph) for s in result.sources}
        history = [(q, result.text)]
        for suggestion in result.suggestions:
            assert suggestion not in {t.question for t in past} | {q}
            follow = ask(a, suggestion, history)
            assert_grounded(follow, suggestion)
            # A new point: its answer's main paragraph is none the learner has heard.
            main = follow.sources[0]
            assert (main.article_id, main.paragraph) not in quoted, (q, suggestion)
        past.append(PastTurn(q, result.text, tuple(result.sources)))


def test_a_declined_question_gets_suggestions_the_articles_answer(index: Index) -> None:
    a = with_suggestions(Answerer(index, None))
    result = ask_with_suggestions(a, "What is the capital of Australia?")
    assert not result.grounded and len(result.suggestions) >= 2
    for suggestion in result.suggestions:
        assert_grounded(ask(a, suggestion), suggestion)


def test_seen_paragraphs_and_asked_questions_are_not_suggested(index: Index) -> None:
    a = with_suggestions(Answerer(index, None))
    anchor = (1, 10)  # "The original plan was to launch by end of 2025. ..."
    first = a.suggester.suggest([anchor])
    by_text = {s.text: s for s in a.suggester.all()}
    seen = {by_text[t].landing[0] for t in first}
    again = a.suggester.suggest([anchor], seen=seen)
    assert again and not set(again) & set(first)
    assert first[0] not in a.suggester.suggest([anchor], asked={first[0].lower().rstrip("?")})


def test_checks_are_dropped_when_the_index_is_rebuilt(index: Index, library) -> None:
    a = with_suggestions(Answerer(index, None))
    both = {s.origin[0] for s in a.suggester.all()}
    assert len(both) == 2
    index.rebuild(library.store.articles()[:1])
    assert {s.origin[0] for s in a.suggester.all()} == {library.store.articles()[0].id}


def test_candidate_questions_are_short_and_read_as_questions(index: Index) -> None:
    texts = [q for p in Paragraph.of(index.passages) for _, q in candidates(p, index.lexicon)]
    assert "What is Avocado?" in texts and "What about revenue pressure?" in texts
    assert "How much does training a frontier model cost?" in texts
    assert "When is Avocado expected to launch?" in texts
    assert all(len(t.split()) <= 10 and t.endswith("?") and t[0].isupper() for t in texts)
    assert not [t for t in texts if "’" in t or "“" in t]
