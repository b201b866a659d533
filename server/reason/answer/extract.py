"""Extractive answers: the article's own sentences that best answer a question.

Used when the LLM's answer fails verification (or is too slow for a spoken turn), and to
choose the focused text the LLM is given. Sentences are scored by how much of the
question they cover plus a bonus when they hold the kind of answer the question asks
for: a date for "when", a number for "how many", a name for "who", a definition for
"what is X", advice for "what should", a reason for "why"."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from server.reason.index.lookup import Hit, Index
from server.reason.index.passages import Passage
from server.reason.query.kinds import NUMBERED_NAME
from server.reason.query.question import Question
from server.reason.text import STOPWORDS, terms
from server.reason.words import MONTH_NAMES, NUMBER_LIKE

DENSE_WEIGHT = 0.5
RANK_PENALTY = 0.03
FIRST_WORDS = 25  # the sentence that answers: a name, a date, a number, a definition
TOTAL_WORDS = 40  # with what completes it; "tell me more" goes on from there
VERSION_BONUS = 0.2  # per numbered name of the question ("Llama 4") the sentence says
SAID_LEAD_WORDS = 20  # a list item's lead-in is said before it when no longer than this
ONE_ITEM = 0.3  # the share of a question's words one list item's label holds
FOCUS_DENSE_WEIGHT = 0.25  # a clause's meaning, beside the question's words it holds
# How far below the best sentence one that holds the date (number, name) asked for may
# score and still lead the answer (dev +1, fresh +1 of 45; 0.1 to 0.3 measure the same).
KIND_MARGIN = 0.15
MISSING_ANSWER = 0.5  # a cut that drops the date (number, name) the sentence gives
# Clauses: after a comma, semicolon or colon (not inside "April 8, 2026"), or before a dash.
# A parenthesis stays with what it explains: "“Mango” (a multimedia generator)".
CLAUSE_BREAK = re.compile(r"(?<=[,;:])(?!\s*\d)\s+|\s+(?=[—–])")


def key(passage: Passage) -> tuple[int, int]:
    return (passage.article_id, passage.paragraph)


@dataclass(frozen=True)
class Layout:
    """Paragraphs rebuilt from the index's overlapping passage windows, keyed by
    (article, paragraph): their sentences in order, and their windows in order (the
    first opens the paragraph). Built once per index fingerprint: answers ask for a
    paragraph, the next one, or a list's items several times a turn."""

    fingerprint: str
    sentences: dict[tuple[int, int], tuple[str, ...]]
    windows: dict[tuple[int, int], list[Passage]]
    after: dict[tuple[int, int], tuple[int, int]]  # paragraph -> the next in its article

    @classmethod
    def of(cls, passages: list[Passage], fingerprint: str) -> Layout:
        said: dict[tuple[int, int], dict[int, str]] = {}
        windows: dict[tuple[int, int], list[Passage]] = {}
        for p in passages:
            windows.setdefault(key(p), []).append(p)
            for n, sentence in enumerate(p.sentences):
                said.setdefault(key(p), {})[p.first_sentence + n] = sentence
        for w in windows.values():
            w.sort(key=lambda p: p.first_sentence)
        prose = sorted(k for k, w in windows.items() if not w[0].is_metadata)
        after = {a: b for a, b in zip(prose, prose[1:], strict=False) if a[0] == b[0]}
        return cls(
            fingerprint,
            {k: tuple(s for _, s in sorted(v.items())) for k, v in said.items()},
            windows,
            after,
        )


class Extractor:
    def __init__(self, index: Index) -> None:
        self.index = index
        self._layout = Layout("", {}, {}, {})

    def parsed(self, question: Question | str) -> Question:
        """The question parsed once: callers pass the `Question` they hold; a text (a
        benchmark's, a suggestion's) is parsed here."""
        return question if isinstance(question, Question) else self.index.question(question)

    def widen(self, question: Question | str, hits: list[Hit]) -> list[Hit]:
        """The hits with what an answer may need beyond them: a definition of the term
        asked about, the items of a list a retrieved lead-in introduces, the rest of each
        hit's paragraph (an answer goes on into the next window, and is quoted), and
        after a one-sentence paragraph the paragraph that explains it (`_extend`)."""
        text = self.parsed(question).search_text
        hits = self.with_list_items(self.with_definitions(text, hits))
        layout = self.layout()
        wanted = {key(h.passage) for h in hits}
        for h in hits:
            if len(self.paragraph(h.passage)) == 1 and (after := self.following(h.passage)):
                wanted.add(key(after))
        have = {h.passage.id for h in hits}
        rest = [
            Hit(p, 0.0, 0.0, frozenset())
            for k in wanted
            for p in layout.windows.get(k, ())
            if p.id not in have
        ]
        return hits + sorted(rest, key=lambda h: h.passage.id)  # in the articles' order

    def layout(self) -> Layout:
        """The articles' paragraphs as the index holds them, rebuilt when it changes."""
        if self._layout.fingerprint != self.index.fingerprint:
            self._layout = Layout.of(self.index.passages, self.index.fingerprint)
        return self._layout

    def following(self, passage: Passage) -> Passage | None:
        """The first passage of the paragraph after the passage's, in the same section;
        None when a heading or the article's end comes first."""
        layout = self.layout()
        after = layout.after.get(key(passage))
        first = layout.windows[after][0] if after else None
        return first if first is not None and first.heading == passage.heading else None

    def paragraph(self, passage: Passage) -> tuple[str, ...]:
        """Every sentence of the passage's paragraph, in order (passages are overlapping
        windows of it)."""
        return self.layout().sentences.get(key(passage), passage.sentences)

    def with_list_items(self, hits: list[Hit]) -> list[Hit]:
        """ "Several factors appear to be driving Meta’s shift:" is followed by labelled
        items ("Safety concerns. ...", "Revenue pressure. ..."): their passages join the
        hits, so the answer can name them and quote them."""
        have = {h.passage.id for h in hits}
        extra = [
            Hit(item, 0.0, 0.0, frozenset())
            for hit in hits
            for item in self.list_items(hit.passage)
            if item.id not in have
        ]
        return hits + list({h.passage.id: h for h in extra}.values())

    def list_items(self, passage: Passage) -> list[Passage]:
        """The passages that open each item of the list `passage` introduces: it is one
        sentence ending in a colon, and each following paragraph opens with a short
        label. Empty when it is not such a lead-in, or fewer than two items follow."""
        if len(passage.sentences) != 1 or not passage.sentences[0].endswith(":"):
            return []
        windows = self.layout().windows
        items = []
        paragraph = passage.paragraph + 1
        while (item := windows.get((passage.article_id, paragraph))) and (
            item[0].kind == "item" or is_label(item[0].sentences[0])
        ):
            items.append(item[0])
            paragraph += 1
        return items if len(items) >= 2 else []

    def with_definitions(self, question: str, hits: list[Hit]) -> list[Hit]:
        """For "what is X?", a sentence that defines X ("Avocado (a frontier LLM)") may
        sit in a passage BM25 ranks low; look for one in every passage."""
        term = defined_term(question)
        if term is None:
            return hits
        have = {h.passage.id for h in hits}
        extra = [
            Hit(p, 0.0, 0.0, frozenset())
            for p in self.index.passages
            if p.id not in have and any(definition_bonus(term, s) for s in p.sentences)
        ]
        return hits + extra[:3]

    def candidates(self, question: Question | str, hits: list[Hit]) -> list[tuple[float, int, int]]:
        """Every sentence of the retrieved passages, scored as an answer: (score, hit
        rank, sentence index), best first.

        The score is how much of the question the sentence covers (its section heading
        counts: it is the sentence's context), plus a bonus when it holds the kind of
        answer the question asks for (a date for "when", a name for "who", a definition
        for "what is X", advice for "what should"), less a little for a lower-ranked
        passage or a long sentence."""
        parsed = self.parsed(question)
        question = parsed.search_text
        weights = self.index.weights(parsed)
        want = parsed.kind
        facet = metadata_facet(question) if parsed.about_article else None
        # The article asked about: the one the question names ("the stayupdatedwith.ai
        # article"), else the one whose details retrieval ranked first (its title).
        named = self.index.referenced_article(parsed) if facet else None
        if facet and named is None:
            named = next((h.passage.article_id for h in hits if h.passage.is_metadata), None)
        versions = [m.group(0).lower() for m in NUMBERED_NAME.finditer(question)]
        scored: list[tuple[float, int, int]] = []
        for rank, hit in enumerate(hits):
            heading = set(terms(hit.passage.context))
            items = self.list_items(hit.passage)
            # A question about one item ("Why did the security breach matter?") is
            # answered by that item, not by the list.
            if any(
                self.index.coverage(weights, frozenset(terms(p.sentences[0]))) >= ONE_ITEM
                for p in items
            ):
                items = []
            for i, sentence in enumerate(hit.passage.sentences):
                # A lead-in is read with the labels of the items it introduces.
                said = " ".join([sentence, *(p.sentences[0] for p in items)])
                covered = self.index.coverage(weights, frozenset(set(terms(said)) | heading))
                # Meaning counts as much as shared words: a paraphrased question shares
                # few words with the sentence that answers it.
                dense = hit.sentence_dense[i] if i < len(hit.sentence_dense) else 0.0
                if i < len(hit.context_dense):  # alone and where it stands, equally
                    dense = (dense + hit.context_dense[i]) / 2
                score = (
                    covered
                    + DENSE_WEIGHT * dense
                    + answer_bonus(want, sentence, question)
                    - RANK_PENALTY * rank
                    - 0.002 * len(sentence.split())
                )
                # "Llama 4" is not "Llama": a sentence about the version asked about.
                low = f"{hit.passage.context} {sentence}".lower()
                score += VERSION_BONUS * sum(v in low for v in versions)
                # A short list item or table row ("Bat-Tiny — Licence: Apache-2.0") is
                # the article's own statement, not a label.
                short_fact = hit.passage.kind in ("item", "row") and not sentence.endswith(
                    ("?", ":")
                )
                if lead_in(sentence) and not items and not short_fact:
                    score -= 1.0  # a question, a lead-in or a label is not an answer
                if (
                    facet
                    and hit.passage.is_metadata
                    and hit.passage.article_id == named
                    and metadata_facet(sentence) == facet
                ):
                    # "How does the author describe himself?": its words are the ones a
                    # question about an article uses for framing, so coverage is blind.
                    score += 1.0
                elif facet and hit.passage.is_metadata:
                    score -= 1.0  # another detail, or another article’s
                scored.append((score, rank, i))
        scored.sort(key=lambda c: c[0], reverse=True)
        return scored

    def extractive(
        self,
        question: Question | str,
        hits: list[Hit],
        exclude: frozenset[str] = frozenset(),
        ranked: list[tuple[float, int, int]] | None = None,
    ) -> list[str]:
        """A short answer in the article's words: the best-scoring sentence, cut to the
        clause that answers when it is long (at most FIRST_WORDS words: "Who is Meta's
        Chief AI Officer?" gets "Led by Chief AI Officer Alexandr Wang." rather than the
        whole sentence about Meta Superintelligence Labs), then what completes it from its
        paragraph ("That got delayed. Current estimates put it in Q1-Q2 2026."), up to
        TOTAL_WORDS. If the answer lacks the kind of thing asked for (a date, a name,
        advice...), the best sentence that has it is added. `exclude`: sentences already
        said ("tell me more" continues with the next best). `ranked`: `candidates` of the
        same question and hits, when the caller has them already."""
        parsed = self.parsed(question)
        question = parsed.search_text
        ranked = [
            c
            for c in (self.candidates(parsed, hits) if ranked is None else ranked)
            if not said_before(hits[c[1]].passage.sentences[c[2]], exclude)
        ]
        if not ranked:
            return []
        want = parsed.kind
        ranked = self._kind_first(ranked, hits, question, want)
        best = hits[ranked[0][1]].passage
        if (items := self.list_items(best)) and ranked[0][0] > 0:
            # "Several factors appear to be driving Meta’s shift. Safety concerns.
            # Competitive intelligence. Revenue pressure. The security breach factor.":
            # each its own sentence, as each label is one in the article.
            said = [list_lead_said(best.sentences[0])]
            for item in items:
                # Labels are short; list items may not be: as many as fit, two at least.
                if len(said) > 2 and sum(len(x.split()) for x in said) >= TOTAL_WORDS:
                    break
                said.append(item.sentences[0])
            return said
        chosen = self._extend(best, ranked[0][2], TOTAL_WORDS, exclude, explain=want == "reason")
        if not best.is_metadata:  # its sentences are written short, and a title has colons
            n = _first_long(chosen)
            chosen[n] = focus(chosen[n], question, self.index, want)
        if (lead := item_lead_said(best)) is not None and lead not in chosen:
            chosen.insert(0, lead)
        # A claim followed by the paragraph that explains it answers "why" as it is.
        explained = want == "reason" and len(self.paragraph(best)) == 1 and len(chosen) > 1
        if (
            want != "other"
            and not explained
            and not any(answer_bonus(want, c, question) for c in chosen)
        ):
            for _, rank, i in ranked[1:]:
                sentence = hits[rank].passage.sentences[i]
                if (
                    sentence not in chosen
                    # Not a lead-in or a label ("Revenue pressure."); advice may be short.
                    and not (lead_in(sentence) and not is_imperative(sentence))
                    and answer_bonus(want, sentence, question) > 0
                ):
                    # The answering sentence stays (with its label, if it has one): the
                    # added one completes it, never replaces it.
                    keep = _first_long(chosen) + 1
                    chosen = chosen[:keep] + [focus(sentence, question, self.index, want)]
                    break
        return chosen

    @staticmethod
    def _kind_first(
        ranked: list[tuple[float, int, int]], hits: list[Hit], question: str, want: str
    ) -> list[tuple[float, int, int]]:
        """For a when / how many / who question whose best sentence holds no date (number,
        name), a sentence nearly as good that holds one leads instead: "so when's avocado
        meant to ship" is answered by "The original plan was to launch by end of 2025.
        That got delayed. ...", not by how Avocado is being built with a date after it."""
        if want not in ("date", "number", "name"):
            return ranked

        def says_it(c: tuple[float, int, int]) -> bool:
            sentence = hits[c[1]].passage.sentences[c[2]]
            return answer_bonus(want, sentence, question) > 0 and not lead_in(sentence)

        if says_it(ranked[0]):
            return ranked
        for c in ranked[1:]:
            if c[0] < ranked[0][0] - KIND_MARGIN:
                break
            if says_it(c):
                return [c, *(r for r in ranked if r is not c)]
        return ranked

    def _extend(
        self,
        passage: Passage,
        i: int,
        max_words: int,
        exclude: frozenset[str] = frozenset(),
        *,
        explain: bool = False,
    ) -> list[str]:
        """Sentence `i` of the passage with what completes it from its paragraph (not
        only its passage's window: "Before Llama, ... you had two options: pay OpenAI or
        pay Google." ends one window, and "Llama gave everyone a third option" opens the
        next). `explain` (a why-question): a paragraph of that one sentence states a claim,
        and the next paragraph of its section says why ("... pure open source AI is
        economically unsustainable at the frontier." / "Training a frontier model costs
        hundreds of millions of dollars. ..."): the answer goes on into it."""
        paragraph = self.paragraph(passage)
        if explain and len(paragraph) == 1 and (after := self.following(passage)):
            paragraph = paragraph + self.paragraph(after)
        i += passage.first_sentence
        chosen = [paragraph[i]]
        # A label ("Revenue pressure.") comes with its sentence, and so does what a
        # sentence points back to: "That’s where you should be investing your effort."
        # says where only after "the value shifts to domain-specific fine-tuning".
        if i > 0 and (len(paragraph[i - 1].split()) <= 6 or POINTS_BACK.match(chosen[0])):
            chosen.insert(0, paragraph[i - 1])
        budget = max_words - min(FIRST_WORDS, sum(len(c.split()) for c in chosen))
        for nxt in paragraph[i + 1 :]:
            if len(nxt.split()) > budget or said_before(nxt, exclude) or len(chosen) >= 3:
                break
            chosen.append(nxt)
            budget -= len(nxt.split())
        return chosen

    def llm_context(
        self,
        question: Question | str,
        hits: list[Hit],
        max_words: int = 80,
        ranked: list[tuple[float, int, int]] | None = None,
    ) -> str:
        """What the LLM sees: the two best answer sentences, each with what follows it.
        Focused text helps a 135M model more than whole passages, and a short prompt is
        a fast first token. `ranked`: `candidates` of the same question and hits, when
        the caller has them already."""
        ranked = self.candidates(question, hits) if ranked is None else ranked
        picked: list[str] = []
        for _, rank, i in ranked[:4]:
            for sentence in self._extend(hits[rank].passage, i, 45):
                if sentence not in picked:
                    picked.append(sentence)
            if sum(len(x.split()) for x in picked) >= max_words or len(picked) >= 4:
                break
        return " ".join(picked)


POINTS_BACK = re.compile(r"(That|This|These|Those|Such)\b(?![-\w])|(It|They)(’s|'s| is| are)\b")
DATE_LIKE = re.compile(
    r"\b((19|20)\d{2}|Q[1-4]|"
    + "|".join(m.capitalize() for m in MONTH_NAMES)
    + r"|yesterday|today|next (year|month|quarter)|last (year|month))\b"
)
NAME_LIKE = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+ [A-Z][a-z]+")


IMPERATIVE_NEXT = {
    "your",
    "the",
    "a",
    "an",
    "for",
    "on",
    "to",
    "with",
    "what",
    "how",
    "it",
    "them",
    "out",
    "up",
    "about",
}
REASON_WORDS = re.compile(
    r"\b(because|reasons?|driv(e|es|ing)|due to|pressure|concerns?|"
    r"so that|in order to)\b",
    re.IGNORECASE,
)


def is_imperative(sentence: str) -> bool:
    """ "Diversify your model dependencies.": a bare verb, then an object word."""
    parts = sentence.split()
    return (
        len(parts) >= 2
        and parts[0][:1].isupper()
        and parts[0].lower() not in STOPWORDS
        and parts[1].lower() in IMPERATIVE_NEXT
    )


def answer_bonus(want: str, sentence: str, question: str) -> float:
    if want == "advice" and (is_imperative(sentence) or " should " in sentence):
        return 0.45  # "what should I do" is answered by advice, whatever words it uses
    if want == "reason" and REASON_WORDS.search(sentence):
        return 0.1
    if want == "date" and DATE_LIKE.search(sentence):
        return 0.2
    if want == "number" and NUMBER_LIKE.search(sentence):
        return 0.2
    if want == "name" and NAME_LIKE.search(sentence):
        return 0.2
    if want == "entity" and new_name(sentence, question):
        return 0.15  # "which company ..." is answered by a name the question doesn't say
    if want == "definition" and (term := defined_term(question)):
        return definition_bonus(term, sentence)
    return 0.0


# What a question about an article asks for, and the metadata sentence that says it
# (passages.metadata_passage writes them), checked in this order.
FACETS = (
    ("bio", r"describ|\bbio\b|background|about the (author|writer)|who is the (author|writer)"),
    ("reading", r"\bto read\b|read(ing)? time|takes about \d+ minutes"),
    ("updated", r"\bupdated\b"),
    ("length", r"how many words|word count|words long|how long is"),
    ("title", r"title|headline|called"),
    (
        "byline",
        r"wr[io]te|written|author|writer|credit|by whom|byline|publish|posted|site|\bside\b|"
        r"when|date",
    ),
)


def metadata_facet(text: str) -> str | None:
    """Which facet of an article a question asks about, or a metadata sentence says."""
    low = text.lower()
    return next((name for name, cue in FACETS if re.search(cue, low)), None)


def new_name(sentence: str, question: str) -> bool:
    """Whether the sentence names something (a capitalised word past its first) that the
    question does not."""
    asked = {w.lower() for w in re.findall(r"[\w’'-]+", question)}
    names = re.findall(r"(?<=\s)[“\"(]?([A-Z][\w-]+)", sentence)
    return any(n.lower().removesuffix("’s") not in asked for n in names)


def defined_term(question: str) -> str | None:
    m = re.match(
        r"^(?:what|who) (?:is|are|was|were) (?:an? |the )?([\w\s.-]{1,40}?)\s*\?*$",
        question.strip(),
        re.IGNORECASE,
    )
    return m.group(1).strip() if m else None


def definition_bonus(term: str, sentence: str) -> float:
    """'X (a ...)', 'X, a ...', 'X is a ...' define X; 'codenamed X' names it."""
    x = re.escape(term)
    if re.search(
        rf"\b{x}[”\"’]?\s*(\(an? |, an? |, the |is an? |are |was an? )", sentence, re.IGNORECASE
    ):
        return 0.5
    if re.search(rf"(codenamed|called|named|known as)\s*[“\"]?{x}\b", sentence, re.IGNORECASE):
        return 0.15
    return 0.0


def said_before(sentence: str, said: frozenset[str]) -> bool:
    """Whether an article sentence was said already, whole or cut to a clause."""
    if not said:
        return False
    text = sentence.lower()
    return any(s.lower().rstrip(".") in text if len(s.split()) > 2 else s == sentence for s in said)


def is_label(sentence: str) -> bool:
    """A list item's label: "Revenue pressure." or "The security breach factor."""
    return sentence.endswith(".") and len(sentence.split()) <= 5


def lead_in(sentence: str) -> bool:
    """A question, a lead-in ("Several factors appear to be driving Meta’s shift:") or a
    label ("The security breach factor."): never an answer by itself."""
    return sentence.endswith(("?", ":")) or len(sentence.split()) < 5


def _first_long(chosen: list[str]) -> int:
    """The answering sentence: the first that is not a short label ("Revenue pressure.")."""
    for n, sentence in enumerate(chosen):
        if len(sentence.split()) > 4:
            return n
    return 0


def whole_parentheses(parts: list[str]) -> list[str]:
    """Clauses with a parenthesis never cut inside it: "the benefits of open source
    (ecosystem, talent, goodwill)" is one clause, not "(ecosystem," and "talent,"."""
    merged: list[str] = []
    for part in parts:
        if merged and merged[-1].count("(") > merged[-1].count(")"):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged


def openings(passages: Iterable[Passage]) -> Iterator[str]:
    """The sentences an extractive answer may start with, as `extractive` says them: each
    sentence of the articles; a long one also from each of its clauses on (`focus` may
    cut it there); a list's lead-in as a sentence of its own; an item's lead-in. The voice
    prepares the first words of each (`server/speak/cache.py`)."""
    for passage in passages:
        if (lead := item_lead_said(passage)) is not None:
            yield lead
        for n, sentence in enumerate(passage.sentences):
            yield sentence
            if n == 0 and sentence.endswith(":"):
                yield list_lead_said(sentence)
            if passage.is_metadata or len(sentence.split()) <= FIRST_WORDS:
                continue
            parts = clauses(sentence)
            for a in range(1, len(parts)):
                text = clause_said(" ".join(parts[a:]))
                if text and not lead_in(text):
                    yield text


def clauses(sentence: str) -> list[str]:
    """A sentence's clauses (CLAUSE_BREAK), never cut inside a parenthesis."""
    return whole_parentheses([p for p in CLAUSE_BREAK.split(sentence) if p.strip()])


def clause_said(text: str) -> str:
    """A run of clauses said as a sentence of its own: without the punctuation at its
    edges, its first letter a capital."""
    text = text.strip().strip(",;:—– ")
    return text[:1].upper() + text[1:]


def list_lead_said(sentence: str) -> str:
    """A list's lead-in ("Several factors appear to be driving Meta’s shift:") said as a
    sentence before its items."""
    return sentence.removesuffix(":") + "."


def item_lead_said(passage: Passage) -> str | None:
    """A list item's lead-in as the answer says it first: "Supports a context length of
    64k tokens." says whose only after "Owlserve 2.0 brings these changes." (a sentence
    of its own, to be cited); None when the item has none that is one quoted sentence
    of 4-SAID_LEAD_WORDS words."""
    if passage.kind != "item" or not passage.lead or passage.lead_at is None:
        return None
    lead = passage.lead[:-1] + "." if passage.lead.endswith(":") else passage.lead
    return lead if 3 < len(lead.split()) <= SAID_LEAD_WORDS else None


def focus(sentence: str, question: str, index: Index, want: str) -> str:
    """A long sentence cut to its clauses that answer the question (at most FIRST_WORDS
    words), in the article's words; a short one as it is.

    A run of clauses scores by the question's words it holds and by its meaning (its
    cosine with the question: "what do OpenAI and Anthropic say frontier models need" is
    answered by "who have always argued that frontier models require controlled
    release", which shares two words with it). When the sentence holds the kind of
    thing asked for (the date of "when"), a cut that drops it is no answer."""
    if len(sentence.split()) <= FIRST_WORDS:
        return sentence
    parts = clauses(sentence)
    weights = index.weights(question)
    spans = [
        text
        for a in range(len(parts))
        for b in range(a, len(parts))
        if len((text := " ".join(parts[a : b + 1])).split()) <= FIRST_WORDS
        and not lead_in(text)  # "My bet:" is what introduces the answer
    ]
    dense = [0.0] * len(spans)
    if spans and index.embedder is not None:
        vectors = index.embedder.encode([question, *spans])
        dense = [float(v @ vectors[0]) for v in vectors[1:]]
    must_hold = answer_bonus(want, sentence, question) > 0
    best: tuple[float, str] | None = None
    for text, meaning in zip(spans, dense, strict=True):
        bonus = answer_bonus(want, text, question)
        score = (
            index.coverage(weights, frozenset(terms(text)))
            + FOCUS_DENSE_WEIGHT * meaning
            + bonus
            - (MISSING_ANSWER if must_hold and bonus <= 0 else 0.0)
            + 0.01 * len(text.split())  # of equals, the fuller clause
        )
        if best is None or score > best[0]:
            best = (score, text)
    if best is None:
        return " ".join(sentence.split()[:FIRST_WORDS]).rstrip(",;:—–") + "."
    text = clause_said(best[1])
    return text if text.endswith((".", "!", "?", "”")) else text + "."
