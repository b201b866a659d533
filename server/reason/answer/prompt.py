"""The LLM prompt: the best article sentences for the question, the recent turns, the
question.

Kept short on purpose: prompt tokens are most of the time to the first answer token on a
CPU, and a 135M model follows a short instruction better than a long one. The text carries
no labels ("Passage 1:") because small models copy labels into the answer."""

from __future__ import annotations

SYSTEM = (
    "You are a friendly tutor. Answer the learner's question in one or two short sentences, "
    "using only the facts in the article text. Reuse the article's own words, names and "
    "numbers. Plain spoken English: no lists, no markdown."
)


def build_messages(
    question: str, context: str, history: list[tuple[str, str]]
) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM}]
    for asked, answered in history:
        messages.append({"role": "user", "content": asked})
        messages.append({"role": "assistant", "content": answered})
    messages.append({"role": "user", "content": f"Article text: {context}\n\nQuestion: {question}"})
    return messages
