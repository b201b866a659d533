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

The parsing is clauses.py's. Rules, not a tagger or the LLM: the LLM is tiny and invents
facts, and no tagger installs from PyPI with its model. So a sentence the rules are unsure
of (a pronoun that needs the sentence before, a clause they cannot split) yields no
question: the quiz has plenty of sentences to choose from, and a wrong question costs
more than a missing one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wordfreq import zipf_frequency

from server.lessons.clauses import (
    CLAUSE_WORDS,
    DROPPED_ADVERBS,
    NEGATIVE,
    PRONOUNS,
    Clause,
    Verb,
    parse,
    variants,
    verb_at,
)
from server.lessons.facts import NAME_KINDS, TITLES, Facts
from server.lessons.spans import (
    Span,
    closes,
    core,
    date_spans,
    is_acronym,
    name_chunks,
    name_lists,
    number_spans,
    span_text,
)
from server.reason.text import IRREGULAR_PAST, STOPWORDS, fold, terms

PP_PREPS = {"to", "from", "on", "with", "about", "into", "for"}
DATE_PREPS = {"in": "When", "on": "When", "at": "When", "during": "When", "by": "When"}
DATE_PREPS |= {"since": "Since when", "until": "Until when"}
MAX_QUESTION_WORDS = 20
COMMON_ZIPF = 4.0  # a word this common in English opens a sentence as a word, not a name
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
    # "The original plan" -> "the original plan"; "Marie Curie", "Einstein" keep theirs.
    common = (len(words) > 1 and words[1][:1].islower()) or first.lower() in STOPWORDS
    common |= len(words) == 1 and zipf_frequency(first.lower(), "en") >= COMMON_ZIPF
    if common and first not in facts.known and not is_acronym(first):
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
