"""The coverage decision: do the articles answer this question? Decided here, never by the
LLM.

In: the parsed `Question` and its retrieval `Hit`s. Out: a `Decision` (answer or decline,
the probability, the evidence it weighed, and why).

1. Rules, from what the question asks:
   - a question that names something the articles never mention ("Llama 2", "Scale AI",
     a number they never give) is declined: they cannot say anything about it;
   - so is a "when" / "how many" / "how much" question whose retrieved passages about its
     subject hold no date or number (of what it counts; in a sentence about what it asks)
     ("How many GPUs were used to train Avocado?");
   - a "who founded ..." whose verb the articles never use, and a question for the name
     or title of something ("the name of the data contractor", "which journalist") that
     no retrieved sentence names;
   - a question about an article's details (author, site, date, title, length) that the
     article's details hold is answered: those are facts we have, not a paraphrase;
   - a question nothing in the articles comes close to in meaning is declined, and so is
     one whose words, the articles' names read as "it", come close to nothing they say
     ("How can I tell if an avocado is ripe?": their names in another sense).
2. Otherwise a small logistic model weighs four pieces of evidence:
   - `dense`: the closest article sentence's cosine with the question (meaning: catches
     paraphrase and one misheard word);
   - `coverage`: the IDF-weighted share of the question's words the best passage holds;
   - `unknown`: the IDF-weighted share of its words the articles never use at all
     ("parameters" in "How many parameters does Mango have?": near the topic, not in it);
   - `attribute`: the IDF-weighted share of what the question asks about its names (its
     words that are not the names) said near them: in one sentence with its neighbours
     and heading that holds every name. "What is the context window of Llama 4 Scout?"
     finds "context" in a passage about Llama and Scout in another sentence (coverage
     high), but no sentence says anything about Scout's context window. A near-topic
     question is the articles' names with someone else's question; this is what tells.
   Its coefficients are fitted on our own labelled questions (`tutor eval --fit`,
   tests/data/eval_dev.json) and kept in `gate.json`; `TUTOR_ANSWER_THRESHOLD` moves the
   line. Four features and a fitted line, rather than a hand-set threshold on one score,
   because paraphrase lowers coverage and near-topic questions raise similarity: neither
   alone separates them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from server.reason.answer.extract import answer_bonus, metadata_facet
from server.reason.index.lookup import Hit, Index
from server.reason.query.kinds import NUMBERED_NAME, asks_how_much
from server.reason.query.question import Question
from server.reason.text import fold, said_in, stem, terms, words

MODEL_FILE = Path(__file__).with_name("gate.json")
FEATURES = ("dense", "coverage", "unknown", "attribute")
# No article sentence this close in meaning (cosine, all-MiniLM-L6 int8): the question is
# about something else, whatever words it shares ("How do I make a sourdough starter?",
# 0.24). Off-topic questions score 0.14-0.34; no question of our sets that the articles
# answer, and that the tutor answered, scored under 0.3. A floor, not a feature: the
# fitted line lets shared words outweigh it.
MIN_DENSE = 0.3
# The same floor for what a question asks of the articles' names, both read as "it"
# (`Index.unnamed_dense`): "How can I tell if an avocado is ripe?" is close to every
# sentence about Avocado (0.58) and to nothing the articles say of it (0.17). Questions
# of ours the articles answer scored 0.29 and up; fruit, animals and a benchmark they
# never give, 0.17-0.26. A question naming none of them is read the same way: those the
# articles answer 0.36 and up, "a good recipe for guacamole" 0.15.
MIN_UNNAMED_DENSE = 0.27


# What decided a question, one id per way `Gate.decide` can end (stable: traces, the eval
# and its fit read them; `Decision.reason` says the same in words, with the question's
# particulars).
RULES = (
    "nothing_retrieved",  # no passage shares a word or a meaning with it
    "unknown_entity",  # it names something the articles never mention
    "kind_not_held",  # when / how many, and no date or number about its subject
    "unknown_actor",  # "who founded ...", a verb the articles never use
    "no_name_given",  # the name of something no retrieved sentence names
    "article_details",  # about an article's details, which they hold: answered
    "dense_floor",  # nothing the articles say is close in meaning
    "names_elsewhere",  # their names in another sense, or asked what they never say
    "model_yes",  # the fitted model: answer
    "model_no",  # the fitted model: decline
    "ranker_no",  # TUTOR_READER=ranked: no candidate sentence likely holds the answer
)


@dataclass(frozen=True)
class Decision:
    answerable: bool
    probability: float
    features: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    rule: str = field(kw_only=True)  # one of RULES


@dataclass(frozen=True)
class GateModel:
    weights: dict[str, float]
    bias: float
    note: str = ""

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias + sum(self.weights[f] * features[f] for f in FEATURES)
        return 1 / (1 + math.exp(-z))

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> GateModel:
        raw = json.loads(path.read_text())
        return cls(
            {f: float(raw["weights"][f]) for f in FEATURES}, float(raw["bias"]), raw.get("note", "")
        )

    def save(self, path: Path = MODEL_FILE) -> None:
        path.write_text(
            json.dumps({"weights": self.weights, "bias": self.bias, "note": self.note}, indent=2)
            + "\n"
        )


def pointers(question: Question, index: Index) -> set[str]:
    """The names by which a question may point at an article ("according to the
    stayupdatedwith.ai piece", "Jake Chen says"): not what it is about, unless it asks
    about the article itself."""
    return set() if question.about_article else index.reference_names()


def subjects(question: Question, refs: set[str]) -> list[str]:
    """The question's names (folded) less those that only point at an article."""
    return [fold(e) for e in question.entities if fold(e) not in refs]


def pointing_terms(question: Question, index: Index, refs: set[str]) -> set[str]:
    """The words by which a question points at an article ("according to the second
    article", "per Jake Chen"): how it points, not what it asks. `refs`: `pointers`."""
    return {t for n in refs & index.pointed_names(question) for t in terms(n)}


def features(question: Question, hits: list[Hit], index: Index) -> dict[str, float]:
    refs = pointers(question, index)
    pointing = pointing_terms(question, index, refs)
    weights = {t: w for t, w in index.weights(question).items() if t not in pointing}
    total = sum(weights.values()) or 1.0
    unknown = sum(w for t, w in weights.items() if not index.knows(t)) / total
    coverage = max((h.coverage for h in hits[:3]), default=0.0)
    names = subjects(question, refs)
    named = {t for e in question.entities for t in terms(e)}
    asked = {t: w for t, w in weights.items() if t not in named and t not in VAGUE}
    return {
        "dense": max((h.dense for h in hits), default=0.0),
        "coverage": coverage,
        "unknown": unknown if weights else 1.0,
        "attribute": (
            attribute(asked, names, hits, index, versions(question.search_text))
            if asked
            else coverage
        ),
    }


# Words that ask nothing in particular about a name ("what's that Mythos thing they
# mentioned?", "what is Meta Superintelligence Labs working on?"): left out of what the
# attribute feature looks for beside the name.
VAGUE = {
    stem(w)
    for w in (
        "thing", "things", "stuff", "deal", "mentioned", "mention", "talk", "talked", "say",
        "said", "tell", "happened", "happen", "working", "work", "doing", "know", "explain",
        "describe", "mean", "means", "about", "basically", "really", "actually",
    )
}  # fmt: skip


def attribute(
    asked: dict[str, float],
    names: list[str],
    hits: list[Hit],
    index: Index,
    asked_versions: set[tuple[str, str]] | None = None,
) -> float:
    """The best share of `asked` (weighted) that one retrieved sentence, with its
    neighbours and its heading, holds together with every one of `names`. A neighbour
    about another version of a name asked with its number says nothing of the one
    asked: "Llama 3.1 pushed context length to 128K tokens." is not Llama 4 Scout's
    context window."""
    best = 0.0
    for hit in hits:
        heading = hit.passage.context  # its heading and lead-in: where its subject is said
        heading_terms = set(terms(heading))
        sentences = hit.passage.sentences
        for i in range(len(sentences)):
            # An article's metadata is one short passage about one thing: all one window.
            near = sentences if hit.passage.is_metadata else sentences[max(0, i - 1) : i + 2]
            if asked_versions:
                near = [s for s in near if not other_version(s, asked_versions)]
            window = " ".join(near)
            # Word by word: "Llama4" (as Whisper writes it) is the articles' "Llama 4".
            said = set(words(f"{heading} {window}"))
            # "the Superintelligence Lab" is the articles' Labs.
            if names and not all(said_in(w, said) for n in names for w in words(n)):
                continue
            best = max(best, said_share(asked, set(terms(window)) | heading_terms, index))
    return best


def versions(text: str) -> set[tuple[str, str]]:
    """The numbered names of a text: "Llama 4 Scout" -> {("llama", "4")}."""
    return {(m[1].lower(), m[2]) for m in NUMBERED_NAME.finditer(text)}


def other_version(sentence: str, asked: set[tuple[str, str]]) -> bool:
    """Whether a sentence names a version of an asked name, but not the one asked."""
    said = versions(sentence)
    return not (said & asked) and any(n == name for n, _ in said for name, _ in asked)


def said_share(asked: dict[str, float], held: set[str], index: Index) -> float:
    """The share (weighted) of `asked` that terms `held` say, a term of one root with an
    asked one counting as it ("received" for "reception")."""
    held = held | {t for t in asked if any(same_root(t, h) for h in held)}
    return index.coverage(asked, frozenset(held))


def same_root(a: str, b: str) -> bool:
    """One stem, or stems of one root that the stemmer keeps apart ("receiv" of
    "received", "recept" of "reception"): they share all but two letters of the shorter,
    and at least four."""
    if a == b:  # "year" is "year", however short
        return True
    n = min(len(a), len(b))
    shared = next((i for i in range(n) if a[i] != b[i]), n)
    # Four shared letters are a root only in longer words ("bread" is not "breach").
    return shared >= n - 2 and (shared >= 5 or (shared >= 4 and n >= 6))


# "What's the name of the data contractor that ...", "the title of Zuckerberg's letter":
# the thing whose name is asked for is the last word of the words after "name of" (past
# a determiner or a possessive), up to a function word, a participle or the end.
NAME_OF = re.compile(r"\b(?:names?|titles?|headlines?|codenames?) of ((?:[\w’'.-]+ ?){1,6})", re.I)
# "Which journalist first broke the story?", "Which data contractor did Meta pause its
# collaboration with?" ask for a person's or a party's name, like "the name of". Not
# "which company": the articles' companies are named where they are not called one
# ("Think of it like Red Hat and Linux").
WHICH_PERSON = re.compile(
    r"^\s*(?:which|what)\s+(?:[a-z]+\s+)?(journalist|reporter|person|researcher|engineer|"
    r"executive|founder|investor|analyst|scientist|ceo|official|employee|contractor|startup|"
    r"vendor|partner|provider|outlet|newspaper|university|country|city|lab)s?\b",
    re.IGNORECASE,
)
BOUNDARY = {"that", "which", "who", "whom", "whose", "on", "in", "with", "for", "about", "behind",
            "from", "by", "to", "at", "of", "is", "was", "are", "were", "did", "does", "do",
            "has", "had", "and", "or"}  # fmt: skip
DETERMINERS = {"the", "a", "an", "his", "her", "its", "their", "this", "that", "these", "those"}


# "Who founded Mistral AI?": who did something. The articles cannot say who did what they
# never say anyone did (no form of "found" in them), whatever else they say of Mistral.
WHO_DID = re.compile(
    r"^\s*who\s+(?:first\s+|originally\s+|actually\s+|really\s+|even\s+|just\s+)?"
    r"([a-z]+(?:ed|es|s))\b",
    re.IGNORECASE,
)


def done_by_whom(question: str) -> str | None:
    """The verb of a "who did it" question ("founded"), if it is one."""
    match = WHO_DID.match(question)
    return match.group(1).lower() if match and match.group(1).lower() not in ("was", "is") else None


def named_thing(question: str) -> str | None:
    """The thing whose name a question asks for ("contractor", "letter", "journalist"),
    if it asks for one."""
    if person := WHICH_PERSON.match(question):
        return person.group(1).lower()
    match = NAME_OF.search(question)
    if not match:
        return None
    said = [w for w in re.findall(r"[\w’'.-]+", match.group(1))]
    while said and (said[0].lower() in DETERMINERS or said[0].lower().endswith(("'s", "’s"))):
        said = said[1:]
    thing: list[str] = []
    for w in said[:3]:
        low = w.lower()
        # A name past the thing starts what is said of it: "the data contractor Meta
        # stopped working with".
        if low in BOUNDARY or (thing and (low.endswith(("ed", "ing")) or w[:1].isupper())):
            break
        thing.append(low)
    return thing[-1] if thing else None


NAME_NEAR = 4  # words between the thing and its name: "the Anthropic Mythos situation — a model"


def names_given(thing: str, question: Question, hits: list[Hit]) -> bool:
    """Whether a retrieved sentence names the thing: a name the question does not say
    (capitalised past the sentence's start, or in quotes) within a few words of it. "Meta
    reportedly paused collaboration with a data contractor" says there was one, not its
    name; "The Anthropic Mythos situation — a model restricted ..." names the model."""
    root = terms(thing)
    if not root:
        return True
    asked = set(words(question.search_text))
    for hit in hits:
        for sentence in hit.passage.sentences:
            tokens = sentence.split()
            at = [i for i, t in enumerate(tokens) if root[0] in terms(t)]
            for i in at:
                for j in range(max(0, i - NAME_NEAR), min(len(tokens), i + NAME_NEAR + 1)):
                    token = tokens[j].strip(",;:.()")
                    if j == i or not token:
                        continue
                    quoted = token[0] in '“"‘'
                    capital = j > 0 and token.lstrip('“"‘')[:1].isupper()
                    if (quoted or capital) and not set(words(token)) <= asked:
                        return True
    return False


class Gate:
    def __init__(self, index: Index, threshold: float = 0.5, model: GateModel | None = None):
        self.index = index
        self.threshold = threshold
        self.model = model or GateModel.load()

    def details_say(self, question: Question) -> bool:
        """Whether the details of the article a question names (or of any, when it
        names none) say what it asks: its author, site, date, title, length."""
        facet = metadata_facet(question.search_text)
        if facet is None:
            return False
        named = self.index.referenced_article(question)
        return any(
            p.is_metadata
            and (named is None or p.article_id == named)
            and any(metadata_facet(s) == facet for s in p.sentences)
            for p in self.index.passages
        )

    def asks_nothing_they_say(self, text: str) -> bool:
        """Whether what a question asks of the articles' names is far from all they say:
        it names them ("avocado", "llamas") in another sense, or asks what they never
        tell, or, naming none of them, asks about one of them in another sense
        ("a good recipe for guacamole"). A question that is only a name ("what is
        Avocado?") asks nothing besides."""
        unnamed = self.index.unnamed_dense(text)
        if unnamed is None or unnamed >= MIN_UNNAMED_DENSE:
            return False
        return any(t != "it" for t in terms(self.index.lexicon.without_names(text)))

    def decide(self, question: Question, hits: list[Hit]) -> Decision:
        if not hits:
            return Decision(False, 0.0, {}, "nothing retrieved", rule="nothing_retrieved")
        found = features(question, hits, self.index)
        if question.unknown_entities:
            names = ", ".join(question.unknown_entities)
            return Decision(
                False, 0.0, found, f"the articles never mention {names}", rule="unknown_entity"
            )
        if question.kind in ("date", "number") and not holds_kind(question, hits, self.index):
            return Decision(
                False,
                0.0,
                found,
                f"no {question.kind} about it in the articles",
                rule="kind_not_held",
            )
        if (done := done_by_whom(question.search_text)) and not self.index.knows(stem(done)):
            return Decision(
                False,
                0.0,
                found,
                f"the articles never say who {done} anything",
                rule="unknown_actor",
            )
        thing = None if question.about_article else named_thing(question.search_text)
        if thing and not names_given(thing, question, hits):
            return Decision(
                False,
                0.0,
                found,
                f"the articles give no name for the {thing}",
                rule="no_name_given",
            )
        if question.about_article and self.details_say(question):
            # The article's own details are facts we hold, not a paraphrase to weigh:
            # "What is the headline of Jake Chen's article?" shares few words with
            # "The full title of ... is ...", and needs no model to be answered.
            return Decision(True, 1.0, found, "the article's details", rule="article_details")
        if found["dense"] < MIN_DENSE:
            return Decision(
                False, 0.0, found, "nothing in the articles is close in meaning", rule="dense_floor"
            )
        if self.asks_nothing_they_say(question.search_text):
            return Decision(
                False,
                0.0,
                found,
                "the articles say nothing close of its names",
                rule="names_elsewhere",
            )
        p = self.model.probability(found)
        if p >= self.threshold:
            return Decision(True, p, found, "", rule="model_yes")
        return Decision(False, p, found, "low", rule="model_no")


def holds_kind(question: Question, hits: list[Hit], index: Index) -> bool:
    """Whether a retrieved passage about the question's subject (its names, or else its
    words; the section heading counts) holds the kind of answer asked for; for "how many
    X", a number in a sentence that says X; for "how much", an amount in a sentence that
    says something of what the question asks besides its names ("How much will Meta
    charge per million tokens?" is not answered by what Meta spends on compute)."""
    # "... according to Jake Chen": the author points at an article, and is no subject.
    refs = pointers(question, index)
    names = subjects(question, refs)
    wanted = set(question.terms)
    counted = counted_term(question.search_text) if question.kind == "number" else None
    asked: dict[str, float] = {}
    if question.kind == "number" and asks_how_much(question.search_text):
        named = {t for e in question.entities for t in terms(e)}
        named |= pointing_terms(question, index, refs)
        asked = {t: w for t, w in index.weights(question).items() if t not in named}

    def says_asked(sentence: str) -> bool:
        if not asked:
            return True
        return said_share(asked, set(terms(sentence)), index) >= MIN_ASKED_SHARE

    for hit in hits:
        text = hit.passage.search_text
        about = all(n in fold(text) for n in names) if names else bool(wanted & set(terms(text)))
        sentences = hit.passage.sentences
        if (
            about
            and any(
                answer_bonus(question.kind, s, question.search_text) > 0
                and (counted is None or any(same_root(counted, t) for t in terms(s)))
                # What is asked may be said just before the amount, or be what the passage is
                # about: "The default model is small. It requires about 6 GB of RAM."
                and says_asked(" ".join((hit.passage.context, *sentences[max(0, i - 1) : i + 1])))
                for i, s in enumerate(sentences)
            )
        ):
            return True
    return False


# The share (IDF-weighted) of a how-much question's words, less its names, that the
# sentence with the amount must say: half, so one shared common word ("AI") is not enough.
MIN_ASKED_SHARE = 0.5


def counted_term(question: str) -> str | None:
    """What "how many X" counts (its stem): "How many parameters does Avocado have?" is
    answered only by a number said of parameters, not by any number near Avocado (its
    launch year)."""
    match = re.search(r"\bhow many ([\w-]+)", question, re.IGNORECASE)
    found = terms(match.group(1)) if match else []
    return found[0] if found else None


def fit(rows: list[dict[str, float]], labels: list[bool], l2: float = 0.01) -> GateModel:
    """The coverage model fitted on labelled questions' features (`logistic`)."""
    x = np.array([[1.0] + [r[f] for f in FEATURES] for r in rows])
    w = logistic(x, np.array(labels, dtype=float), l2)
    return GateModel({f: float(v) for f, v in zip(FEATURES, w[1:], strict=True)}, float(w[0]))


def logistic(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Logistic regression by Newton's method (IRLS) with a little L2, the first column of
    `x` the intercept (not shrunk): a few dozen coefficients on thousands of rows converge
    in a handful of steps. numpy only, so the runtime needs no fitting library; the same
    data gives the same weights. Also fits the answer ranker (rank.py)."""
    w = np.zeros(x.shape[1])
    ridge = l2 * np.eye(x.shape[1])
    ridge[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + ridge @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w
