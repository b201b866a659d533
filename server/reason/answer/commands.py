"""Spoken and typed commands: a learner's words -> a `Command`, or None for a question.

    "tell me more"            -> more     (the Answerer goes on from the last question)
    "say that again"          -> repeat   (the last answer, verbatim, with its sources)
    "can you say it simpler"  -> simpler  (the shortest verified sentence of the last
                                           answer's sources that carries its main fact)
    "slower please"           -> slower   (the session lengthens the voice's pace)
    "speak faster"            -> faster

Only the whole utterance is a command: politeness and fillers around it ("could you",
"please", "a bit") are dropped first, and what is left must be one of the phrasings below.
So "what is slower inference?" and "how does Meta repeat its strategy" stay questions.

Also here: what a past turn was (`PastTurn`, as the store keeps it), and `simplest`, the
"simpler" reply built from it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from server.engines import speaking_pace
from server.reason import ground
from server.reason.answer.cite import Source
from server.reason.answer.extract import CLAUSE_BREAK
from server.reason.text import fold, sentences, terms, words

Kind = Literal["more", "repeat", "simpler", "slower", "faster"]
SPEED_KINDS: frozenset[str] = frozenset({"slower", "faster"})
SPEED_STEP = 1.25  # each "slower" makes every sound a quarter longer; "faster" undoes one

# "tell me more", as it was matched before commands had their own module (kept: it allows
# what the phrasings below do not, like a bare "more").
MORE = re.compile(
    r"^\W*(ok(ay)?\W+|and\W+|please\W+|can you\W+|could you\W+)*(tell me more|more|go on|"
    r"continue|keep going|what else|anything else|say more|more please|tell me more about "
    r"(it|that|this))\W*(please)?\W*$",
    re.IGNORECASE,
)

# Said around a command without changing it, at its start ...
LEAD = re.compile(
    r"^(ok|okay|so|um+|uh+|er+|hmm+|hey|sorry|excuse me|pardon me|well|now|and|but|oh|"
    r"please|can you|could you|would you|will you|can u|could u|would you mind|"
    r"do you mind|i want you to|id like you to|i would like you to|try to|tutor)\s+"
)
# ... at its end ...
TAIL = re.compile(r"\s+(please|thanks|thank you|for me|now|ok|okay)$")
# ... and anywhere: degree words ("a little slower", "much simpler").
DEGREE = re.compile(r"\b(a little bit|a little|a bit|a tad|bit|little|much|just|way|even)\b")

IT = r"(that|it|this|the answer|your answer|the last (answer|part|bit|sentence|one)|what you said)"
PHRASINGS: dict[Kind, re.Pattern[str]] = {
    "more": re.compile(
        r"(tell me more|tell me more about (it|that|this)|more|say more|go on|continue|"
        r"keep going|what else|anything else)"
    ),
    "repeat": re.compile(
        rf"((say|read|tell me) ({IT} )?(again|once more|one more time)|"
        rf"repeat( {IT}| yourself)?( again| once more)?|"
        r"(again|once more|one more time|come again|say again|pardon|what was that|"
        r"what did you (just )?say|i (didnt|did not) (catch|hear|get) (that|it|you|what you said)))"
    ),
    "simpler": re.compile(
        rf"((say|explain|put|tell me|make|give me) ({IT} )?(more )?"
        r"(simpler|simply|plainly|more plainly|easier|in simpler (terms|words)|"
        r"in plain (english|words|terms)|in easier words)|"
        r"(more )?simpl(er|y)|simplify( it| that| this)?|"
        r"(in )?(simpler|plain|easier) (terms|words|english)|"
        rf"explain {IT} (like|as if) (im|i am) (five|5|a child|a kid)|"
        r"i (dont|do not) (understand|get it|get that)|"
        r"((thats|that is|its|it is) )?too (complicated|complex|hard|difficult))"
    ),
    "slower": re.compile(
        r"((speak|talk|go|read|say (it|that)) (more )?(slower|slowly)|"
        r"(more )?(slower|slowly)|slow (it )?down|not so fast|"
        r"((youre|you are) )?((speaking|talking|going) )?too fast)"
    ),
    "faster": re.compile(
        r"((speak|talk|go|read|say (it|that)) (more )?(faster|quicker|quickly)|"
        r"(faster|quicker|more quickly)|speed (it )?up|hurry( up)?|"
        r"((youre|you are) )?((speaking|talking|going) )?too slow(ly)?)"
    ),
}
ACKNOWLEDGE = {
    ("slower", True): "Okay, I'll speak more slowly.",
    ("slower", False): "This is as slowly as I can speak.",
    ("faster", True): "Okay, I'll speak faster.",
    ("faster", False): "This is as fast as I can speak.",
}


# Whether this turn's "slower"/"faster" changed the pace: the session sets it in the turn's
# own task before the turn runs (server/session/reply.py), so that at the slowest (or fastest) pace
# the reply says it is already there, not "Okay, I'll speak more slowly". Unset (a turn no
# session paces, such as /api/ask): the pace is taken as changed.
PACE_CHANGED: ContextVar[bool] = ContextVar("pace_changed", default=True)


@dataclass(frozen=True)
class Command:
    kind: Kind

    @property
    def changes_speed(self) -> bool:
        return self.kind in SPEED_KINDS


def normalise(text: str) -> str:
    """Lower case, letters and digits only, fillers around the words dropped."""
    text = re.sub(r"['’]", "", fold(text))
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    text = DEGREE.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    previous = None
    while previous != text:
        previous = text
        text = TAIL.sub("", LEAD.sub("", text)).strip()
    return text


def detect(text: str) -> Command | None:
    """The command the learner's words are, or None (a question)."""
    if MORE.match(text):
        return Command("more")
    said = normalise(text)
    if not said or len(said.split()) > 10:
        return None
    for kind, pattern in PHRASINGS.items():
        if pattern.fullmatch(said):
            return Command(kind)
    return None


def adjust_speed(length_scale: float, kind: str) -> tuple[float, str]:
    """The pace after "slower" or "faster" (bounded: `engines.speaking_pace`), and what to
    say about it (at a bound, that it cannot go further)."""
    step = SPEED_STEP if kind == "slower" else 1 / SPEED_STEP
    after = round(speaking_pace(length_scale * step), 3)
    return after, ACKNOWLEDGE[(kind, after != round(speaking_pace(length_scale), 3))]


def acknowledgement(kind: str, changed: bool = True) -> str:
    """What the tutor says to "slower" or "faster" (the session changes the pace; when it
    could not, being at its bound already, that it cannot go further)."""
    return ACKNOWLEDGE[(kind, changed)]


@dataclass(frozen=True)
class PastTurn:
    """A turn as the store keeps it: what was asked, the whole answer, its sources."""

    question: str
    answer: str
    sources: tuple[Source, ...] = ()
    grounded: bool = True

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PastTurn:
        """From a `Store.turns` row."""
        return cls(
            row["question"],
            row["answer"],
            tuple(Source(**s) for s in row.get("sources") or ()),
            bool(row.get("grounded", True)),
        )


def last_content(turns: Iterable[PastTurn]) -> PastTurn | None:
    """The last turn that said something about the articles: "slower" said nothing, so
    "say that again" after it repeats the answer before it."""
    found = None
    for turn in turns:
        command = detect(turn.question)
        if command is None or not command.changes_speed:
            found = turn
    return found


def reply(command: Command, last: PastTurn | None) -> tuple[str, bool, list[Source]]:
    """What the tutor says to "say that again", "simpler", "slower" or "faster" (not
    "more": the Answerer goes on from retrieval): the text, whether it is the articles'
    (grounded), and its sources. `last`: the last answer that said something."""
    if command.changes_speed:
        return acknowledgement(command.kind, PACE_CHANGED.get()), False, []
    if last is None:
        return "Ask me a question about the articles first.", False, []
    if command.kind == "repeat":
        return last.answer, last.grounded, list(last.sources)
    simple = simplest(last)
    if simple is None:
        return "That's as simply as the articles put it.", False, []
    # Its source: the quote it was taken from (`simplest` checked it against them all).
    quoted = [s for s in last.sources if ground.check(simple, s.quote).ok]
    return simple, True, (quoted or list(last.sources))[:1]


def simplest(turn: PastTurn, min_words: int = 4) -> str | None:
    """The shortest verified sentence that carries the main fact of `turn`'s answer: its
    first real sentence (or its sources' sentences), whole or cut to clauses, that
    - the sources support (the grounding check),
    - keeps the names and numbers it says within the main fact's, and at least one of them,
    - keeps as much of the question's topic as the main fact does, or says a name or
      number of the main fact that the question does not,
    - is shorter than the answer.
    None when nothing shorter carries it."""
    quotes = " ".join(s.quote for s in turn.sources)
    if not quotes:
        return None
    evidence = ground.Evidence(quotes)
    said = sentences(turn.answer)
    main = next((s for s in said if len(s.split()) > min_words), said[0] if said else "")
    main_terms = set(terms(main))
    main_claims = {fold(c) for c in ground.claims(main)}
    asked = set(terms(turn.question))
    asked_claims = {fold(c) for c in ground.claims(turn.question)}
    topic = len(asked & main_terms)
    options: set[str] = set()
    for sentence in said + sentences(quotes):
        options.update(clauses(sentence))
    best: tuple[int, str] | None = None
    for option in options:
        size = len(option.split())
        if size < min_words or size >= len(turn.answer.split()):
            continue
        mine = set(terms(option))
        claimed = {fold(c) for c in ground.claims(option)}
        if (main_claims and not claimed & main_claims) or not claimed <= main_claims:
            continue
        if len(mine & main_terms) < min(2, len(main_terms)) or len(mine - main_terms) > 1:
            continue
        # On the question's topic as much as the main fact is, or else saying what the
        # question asked for: a name or number of the main fact that the question does
        # not say ("Led by Chief AI Officer Alexandr Wang." for "Who leads MSL?").
        answers = bool(claimed - asked_claims)
        if (len(asked & mine) < topic and not answers) or not ground.check(option, evidence).ok:
            continue
        if best is None or (size, option) < best:
            best = (size, option)
    return best[1] if best else None


def clauses(sentence: str) -> list[str]:
    """The sentence and every run of its clauses, each written as a sentence."""
    parts = [p.strip() for p in CLAUSE_BREAK.split(sentence) if p.strip()]
    out = [sentence]
    for a in range(len(parts)):
        for b in range(a, len(parts)):
            if (a, b) == (0, len(parts) - 1):
                continue
            text = " ".join(parts[a : b + 1]).strip(" ,;:—–")
            if not words(text):
                continue
            text = text[0].upper() + text[1:]
            out.append(text if text.endswith((".", "!", "?", "”")) else text + ".")
    return out
