"""Questions written from an article's sentences, without a model: a paragraph -> short
candidate questions (at most 10 words) that its sentences could answer.

Deterministic forms, the most specific first:
    “Avocado” (a frontier LLM) / codenamed “Avocado”  -> What is Avocado?
    "Revenue pressure." (a paragraph's label)           -> What about revenue pressure?
    "Diversify your model dependencies." (advice)       -> Why diversify your model dependencies?
    "Meta's likely approach: keep Llama ..."            -> What is Meta's likely approach?
    "Meta's shift reflects a broader maturation ..."    -> What does Meta's shift reflect?
    "X is significant because ..."                      -> Why is X significant?
    "Training a frontier model costs hundreds ..."      -> How much does training a ... cost?
    a date beside "launch", "expected", "plan"          -> When is Avocado expected to launch?
    "The original plan was to launch ..."               -> What was the original plan?
    "Llama 4's reception was lukewarm."                 -> What about Llama 4's reception?
    a section heading "The Open Source Tension"         -> What is the open source tension?
    a name few paragraphs mention                       -> What about Stability AI?
Candidates are only proposals: `suggest.py` asks each of the tutor's own pipeline and keeps
those it answers well."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from server.reason.answer.extract import DATE_LIKE, is_imperative
from server.reason.index.passages import Passage
from server.reason.query.question import Lexicon
from server.reason.text import STOPWORDS, fold, is_inflected_verb

MAX_WORDS = 10
# Sentences that lean on the one before them say nothing a question can name.
LEANS_BACK = frozenset(
    "this that these those it its they their here there and but so then he she we you if "
    "despite as".split()
)
VERBISH = frozenset(
    "is are was were be been has have had will would can could should do does did may might".split()
)
BASE_VERB = {"reflects": "reflect", "illustrates": "illustrate", "represents": "represent",
             "shows": "show", "indicates": "indicate", "highlights": "highlight"}  # fmt: skip
LAUNCH = {"launch": " to launch", "releas": " to be released"}  # "expected to launch?"
ROLES = {"chief", "officer", "ceo", "cto", "founder", "president", "director", "head", "ai"}
SUBJECT = r"((?:[A-Z][\w.\-]*[’']s |[Tt]he )?(?:[\w\-]+ ){0,4}?[\w\-]+)"


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of an article, rebuilt from its (overlapping) passages."""

    key: tuple[int, int]  # (article id, paragraph index)
    sentences: tuple[str, ...]
    heading: str | None
    opens_section: bool  # the first paragraph under its heading

    @classmethod
    def of(cls, passages: Sequence[Passage]) -> list[Paragraph]:
        found: dict[tuple[int, int], dict[int, str]] = {}
        headings: dict[tuple[int, int], str | None] = {}
        for p in passages:
            if p.is_metadata:
                continue
            key = (p.article_id, p.paragraph)
            headings[key] = p.heading
            for offset, sentence in enumerate(p.sentences):
                found.setdefault(key, {})[p.first_sentence + offset] = sentence
        out: list[Paragraph] = []
        for key in sorted(found):
            previous = out[-1] if out and out[-1].key[0] == key[0] else None
            heading = headings[key]
            opens = heading is not None and (previous is None or previous.heading != heading)
            text = tuple(s for _, s in sorted(found[key].items()))
            out.append(cls(key, text, heading, opens))
        return out


def candidates(paragraph: Paragraph, lexicon: Lexicon) -> list[tuple[str, str]]:
    """(form, question) pairs, the most specific forms first, no question twice."""
    found: list[tuple[int, str, str]] = []
    for position, sentence in enumerate(paragraph.sentences):
        for rank, (form, text) in enumerate(_from_sentence(sentence, position, paragraph, lexicon)):
            found.append((rank, form, text))
    if paragraph.opens_section and paragraph.heading:
        if heading := _from_heading(paragraph.heading, lexicon):
            found.append((50, "heading", heading))
    for name in _rare_names(paragraph, lexicon):
        found.append((60, "name", name))
    out: dict[str, tuple[str, str]] = {}
    for _, form, text in sorted(found, key=lambda f: f[0]):
        text = _tidy(text)
        if text and len(text.split()) <= MAX_WORDS:
            out.setdefault(text.lower(), (form, text))
    return list(out.values())


def _from_sentence(
    sentence: str, position: int, paragraph: Paragraph, lexicon: Lexicon
) -> list[tuple[str, str]]:
    """Questions one sentence answers, in the order of FORMS in the module docstring."""
    out: list[tuple[str, str]] = []
    plain = re.sub(r"\s+[—–][^—–]+[—–]\s+", " ", sentence)  # "X — an aside — reflects"
    first = fold(plain.split()[0]).strip("“\"'(") if plain.split() else ""
    leans = first in LEANS_BACK
    for m in re.finditer(
        r"(?:codenamed|called|named|known as)\s+[“\"]?([A-Z][\w\-]*(?: [A-Z0-9][\w.\-]*)*)"
        r"|[“\"]([A-Z][\w\-]*)[”\"]\s*\((?:a|an) ",
        sentence,
    ):
        out.append(("definition", f"What is {m.group(1) or m.group(2)}?"))
    words_ = sentence.rstrip(".").split()
    if position == 0 and len(paragraph.sentences) > 1 and len(words_) <= 5 and not leans:
        # "Revenue pressure." heads the paragraph that explains it.
        label = _lower(sentence.rstrip("."), lexicon)
        if sentence.endswith("?"):
            pass
        elif is_imperative(sentence):
            out.append(("advice", f"Why {label}?"))
        elif not VERBISH & {fold(w) for w in words_}:
            out.append(("label", f"What about {label}?"))
    if not leans and (m := re.match(r"^([^:,;—–]{3,50}):\s+\S", sentence)):
        topic = m.group(1).strip()
        said = [fold(w) for w in topic.split()]
        if len(said) <= 5 and not any(w in VERBISH or is_inflected_verb(w) for w in said):
            topic = re.sub(r"^My\b", "the author's", topic)
            out.append(("topic", f"What is {_lower(topic, lexicon)}?"))
    if not leans and (m := re.match(rf"^{SUBJECT} ({'|'.join(BASE_VERB)}) ", plain)):
        out.append(
            ("reflects", f"What does {_lower(m.group(1), lexicon)} {BASE_VERB[m.group(2)]}?")
        )
    if not leans and (
        m := re.match(
            r"^([^,;:]{3,70}?) (is|are|was|were) ((?:[\w\-]+ ){0,2}?[\w\-]+) because\b", plain
        )
    ):
        out.append(("reason", f"Why {m.group(2)} {_lower(m.group(1), lexicon)} {m.group(3)}?"))
    if not leans and (m := re.match(r"^([^,;:]{3,50}?) costs? ", plain)):
        out.append(("cost", f"How much does {_lower(m.group(1), lexicon)} cost?"))
    story = " ".join(paragraph.sentences)
    if DATE_LIKE.search(sentence) and re.search(
        r"\b(launch|releas|expect|estimat|plan|delay)", sentence
    ):
        if topic := _topic(sentence, paragraph, lexicon):
            verb = next((v for k, v in LAUNCH.items() if k in story), "")
            out.append(("date", f"When is {topic} expected{verb}?"))
    if not leans and (m := re.match(rf"^The {SUBJECT} (was|is) to ", plain)):
        out.append(("plan", f"What {m.group(2)} the {_lower(m.group(1), lexicon)}?"))
    possessive = re.match(
        r"^([A-Z][\w.\-]*(?: [A-Z0-9][\w.\-]*)?)[’']s ((?:[\w\-]+ ){0,5}?[\w\-]+) "
        r"(is|was|are|were|has been|have been)\b",
        plain,
    )
    if (m := possessive) and m.group(1) in _names(plain, lexicon):
        out.append(("possessive", f"What about {m.group(1)}'s {_lower(m.group(2), lexicon)}?"))
    return out


def _from_heading(heading: str, lexicon: Lexicon) -> str | None:
    """ "Why the Change" -> "Why the change?"; "The Bigger Picture" -> "What is the bigger
    picture?". Other headings ("Enter Avocado") make no question."""
    words_ = heading.strip().rstrip("?").split()
    if not words_ or {fold(w) for w in words_} & (LEANS_BACK - {"and"}):
        return None
    first = fold(words_[0])
    rest = _lower(" ".join(words_[1:]), lexicon)
    if first in ("why", "how", "who", "when", "where", "what") and len(words_) > 1:
        return f"{words_[0].capitalize()} {rest}?"
    if first == "the" and len(words_) > 1:
        return f"What is the {rest}?"
    return None


def _names(sentence: str, lexicon: Lexicon) -> list[str]:
    """Runs of capitalised words (and the numbers after them) in a sentence: "Stability
    AI", "Llama 3.1", "Alexandr Wang". Its first word counts only if the articles write it
    capitalised mid-sentence too (a name, not grammar)."""
    runs: list[list[str]] = [[]]
    for i, raw in enumerate(sentence.split()):
        token = raw.strip("“”\"‘’'()[],.;:!?")
        token = token.removesuffix("’s").removesuffix("'s")
        is_name = bool(token) and token[0].isupper() and fold(token) not in STOPWORDS
        if i == 0 and fold(token) not in lexicon.names:
            is_name = False
        if raw.startswith(("(", "[")) and runs[-1]:
            runs.append([])  # "Labs (MSL)": the abbreviation is a name of its own
        if is_name or (runs[-1] and token[:1].isdigit()):
            runs[-1].append(token)
        elif runs[-1]:
            runs.append([])
        if runs[-1] and (raw != raw.rstrip(',.;:!?)”’"') or raw.endswith(("’s", "'s"))):
            runs.append([])  # punctuation or a possessive ends a name
    return [" ".join(r) for r in runs if r]


def _rare_names(paragraph: Paragraph, lexicon: Lexicon) -> list[str]:
    """ "What about X?" for the names here that few places in the articles mention (a name
    said everywhere, like "Meta", has no one answer; a bare abbreviation, like "APIs", is
    no topic); "Who is X?" for a person named after a title ("Chief AI Officer X Y")."""
    out: list[str] = []
    for sentence in paragraph.sentences:
        for name in _names(sentence, lexicon):
            parts = name.split()
            titled = [i for i, w in enumerate(parts) if fold(w) in ROLES]
            if titled and len(parts) - titled[-1] - 1 == 2:
                out.append(f"Who is {' '.join(parts[titled[-1] + 1 :])}?")
                continue
            if len(parts) == 1 and name[1:] != name[1:].lower():
                continue
            if lexicon.folded_text.count(fold(name)) > 3 or DATE_LIKE.search(name):
                continue
            out.append(f"What about {name}?")
    return out


def _topic(sentence: str, paragraph: Paragraph, lexicon: Lexicon) -> str | None:
    """What a dated sentence is about: a name in it, else in its section heading."""
    for text in (sentence, paragraph.heading or ""):
        names = [n for n in _names(text, lexicon) if not DATE_LIKE.search(n)]
        names = [n for n in names if n.lower() in lexicon.names or " " in n]
        if names:
            return min(names, key=lambda n: lexicon.folded_text.count(fold(n)))
    return None


def _lower(phrase: str, lexicon: Lexicon) -> str:
    """A phrase as it reads mid-sentence: names keep their capitals ("Llama", "AI"),
    other words lose them."""
    out = []
    for word in phrase.split():
        bare = word.strip('“”"()').removesuffix("’s").removesuffix("'s")
        keep = lexicon.names.get(bare.lower()) == bare or any(c.isupper() for c in bare[1:])
        keep = keep or any(c.isdigit() for c in bare)
        out.append(word if keep else word.lower())
    return " ".join(out)


def _tidy(question: str) -> str:
    """Straight apostrophes, no quote marks, one space, a capital and a question mark."""
    text = question.replace("’", "'").replace("‘", "'")
    text = re.sub(r"[“”\"]", "", text)
    text = re.sub(r"\s+", " ", text).strip().rstrip("?.").strip()
    return text[:1].upper() + text[1:] + "?" if text else ""
