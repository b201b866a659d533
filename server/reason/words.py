"""The closed word classes that every stage reads — months, number words, pronouns — kept
once so that ingestion, the question parser, grounding, extraction and the lessons agree
on them. Only English function words live here: nothing drawn from any article.

Each list is a plain set or mapping; the stages compose what they need from them
(a regular expression, a subset) where they use it."""

from __future__ import annotations

import re

MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# Month -> its number, with the abbreviations pages print ("Sept. 4, 2025").
MONTH_NUMBERS: dict[str, int] = (
    {m: n for n, m in enumerate(MONTH_NAMES, 1)}
    | {m[:3]: n for n, m in enumerate(MONTH_NAMES, 1) if m != "may"}
    | {"sept": 9}
)
# Months as a word in running, lower-cased text: "may" is a modal verb far more often
# than a month, so a lower-case "may" marks no date (a capitalised "May" does).
MONTHS = frozenset(MONTH_NAMES) - {"may"}

# Cardinal number words -> their digits (a question's "three" is the article's "3").
CARDINALS: dict[str, str] = {
    w: str(n)
    for n, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "ten", "eleven", "twelve"]
    )
} | {"twenty": "20", "thirty": "30", "forty": "40", "fifty": "50"}  # fmt: skip
MAGNITUDES = frozenset(
    {"hundred", "hundreds", "thousand", "thousands", "million", "millions", "billion",
     "billions", "trillion", "trillions", "dozen", "dozens"}
)  # fmt: skip
# Any word that states a quantity or a rank: a claim holding one must be quoted.
NUMBER_WORDS = frozenset(CARDINALS) | MAGNITUDES | {"first", "second", "third", "half", "percent"}
# A count in digits or words ("For three years, ..."). "one" and "zero" are left out:
# "one of the ...", "zero-shot" are seldom a count.
NUMBER_LIKE = re.compile(
    r"\d|\b("
    + "|".join(sorted((set(CARDINALS) - {"one", "zero"}) | MAGNITUDES, key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)

# Personal and demonstrative pronouns: a sentence or question holding one says its
# subject somewhere else (the sentence or the question before).
PERSONAL = frozenset({"it", "its", "they", "them", "their", "he", "she", "him", "her", "his"})
DEMONSTRATIVES = frozenset({"this", "that", "these", "those", "such"})
SPEAKERS = frozenset({"i", "me", "my", "we", "us", "our", "you", "your"})
# A sentence opening with one of these needs the one before it to be understood.
REFERS_BACK = re.compile(
    r"^(" + "|".join(sorted(PERSONAL | DEMONSTRATIVES, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)

# Function words by class, for where a spoken phrase may be cut (speak/transmit.py) and
# which words a sentence is not finished on (listen/end_of_turn.py).
ARTICLES = frozenset({"a", "an", "the"})
POSSESSIVES = frozenset({"my", "your", "his", "her", "its", "our", "their"})
MODALS = frozenset({"will", "would", "can", "could", "should", "may", "might", "must"})
TO_BE = frozenset({"is", "are", "was", "were"})
CONJUNCTIONS = frozenset({"and", "but", "or", "so", "because", "if"})
RELATIVES = frozenset({"which", "that", "who", "whose"})
PREPOSITIONS = frozenset(
    {"to", "in", "on", "at", "by", "for", "with", "about", "from", "into", "as", "than"}
)
HESITATIONS = frozenset({"um", "uh", "er", "erm", "hmm", "mm", "like"})
