"""The LLM prompt: a few passages, the recent turns, the question.

Kept short on purpose: prompt tokens are most of the time to the first answer token on a
CPU, and a 135M model follows a short instruction better than a long one. Passages carry
no labels ("Passage 1:") because small models copy labels into the answer."""

from __future__ import annotations

from server.reason.lookup import Hit

SYSTEM = (
    "You are a friendly tutor. Answer the learner's question in one or two short sentences, "
    "using only the facts in the article text. Reuse the article's own words, names and "
    "numbers. Plain spoken English: no lists, no markdown."
)


def select_context(hits: list[Hit], max_words: int = 170) -> str:
    """The passages' sentences, best passage first, within a word budget."""
    context: list[str] = []
    budget = max_words
    for hit in hits:
        for sentence in hit.passage.sentences:
            n = len(sentence.split())
            if n > budget:
                break
            if sentence not in context:  # overlapping windows share sentences
                context.append(sentence)
                budget -= n
    return " ".join(context)


def build_messages(
    question: str, context: str, history: list[tuple[str, str]]
) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM}]
    for asked, answered in history:
        messages.append({"role": "user", "content": asked})
        messages.append({"role": "assistant", "content": answered})
    messages.append(
        {"role": "user", "content": f"Article text: {context}\n\nQuestion: {question}"}
    )
    return messages
