"""A sentence as [front,] subject [adverbs] verb rest: what a question is made from.

In: a sentence (whitespace tokens) and the names the articles use (`Facts.known`). Out:
`Clause`s: the sentence less its asides, and each of its clauses ("S V1 — S2 V2", "S V1,
and S2 V2", "NAMES, who V ..."), split at the finite verb. The verb's form decides how a
question is made of it: "has spent" inverts ("How much has Meta spent ...?"), "went"
takes "did" and its base form ("When did Meta go ...?").

No tagger (none installs from PyPI with its model): a verb is an auxiliary, an
irregular past from a table, or a regular -ed/-s form whose base is a common English
word (wordfreq: "paused" -> "pause", "planned" -> "plan"). A clause the rules cannot
split is no clause: it yields no question."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wordfreq import zipf_frequency

from server.lessons.facts import Facts
from server.lessons.spans import Span, closes, core, is_number, name_chunks, name_lists, span_text
from server.reason.ground import OPENERS
from server.reason.text import IRREGULAR_PAST, STOPWORDS
from server.reason.words import DEMONSTRATIVES, PERSONAL, SPEAKERS

AUX = {"is", "are", "was", "were", "has", "have", "had", "will", "would", "can", "could"}
AUX |= {"should", "may", "might", "must", "does", "do", "did"}
NEGATIVE = {f"{a}n{q}t" for a in ("is", "are", "was", "were", "has", "have", "does", "do", "did")
            for q in "’'"} | {"won’t", "won't", "can’t", "can't"}  # fmt: skip
IRREGULAR = {
    "began": "begin", "became": "become", "brought": "bring", "built": "build",
    "bought": "buy", "came": "come", "chose": "choose", "drew": "draw", "fell": "fall",
    "felt": "feel", "found": "find", "gave": "give", "went": "go", "grew": "grow",
    "held": "hold", "kept": "keep", "knew": "know", "led": "lead", "left": "leave",
    "lost": "lose", "made": "make", "meant": "mean", "met": "meet", "paid": "pay",
    "put": "put", "ran": "run", "rose": "rise", "saw": "see", "sold": "sell", "sent": "send",
    "set": "set", "shut": "shut", "spent": "spend", "spoke": "speak", "stood": "stand",
    "struck": "strike", "took": "take", "taught": "teach", "told": "tell", "got": "get",
    "thought": "think", "understood": "understand", "won": "win", "wrote": "write",
    "said": "say", "cut": "cut", "hit": "hit", "let": "let", "cost": "cost",
}  # fmt: skip
# Base forms a plural subject takes ("OpenAI, Google, and Anthropic all keep ...").
BASE_VERBS = {"keep", "make", "use", "want", "need", "build", "run", "offer", "remain"}
BASE_VERBS |= {"become", "give", "take", "have", "say", "see", "get", "go", "plan"}
BASE_VERBS |= {"release", "develop", "require", "hold", "argue", "believe", "continue"}
BASE_VERBS |= {"depend", "rely", "face", "pay", "sell", "win", "lose", "invest", "spend"}
# A question holding one of these needs the sentence before it.
PRONOUNS = (PERSONAL | SPEAKERS | DEMONSTRATIVES) - {"its", "their", "that"}
PRONOUNS |= {"there", "here", "yourself", "themselves", "everyone", "everything", "nobody"}
SUBJECT_NOT = PRONOUNS | {"which", "who", "what", "that", "whether"}
SUBJECT_NOT |= {"something", "someone", "one", "if", "when", "while", "as", "because"}
# A fronted phrase that can go without changing what the clause says ("At LlamaCon in
# April 2025, Meta went ..."); "If you release it for free, ..." cannot.
FRONT_OK = {"at", "in", "on", "for", "by", "during", "after", "before", "since", "despite"}
FRONT_OK |= {"then", "today", "now", "later", "earlier", "last", "next", "under", "over"}
FRONT_OK |= {"following", "throughout", "within", "from", "in", "early", "late"}
DROPPED_ADVERBS = {"all", "both", "also", "then", "even", "so", "now", "still"}
ADVERBS = DROPPED_ADVERBS | {"already", "quietly", "never", "always", "first", "only", "just"}
LEADING = {"and", "but", "so", "yet", "or", "even"}
CLAUSE_WORDS = {"why", "how", "what", "that", "which", "who", "when", "where", "whether", "if"}
CLAUSE_WORDS |= {"because", "since", "although", "though", "while", "unless"}


@dataclass(frozen=True)
class Verb:
    at: int
    lemma: str
    form: str  # aux | past | pres3 | base


@dataclass(frozen=True)
class Clause:
    tokens: list[str]
    front: int  # tokens[:front] are a fronted phrase (0: none)
    start: int  # the subject is tokens[start:verb.at - len(adverbs)]
    subject_end: int
    names: list[Span] | None  # the subject when it is a name or a list of names
    verb: Verb
    end: int  # the clause is tokens[:end]

    @property
    def adverbs(self) -> list[str]:
        return [t for t in self.tokens[self.subject_end : self.verb.at]]

    @property
    def rest(self) -> list[str]:
        return self.tokens[self.verb.at + 1 : self.end]


def lemma(word: str) -> str | None:
    """The base form of an inflected verb ("pushed" -> "push", "makes" -> "make"), or None
    when it is not one. Regular forms are checked against English word frequencies, so
    "paused" gives "pause" and "planned" gives "plan" without a word list."""
    if "-" in word:  # "open-sourced" -> "open-source"
        head, _, tail = word.rpartition("-")
        base = lemma(tail)
        return f"{head}-{base}" if base else None
    if word in IRREGULAR:
        return IRREGULAR[word]
    if word in {"has", "does", "goes"}:
        return {"has": "have", "does": "do", "goes": "go"}[word]

    def known(w: str) -> float:
        return zipf_frequency(w, "en") if len(w) > 2 else 0.0

    if word.endswith("ied") and known(word[:-3] + "y") >= 3:
        return word[:-3] + "y"
    if word.endswith("ed") and len(word) > 3:  # "died" -> "die"
        with_e, bare = word[:-1], word[:-2]
        if known(with_e) >= 2 and known(with_e) >= known(bare) - 1.5:
            return with_e
        if known(bare) >= 3:
            return bare
        if bare[-1] == bare[-2] and known(bare[:-1]) >= 3:
            return bare[:-1]
        return None
    if word.endswith("ies") and known(word[:-3] + "y") >= 3:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        if word.endswith("es") and known(word[:-1]) < 3 and known(word[:-2]) >= 3:
            return word[:-2]
        return word[:-1] if known(word[:-1]) >= 3 else None
    return None


def verb_at(tokens: list[str], i: int, plural: bool) -> Verb | None:
    """The finite verb at tokens[i], if it is one."""
    raw = tokens[i]
    word = core(raw).lower()
    if (
        not raw[:1].islower()
        or closes(raw)
        or word in STOPWORDS - AUX - IRREGULAR.keys()
        or is_number(word)
    ):
        return None
    if word in AUX or word in NEGATIVE:
        return Verb(i, word, "aux")
    if word in IRREGULAR or (word.endswith("ed") and word not in IRREGULAR_PAST):
        base = lemma(word)
        if base is None:
            return None
        if base == word:  # "put", "cost": past after one, present after many
            return Verb(i, base, "base" if plural else "past")
        return Verb(i, base, "past")
    if plural and word in BASE_VERBS:
        return Verb(i, word, "base")
    if word.endswith("s") and (base := lemma(word)) is not None:
        if i + 1 < len(tokens) and _verbish(tokens[i + 1]):
            return None  # "Llama models [changed]": the -s word is a noun
        return Verb(i, base, "pres3")
    return None


def _verbish(token: str) -> bool:
    word = core(token).lower()
    if not token[:1].islower() or word in STOPWORDS - AUX:
        return False
    return word in AUX | NEGATIVE | IRREGULAR.keys() or (
        word.endswith(("ed", "s")) and lemma(word) is not None
    )


def parse(tokens: list[str], facts: Facts) -> Clause | None:
    """[front,] subject [adverbs] verb rest, or None."""
    first = 1 if tokens and core(tokens[0]).lower() in LEADING else 0
    end = len(tokens)
    chunks = name_chunks(tokens, facts.known)
    lists = {group[0].start: group for group in name_lists(tokens, chunks)}
    singles = {s: [Span(s, e, "", span_text(tokens, s, e))] for s, e in chunks}
    starts = [first] + [i + 1 for i in range(first, min(end - 2, 16)) if tokens[i].endswith(",")]
    for start in starts:
        if start > first and core(tokens[first]).lower() not in FRONT_OK:
            break
        names = lists.get(start) or singles.get(start)
        if names and not tokens[names[-1].end - 1].rstrip("“”\"'").endswith(("’s", "'s")):
            subject_end = names[-1].end
            clause = _after_subject(tokens, first, start, subject_end, names, end)
        else:
            clause = None
            for subject_end in range(start + 1, min(start + 9, end)):
                if closes(tokens[subject_end - 1]) and not _possessive(tokens[subject_end - 1]):
                    break
                clause = _after_subject(tokens, first, start, subject_end, None, end)
                if clause:
                    break
        if clause is not None:
            return clause
    return None


def _possessive(token: str) -> bool:
    return token.rstrip("“”\"'").endswith(("’s", "'s"))


def _after_subject(
    tokens: list[str], first: int, start: int, subject_end: int, names: list[Span] | None, end: int
) -> Clause | None:
    head = core(tokens[start]).lower()
    if head in SUBJECT_NOT or head in OPENERS - {"many", "some", "several", "most"}:
        return None
    if names is None and core(tokens[subject_end - 1]).lower() in STOPWORDS:
        return None  # "tens of [billions]": a subject does not end on "of"
    if names is None and any(core(t).lower() in {"that", "which", "who"} for t in
                             tokens[start:subject_end]):  # fmt: skip
        return None
    plural = (names is not None and len(names) > 1) or (
        names is None and core(tokens[subject_end - 1]).endswith("s")
    )
    i = subject_end
    while i < end and _adverb(tokens[i]) and not closes(tokens[i]):
        i += 1
    if i >= end - 1:
        return None
    verb = verb_at(tokens, i, plural)
    if verb is None:
        return None
    return Clause(tokens, start if start > first else 0, start, subject_end, names, verb, end)


def _adverb(token: str) -> bool:
    word = core(token).lower()
    return word in ADVERBS or (word.endswith("ly") and len(word) > 4 and word != "early")


def variants(sentence: str) -> list[list[str]]:
    """The sentence as tokens, less its asides, and its clauses one by one: "S V1 — S2
    V2", "S V1, and S2 V2", "S V1 but V2 ..." (the second verb keeps the subject)."""
    text = re.sub(r"\s*\([^()]*\)", "", sentence)
    if text.count(" — ") == 2:
        left, _, right = text.split(" — ", 2)
        text_no_aside = f"{left} {right}"
    else:
        text_no_aside = text
    out = [text_no_aside.split()]
    for part in re.split(r" — |; |, and (?=[A-Z])|: (?=[A-Z])", text):
        if part != text:
            out.append(part.split())
    # "OpenAI and Anthropic, who have always argued that ...": the names and their clause,
    # and the sentence without it.
    for m in RELATIVE.finditer(text):
        out.append(f"{m.group(1)} {m.group(3)}".split())
        out.append((text[: m.end(1)] + text[m.end() :].removeprefix(",")).split())
    return [v for v in out if len(v) >= 4]


NAME = r"[A-Z][\w.-]*(?: [A-Z0-9][\w.-]*)*"
RELATIVE = re.compile(rf"({NAME}(?:(?:,| and| or|, and|, or) {NAME})*), (who|which) ([^,.;—]+)")
