"""Spans of a sentence that a quiz question can ask for: dates, amounts, names.

In: a sentence as whitespace tokens (punctuation stays on its word, as written). Out:
`Span`s, token ranges with their text as written less closing punctuation:
- dates: a year, a month or quarter with its year, with the words that lead it
  ("in [early 2026]", "by [end of 2025]");
- amounts, counts, durations: "hundreds of millions of dollars", "128K tokens", "two
  years" (a number right after a name is a version: "Llama 3.1");
- names: runs of capitalised words ("Meta Superintelligence Labs", "Llama 3.1") and
  coordinated names ("OpenAI, Google, and Anthropic").

Tokens, not characters, so that every span is a run of the sentence's own words and an
answer made from one always stands in the sentence verbatim."""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.reason.ground import OPENERS
from server.reason.text import STOPWORDS
from server.reason.words import MONTHS, NUMBER_WORDS

QUOTES = "“”\"'‘’"
TRAIL = re.compile(r"[.,;:!?)\]—–]+$")
YEAR = re.compile(r"^(19|20)\d{2}$")
QUARTER = re.compile(r"^Q[1-4](-Q[1-4])?$")
# Words before a date that belong to it: "[early] 2026", "[end of] 2025".
DATE_LEADS = {"early", "late", "mid", "end", "start", "beginning", "middle", "spring", "summer"}
DATE_LEADS |= {"autumn", "fall", "winter", "the"}
# A number's magnitude words and the words that lead an amount ("[about] 300", "[tens] of").
MAGNITUDES = {"hundred", "hundreds", "thousand", "thousands", "million", "millions"}
MAGNITUDES |= {"billion", "billions", "trillion", "trillions", "tens", "dozens", "percent"}
COUNTS = (NUMBER_WORDS - {"first", "second", "third", "half", "percent"}) | {"tens"}
DURATION_UNITS = {"years", "year", "months", "month", "weeks", "week", "days", "day"}
DURATION_UNITS |= {"decades", "decade", "hours", "hour"}
MONEY_UNITS = {"dollars", "euros", "pounds", "$", "€", "£"}


def core(token: str) -> str:
    """A token without its punctuation, quotes or possessive."""
    token = TRAIL.sub("", token.strip(QUOTES + "(["))
    return token.strip(QUOTES).removesuffix("’s").removesuffix("'s")


def closes(token: str) -> bool:
    """Whether the token ends a phrase (punctuation after it, or a possessive)."""
    bare = token.rstrip(QUOTES)
    return bool(TRAIL.search(bare)) or bare.endswith(("’s", "'s")) or token.endswith(")")


def is_date_word(word: str) -> bool:
    return bool(YEAR.match(word) or QUARTER.match(word)) or word.lower() in MONTHS


def is_number(word: str) -> bool:
    return any(c.isdigit() for c in word) or word.lower() in COUNTS | MAGNITUDES


def is_acronym(word: str) -> bool:
    """ "AI", "MSL", "APIs": letters that stand for a term, not a content term."""
    bare = word.removesuffix("s")
    return bare.isupper() and len(bare) <= 4


@dataclass(frozen=True)
class Span:
    start: int  # token indices, end exclusive
    end: int
    kind: str  # date | duration | amount | count | person | company | model | name
    text: str  # as written, without closing punctuation


def span_text(tokens: list[str], start: int, end: int) -> str:
    text = " ".join(tokens[start:end])
    text = TRAIL.sub("", text.rstrip(QUOTES)).strip()
    if text.count("(") > text.count(")"):
        text = text.rsplit("(", 1)[0].strip()
    return text.strip(QUOTES).removesuffix("’s").removesuffix("'s").strip()


def date_spans(tokens: list[str]) -> list[Span]:
    """Dates: a year, a month or quarter with its year, with the words that lead it."""
    out: list[Span] = []
    i = 0
    while i < len(tokens):
        word = core(tokens[i])
        if not is_date_word(word) or (word.lower() == "may" and not _year_at(tokens, i + 1)):
            i += 1
            continue
        start, end = i, i + 1
        while end < len(tokens) and not closes(tokens[end - 1]) and _date_part(tokens[end]):
            end += 1
        if not any(YEAR.match(core(t)) for t in tokens[start:end]) and end - start == 1:
            if word.lower() not in MONTHS:
                i = end
                continue
        while start > 0 and not closes(tokens[start - 1]):
            lead = core(tokens[start - 1]).lower()
            if lead in DATE_LEADS or (lead == "of" and start > 1):
                start -= 1
            else:
                break
        while start < i and core(tokens[start]).lower() in {"of", "the"}:
            start += 1
        out.append(Span(start, end, "date", span_text(tokens, start, end)))
        i = end
    return out


def _year_at(tokens: list[str], i: int) -> bool:
    return i < len(tokens) and bool(YEAR.match(core(tokens[i])))


def _date_part(token: str) -> bool:
    word = core(token)
    return is_date_word(word) or bool(re.match(r"^\d{1,2},?$", token))


def number_spans(tokens: list[str]) -> list[Span]:
    """Amounts, counts and durations: "hundreds of millions of dollars", "128K tokens",
    "two years". Ordinals and dates are not amounts."""
    out: list[Span] = []
    i = 0
    while i < len(tokens):
        word = core(tokens[i]).lower()
        if not is_number(word) or is_date_word(core(tokens[i])) or "." in word[:1]:
            i += 1
            continue
        if (
            re.search(r"\d", word)
            and re.search(r"[a-z]{2}", word)
            and not re.match(r"^\d+(\.\d+)?[kmb]$", word)
        ):
            i += 1  # "Q1", "3.1"-like version names inside "Llama 3.1" are not amounts
            continue
        start, end = i, i + 1
        while end < len(tokens) and not closes(tokens[end - 1]):
            nxt = core(tokens[end]).lower()
            if nxt in MAGNITUDES or (nxt == "of" and end + 1 < len(tokens)):
                end += 1
            else:
                break
        if core(tokens[end - 1]).lower() == "of":
            end -= 1  # "thousands of companies": the unit follows
        unit = None
        if end + 1 < len(tokens) and not closes(tokens[end - 1]) and tokens[end] == "of":
            end += 1  # "hundreds of millions [of] dollars"
        if end < len(tokens) and not closes(tokens[end - 1]):
            nxt = core(tokens[end]).lower()
            if nxt.isalpha() and nxt not in STOPWORDS and not tokens[end][:1].isupper():
                unit, end = nxt, end + 1
            elif tokens[end - 1] == "of":
                end -= 1
        if start > 0 and core(tokens[start - 1]).lower() in {"$", "€", "£"}:
            start -= 1
        if _is_version(tokens, start):
            i = end
            continue
        kind = "count"
        if unit in DURATION_UNITS:
            kind = "duration"
        elif unit in MONEY_UNITS or (unit is None and word in MAGNITUDES) or "$" in tokens[start]:
            kind = "amount"
        out.append(Span(start, end, kind, span_text(tokens, start, end)))
        i = end
    return out


def _is_version(tokens: list[str], i: int) -> bool:
    """ "Llama 4", "Llama 3.1": a number right after a name is part of the name ("For
    three years" is not)."""
    if i == 0 or closes(tokens[i - 1]):
        return False
    before = core(tokens[i - 1])
    return before[:1].isupper() and before.lower() not in STOPWORDS | OPENERS


def name_chunks(tokens: list[str], known: set[str]) -> list[tuple[int, int]]:
    """Runs of capitalised words (with a version number: "Llama 3.1"), past a sentence's
    first word unless that word is a name elsewhere in the articles (`known`)."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if not _cap(tokens, i, known):
            i += 1
            continue
        end = i + 1
        while end < len(tokens) and not closes(tokens[end - 1]):
            word = core(tokens[end])
            if _cap(tokens, end, known) or (word[:1].isdigit() and not YEAR.match(word)):
                end += 1
            else:
                break
        out.append((i, end))
        i = end
    return out


def _cap(tokens: list[str], i: int, known: set[str]) -> bool:
    word = core(tokens[i])
    if not word[:1].isupper() or is_date_word(word) or word.lower() in {"i", "q"}:
        return False
    if tokens[i].startswith("("):
        return False  # "(MSL)" glosses the name before it
    if i == 0 or after_stop(tokens, i):
        return word in known and word.lower() not in STOPWORDS | OPENERS
    return True


def after_stop(tokens: list[str], i: int) -> bool:
    return tokens[i - 1].rstrip(QUOTES).endswith((".", ":", "!", "?"))


def name_lists(tokens: list[str], chunks: list[tuple[int, int]]) -> list[list[Span]]:
    """Coordinated names: "OpenAI, Google, and Anthropic", "Scout and Maverick"."""
    out: list[list[Span]] = []
    group: list[tuple[int, int]] = []
    for chunk in chunks:
        if group and _joined(tokens, group[-1][1], chunk[0]):
            group.append(chunk)
            continue
        if len(group) > 1:
            out.append([Span(s, e, "", span_text(tokens, s, e)) for s, e in group])
        group = [chunk]
    if len(group) > 1:
        out.append([Span(s, e, "", span_text(tokens, s, e)) for s, e in group])
    return out


def _joined(tokens: list[str], end: int, start: int) -> bool:
    between = [core(t).lower() for t in tokens[end:start]]
    last = tokens[end - 1].rstrip(QUOTES)
    if between == [] and last.endswith(","):
        return True
    return between in (["and"], ["or"]) and (not closes(tokens[end - 1]) or last.endswith(","))
