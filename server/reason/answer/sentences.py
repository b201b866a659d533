"""Token stream -> complete sentences, as soon as each one ends.

Used twice: to verify an answer sentence by sentence before anyone sees or hears it, and
to hand each verified sentence to the synthesizer while the LLM writes the next one."""

from __future__ import annotations

import re

# A sentence ends at . ! ? (plus closing quotes) followed by whitespace, or at a blank
# line. "3.1" and "Q1-Q2" never end one: the dot must be followed by a space.
END = re.compile(r"([.!?…]+[\"”’')\]]*)(\s+)|(\n\s*\n)")
MARKDOWN = re.compile(r"(\*\*|__|`|^#+\s*|^\s*[-*•]\s+|^\s*\d+\.\s+)", re.MULTILINE)
LEAD_IN = re.compile(r"^(answer|a|response)\s*:\s*", re.IGNORECASE)


def spoken(text: str) -> str:
    """Strip markdown and labels: answers are read aloud."""
    text = MARKDOWN.sub("", text)
    text = LEAD_IN.sub("", text.strip())
    return re.sub(r"\s+", " ", text).strip()


class SentenceSplitter:
    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: str) -> list[str]:
        self._buffer += piece
        out: list[str] = []
        while True:
            m = END.search(self._buffer)
            if not m:
                return out
            end = m.end(1) if m.group(1) else m.start(3)
            sentence = spoken(self._buffer[:end])
            self._buffer = self._buffer[m.end() :]
            if sentence:
                out.append(sentence)

    @property
    def pending(self) -> str:
        """Text of the sentence still being written."""
        return self._buffer

    def flush(self) -> list[str]:
        rest, self._buffer = spoken(self._buffer), ""
        return [rest] if rest else []
