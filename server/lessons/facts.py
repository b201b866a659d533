"""The facts of a lesson's articles, by kind: what a quiz question asks for and what its
wrong options are made of.

In: the articles' sentences (their dates, amounts and names: spans.py). Out: `Facts`,
which knows
- the kind of each name, from how the articles use it: a person ("Chief AI Officer
  Alexandr Wang", "Zuckerberg wrote"), a model ("Llama 4", "a model called Avocado",
  "Mistral, Qwen, or other open models"), a company ("Google's Gemma", "Stability AI"),
  so a question can say "Who" or "Which company" and a wrong option is another person or
  another company, never a date;
- `distractors()`: other facts of the answer's kind from the same articles.

No tagger: spaCy's models are not on PyPI and NLTK's tagger is a separate download, so
the cues are written out here. They are few and strict on purpose: a name of unknown kind
gets no "Who"/"Which" question rather than a wrong one."""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from server.lessons.spans import (
    QUOTES,
    YEAR,
    Span,
    after_stop,
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
from server.reason.text import fold, terms
from server.reason.words import CARDINALS

# Title words before a person's name ("Chief AI Officer Alexandr Wang").
TITLES = {"ceo", "cto", "cfo", "coo", "officer", "president", "director", "founder"}
TITLES |= {"chairman", "chairwoman", "chief", "head", "minister", "professor", "dr", "mr"}
TITLES |= {"mrs", "ms", "senator", "researcher", "scientist", "engineer", "vp"}
PERSON_VERBS = {"wrote", "said", "says", "argued", "argues", "told", "personally"}
PERSON_VERBS |= {"tweeted", "posted", "believes", "believed", "writes", "explained"}
MODEL_NOUNS = {"model", "models", "llm", "llms", "family", "codename", "codenames"}
MODEL_NOUNS |= {"codenamed", "called", "named", "chatbot", "version", "versions"}
COMPANY_NOUNS = {"company", "companies", "labs", "lab", "startup", "startups", "firm"}
COMPANY_NOUNS |= {"inc", "corp", "ai", "products", "apis", "business", "ecosystem"}
COMPANY_NOUNS |= {"developer", "own", "open", "shift", "spending", "strategy", "models"}
NAME_KINDS = ("person", "company", "model")


@dataclass
class Facts:
    """The names, dates and numbers of a lesson's articles, by kind."""

    known: set[str] = field(default_factory=set)  # capitalised mid-sentence somewhere
    kinds: dict[str, str] = field(default_factory=dict)  # name -> person | company | model
    pool: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # Each fact and the terms of the sentence it stands in: a wrong option must not be
    # the answer to the same question in another sentence.
    context: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, sentences: list[str]) -> Facts:
        facts = cls()
        for s in sentences:
            tokens = s.split()
            for i in range(1, len(tokens)):
                word = core(tokens[i])
                if word[:1].isupper() and not after_stop(tokens, i) and not is_acronym(word):
                    facts.known.add(word)
        votes: dict[str, Counter[str]] = defaultdict(Counter)
        lists: list[list[str]] = []
        for s in sentences:
            tokens = s.split()
            chunks = name_chunks(tokens, facts.known)
            for start, end in chunks:
                for name, kind in _cues(tokens, start, end):
                    votes[name].update([kind] if kind else [])
            lists += [[x.text for x in group] for group in name_lists(tokens, chunks)]
        for name, counted in votes.items():
            ranked = counted.most_common(2)
            if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
                facts.kinds[name] = ranked[0][0]  # a tie ("Mistral": a model? a company?)
            elif ranked:
                facts.kinds[name] = "name"  # ... is no kind

        for name in list(votes):  # "Zuckerberg" is "Mark Zuckerberg"; "Llama 4" a Llama
            if name not in facts.kinds:
                facts.kinds.update(_by_family(name, facts.kinds))
        for group in lists:  # "OpenAI, Google, and Anthropic": one kind for all
            found = {facts.kinds[n] for n in group if n in facts.kinds}
            if len(found) == 1 and (kind := found.pop()) in NAME_KINDS:
                facts.kinds.update({n: kind for n in group if n not in facts.kinds})
        for s in sentences:
            facts._collect(s)
        return facts

    def kind_of(self, name: str) -> str:
        return self.kinds.get(name, "name")

    def _collect(self, sentence: str) -> None:
        tokens = sentence.split()
        found = date_spans(tokens) + number_spans(tokens)
        for start, end in name_chunks(tokens, self.known):
            for name, _ in _cues(tokens, start, end):
                found.append(Span(start, end, self.kind_of(name), name))
        for span in found:
            self.add(span.kind, span.text, sentence)

    def add(self, kind: str, text: str, sentence: str) -> None:
        if text and not is_acronym(text) and fold(text) not in map(fold, self.pool[kind]):
            self.pool[kind].append(text)
            self.context.setdefault(text, set(terms(sentence)))

    def distractors(self, answer: str, kind: str, question: str, n: int = 3) -> list[str]:
        """Up to `n` facts of the answer's kind that are not the answer in other words
        ("2025" for "end of 2025", "Zuckerberg" for "Mark Zuckerberg") and that do not
        answer the same question elsewhere; the closest in shape first."""
        members = re.split(r",? (?:and|or) |, ", answer)
        if kind in NAME_KINDS and len(members) > 1:
            return self._lists(answer, members, kind, n)
        want = set(terms(answer))
        asked = set(terms(question)) - want
        unit = _unit(answer) if kind in ("duration", "count") else None
        out: list[str] = []
        refused = {fold(answer)}
        for candidate in sorted(self.pool.get(kind, []), key=lambda c: _shape_distance(answer, c)):
            near = self.context.get(candidate, set())
            if (
                _overlaps(candidate, [answer, *out])
                or (
                    kind in ("date", "duration", "amount", "count")
                    and _shares_number(answer, candidate)
                )
                or (unit is not None and _unit(candidate) != unit)
            ):
                continue
            if asked and len(asked & near) >= 0.6 * len(asked):
                refused.add(fold(candidate))  # it may answer the same question elsewhere
                continue
            out.append(candidate)
        if kind in ("duration", "count", "amount", "date"):
            # Few numbers of a kind in the articles: the answer's own number, changed.
            for variant in numeric_variants(answer):
                if len(out) < n and fold(variant) not in refused and not _overlaps(variant, out):
                    out.append(variant)
        return out[:n]

    def _lists(self, answer: str, members: list[str], kind: str, n: int) -> list[str]:
        """Wrong options for a list of names ("OpenAI and Anthropic"): lists as long of
        other names of the kind ("Google and Meta"), then the answer with one name
        swapped ("OpenAI and Meta") when the articles name too few others."""
        others: list[str] = []
        for name in self.pool.get(kind, []):
            if not _overlaps(name, [*members, *others]) and "," not in name:
                others.append(name)
        k = len(members)
        groups = [(others[i:] + others[:i])[:k] for i in range(len(others)) if len(others) >= k]
        groups += [[*members[:j], other, *members[j + 1 :]] for other in others for j in range(k)]
        out: list[list[str]] = []
        for group in groups:
            if len(out) < n and set(group) != set(members) and set(group) not in map(set, out):
                out.append(group)
        joiner = "or" if " or " in answer else "and"
        return [
            f"{g[0]} {joiner} {g[1]}" if k == 2 else f"{', '.join(g[:-1])}, {joiner} {g[-1]}"
            for g in out
        ]


def _cues(tokens: list[str], start: int, end: int) -> list[tuple[str, str]]:
    """(name, kind) for a chunk; a title in front is split off ("Chief AI Officer" +
    "Alexandr Wang", a person). Kind "" when nothing tells."""
    words = [core(t) for t in tokens[start:end]]
    titled = [i for i, w in enumerate(words) if w.lower() in TITLES]
    if titled and titled[-1] + 1 < len(words) and _two_caps(words[titled[-1] + 1 :]):
        return [(" ".join(words[titled[-1] + 1 :]), "person")]
    name = span_text(tokens, start, end)
    if is_acronym(name):
        return []
    if any("-" in w and not w.split("-")[-1][:1].isupper() for w in words):
        return []  # "API-accessible": an adjective, not a name
    before = [core(t).lower() for t in tokens[max(0, start - 3) : start]]
    after = [core(t) for t in tokens[end : end + 5]]
    low = [w.lower() for w in after]
    possessive = tokens[end - 1].rstrip(QUOTES).endswith(("’s", "'s"))
    followed = bool(after) and not closes(tokens[end - 1]) and after[0][:1].islower()
    if any(w[:1].isdigit() for w in words[1:]):
        return [(name, "model"), (words[0], "model")]
    if words[-1].lower() in {"ai", "labs", "inc", "corp", "group"} and len(words) > 1:
        return [] if followed else [(name, "company")]  # "Chinese AI [labs]"
    if low[:1] and low[0] in PERSON_VERBS and not possessive:
        return [(name, "person")]
    if possessive and after and (low[0] in COMPANY_NOUNS or after[0][:1].isupper()):
        return [(name, "company")]
    if start > 0 and tokens[start - 1].rstrip(QUOTES).endswith(("’s", "'s")):
        return [(name, "model")]  # "Google's Gemma": a company's product
    if any(w in MODEL_NOUNS for w in before) or (low[:1] and low[0] in MODEL_NOUNS):
        return [(name, "model")]
    if followed and any(w in {"models", "products"} for w in _clause_words(tokens, end, 10)):
        return [(name, "company")]  # "Mistral ... is increasingly offering ... models"
    if low[:2] in (["or", "other"], ["and", "other"]):  # "Mistral, Qwen, or other models"
        if any(w in MODEL_NOUNS for w in low[2:5]):
            return [(name, "model")]
        if any(w in COMPANY_NOUNS - {"models", "ai", "open"} for w in low[2:5]):
            return [(name, "company")]
    return [(name, "")]


def _clause_words(tokens: list[str], start: int, n: int) -> list[str]:
    out = []
    for token in tokens[start : start + n]:
        out.append(core(token).lower())
        if re.search(r"[.;:!?—]$", token):
            break
    return out


def _two_caps(words: list[str]) -> bool:
    return len(words) >= 2 and all(w[:1].isupper() and w.isalpha() for w in words)


def _by_family(name: str, kinds: dict[str, str]) -> dict[str, str]:
    for known, kind in kinds.items():
        parts = known.split()
        if len(parts) > 1 and name in (parts[-1], parts[0]) and kind in ("person", "model"):
            return {name: kind}
    return {}


def _overlaps(candidate: str, chosen: list[str]) -> bool:
    """Whether the candidate is one of `chosen` in other words: "2025" and "end of 2025",
    "Zuckerberg" and "Mark Zuckerberg"."""
    have = set(terms(candidate))
    if not have:
        return True
    for other in chosen:
        their = set(terms(other))
        if fold(other) == fold(candidate) or have <= their or their <= have:
            return True
    return False


def _unit(text: str) -> str | None:
    last = core(text.split()[-1]).lower() if text.split() else ""
    return last.removesuffix("s") if last.isalpha() and not is_number(last) else None


WORD_NUMBERS = [w for w, n in CARDINALS.items() if 1 <= int(n) <= 10]  # in order
MAGNITUDE_SWAPS = {"hundreds": ["thousands", "millions"], "thousands": ["hundreds", "millions"]}
MAGNITUDE_SWAPS |= {"millions": ["thousands", "billions"], "billions": ["millions", "trillions"]}
MAGNITUDE_SWAPS |= {"trillions": ["billions", "millions"]}


def numeric_variants(answer: str) -> list[str]:
    """The answer with its number changed ("two years" -> "four years", "128K tokens" ->
    "256K tokens", "billions" -> "millions", "2025" -> "2024"): wrong options of the very
    same kind when the articles hold too few."""
    words = answer.split()
    for i, word in enumerate(words):
        bare, lower = core(word), core(word).lower()
        swaps: list[str] = []
        if lower in WORD_NUMBERS:
            n = WORD_NUMBERS.index(lower) + 1
            swaps = [WORD_NUMBERS[m - 1] for m in (n + 1, n + 2, n - 1, n + 3) if 2 <= m <= 10]
        elif lower in MAGNITUDE_SWAPS:
            swaps = MAGNITUDE_SWAPS[lower]
        elif m := re.match(r"^(\d+)([A-Za-z%]*)$", bare):
            n, suffix = int(m.group(1)), m.group(2)
            steps = (n - 1, n + 1, n + 2) if YEAR.match(bare) else (n * 2, n // 2, n * 4)
            swaps = [f"{x}{suffix}" for x in steps if x > 1 and x != n]
        if swaps:
            return [" ".join([*words[:i], word.replace(bare, s), *words[i + 1 :]]) for s in swaps]
    return []


def _shares_number(a: str, b: str) -> bool:
    digits = {w for w in re.findall(r"[\w.]+", a) if any(c.isdigit() for c in w)}
    return bool(digits & {w for w in re.findall(r"[\w.]+", b) if any(c.isdigit() for c in w)})


def _shape_distance(a: str, b: str) -> tuple[int, int]:
    """Options that look alike (a year for a year, a quarter for a quarter) first."""

    def shape(x: str) -> str:
        return re.sub(r"[a-z]+", "a", re.sub(r"[A-Z][a-z]*", "A", re.sub(r"\d+", "9", x)))

    return (int(shape(a) != shape(b)), abs(len(a.split()) - len(b.split())))


def shuffled(answer: str, distractors: list[str], seed: str) -> list[str]:
    """The options in an order fixed by the question's text (the same script always shows
    the same order), the answer not always first."""
    options = [answer, *distractors]
    random.Random(hashlib.sha256(seed.encode()).hexdigest()).shuffle(options)
    return options
