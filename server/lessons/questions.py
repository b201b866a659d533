"""Questions from an article's sentences, by rule.

In: one sentence and the `Facts` of its articles. Out: `Item`s, each a question whose
answer is a span of the sentence, verbatim: a date, an amount, a name, a term or a
reason. The sentence is parsed into [front,] subject [adverbs] verb rest, and the answer
is taken out of it:

    "At LlamaCon in April 2025, Meta went all-in on ..."  -> When did Meta go all-in on ...?
    "Meta has spent billions on AI infrastructure."        -> How much has Meta spent on AI ...?
    "OpenAI, Google, and Anthropic all keep their ..."     -> Which companies keep their ...?
    "... is significant because of the ecosystem ..."      -> Why is ... significant?
    "Meta makes money from ads and social media, not ..."  -> What does Meta make money from?

Rules, not a tagger or the LLM: the LLM is tiny and invents facts, and no tagger installs
from PyPI with its model. So a sentence the rules are unsure of (a pronoun that needs the
sentence before, a clause they cannot split) yields no question: the quiz has plenty of
sentences to choose from, and a wrong question costs more than a missing one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wordfreq import zipf_frequency

from server.lessons.facts import (
    NAME_KINDS,
    Facts,
    Span,
    closes,
    core,
    date_spans,
    is_acronym,
    is_number,
    name_chunks,
    name_lists,
    number_spans,
    span_text,
)
from server.reason.ground import OPENERS
from server.reason.text import IRREGULAR_PAST, STOPWORDS, fold, terms

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
PRONOUNS = {"it", "they", "them", "he", "she", "him", "her", "we", "us", "you", "your"}
PRONOUNS |= {"i", "me", "my", "our", "this", "these", "those", "there", "here"}
PRONOUNS |= {"his", "such", "yourself", "themselves", "everyone", "everything", "nobody"}
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
PP_PREPS = {"to", "from", "on", "with", "about", "into", "for"}
DATE_PREPS = {"in": "When", "on": "When", "at": "When", "during": "When", "by": "When"}
DATE_PREPS |= {"since": "Since when", "until": "Until when"}
MAX_QUESTION_WORDS = 20
WH = {"person": ("Who", "Who"), "company": ("Which company", "Which companies")}
WH |= {"model": ("Which model", "Which models")}
SCORES = {"when": 1.0, "how long": 1.0, "how much": 0.95, "why": 0.9, "who": 0.85}
SCORES |= {"object": 0.85, "led": 0.85, "called": 0.8, "what": 0.75, "role": 0.7}


@dataclass(frozen=True)
class Item:
    question: str
    answer: str  # verbatim from the sentence
    kind: str  # date | duration | amount | count | person | company | model | term | reason
    score: float


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
    if word.endswith("ed") and len(word) > 4:
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
    if not raw[:1].islower() or closes(raw) or word in STOPWORDS - AUX or is_number(word):
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


def generate(sentence: str, facts: Facts) -> list[Item]:
    """Every question the rules can ask of the sentence, best first."""
    items: dict[str, Item] = {}
    for tokens in variants(sentence):
        clause = parse(tokens, facts)
        found = [*_span_questions(tokens, facts)]
        if clause is not None:
            found += _clause_questions(clause, facts)
            found += _coordinated(clause, facts)
        for item in found:
            if _valid(item, sentence) and (
                item.question not in items or items[item.question].score < item.score
            ):
                items[item.question] = item
    return sorted(items.values(), key=lambda x: -x.score)


def _valid(item: Item, sentence: str) -> bool:
    q = item.question
    answer = set(terms(item.answer))
    words = [core(w).lower() for w in q.split()]
    return (
        bool(answer)
        and item.answer in sentence
        and not is_acronym(item.answer)
        and not answer <= set(terms(q))
        and 4 <= len(words) <= MAX_QUESTION_WORDS
        and not any(w in PRONOUNS for w in words)
        and q.count("“") == q.count("”")
        and q.count("(") == q.count(")")
        and ":" not in q
        and " ," not in q
    )


def _coordinated(clause: Clause, facts: Facts) -> list[Item]:
    """ "Google open-sourced Gemma but keeps Gemini proprietary": the second verb, with
    the first one's subject."""
    out: list[Item] = []
    tokens = clause.tokens
    if clause.verb.form == "aux":
        return out  # "will continue to be developed and released": one verb group
    for j in range(clause.verb.at + 2, clause.end - 1):
        if core(tokens[j]).lower() in {"but", "and"} and not closes(tokens[j - 1]):
            plural = clause.names is not None and len(clause.names) > 1
            verb = verb_at(tokens, j + 1, plural)
            if verb is not None:
                moved = [*tokens[: clause.subject_end], *tokens[j + 1 :]]
                shift = clause.subject_end - (j + 1)
                second = Clause(moved, clause.front, clause.start, clause.subject_end,
                                clause.names, Verb(verb.at + shift, verb.lemma, verb.form),
                                clause.end + shift)  # fmt: skip
                first = Clause(tokens, clause.front, clause.start, clause.subject_end,
                               clause.names, clause.verb, j)  # fmt: skip
                out += _clause_questions(second, facts) + _clause_questions(first, facts)
            break
    return out


def _subject(clause: Clause, facts: Facts) -> str:
    words = clause.tokens[clause.start : clause.subject_end]
    first = core(words[0])
    if first not in facts.known and not is_acronym(first):
        words = [words[0][:1].lower() + words[0][1:], *words[1:]]
    return " ".join(words).rstrip(",")


def _ask(clause: Clause, wh: str, rest: list[str], facts: Facts) -> str | None:
    """wh + the clause turned into a question: "When did Meta go all-in on ...?"."""
    verb = clause.tokens[clause.verb.at]
    adverbs = [a for a in clause.adverbs if core(a).lower() not in DROPPED_ADVERBS]
    subject = _subject(clause, facts)
    if clause.verb.form == "aux":
        parts = [wh, core(verb).lower(), subject, *adverbs, *rest]
    else:
        do = {"past": "did", "pres3": "does", "base": "do"}[clause.verb.form]
        parts = [wh, do, subject, *adverbs, clause.verb.lemma, *rest]
    return _sentence(parts)


def _sentence(parts: list[str]) -> str:
    text = " ".join(p for p in parts if p).strip()
    text = re.sub(r"[\s,;:—–-]+$", "", text)
    text = re.sub(r"\s+,", ",", text)
    return text[:1].upper() + text[1:] + "?"


def _clause_rest(clause: Clause) -> list[str]:
    """What follows the verb, less a trailing aside (", highlighting ...", ", not from ...",
    ", while ...") that a question can do without."""
    rest = list(clause.rest)
    for k in range(1, len(rest)):
        nxt = core(rest[k]).lower()
        if rest[k - 1].endswith(",") and (
            nxt in {"not", "while", "which", "who", "whereas", "rather"}
            or (nxt.endswith("ing") and nxt not in {"during", "including"})
        ):
            rest = rest[:k]
            break
    if rest:
        rest[-1] = re.sub(r"[.,;:!?]+$", "", rest[-1])
    return rest


def _clause_questions(clause: Clause, facts: Facts) -> list[Item]:
    out: list[Item] = []
    tokens, rest = clause.tokens, _clause_rest(clause)
    offset = clause.verb.at + 1  # rest[k] is tokens[offset + k]
    negative = clause.tokens[clause.verb.at] in NEGATIVE
    # The subject as the answer: "Which companies keep their best models proprietary?"
    if clause.names and (kind := _names_kind(clause.names, facts)) in NAME_KINDS:
        wh = WH[kind][len(clause.names) > 1]
        verb = tokens[clause.verb.at]
        adverbs = [a for a in clause.adverbs if core(a).lower() not in DROPPED_ADVERBS]
        answer = span_text(tokens, clause.names[0].start, clause.names[-1].end)
        question = _sentence([wh, *adverbs, verb, *rest])
        out.append(Item(question, answer, kind, SCORES["who"]))
    # Dates and durations, in the rest or in the fronted phrase.
    for span in date_spans(tokens[: clause.end]) + number_spans(tokens[: clause.end]):
        prep = core(tokens[span.start - 1]).lower() if span.start else ""
        if span.kind == "date" and prep in DATE_PREPS and not negative:
            wh, kind, label = DATE_PREPS[prep], "date", "when"
        elif span.kind == "duration" and prep == "for" and not negative:
            wh, kind, label = "How long", "duration", "how long"
        else:
            continue
        if span.end <= clause.front:
            kept = rest  # the fronted phrase goes with its date
        elif span.start > clause.verb.at:
            a, b = span.start - 1 - offset, span.end - offset
            kept = rest[:a] + rest[b:]
        else:
            continue
        if question := _ask(clause, wh, kept, facts):
            out.append(Item(question, span.text, kind, SCORES[label]))
    # An amount right after the verb (or its participle): "How much has Meta spent ...?"
    for span in number_spans(rest):
        at = 1 if clause.verb.form == "aux" else 0
        if span.start == at and span.kind in ("amount", "count") and not negative:
            unit = core(rest[span.end - 1]).lower() if span.kind == "count" else ""
            wh = f"How many {unit}" if unit.endswith("s") else "How much"
            kept = rest[: span.start] + rest[span.end :]
            if span.kind == "count" and not unit.endswith("s"):
                continue
            if question := _ask(clause, wh, kept, facts):
                out.append(Item(question, span.text, span.kind, SCORES["how much"]))
    # A reason: "Why is Meta's potential retreat ... significant?"
    low = [core(t).lower() for t in rest]
    if "because" in low and low.index("because") > 0:
        b = low.index("because")
        end = next((k + 1 for k in range(b, len(rest)) if closes(rest[k])), len(rest))
        answer = span_text(rest, b, end)
        if len(answer.split()) <= 14 and (question := _ask(clause, "Why", rest[:b], facts)):
            out.append(Item(question, answer, "reason", SCORES["why"]))
    out += _object_questions(clause, rest, facts)
    return out


def _names_kind(names: list[Span], facts: Facts) -> str:
    kinds = {facts.kind_of(n.text) for n in names}
    return kinds.pop() if len(kinds) == 1 else "name"


def _object_questions(clause: Clause, rest: list[str], facts: Facts) -> list[Item]:
    """A name right after the verb ("What did Google open-source?"), and the last thing
    after a preposition ("What does Meta make money from?")."""
    out: list[Item] = []
    if clause.verb.form == "aux" or not rest:
        return out
    chunks = name_chunks(rest, facts.known)
    groups = {g[0].start: g for g in name_lists(rest, chunks)}
    groups |= {s: [Span(s, e, "", span_text(rest, s, e))] for s, e in chunks if s not in groups}
    first = groups.get(0)
    if first is not None:
        kind = _names_kind(first, facts)
        tail = rest[first[-1].end :]
        closed = closes(rest[first[-1].end - 1]) or not tail
        if kind in NAME_KINDS and (closed or (len(tail) == 1 and tail[0].isalpha())):
            wh = WH[kind][len(first) > 1] if kind != "person" else "Who"
            if question := _ask(clause, wh, tail if not closed else [], facts):
                answer = span_text(rest, 0, first[-1].end)
                out.append(Item(question, answer, kind, SCORES["object"]))
    for k in range(1, len(rest) - 1):
        prep = core(rest[k]).lower()
        if prep not in PP_PREPS or closes(rest[k]):
            continue
        before = rest[:k]
        if any(closes(t) or core(t).lower() in CLAUSE_WORDS for t in before):
            break  # "about why open source is good for ...": not one phrase to ask about
        end = next((j + 1 for j in range(k + 1, len(rest)) if closes(rest[j])), len(rest))
        after = [core(t).lower() for t in rest[end:]]
        if after and after[0] not in {"not", "rather"}:
            continue  # the phrase must close the clause (or a contrast may follow)
        answer = span_text(rest, k + 1, end)
        kind = _answer_kind(rest, k + 1, end, facts)
        if kind is None:
            continue
        wh = WH[kind][0] if kind in ("person", "model", "company") else "What"
        if question := _ask(clause, wh, rest[: k + 1], facts):
            out.append(Item(question, answer, kind, SCORES["what"]))
        break
    return out


def _answer_kind(tokens: list[str], start: int, end: int, facts: Facts) -> str | None:
    """What tokens[start:end] is as an answer, or None if it makes a poor one."""
    text = span_text(tokens, start, end)
    for span in number_spans(tokens) + date_spans(tokens):
        if (span.start, span.end) == (start, end):
            return None if span.kind == "date" else span.kind
    chunks = name_chunks(tokens, facts.known)
    if (start, end) in chunks or any(
        g[0].start == start and g[-1].end == end for g in name_lists(tokens, chunks)
    ):
        kind = facts.kind_of(text)
        return kind if kind in NAME_KINDS else None
    words = [core(t).lower() for t in tokens[start:end]]
    content = [w for w in words if w not in STOPWORDS]
    verbs = [w for w in words if w.endswith(("ing", "ed")) or w in IRREGULAR_PAST]
    if not 1 <= len(words) <= 5 or not content or verbs or set(words) & PRONOUNS:
        return None
    if any(w not in STOPWORDS | {"and", "or"} and not w.isalpha() for w in words):
        return None
    return "term"


def _span_questions(tokens: list[str], facts: Facts) -> list[Item]:
    """Questions that need no clause: "X, led by TITLE Y" (Who leads X?), "a NOUN called
    X" (What is the NOUN called?), "TITLE Y" (Who is the TITLE?)."""
    out: list[Item] = []
    text = " ".join(tokens)
    for m in re.finditer(
        r"(?:^|\s)(?:a|an|the) ((?:[\w-]+ ){0,3}?)(model|company|startup|project|product|"
        r"lab|tool|system|chatbot|assistant|program) (called|named|codenamed) [“\"]?"
        r"([A-Z][\w.-]*(?: [A-Z0-9][\w.-]*)*)",
        text,
    ):
        adjectives, noun, verb, name = m.group(1).strip(), m.group(2), m.group(3), m.group(4)
        kind = facts.kind_of(name) if facts.kind_of(name) in NAME_KINDS else "model"
        if noun in ("company", "startup", "lab"):
            kind = "company"
        words = ["What is the", adjectives, noun, verb]
        out.append(Item(_sentence(words), name.rstrip(".,"), kind, SCORES["called"]))
    for m in re.finditer(
        r"([A-Z][\w]*(?: [A-Z][\w]*)*)(?: \([A-Z]+\))?, (led|founded|run) by "
        r"((?:[A-Z][\w]* )*?)([A-Z][a-z]+ [A-Z][a-z]+)(?=[.,;]|$)",
        text,
    ):
        org, verb, person = m.group(1), m.group(2), m.group(4)
        present = {"led": "leads", "founded": "founded", "run": "runs"}[verb]
        if facts.kind_of(person) == "person" and org.split()[0] in facts.known | {org}:
            org = org if org.split()[0] != "Its" else org
            out.append(Item(f"Who {present} {org}?", person, "person", SCORES["led"]))
    for name, title in _titled(tokens):
        out.append(Item(f"Who is the {title}?", name, "person", SCORES["role"]))
    return out


def _titled(tokens: list[str]) -> list[tuple[str, str]]:
    """(name, title) for "Chief AI Officer Alexandr Wang"."""
    from server.lessons.facts import TITLES

    out = []
    words = [core(t) for t in tokens]
    for i, w in enumerate(words):
        if w.lower() in TITLES and i + 2 < len(words) and w[:1].isupper():
            name = words[i + 1 : i + 3]
            if name[0].lower() in TITLES or any(is_acronym(x) for x in name):
                continue  # "Chief [AI Officer]": the title goes on
            if all(x[:1].isupper() and x.isalpha() for x in name) and not closes(tokens[i]):
                j = i
                while j > 0 and words[j - 1][:1].isupper() and not closes(tokens[j - 1]):
                    j -= 1
                title = " ".join(words[j : i + 1])
                if j > 0 and fold(words[j - 1]) not in {"under", "by", "with"} | STOPWORDS:
                    continue
                out.append((" ".join(name), title))
    return out


def answer_pool(sentences: list[str], facts: Facts) -> None:
    """Add the articles' terms after a preposition ("from [ads and social media]") and
    their reasons ("because of ...") to `facts`: the wrong options of a term or a reason
    question are other terms and reasons of the same articles."""
    for sentence in sentences:
        for tokens in variants(sentence):
            for k in range(len(tokens) - 1):
                if core(tokens[k]).lower() in PP_PREPS | {"in", "at"} and not closes(tokens[k]):
                    end = next(
                        (j + 1 for j in range(k + 1, len(tokens)) if closes(tokens[j])), None
                    )
                    if end and _answer_kind(tokens, k + 1, end, facts) == "term":
                        facts.add("term", span_text(tokens, k + 1, end), sentence)
        for m in re.finditer(r"\bbecause (?:of )?[^,.;:—()]+", sentence):
            if len(m.group().split()) <= 14:
                facts.add("reason", m.group().strip(), sentence)
