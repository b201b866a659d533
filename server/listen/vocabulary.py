"""Whisper's prompt from the articles' vocabulary.

Whisper conditions on the prompt as if it were the preceding text, so the names it
contains become likely words ("Meta's Chief AI Officer" instead of "met as chief").
A sentence works better than a bare list: with a comma list, Whisper starts answering in
comma lists too (measured: tiny.en turned a robotic "Who is Meta's Chief AI Officer?"
into "and Meta, Chief AI, Officer.")."""

from __future__ import annotations


def whisper_prompt(vocabulary: list[str], limit: int = 40) -> str:
    names = vocabulary[:limit]
    if not names:
        return ""
    if len(names) == 1:
        return f"Questions about {names[0]}."
    return "Questions about " + ", ".join(names[:-1]) + " and " + names[-1] + "."
