"""Text helpers shared by retrieval, grounding and lessons: sentence splitting and the one
tokenizer (fold, split, drop stopwords, Snowball-stem) used for the index and the checks,
so that "covered", "supported" and "retrieved" all mean the same words."""

from __future__ import annotations

import re
from collections.abc import Container
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from lemminflect import getAllLemmas

from server.reason.words import DEMONSTRATIVES, PERSONAL

# Words that shape a question but carry no topic: "what happened to X" is about X.
QUESTION_WORDS = {
    "happen",
    "happened",
    "happens",
    "tell",
    "explain",
    "describe",
    "know",
    "mean",
    "means",
    "meant",
    "say",
    "says",
    "said",
    "think",
    "thinks",
    "please",
    "like",
    "also",
    "would",
    "could",
    "might",
    "may",
    "must",
    "shall",
    "get",
    "got",
    "one",
    "thing",
    "things",
    "anything",
    "something",
    "someone",
    "article",
    "articles",
    "text",
    "author",
    "according",
    "us",
    "actually",
    "really",
    "well",
    "much",
    "many",
    "way",
    "ok",
    "okay",
    "hey",
    "hi",
    "hello",
    "now",
    "new",
    "kind",
    "sort",
    "lot",
}
# Determiners bm25s's list lacks: "every year", "per the second article" ask nothing.
DETERMINER_WORDS = {"every", "per", "another", "either", "neither"}
STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | QUESTION_WORDS | DETERMINER_WORDS
_STEMMER = Stemmer.Stemmer("english")
WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’')\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")


def fold(text: str) -> str:
    return text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')


def said_in(word: str, known: Container[str]) -> bool:
    """Whether `known` holds a word, said singular or plural ("labs" for "lab", "metas"
    for "meta": a possessive heard without its apostrophe)."""
    return word in known or f"{word}s" in known or (word.endswith("s") and word[:-1] in known)


def words(text: str) -> list[str]:
    """Lower-case words, possessive 's dropped ("meta's" -> "meta"); keeps "3.1", "q1"."""
    out = []
    # "Llama4" (as Whisper often writes it) is "llama 4"; "q1" and "mp3" stay whole.
    text = re.sub(r"(?<=[a-z]{3})(?=\d)", " ", fold(text))
    for w in WORD.findall(text):
        if w.endswith("'s"):
            w = w[:-2]
        out.extend(w.split("'"))
    return [w for w in out if w]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball's stem, of the verb's base form for a form only a verb has: the stemmer
    keeps "led" apart from "leads" and "leading", and a learner who asks "who is leading
    it" must find "led by"."""
    return _STEMMER.stemWord(verb_lemma(word) or word)


def verb_lemma(word: str) -> str | None:
    """The verb a word can only be a form of ("led" -> "lead", "wrote" -> "write"), from
    lemminflect's tables; None for a word that may be something else too ("left",
    "thought") or is its own base form."""
    lemmas = getAllLemmas(word)
    if set(lemmas) == {"VERB"} and len(lemmas["VERB"]) == 1 and lemmas["VERB"][0] != word:
        return lemmas["VERB"][0]
    return None


# Common irregular past forms: like "-ed" words, they say what happened, not to what.
IRREGULAR_PAST = {
    "began",
    "became",
    "brought",
    "built",
    "bought",
    "came",
    "chose",
    "did",
    "drew",
    "fell",
    "felt",
    "found",
    "gave",
    "went",
    "grew",
    "had",
    "held",
    "kept",
    "knew",
    "led",
    "left",
    "lost",
    "made",
    "meant",
    "met",
    "paid",
    "put",
    "ran",
    "rose",
    "saw",
    "sold",
    "sent",
    "set",
    "shut",
    "spent",
    "spoke",
    "stood",
    "struck",
    "took",
    "taught",
    "told",
    "thought",
    "understood",
    "won",
    "wrote",
    "written",
    "begun",
    "chosen",
    "given",
    "gone",
    "grown",
    "known",
    "shown",
    "spoken",
    "taken",
    "seen",
    "done",
    "drawn",
    "fallen",
    "risen",
}


def is_inflected_verb(word: str) -> bool:
    """-ed/-ing forms and irregular pasts: verbs that describe the question's event
    ("received", "suggested") rather than its topic ("tire", "CEO")."""
    return word in IRREGULAR_PAST or (len(word) > 4 and word.endswith(("ed", "ing")))


def query_terms(text: str) -> dict[str, bool]:
    """Query terms (stems) -> whether the word is an inflected verb."""
    out: dict[str, bool] = {}
    for w in words(text):
        if w not in STOPWORDS:
            out[stem(w)] = out.get(stem(w), True) and is_inflected_verb(w)
    return out


def terms(text: str) -> list[str]:
    """Index/query terms: content words, stemmed, in order (duplicates kept)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(paragraph.strip()) if s.strip()]


def is_heading(paragraph: str) -> bool:
    """Scraped headings: short, no sentence punctuation at the end."""
    return len(paragraph.split()) <= 12 and not paragraph.rstrip().endswith(
        (".", "!", ":", ";", "”", '"')
    )


# Words by which a question points back at the last one ("when was it ...?").
ANAPHORA = (PERSONAL | DEMONSTRATIVES | {"there", "then", "one", "ones", "else", "also", "and"}) - {
    "such"
}
