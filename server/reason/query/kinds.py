"""What kind of answer a question asks for ("date", "number", "name", "entity",
"definition", "advice", "reason", "other"), read off its wording; and the numbered names
it says ("Llama 4"). The query's own reading: the answer path (extract, gate) and the
parser (question) both read it from here."""

from __future__ import annotations

import re

# A numbered name, a version ("Llama 4", "Llama 3.1"): the name and its number.
NUMBERED_NAME = re.compile(r"\b([A-Z][\w-]*) (\d+(?:\.\d+)?)\b")


# "What price will Meta charge ...?" asks "how much".
PRICE = re.compile(
    r"^(?:what|which)(?: is| was| will be| would be|'s|’s)?(?: the)? (?:price|cost|fee|amount)s?\b",
    re.IGNORECASE,
)


# "What did Llama 4 score on the benchmarks?", "what benchmark scores ...": a score is an
# amount, said of what was scored.
SCORE = re.compile(
    r"^(?:(?:what|how) (?:did|does|do|will|would) "
    r"(?:(?!about\b|say\b|think\b|mean\b|with\b)[\w’'.-]+ ){1,4}score\b|"
    r"(?:what|which)(?: \w+)? scores?\b)",
    re.IGNORECASE,
)


# How precise an answer is wanted says nothing of its kind: "exactly how much ..." asks
# "how much".
PRECISION = re.compile(r"^(?:exactly|roughly|approximately|precisely|about|around)\s+(?=how )")


def asks_how_much(question: str) -> bool:
    """Whether a question asks "how much", in those words or others ("exactly how much",
    "what price ...")."""
    q = PRECISION.sub("", question.lower().strip())
    return q.startswith("how much") or bool(PRICE.match(q) or SCORE.match(q))


def answer_type(question: str) -> str:
    q = PRECISION.sub("", question.lower().strip())
    if q.startswith(("when", "what year", "what date", "by when")):
        return "date"
    if q.startswith(("how many", "how long", "how big")) or asks_how_much(q):
        return "number"
    if q.startswith(("who ", "whom", "whose")):
        return "name"
    if re.match(r"^what(?: is| are| was| were|'s|’s) the (?:code)?names? of\b", q):
        return "entity"  # "What are the names of the Llama 4 models?": names, no definition
    if re.match(r"^(what|who) (is|are|was|were) ([\w\s-]{1,40})\?*$", q):
        return "definition"
    if re.search(r"\b(should|ought to|what (can|could) \w+ do|how (can|could|do) (i|we|you))\b", q):
        return "advice"
    if q.startswith("why"):
        return "reason"
    if re.match(
        r"^(which|what) (\w+ ){0,2}(company|companies|firm|lab|labs|unit|team|group|site|"
        r"models?|families|family|alternatives?|organi[sz]ations?)\b",
        q,
    ) or q.startswith("which "):
        return "entity"
    return "other"
