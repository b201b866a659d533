"""Understanding: meaning-based retrieval and coverage, misheard names, article metadata,
short answers, "tell me more", glued claims, and the eval on our own question sets."""

import asyncio
import json
import re
import statistics
from pathlib import Path

import pytest

from server.ops.bench import evaluate as ev
from server.reason import ground
from server.reason.answer.respond import Answer, Answerer, answer
from server.reason.index.lookup import Index
from server.reason.query.question import Lexicon, parse, plain_question

DATA = Path(__file__).resolve().parents[1] / "data"


def ask(a: Answerer, q: str, history: list[tuple[str, str]] | None = None) -> Answer:
    return asyncio.run(answer(a, q, history))


@pytest.fixture
def answerer(index: Index) -> Answerer:
    return Answerer(index, None)  # extractive: the checks, not the tiny LLM, are under test


LEXICON = Lexicon.of(
    [
        "Meta is developing a model codenamed Avocado under Chief AI Officer Alexandr Wang.",
        "Have a fallback plan with Mistral, Qwen, or other models like Llama 4 and Mango.",
        "It strengthens the position of OpenAI, as Stability AI struggled.",
    ]
)


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("what is avacado", "Avocado"),
        ("how was lama four received", "Llama 4"),
        ("what about mister al", "Mistral"),
        ("and quen", "Qwen"),
        ("what kind of model is man go", "Mango"),
        ("what does alexander wong do", "Alexandr Wang"),
        ("what kind of model is Man-Go", "Mango"),  # hyphenated where half-heard
        ("how was Llama4 received", "Llama 4"),  # as Whisper writes it
        ("Wannaa is Avocado-expected to launch?", "Avocado expected"),
    ],
)
def test_misheard_names_are_put_back_in_the_articles_spelling(heard: str, meant: str) -> None:
    assert meant in parse(heard, LEXICON).search_text


def test_a_misspelt_english_word_keeps_its_meaning_and_a_rare_one_stays() -> None:
    """ "perameters" (neither the articles' word nor English) means "parameters": kept as
    such it still tells the gate the articles never say it; "sourdough" is what was said."""
    assert "parameters" in parse("how many perameters does man go have", LEXICON).search_text
    assert "sourdough" in parse("how do i make sourdough bread", LEXICON).search_text
    assert "Wannaa" not in parse("Wannaa is Avocado expected?", LEXICON).search_text
    # English, however rare, is what was said: dropped, these left "How does work?".
    assert "backpropagation" in parse("How does backpropagation work?", LEXICON).search_text
    assert "ripen" in parse("How do I ripen an avocado quickly?", LEXICON).search_text
    assert "GPUs" in parse("How many GPUs trained Avocado?", LEXICON).search_text


@pytest.mark.parametrize(
    ("said", "asked", "kind"),
    [
        ("whats avocado", "what is avocado", "definition"),
        (
            "ok so when's avocado supposed to come out",
            "when is avocado supposed to come out",
            "date",
        ),
        (
            "so is open source ai even sustainable or nah",
            "is open source ai even sustainable",
            "other",
        ),
        ("why'd meta go closed", "why did meta go closed", "reason"),
        ("Which models are like Llama?", "Which models are like Llama?", "entity"),
        # Chat shorthand: "PPL" (as a recogniser writes it) is no acronym of a name.
        ("ngl did PPL even like Llama 4 or not", "did people even like Llama 4", "other"),
        # "going to" before a verb is the future, not "went": only the words count.
        ("is llama gonna stay open source or nah", "is llama will stay open source", "other"),
        ("is meta going to the conference", "is meta going to the conference", "other"),
        # A hedge after the question word: still "what is X?".
        ("so like what even is avocado", "what is avocado", "definition"),
        ("Who exactly is Alexandr Wang?", "Who is Alexandr Wang?", "name"),
    ],
)
def test_the_talk_around_a_question_is_not_what_it_asks(said: str, asked: str, kind: str) -> None:
    question = parse(said, LEXICON)
    assert plain_question(said) == asked and question.kind == kind


@pytest.mark.parametrize("word", ["date", "come", "read", "last", "writer", "heart"])
def test_common_words_are_never_bent_into_names(word: str) -> None:
    assert parse(f"what {word} is it", LEXICON).corrections == ()


def test_names_the_articles_never_mention_are_unknown_entities() -> None:
    assert parse("When was Llama 2 released?", LEXICON).unknown_entities == ("2", "Llama 2")
    assert parse("How much did Meta pay for Scale AI?", LEXICON).unknown_entities == ("Scale",)
    # The first word is grammar (or a misheard question word), never a name.
    assert parse("Wannaa is Avocado expected to launch?", LEXICON).unknown_entities == ()
    assert parse("When is Llama 4 out?", LEXICON).unknown_entities == ()
    # "I" and its contractions name nothing.
    said = parse("What risk does the article say I'm taking on if I'd built on Llama?", LEXICON)
    assert said.unknown_entities == ()


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("how was lama four received", "lukewarm"),
        ("Wannaa is Avocado-expected to launch?", "2026"),  # a transcript heard on AMD
        ("who is metas chief a i officer", "wang"),
        ("so what happened with stability", "financ"),
        # Vague words ask nothing in particular about the name: not "what is said of it".
        ("what's that Mythos thing they mentioned", "vulnerability"),
        ("What is Meta Superintelligence Labs working on?", "avocado"),
        # What is asked of a name, read without it, is what the articles say of it.
        ("so when's avocado meant to ship", "2026"),
        ("wait is llama gonna stay open source or nah", "continue to be developed"),
        ("what message did meta push at llamacon", "open source"),
        ("do people still build on llamas", "built on llama"),
        # A count in words; the author named points at the article, and is no subject.
        ("how many years was metas open source run according to stay updated with a i", "three"),
        ("how many companies built on lama according to jake chen", "thousands"),
        # "What is the cost" asks "how much", and the articles give that amount.
        ("What is the cost of training a frontier model?", "hundreds of millions"),
        # A question that is only a name asks nothing besides it.
        ("what is avocado", "avocado"),
    ],
)
def test_paraphrased_and_misheard_questions_are_answered(
    answerer: Answerer, question: str, fact: str
) -> None:
    result = ask(answerer, question)
    assert result.grounded and fact in result.text.lower(), result.text


@pytest.mark.parametrize(
    "question",
    [
        "When was Llama 2 released?",
        "How much did Meta pay for Scale AI?",
        "What is the capital of Australia?",
        "How do I fix a merge conflict in git?",
    ],
)
def test_questions_the_articles_do_not_answer_are_declined(
    answerer: Answerer, question: str
) -> None:
    assert not ask(answerer, question).grounded


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("Who wrote the AgntBox article?", "Jake Chen"),
        ("When was the stayupdatedwith.ai article published?", "April 8, 2026"),
        ("Which site published the article by Jake Chen?", "AgntBox"),
        ("How long does the AgntBox article take to read?", "5 minutes"),
        ("When was the AgntBox article last updated?", "March 26, 2026"),
        ("How does the AgntBox author describe himself?", "Software reviewer"),
        (
            "Who is credited as the author of the stayupdatedwith.ai article?",
            "stayupdatedwith.ai Team",
        ),
        # Few words shared with the details' sentences: decided by the details, not the model.
        ("what's the headline of the piece jake chen wrote", "Just Got Weird"),
        ("Which website is the Jake Chen post from?", "AgntBox"),
        ("what day was the stayupdatedwith.ai piece posted", "April 8, 2026"),
        ("What's the date on the AgntBox article?", "March 12, 2026"),
        # As heard: "site" as "side", "Meta's" without its apostrophe.
        ("Which side is the Jake Chen article from?", "AgntBox"),
        ("Which website published the article on Metas Secret AI Models?", "stayupdatedwith.ai"),
        # "come out": when it was published.
        ("so like when did the secret ai models article come out", "April 8, 2026"),
    ],
)
def test_article_metadata_answers_and_is_quoted(
    answerer: Answerer, question: str, fact: str
) -> None:
    result = ask(answerer, question)
    assert result.grounded and fact in result.text
    assert any(fact in s.quote for s in result.sources)


def test_metadata_stays_out_of_questions_about_the_content(answerer: Answerer) -> None:
    result = ask(answerer, "According to the stayupdatedwith.ai article, what is Mango?")
    assert "multimedia" in result.text and "published" not in result.text
    # "How long is" asks about the article only when it names one.
    result = ask(answerer, "how long is the context for lama three point one")
    assert "128K" in result.text and "words long" not in result.text


@pytest.mark.parametrize(
    "question",
    [
        "How many parameters does Mango have?",
        "how many perameters does man go have",
        # Avocado's passages hold numbers (its launch dates), but none of parameters.
        "How many parameters does the Avocado model have?",
        "What benchmark scores did Llama 4 Maverick get?",
        # The context length beside it is Llama 3.1's, another version.
        "how big a context window does Llama 4 Maverick have",
        "How do I make a sourdough starter?",  # "starter" shares a root with "started"
        "When will Llama 5 be released?",  # a version the articles never mention
        "How does backpropagation work?",  # the articles say "work" often, never this
        "How many GPUs does Meta use to train its models?",
        "Where is Meta Superintelligence Labs headquartered?",  # a question of names
    ],
)
def test_what_is_asked_of_a_name_must_be_said_of_it(answerer: Answerer, question: str) -> None:
    """Near-topic: the articles name Mango and Maverick, and say "benchmarks" elsewhere,
    but never say these things of them."""
    assert not ask(answerer, question).grounded


@pytest.mark.parametrize(
    "question",
    [
        # The articles say there was a contractor and a letter, never what either is called.
        "What is the name of the contractor involved in the breach?",
        "what was the name of the data firm Meta cut ties with",  # a name after the thing
        "Tell me the title of the letter Zuckerberg wrote.",
        # They give amounts Meta spends, never a price it charges or paid.
        "How much does Meta charge developers for each token of Avocado?",
        "how much did meta spend buying scale a i",
        "What price will Meta charge enterprise customers to use Avocado?",  # "how much"
        "Exactly how much money did Stability AI lose?",
        # A score is an amount: the articles say "benchmarks" only of another site.
        "What did Llama 4 score on the benchmarks?",
        "what did lama for score on the bench marks",
        # An acronym spelled out that the articles never use is a name they never mention.
        "what was lama fours h e l m score",
        # Nobody is said to have founded, or reported on, anything by name.
        "Who originally founded Qwen?",
        "Which reporter broke the news about Mango?",
        "Which data contractor did Meta pause its collaboration with?",
    ],
)
def test_a_name_title_or_amount_the_articles_never_give_is_declined(
    answerer: Answerer, question: str
) -> None:
    assert not ask(answerer, question).grounded


@pytest.mark.parametrize(
    "question",
    [
        # The articles' names in their everyday sense: a fruit, an animal.
        "what's the best way to keep a cut avocado from going brown",
        "how much wool does a llama give in a year",
        "how do you peel a mango",
        # Naming none of them: guacamole is Avocado's sense only as a fruit.
        "What's a good recipe for guacamole?",
        "How do I ripen an avocado quickly?",
    ],
)
def test_a_name_in_another_sense_is_declined(answerer: Answerer, question: str) -> None:
    """Close in meaning to every sentence about Avocado (or Llama), and to nothing the
    articles say of it: read without the names, the question is about something else."""
    assert not ask(answerer, question).grounded


def test_names_are_read_as_it_in_the_question_and_the_sentences() -> None:
    assert LEXICON.without_names("Is Avocado's launch late?") == "Is it launch late?"
    assert LEXICON.without_names("do llamas live long") == "do it live long"
    assert LEXICON.without_names("how do I bake bread") == "how do I bake bread"


def test_the_name_asked_for_is_given_when_the_articles_say_it(answerer: Answerer) -> None:
    result = ask(answerer, "What is the name of the restricted Anthropic model?")
    assert result.grounded and "Mythos" in result.text, result.text
    # "Who <did>" with a verb the articles use is still answered.
    result = ask(answerer, "Who leads Meta Superintelligence Labs?")
    assert result.grounded and "Alexandr Wang" in result.text, result.text
    # "Which lab" asks for a name, and the articles give it.
    result = ask(answerer, "Which lab at Meta is building Avocado?")
    assert result.grounded and "Superintelligence Labs" in result.text, result.text
    # "What are the names of ..." asks for names, not for a definition.
    result = ask(answerer, "What are the names of the Llama 4 models?")
    assert result.grounded and "Scout" in result.text, result.text


def test_a_list_lead_in_answers_with_its_items(answerer: Answerer) -> None:
    result = ask(answerer, "What factors are behind Meta's shift?")
    assert result.grounded, result.text
    for label in ("Safety concerns", "Competitive intelligence", "Revenue pressure"):
        assert label in result.text and any(label in s.quote for s in result.sources)
    # A question about one of them gets that one.
    result = ask(answerer, "Why did the security breach matter to Meta?")
    assert "operational risks" in result.text and "Revenue pressure" not in result.text


def test_a_numbered_name_is_answered_about_that_version(answerer: Answerer) -> None:
    # "Llama 4" is not "Llama": the sentence about Llama 4's models, not about Llama.
    result = ask(answerer, "What two models came with Llama 4?")
    assert result.grounded and "Scout" in result.text and "Maverick" in result.text, result.text


def test_an_answer_keeps_what_it_points_back_to(answerer: Answerer) -> None:
    # "That’s where you should be investing your effort." says where only after the
    # sentence before it.
    result = ask(
        answerer, "where should developers invest their effort now that models commoditize"
    )
    assert result.grounded and "fine-tuning" in result.text, result.text


def test_an_answer_goes_on_into_the_next_window_of_its_paragraph(answerer: Answerer) -> None:
    # "Before Llama ... two options: pay OpenAI or pay Google." ends one passage window;
    # "Llama gave everyone a third option: run it yourself." opens the next.
    result = ask(answerer, "Before Llama, what options did you have for a powerful language model?")
    assert result.grounded and "third option" in result.text, result.text
    assert any("third option" in s.quote for s in result.sources)


def test_why_a_claim_holds_goes_on_into_the_paragraph_that_explains_it(
    answerer: Answerer,
) -> None:
    # The claim is a paragraph of its own; the next one, in the same section, says why.
    result = ask(answerer, "Why can't pure open source AI survive at the frontier?")
    assert result.grounded and "hundreds of millions" in result.text, result.text
    assert any("hundreds of millions" in s.quote for s in result.sources)


def test_a_cut_sentence_keeps_the_date_asked_for(answerer: Answerer) -> None:
    result = ask(answerer, "When did reports about the codenamed models emerge?")
    assert result.grounded and "early 2026" in result.text, result.text
    assert len(result.text.split()) <= 45


def test_a_cut_never_falls_inside_a_parenthesis(answerer: Answerer) -> None:
    # "... the benefits of open source (ecosystem, talent, goodwill) without the costs":
    # the commas inside the parenthesis are not clause breaks.
    result = ask(
        answerer, "How was open-sourcing Llama supposed to benefit Meta in the first place?"
    )
    assert result.grounded, result.text
    for sentence in re.split(r"(?<=[.!?])\s+", result.text):
        assert sentence.count("(") == sentence.count(")"), result.text


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("what do open a i and anthropic argue", "OpenAI"),
        ("what happened at stability a eye", "AI"),
        # Not only names: an article's word heard as two ("fall back" for "fallback").
        ("what about quen and mistrel as a fall back", "fallback"),
    ],
)
def test_names_heard_as_two_words_are_put_back(heard: str, meant: str) -> None:
    assert meant in parse(heard, LEXICON).search_text.split()


SITES = Lexicon.of(["Meta is developing Avocado."], ["AgntBox", "stayupdatedwith.ai", "Jake Chen"])


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("who wrote the Ang Box article", "AgntBox"),
        ("when was the Anck-Box piece published", "AgntBox"),
        ("what's the title of the state update with.ai article", "stayupdatedwith.ai"),
        ("is the Ang, Box writer a reviewer", "AgntBox"),  # a comma between the pieces
        ("according to the state date with .AI piece", "stayupdatedwith.ai"),
        ("what does the stay updated with dot AI article say", "stayupdatedwith.ai"),
        # Where a question points at an article, any word the articles never use is
        # heard for a site or an author, whatever its first letter.
        ("what does the Xbox writer say about open source", "AgntBox"),
        ("when did the Inc. Box author post it", "AgntBox"),
        ("which site is the Jake Chin article on", "Jake Chen"),
        # Its letters exactly, word by word: plain words will do.
        ("how long was it open according to stay updated with AI", "stayupdatedwith.ai"),
    ],
)
def test_an_articles_site_as_heard_is_put_back(heard: str, meant: str) -> None:
    assert meant in parse(heard, SITES).search_text


@pytest.mark.parametrize(
    "said",
    [
        "what is in the sandbox and box",
        "the state date of it",
        "what does the Verge article say",  # another site: nothing like ours
        "is the first article longer",  # the articles' own words
    ],
)
def test_plain_words_are_never_bent_into_a_site(said: str) -> None:
    assert parse(said, SITES).corrections == ()


@pytest.mark.parametrize(
    "heard",
    [
        # Whisper's choppy-speech capitals after its commas are no names...
        "Watson, Avocado, Supposed to Ship in 2025 or something.",
        # ... an ordinal names nothing, and "Lab" is the articles' "Labs" said singular.
        "How did people take the 4th Llama?",
        "Who runs the Superintelligence Lab?",
        # Mostly capitals: the ordinary words among them are no names.
        "Is Mistral Still Totally Free?",
    ],
)
def test_what_a_recogniser_capitalises_is_not_an_unknown_name(heard: str) -> None:
    lexicon = Lexicon.of(
        ["Meta Superintelligence Labs builds Avocado and Llama 4 (2025). Mistral is open."]
    )
    assert parse(heard, lexicon).unknown_entities == ()


def test_a_question_of_names_keeps_them_and_title_case_keeps_none() -> None:
    lexicon = Lexicon.of(["Meta Superintelligence Labs builds Avocado. Mistral is open."])
    names = parse("Where is Meta Superintelligence Labs headquartered?", lexicon).entities
    assert names == ("Meta", "Superintelligence", "Labs")
    assert parse("Is Mistral Still Totally Free?", lexicon).entities == ("Mistral",)
    # "I" is capitalised in any sentence: it makes no question Title Case.
    names = parse("Did I hear Meta Superintelligence Labs right?", lexicon).entities
    assert names == ("Meta", "Superintelligence", "Labs")
    # Title Case capitalises the little words: its capitals name nothing.
    assert parse("What Is The Context Window Of Avocado?", lexicon).entities == ()


def test_a_version_never_mentioned_is_a_name_never_mentioned() -> None:
    lexicon = Lexicon.of(["From Llama 1 in 2023 to Llama 3.1 in 2024, as Llama 3."])
    assert "Llama 5" in parse("When will Llama 5 be released?", lexicon).unknown_entities
    assert "Llama 3.2" in parse("What about Llama 3.2?", lexicon).unknown_entities
    for said in ("Is Llama 3 better?", "How big is Llama 3.1?", "What happened in 2024?"):
        assert parse(said, lexicon).unknown_entities == (), said


def test_a_name_never_mentioned_is_still_one() -> None:
    lexicon = Lexicon.of(["Meta builds Avocado."])
    assert parse("how did the Stock Market react to Avocado", lexicon).unknown_entities
    # After a comma, a name that is no English word stays one.
    assert parse(
        "can avocado run on the chips of Verizon, Nvidia or Xbox", lexicon
    ).unknown_entities == (
        "Verizon",
        "Nvidia",
        "Xbox",
    )


@pytest.mark.parametrize(
    ("heard", "meant", "not_meant"),
    [
        ("is Mr. Al still open source", "Mistral", "mister"),  # Whisper's "Mr." for "mister"
        ("what did mister Wang say", "Wang", "Mistral"),  # a title before a known name
    ],
)
def test_mister_is_a_title_or_half_a_name(heard: str, meant: str, not_meant: str) -> None:
    text = parse(heard, LEXICON).search_text
    assert meant in text and not_meant not in text


def test_how_many_is_answered_by_a_number_of_what_it_counts(answerer: Answerer) -> None:
    result = ask(answerer, "How many minutes does it take to read the Avocado problem article?")
    assert result.grounded and "minute" in result.text, result.text


def test_how_an_article_is_pointed_at_is_not_what_is_asked(answerer: Answerer) -> None:
    # "the second article?" points at an article, question mark and all: its words are
    # not what the amount must be said of.
    question = "How much is Meta pouring into compute every year according to the second article?"
    result = ask(answerer, question)
    assert result.grounded and "tens of billions" in result.text, result.text


def test_factual_answers_are_short_and_keep_the_whole_sentence_as_source(
    answerer: Answerer,
) -> None:
    questions = [
        "Who is Meta's Chief AI Officer?",
        "When is Avocado now expected to launch?",
        "What context length did Llama 3.1 reach?",
        "Which open models are suggested as a fallback to Llama?",
        "What is Mango?",
        "How was Llama 4 received?",
    ]
    results = [ask(answerer, q) for q in questions]
    assert all(r.grounded for r in results)
    assert statistics.median(len(r.text.split()) for r in results) <= 30
    officer = results[0]
    assert "Alexandr Wang" in officer.text and len(officer.text.split()) <= 30
    assert any("Reports surfaced that Meta" in s.quote for s in officer.sources)


def test_tell_me_more_goes_on_without_repeating(answerer: Answerer) -> None:
    history: list[tuple[str, str]] = []
    said: list[str] = []
    for q in ["Why is Meta moving away from open source?", "tell me more", "Tell me more."]:
        result = ask(answerer, q, history)
        assert result.grounded and result.sources
        said.append(result.text)
        history.append((q, result.text))
    first, second, third = said
    assert second != first and third != second
    assert not set(second.split(". ")) & set(first.split(". "))


def test_tell_me_more_with_nothing_asked_yet(answerer: Answerer) -> None:
    result = ask(answerer, "tell me more")
    assert not result.grounded and "question" in result.text


CONTEXT = (
    "If even Meta concludes that the most capable models need to be restricted, it "
    "strengthens the position of OpenAI and Anthropic, who have always argued that "
    "frontier models require controlled release. The Anthropic Mythos situation — a model "
    "restricted because of its vulnerability-finding capabilities — illustrates that "
    "frontier capabilities can create genuine safety dilemmas."
)


@pytest.mark.parametrize(
    "glued",
    [
        # "argued" belongs to OpenAI and Anthropic, not to Meta.
        "Meta has always argued that frontier models require controlled release.",
        "Anthropic Mythos was restricted by Meta, who has always argued for controlled release.",
        # Mythos was restricted for vulnerability finding; Meta concluded nothing about it.
        "Meta concludes that Mythos needs to be restricted.",
    ],
)
def test_a_name_moved_into_another_sentences_claim_fails(glued: str) -> None:
    assert not ground.check(glued, CONTEXT, "which model was restricted?").ok


@pytest.mark.parametrize(
    "faithful",
    [
        "OpenAI and Anthropic have always argued that frontier models require controlled release.",
        "The Anthropic Mythos model was restricted because of its vulnerability-finding "
        "capabilities.",
    ],
)
def test_claims_bound_as_in_the_source_pass(faithful: str) -> None:
    assert ground.check(faithful, CONTEXT, "which model was restricted?").ok


@pytest.mark.slow
def test_eval_on_our_own_question_sets(answerer: Answerer) -> None:
    """Regression floors for the labelled sets in tests/data (written from the articles,
    in varied wording). The figures measured when the floors were set are in docs/benchmarks.md
    (a few points above these: the sentence vectors differ a little between CPUs); the
    issue's bar (90 % / 95 %) is not reached yet."""
    for name, facts, declines in (
        ("eval_dev.json", 0.78, 0.82),  # measured 81/98, 31/34
        ("eval_holdout.json", 0.75, 0.9),  # 53/66, 22/22
        ("eval_fresh.json", 0.7, 0.83),  # 34/45, 23/24
        ("eval_probe.json", 0.69, 0.69),  # 48/64, 28/36
        ("eval_blind.json", 0.67, 0.72),  # 58/80, 32/40: written blind, totals only
        ("eval_probe2.json", 0.62, 0.75),  # 44/64, 31/36 (39/64, 28/36 unread)
    ):
        results = asyncio.run(ev.run(answerer, DATA / name))
        s = ev.summary(results)
        assert s["facts_found"] / s["answerable"] >= facts, (name, s)
        assert s["declined_right"] / s["out_of_scope"] >= declines, (name, s)
        assert s["unsupported"] == 0, name
        assert s["median_words"] <= 30, (name, s)


def test_eval_sets_are_well_formed() -> None:
    for name in (
        "eval_dev.json",
        "eval_holdout.json",
        "eval_fresh.json",
        "eval_probe.json",
        "eval_blind.json",
        "eval_probe2.json",
    ):
        items = json.loads((DATA / name).read_text())
        answerable = [i for i in items if not i.get("abstain")]
        out = [i for i in items if i.get("abstain")]
        assert len(answerable) >= 45 and len(out) >= 20
        near = [i for i in out if i["kind"].startswith("near")]
        assert len(near) * 2 >= len(out)
