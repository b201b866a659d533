import pytest

from server.reason.ground import check, claims

CONTEXT = (
    "Llama 4’s reception was lukewarm. The original plan was to launch by end of 2025. "
    "Current estimates put it in Q1-Q2 2026. Meta has spent billions on AI "
    "infrastructure. Llama 3.1 pushed context length to 128K tokens."
)


def test_claims_are_names_numbers_and_dates() -> None:
    assert claims("Meta spent $1.2 billion in March on Llama 4.") == [
        "Meta",
        "$1.2",
        "billion",
        "March",
        "Llama",
        "4",
    ]
    assert claims("the reception was lukewarm.") == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Meta has spent billions on AI infrastructure.",
        "Current estimates put the launch in Q1-Q2 2026.",
        "Llama 4's reception was lukewarm.",
    ],
)
def test_supported_sentences_pass(sentence: str) -> None:
    assert check(sentence, CONTEXT, "question?").ok


@pytest.mark.parametrize(
    "sentence,reason",
    [
        ("Meta spent $1.2 billion on AI infrastructure.", "unsupported names or numbers"),
        ("The CEO is Mark Smith.", "unsupported names or numbers"),
        ("It will launch in 2024.", "unsupported names or numbers"),
        (
            "Llama 3.1 could handle images and video natively with reception.",
            "not supported by the passages",
        ),
        ("The passage does not say.", "hedge"),
        ("I don't know the answer to that.", "hedge"),
    ],
)
def test_invented_or_evasive_sentences_fail(sentence: str, reason: str) -> None:
    result = check(sentence, CONTEXT, "What happened?")
    assert not result.ok and result.reason == reason


def test_echo_of_the_question_fails() -> None:
    q = "How was Llama 4 received?"
    assert (
        check("How was Llama 4 received?", CONTEXT + " How was Llama 4 received?", q).reason
        == "repeats the question"
    )
