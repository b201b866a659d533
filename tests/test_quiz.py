"""Quiz items from the bundled articles: real questions (who / what / when / which / how
many / why) with their source passage, multiple-choice options of the answer's kind, and
grading by meaning (the real sentence-embedding model) and by key terms.

Drafting runs no model (the questions are made by rule), so the scripts are drafted here
directly from the bundled articles, as the lesson builder drafts them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from server.core.catalog import resolve
from server.core.config import BUNDLED_CORPUS, Settings
from server.core.documents import Article
from server.lessons.facts import Facts
from server.lessons.quiz import QuizQuestion, candidates, cloze, grade
from server.lessons.script import Script, article_sentences, draft, draft_all
from server.lessons.spans import is_date_word
from server.reason.index.embed import Embedder
from server.reason.text import fold, terms
from server.storage.library import Library
from server.storage.store import Store

REAL_SHARE = 0.7


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> list[Article]:
    store = Store(tmp_path_factory.mktemp("quiz") / "t.sqlite3")
    Library(store).seed(BUNDLED_CORPUS)
    return store.articles()


@pytest.fixture(scope="module")
def scripts(articles: list[Article]) -> list[Script]:
    return [draft(a) for a in articles] + [draft_all(articles)]


@pytest.fixture(scope="module")
def facts(articles: list[Article]) -> Facts:
    return Facts.of([s.text for a in articles for s in article_sentences(a)])


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedder]:
    """The real sentence-embedding model the server answers with (23 MB)."""
    name = Settings().embed_model
    yield Embedder(resolve("embed", name, tmp_path_factory.mktemp("embed-cache")), name)


def question_for(articles: list[Article], facts: Facts, sentence: str, answer: str) -> QuizQuestion:
    """The generated question of a bundled sentence whose answer is `answer`."""
    for article in articles:
        for s in article_sentences(article):
            if s.text.startswith(sentence):
                for _, q in candidates(article, s, facts):
                    if q.answer.startswith(answer):
                        return q
    raise AssertionError(f"no question with answer {answer!r} for {sentence!r}")


def test_most_quiz_items_are_real_questions(scripts: list[Script]) -> None:
    for script in scripts:
        real = [q for q in script.quiz if q.kind != "cloze"]
        assert len(script.quiz) >= 3, script.title
        assert len(real) / len(script.quiz) >= REAL_SHARE, [q.question for q in script.quiz]
        for q in real:
            assert q.question.endswith("?") and not q.question.startswith("Complete")
            assert re.match(r"^(Who|What|When|Which|How|Why|Since when|Until when)\b", q.question)


def test_every_answer_stands_in_its_passage_and_the_passage_in_its_article(
    scripts: list[Script], articles: list[Article]
) -> None:
    bodies = {a.id: a.body for a in articles}
    for script in scripts:
        for q in script.quiz:
            assert q.answer in q.source.quote, q
            assert q.source.quote in bodies[q.source.article_id]
            # The question doesn't give its answer away.
            assert not set(terms(q.answer)) <= set(terms(q.question)), q


def test_a_blank_is_only_ever_a_content_term() -> None:
    # "the … AI space": an acronym alone is no question.
    assert cloze("Meta’s Llama models changed the AI space.") is None
    assert cloze("Llama 3.1 pushed context length to 128K tokens.")[1] == "128K tokens"


def _kind_ok(option: str, q: QuizQuestion, facts: Facts) -> bool:
    words = [w.strip(",") for w in option.split()]
    if q.kind == "date":
        return any(is_date_word(w) for w in words)
    if q.kind in ("duration", "count"):
        return any(c.isdigit() for c in option) or words[0].lower() in {
            "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        } and words[-1].rstrip("s") == q.answer.split()[-1].rstrip("s")  # fmt: skip
    if q.kind == "amount":
        return bool(re.search(r"\d|illion|hundred|thousand", option))
    if q.kind in ("person", "company", "model"):
        names = re.split(r",? (?:and|or) |, ", option)
        return all(facts.kind_of(n) == q.kind for n in names)
    return True  # terms and reasons: any of the articles' terms or reasons


def test_options_hold_the_answer_once_and_wrong_answers_of_its_kind(
    scripts: list[Script], facts: Facts
) -> None:
    with_options = [q for s in scripts for q in s.quiz if q.options]
    assert len(with_options) >= 6
    for q in with_options:
        assert 3 <= len(q.options) <= 4, q
        assert q.options.count(q.answer) == 1
        assert len({fold(o) for o in q.options}) == len(q.options)
        for wrong in (o for o in q.options if o != q.answer):
            assert fold(wrong) != fold(q.answer)
            assert not set(terms(wrong)) <= set(terms(q.answer)), (wrong, q.answer)
            assert _kind_ok(wrong, q, facts), (wrong, q)


def test_the_same_articles_give_the_same_quiz_in_the_same_order(
    articles: list[Article], scripts: list[Script]
) -> None:
    """FSRS cards are keyed by lesson, question index and question text."""
    again = [draft(a) for a in articles] + [draft_all(articles)]
    for one, two in zip(scripts, again, strict=True):
        assert [(q.index, q.question, q.options) for q in one.quiz] == [
            (q.index, q.question, q.options) for q in two.quiz
        ]
        assert [q.index for q in one.quiz] == list(range(len(one.quiz)))


def test_choosing_an_option_is_graded_by_it(scripts: list[Script]) -> None:
    for q in (q for s in scripts for q in s.quiz if q.options):
        assert grade(q.answer, q).grade == "right"
        for wrong in (o for o in q.options if o != q.answer):
            assert grade(wrong, q).grade == "not_yet", (wrong, q.question)


def test_the_expected_answer_is_right_with_or_without_the_embedder(
    scripts: list[Script], embedder: Embedder
) -> None:
    for q in (q for s in scripts for q in s.quiz):
        assert grade(q.answer, q).grade == "right"
        assert grade(q.answer, q, embedder=embedder).grade == "right"


def test_a_right_answer_in_other_words_is_right_a_wrong_one_is_not(
    articles: list[Article], facts: Facts, embedder: Embedder
) -> None:
    def check(q: QuizQuestion, reply: str, want: str, **kwargs: object) -> None:
        got = grade(reply, q, embedder=embedder, **kwargs)  # type: ignore[arg-type]
        assert got.grade == want, (q.question, reply, got)
        assert q.source.quote in got.feedback  # the feedback quotes the passage

    money = question_for(articles, facts, "Zuckerberg’s original", "ads and social media")
    assert money.question == "What does Meta make money from?"
    check(money, "advertising and social networks", "right")
    check(money, "Selling ads on its social networks.", "right")
    check(money, "selling AI models", "not_yet")
    check(money, "cloud computing", "not_yet")
    # Without the embedder only the key terms count: a paraphrase is partly right.
    assert grade("advertising and social networks", money).grade == "partly"

    why = question_for(articles, facts, "Meta’s potential retreat", "because of the ecosystem")
    assert why.answer == "because of the ecosystem that depends on Llama"
    assert why.question.startswith("Why is Meta’s potential retreat")
    check(why, "because a whole ecosystem relies on Llama", "right")
    check(why, "because of safety concerns", "not_yet")

    plan = question_for(articles, facts, "The original plan", "end of 2025")
    assert plan.question == "When was the original plan to launch?"
    check(plan, "By the end of 2025.", "right")
    check(plan, "the end of 2026", "not_yet")  # 0.92 by meaning: a date is a term
    check(plan, "early 2026", "not_yet")

    years = question_for(articles, facts, "Meta has been the loudest", "two years")
    assert years.question == "How long has Meta been the loudest champion of open-source AI?"
    check(years, "I think it was 2 years", "right")
    check(years, "three years", "not_yet")

    who = question_for(articles, facts, "If even Meta concludes", "OpenAI and Anthropic")
    check(who, "Anthropic and OpenAI", "right")
    check(who, "Meta and Google", "not_yet")

    person = question_for(articles, facts, "Startups, researchers", "Mark Zuckerberg")
    assert person.question.startswith("Who personally evangelized the open-source AI")
    check(person, "Zuckerberg", "right")
    check(person, "Alexandr Wang", "not_yet")


def test_spoken_forms_of_numbers_and_dates(articles: list[Article], facts: Facts) -> None:
    """What the speech recogniser writes: number words, split tokens ("128 K")."""
    context = question_for(articles, facts, "Llama 3.1 pushed", "128K tokens")
    assert context.question == "What did Llama 3.1 push context length to?"
    assert grade("128 K tokens", context).grade == "right"
    assert grade("256K tokens", context).grade == "not_yet"
    years = question_for(articles, facts, "For three years", "three years")
    assert grade("Three years.", years).grade == "right"
    assert grade("for 3 years", years).grade == "right"
    # "end of 2025" said aloud and heard as "in the 2020 5" (seen from Whisper on CI).
    launch = question_for(articles, facts, "The original plan was", "end of 2025")
    assert grade("I think it is end of 2020 5.", launch).grade == "right"
    assert grade("I think it is in the 2020 5.", launch).grade == "partly"
    assert grade("I think it is in the 20 26.", launch).grade == "not_yet"


def test_an_old_script_without_options_still_loads() -> None:
    """Scripts stored before the options existed load as free-answer blanks."""
    data = {
        "title": "t",
        "article_id": 1,
        "segments": [],
        "quiz": [
            {
                "index": 0,
                "question": "Complete this sentence from the article: It launches in …",
                "answer": "Q1-Q2 2026",
                "source": {"article_id": 1, "title": "t", "quote": "x", "paragraph": 1},
            }
        ],
    }
    q = Script.from_dict(data).quiz[0]
    assert (q.options, q.kind) == ([], "cloze")
