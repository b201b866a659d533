"""A question, parsed once: what retrieval, the coverage decision and extraction all need.

In: the learner's words (typed, or a speech-recognition transcript) and the `Lexicon` of
the articles. Out: a `Question` with
- `search_text`: the words with likely mishearings put back in the articles' spelling
  ("avacado" -> "Avocado", "lama four" -> "Llama 4", "mister al" -> "Mistral"), so one
  misheard name does not sink a spoken question;
- `terms`: its content stems (as the index tokenizes them) and whether each is an
  inflected verb;
- `entities`: the names and numbers it mentions, and `unknown_entities`: those the
  articles never mention ("Llama 2", "Scale AI"): a question about a thing the articles do
  not name is one they cannot answer;
- `kind`: the kind of answer it asks for (a date, a number, a name, a definition, advice,
  a reason), which picks and trims the answer sentence.

Corrections use rapidfuzz's edit-distance ratio against the articles' own words: only
words the articles never use are touched, and only towards a word the articles do use."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from lemminflect import getAllLemmas
from rapidfuzz import fuzz, process
from wordfreq import top_n_list, zipf_frequency

from server.reason.ground import claims
from server.reason.query.kinds import NUMBERED_NAME, answer_type
from server.reason.text import STOPWORDS, fold, query_terms, said_in, stem, words
from server.reason.words import CARDINALS, MONTH_NAMES

# A correction must be this close (rapidfuzz ratio, 0-100). A common English word (Zipf
# frequency >= 4: "date", "read", "last") is what the recogniser heard and is kept, unless
# it is one letter from an article word ("alexander" -> "Alexandr", "lunch" -> "launch").
MIN_RATIO = 80
MIN_RATIO_SAME_START = 74  # "quen" -> "qwen": same first letter, one sound apart
MIN_RATIO_COMMON = 90
COMMON_ZIPF = 4.0
MIN_RATIO_JOINED = 85
STRANGE_ZIPF = 3.0  # rarer than this in English, and not in the articles: a misrecognition
# A long word neither the articles' nor English, this close to an English word with the
# same first letter, is that word misspelt ("perameters", "benchmarcks", "proprietery");
# kept as what it means, it still counts against coverage: the articles never say it.
MIN_RATIO_ENGLISH = 88
MIN_LEN_ENGLISH = 7
# Capitalised words that name nothing: titles, talk, and "I" with its contractions
# ("what risk does the article say I'm taking on?").
NOT_NAMES = {"mr", "mrs", "ms", "dr", "ok", "okay", "hey", "hi", "um", "uh", "so", "like",
             "i'm", "i've", "i'd", "i'll", "im", "ive"}  # fmt: skip


@dataclass
class Lexicon:
    """The articles' words, for corrections and the unknown-entity test."""

    words: Counter[str] = field(default_factory=Counter)
    folded_text: str = ""
    before_numbers: set[str] = field(default_factory=set)  # "llama" in "Llama 4"
    names: dict[str, str] = field(default_factory=dict)  # "avocado" -> "Avocado"
    # How learners point at an article (its site, its author), squashed to letters and
    # digits: "agntbox" -> "AgntBox", "stayupdatedwithai" -> "stayupdatedwith.ai".
    references: dict[str, str] = field(default_factory=dict)
    _choices: list[str] = field(default_factory=list)
    _content: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, texts: list[str], references: Sequence[str] = ()) -> Lexicon:
        lex = cls()
        for name in references:
            if len(squash(name)) >= 5:
                lex.references[squash(name)] = name
        texts = [*texts, *references]  # the names are the articles' words too
        for text in texts:
            ws = words(text)
            lex.words.update(ws)
            # "stayupdatedwith.ai" is one word, but a question is read word by word.
            lex.words.update(p for w in ws if "." in w and not w[0].isdigit() for p in w.split("."))
            for a, b in zip(ws, ws[1:], strict=False):
                if b[:1].isdigit() and a.isalpha():
                    lex.before_numbers.add(a)
            # Names: capitalised past a sentence's start ("Avocado", "Qwen", "Alexandr").
            for name in re.findall(r"(?<=[a-z0-9,;:)”’] )[“\"‘(]?([A-Z][A-Za-z]+)", text):
                lex.names.setdefault(name.lower(), name)
        lex.folded_text = " ".join(fold(t) for t in texts)
        # Speech recognition knows common words; it mishears names ("avacado", "quen",
        # "mister al"). Corrections aim only at the articles' names, so an ordinary word
        # the articles happen not to use ("date", "come") is never bent into one they do.
        lex._choices = sorted(n for n in lex.names if len(n) >= 3 and n not in STOPWORDS)
        lex._content = sorted(
            w for w in lex.words if len(w) >= 5 and w.isalpha() and w not in STOPWORDS
        )
        english_words()  # loaded with the index, not at the first question
        return lex

    def knows(self, word: str) -> bool:
        return word in self.words

    def closest(self, word: str) -> str | None:
        """The article word `word` most likely is, or None."""
        if len(word) < 4:
            return None
        if zipf_frequency(word, "en") >= COMMON_ZIPF:
            # A common word one letter from an article word is a likely mishearing of it
            # ("lunch" for "launch", "alexander" for "Alexandr"); anything further is
            # what was said.
            near = process.extractOne(
                word,
                [w for w in self._content if w[0] == word[0]],  # "reach" is not "breach"
                scorer=fuzz.ratio,
                score_cutoff=MIN_RATIO_COMMON,
            )
            return near[0] if near else None
        found = process.extractOne(word, self._choices, scorer=fuzz.ratio, score_cutoff=70)
        if found is None:
            return None
        choice, ratio, _ = found
        if ratio >= MIN_RATIO or (ratio >= MIN_RATIO_SAME_START and choice[0] == word[0]):
            return choice
        return None

    def strange_words(self, text: str) -> int:
        """Words in a transcript that are neither the articles' nor common English
        ("Werenity", "Talong", "Wannaa"): the mark of a recogniser led astray."""
        return sum(
            1
            for w in words(text)
            if w.isalpha()
            and not self.knows(w)
            and not self.knows(w.removesuffix("s"))  # "metas": a possessive heard plain
            and zipf_frequency(w, "en") < STRANGE_ZIPF
        )

    def english(self, word: str) -> str | None:
        """The common English word a long unknown word is a misspelling of, or None."""
        low = word.lower()
        if len(low) < MIN_LEN_ENGLISH:
            return None
        found = process.extractOne(
            low,
            [w for w in english_words() if w[0] == low[0]],
            scorer=fuzz.ratio,
            score_cutoff=MIN_RATIO_ENGLISH,
        )
        return found[0] if found else None

    def without_names(self, text: str) -> str:
        """`text` with the articles' names said as "it": what it says of them, not which
        ones. "How can I tell if an avocado is ripe?" shares a name with the articles and
        nothing else; their sentences read "it" the same way (`Index.unnamed_dense`)."""
        named = set(self._choices)

        def said(word: str) -> str:
            low = fold(word).removesuffix("'s")
            # "llamas", "Metas": a name said plural, or its possessive heard plain.
            return "it" if low in named or low.removesuffix("s") in named else word

        return NAME_WORD.sub(lambda m: said(m.group(0)), text)

    def may_name(self, entity: str, text: str) -> bool:
        """Whether a capitalised word of `text` may be a name. A transcript broken by
        commas ("Watson, Avocado, Supposed to Ship in 2025 or something.") or mostly
        capitalised ("Is Mr. All Still Totally open-source?") capitalises ordinary
        words: there, one the articles never use is no name. An ordinal ("the 4th
        generation") counts; it names nothing."""
        if ORDINAL.fullmatch(entity):
            return False
        low = entity.lower()
        if " " in entity or self.knows(low):
            return True  # the articles' own words keep the part they had
        if not (COMMA_CAPITAL.search(text) or mostly_capitalised(text)):
            return True
        return not any(tag in getAllLemmas(low) for tag in ("NOUN", "VERB", "ADJ", "ADV"))

    def unknown_versions(self, text: str) -> tuple[str, ...]:
        """Versions of a name the articles number that they never mention: "Llama 5"
        (they say Llama 1, 3, 3.1 and 4) is a name they never mention, as "Llama" is
        one they do."""

        return tuple(
            m.group(0)
            for m in NUMBERED_NAME.finditer(text)
            if (name := fold(m.group(1))) in self.names
            and name in self.before_numbers
            and name not in MONTH_NAMES
            and not re.search(rf"\b{re.escape(fold(m.group(0)))}(?![\d.]*\d)", self.folded_text)
        )

    def mentions(self, phrase: str) -> bool:
        """Whether the articles mention a name or number (as a word, case-folded)."""
        parts = words(phrase)
        # "Metas" is "Meta's" heard (or typed) without its apostrophe, and "the Super
        # Intelligence Lab" is the articles' "Labs" said singular.
        return bool(parts) and all(said_in(p, self.words) for p in parts)


ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)", re.IGNORECASE)
# Whisper's mark of choppy speech: a comma, then a capital ("Avocado, Supposed to ...").
COMMA_CAPITAL = re.compile(r", [A-Z][a-z]")
NAME_WORD = re.compile(r"[A-Za-z][\w-]*(?:['’]s)?")


# A question about the article itself (its author, site, date, title, length), not its
# content: only these reach the metadata passages.
ABOUT_ARTICLE = re.compile(
    r"\b(who (wrote|authored|is (the )?(author|writer|credited))|wrote (it|the|this|that)|"
    r"written by|(author|writer)s? of|by whom|byline|publish\w*|publication|posted|"
    r"(which|what) (site|website|blog|outlet)|(site|website|blog) (is|was)|"
    r"(which|what) side (is|was|does|did) (the|this|that) [^?]{0,40}(article|piece|post)|"
    r"on (which|what) site|"
    r"title|titled|headline|called|how many words|word count|words long|"
    r"how long is (the |this |that )?(\w+ )?(article|piece|post|essay|story)|"
    r"date (is )?(on|of) (the |this |that )?(\w+ )?(article|piece|post|essay|story)|dated|"
    r"(reading|read) time|to read|updated|about the (author|writer)|"
    r"(article|piece|post|essay|story) (come|came|comes|went|go) (out|up|online|live)|"
    r"(author|writer)'?s? (bio|background|description)|describes? (him|her|them)sel(f|ves))\b",
    re.IGNORECASE,
)


# ... unless what it names is something other than an article: "the title of Zuckerberg's
# letter", "the headline of the press release" ask about what the articles only mention.
OF_WHAT = re.compile(r"\b(?:title|headline)s? of ((?:[\w.’'-]+ ?){1,6})", re.IGNORECASE)
ARTICLE_WORDS = {"article", "articles", "piece", "post", "essay", "story", "blog", "page", "it",
                 "this", "that", "one", "first", "second"}  # fmt: skip


def about_article(text: str) -> bool:
    """Whether a question asks about an article itself (its author, site, date, title)."""
    if not ABOUT_ARTICLE.search(text):
        return False
    named = OF_WHAT.search(text)
    # A site's name ("the AgntBox piece", "stayupdatedwith.ai's") comes with an article
    # word or stands alone as the only thing named; a letter, a memo or a book does not.
    return named is None or bool(ARTICLE_WORDS & set(words(named.group(1))))


@dataclass(frozen=True)
class Question:
    text: str
    search_text: str
    terms: dict[str, bool]
    entities: tuple[str, ...]
    unknown_entities: tuple[str, ...]
    kind: str
    corrections: tuple[tuple[str, str], ...] = ()

    @property
    def about_article(self) -> bool:
        return about_article(self.search_text)


@cache
def english_words() -> tuple[str, ...]:
    """Common English words of six letters or more (wordfreq's list, most frequent first)."""
    return tuple(w for w in top_n_list("en", 60_000) if w.isalpha() and len(w) >= 6)


# Spoken and typed-in-a-hurry forms of the question words, so the kind of answer asked
# for is read the same way ("whats avocado" asks for a definition, "when's" for a date).
CONTRACTIONS = {
    "whats": "what is", "what's": "what is", "what’s": "what is", "whos": "who is",
    "who's": "who is", "who’s": "who is", "whens": "when is", "when's": "when is",
    "when’s": "when is", "wheres": "where is", "where's": "where is", "where’s": "where is",
    "hows": "how is", "how's": "how is", "how’s": "how is", "why'd": "why did",
    "why’d": "why did", "what'd": "what did", "what’d": "what did", "wanna": "want to",
    "gonna": "going to", "ppl": "people", "bc": "because", "cuz": "because", "abt": "about",
    "smth": "something",
}  # fmt: skip
# Talk around a question that carries nothing to look up: "ok so", "wait", "or nah".
LEADING_TALK = re.compile(
    r"^(?:(?:ok(?:ay)?|so|well|wait|hey|hmm+|um+|uh+|like|right|and|but|basically|ngl|tbh|"
    r"yo|honestly)\b[\s,]*)+",
    re.IGNORECASE,
)
TRAILING_TALK = re.compile(
    r"[\s,]+(?:or nah|or not|or what|again|now|lol|haha|then|though|right)(?=[?.!\s]*$)",
    re.IGNORECASE,
)


# A hedge after the question word asks nothing more: "what even is avocado" asks what
# Avocado is. ("When exactly ..." is left alone: it asks for a precise date.)
HEDGE = re.compile(
    r"^((?:what|who|why|how|which)(?:'s|’s)?)\s+(?:even|exactly|actually|really|"
    r"precisely)\b",
    re.IGNORECASE,
)


# "going to" before a verb is the future ("is llama going to stay open"), no going
# anywhere: read as going, it matches "Meta went all-in ...". Before a determiner, a
# possessive or a number it is motion.
GOING_TO = re.compile(
    r"\bgoing to (?!(?:the|a|an|his|her|its|their|my|your|our|this|that|these|those|\d)\b)",
    re.IGNORECASE,
)


def plain_question(text: str) -> str:
    """The question without the talk around it, its question word spelled out."""
    text = LEADING_TALK.sub("", text.strip())
    text = TRAILING_TALK.sub("", text)
    text = re.sub(r"\bbasically\b\s*", "", text, flags=re.IGNORECASE)
    text = HEDGE.sub(r"\1", text)
    text = re.sub(
        r"(?<![\w’'])[\w’']+(?![\w’'])",
        lambda m: CONTRACTIONS.get(m.group(0).lower(), m.group(0)),
        text,
    ).strip()
    return GOING_TO.sub("will ", text)


def correct(text: str, lexicon: Lexicon) -> tuple[str, list[tuple[str, str]]]:
    """The text with misheard words replaced by the article words they most likely are."""
    text = re.sub(r"\b([a-zA-Z])\.([a-zA-Z])\.", r"\1\2", text)  # "A.I." -> "AI"
    # "Mr. Zuckerberg", "mister wang": a title before a name the articles use says
    # nothing more. Before any other word it is what Whisper writes for "mister" ("Mr.
    # Al"), which may be half of a name ("mister al" -> Mistral).
    text = re.sub(
        r"\b(?:mr\.?|mister) ([\w’'-]+)",
        lambda m: m[1] if m[1].lower() in lexicon.names else f"mister {m[1]}",
        text,
        flags=re.IGNORECASE,
    )
    # A web address said aloud: "with dot AI" -> "with.AI" (then matched to a site).
    text = re.sub(r"\s+dot\s+(ai|com|org|net|io|co)\b", r".\1", text, flags=re.IGNORECASE)
    # "Llama4", as Whisper often writes it, is the articles' "Llama 4".
    text = re.sub(
        r"\b([A-Za-z]{3,})(\d+(?:\.\d+)?)\b",
        lambda m: f"{m[1]} {m[2]}" if m[1].lower() in lexicon.before_numbers else m[0],
        text,
    )
    # Spelled-out letters: a name the articles use ("a i" -> "AI", "m s l" -> "MSL"), or
    # of three letters and more an acronym they never use ("m m l u" -> "MMLU"), which is
    # then a name the articles do not mention, as it would be typed.
    # A letter heard as the word it sounds like: "stability a eye" is "Stability A I".
    text = re.sub(r"\b([a-zA-Z]) eye\b", r"\1 i", text)
    text = re.sub(r"\b[a-zA-Z](?: [a-zA-Z]\b)+", lambda m: _letters(m.group(0), lexicon), text)
    tokens = re.findall(r"[\w’'.-]+|[^\w\s]", text)
    out: list[str] = []
    changes: list[tuple[str, str]] = []
    tokens = _references(tokens, lexicon, changes)
    tokens = [part for token in tokens for part in _unhyphen(token, lexicon, changes)]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        low = fold(token).strip(".'")
        # Number words after a name the articles number ("llama four" -> "llama 4").
        if low in CARDINALS and out and fold(out[-1]) in lexicon.before_numbers:
            number = CARDINALS[low]
            if i + 2 < len(tokens) and fold(tokens[i + 1]) == "point":
                nxt = fold(tokens[i + 2])
                if nxt in CARDINALS:
                    number += "." + CARDINALS[nxt]
                    i += 2
            changes.append((token, number))
            out.append(number)
            i += 1
            continue
        # Two words heard for one of the articles' names or words, each a word itself
        # ("open ai" -> "OpenAI", "deep seek" -> "DeepSeek", "fall back" -> "fallback"):
        # exact only, as both words are real.
        if i + 1 < len(tokens) and low.isalpha() and tokens[i + 1].isalpha():
            joined = low + fold(tokens[i + 1])
            if joined in lexicon.names or (
                len(joined) >= 6 and lexicon.knows(joined) and joined not in STOPWORDS
            ):
                changes.append((f"{token} {tokens[i + 1]}", joined))
                out.append(_cased(joined, lexicon))
                i += 2
                continue
        if not low.isalpha() or lexicon.knows(low) or low in STOPWORDS or len(low) < 3:
            out.append(token)
            i += 1
            continue
        # Two words heard for one name ("mister al" -> "mistral").
        if i + 1 < len(tokens) and tokens[i + 1].isalpha():
            joined = low + fold(tokens[i + 1])
            match = lexicon.closest(joined)
            if match and fuzz.ratio(joined, match) >= MIN_RATIO_JOINED:
                changes.append((f"{token} {tokens[i + 1]}", match))
                out.append(_cased(match, lexicon))
                i += 2
                continue
        match = lexicon.closest(low)
        if match and stem(match) != stem(low):
            changes.append((token, match))
            out.append(_cased(match, lexicon))
        else:
            out.append(token)
        i += 1
    return _join(out), changes


def squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


REFERENCE_RATIO = 70  # "Anck-Box" is AgntBox (71), "state update with.ai" stayupdatedwith.ai
# Where a question points at an article ("the Xbox writer", "the Jake Chin article"),
# what stands there is a site or an author: any word the articles never use, nearer
# ("Xbox" is AgntBox at 55, "Inc. Box" at 62, "Jake-10" Jake Chen at 57).
SLOT_RATIO = 50
SLOT_AFTER = {"article", "articles", "piece", "post", "writer", "author", "blog", "site", "story"}


def _references(tokens: list[str], lexicon: Lexicon, changes: list[tuple[str, str]]) -> list[str]:
    """An article's site or author as a recogniser hears it ("Ang Box", "Anck-Box",
    "state update with.ai" for "AgntBox" and "stayupdatedwith.ai") put back: one to three
    words whose letters are close to the name's, starting with its letter. At least one
    of them must be odd (hyphenated, dotted, or neither the articles' nor common English),
    so plain words ("and box") are never bent into a name. Between "the" and an article
    word ("the Xbox writer") any word the articles never use will do, and a name nearer
    (SLOT_RATIO) of any first letter. Words whose letters are the name's exactly ("stay
    updated with a i") need nothing odd."""
    if not lexicon.references:
        return tokens
    out: list[str] = []
    i = 0
    while i < len(tokens):
        best: tuple[float, int, str] | None = None
        for n in (4, 3, 2, 1):
            span = tokens[i : i + n]
            if len(span) < n or span[0] == ",":
                continue
            # Commas a recogniser puts between the pieces ("Ang, Box") are not words.
            window = [t for t in span if t != ","]
            if not all(re.match(r"[\w’'.-]+$", t) for t in window):
                continue
            slot = (
                i > 0
                and tokens[i - 1].lower() == "the"
                and i + n < len(tokens)
                and tokens[i + n].lower().strip(".,?!") in SLOT_AFTER
                and any(not lexicon.knows(t.lower().strip(".")) for t in window)
            )
            heard = squash("".join(window))
            # Said word by word, letter for letter ("stay updated with a i"): no doubt.
            exact = len(window) >= 2 and heard in lexicon.references
            if not slot and not exact and not any(_odd(t, lexicon) for t in window):
                continue
            for key, name in lexicon.references.items():
                if " ".join(window) == name or not heard:
                    continue
                if abs(len(heard) - len(key)) > 4 or (heard[0] != key[0] and not slot):
                    continue
                ratio = fuzz.ratio(heard, key)
                least = SLOT_RATIO if slot else REFERENCE_RATIO
                if ratio >= least and (best is None or ratio > best[0]):
                    best = (ratio, n, name)
        if best:
            changes.append((" ".join(tokens[i : i + best[1]]), best[2]))
            out.append(best[2])
            i += best[1]
        else:
            out.append(tokens[i])
            i += 1
    return out


def _odd(token: str, lexicon: Lexicon) -> bool:
    if "-" in token or "." in token.rstrip("."):  # "Anck-Box", "with.ai", ".AI"
        return True
    low = token.lower().strip(".")
    return not lexicon.knows(low) and zipf_frequency(low, "en") < COMMON_ZIPF


def _letters(spelled: str, lexicon: Lexicon) -> str:
    joined = spelled.replace(" ", "")
    known = lexicon.names.get(joined.lower())
    if known:
        return known
    return joined.upper() if len(joined) >= 3 else spelled


def _unhyphen(token: str, lexicon: Lexicon, changes: list[tuple[str, str]]) -> list[str]:
    """A recogniser hyphenates what it half-heard ("Man-Go", "Ang-Box", "Avocado-expected"):
    one of the articles' names when the joined letters are (or nearly are) one, else its
    words, each to be read on its own."""
    parts = token.split("-")
    if len(parts) < 2 or not all(p.isalpha() for p in parts):
        return [token]
    joined = "".join(parts).lower()
    match = joined if lexicon.knows(joined) else lexicon.closest(joined)
    if match:
        changes.append((token, match))
        return [_cased(match, lexicon)]
    return parts


def _cased(word: str, lexicon: Lexicon) -> str:
    """Names keep their capital ("Avocado"): the entity test and the prompt read it."""
    return lexicon.names.get(word, word)


def _join(tokens: list[str]) -> str:
    text = " ".join(tokens)
    return re.sub(r"\s+([?.!,;:’'])", r"\1", text)


def english_word(word: str) -> bool:
    """Whether a word the articles never use is still English, so what was said rather
    than a recogniser's invention ("Wannaa", "Talong"): a dictionary word ("ripen"), a
    long word English text uses ("backpropagation"), or an acronym's plural ("GPUs")."""
    low = word.lower()
    return (
        bool(getAllLemmas(low))
        or (low.isalpha() and len(low) >= 9 and zipf_frequency(low, "en") >= 1.0)
        or re.fullmatch(r"[A-Z]{2,}s", word) is not None
    )


def parse(text: str, lexicon: Lexicon) -> Question:

    search_text, changes = correct(plain_question(text) or text, lexicon)
    # A word that is neither the articles' nor English ("Wannaa" for "When") carries no
    # meaning we can use, and unknown words weigh the most in coverage: leave it out. An
    # English word is kept however rare: "How does backpropagation work?" is not "How
    # does work?", and "How many GPUs ..." asks about something the articles never say.
    strange = [
        w
        for w in re.findall(r"[\w’'-]+", search_text)
        if lexicon.strange_words(w)
        and not (w.isupper() and len(w) >= 3)  # "MMLU": a name
        and not english_word(w)
    ]
    for w in strange:
        meant = lexicon.english(w)  # "perameters" means "parameters": keep what it means
        if meant == w.lower():
            continue  # a rare English word ("sourdough"): what was said
        if meant:
            changes.append((w, meant))
        pattern = rf"(?<![\w-]){re.escape(w)}(?![\w-])"
        search_text = re.sub(pattern, meant or "", search_text)
    search_text = re.sub(r"\s+", " ", search_text).strip()
    terms = query_terms(search_text)  # the index's own tokenizer, so terms match it
    entities = tuple(e for e in _entities(search_text) if lexicon.may_name(e, search_text))
    unknown = tuple(e for e in entities if not lexicon.mentions(e)) + lexicon.unknown_versions(
        search_text
    )
    return Question(
        text=text,
        search_text=search_text,
        terms=terms,
        entities=entities,
        unknown_entities=unknown,
        kind=answer_type(search_text),
        corrections=tuple(changes),
    )


def mostly_capitalised(text: str) -> bool:
    """Whether most words of a question (of four or more) are capitalised: its capitals
    say little about what is a name."""
    tokens = text.split()
    return len(tokens) >= 4 and sum(1 for t in tokens if t[:1].isupper()) / len(tokens) > 0.6


def _entities(text: str) -> list[str]:
    """Names and numbers (written with digits) in a question. Its first word is capitalised
    by grammar (or a misheard question word: "Wannaa is Avocado..."), so it is never taken
    for a name; a question typed in Title Case has no reliable capitals at all."""
    # "Avocado-expected" (a transcript's hyphen) names Avocado; "Q1-Q2" names both.
    parts = [part for c in claims(text) for part in c.split("-") if part]
    found = [
        c
        for c in parts
        if any(ch.isdigit() for ch in c) or (c[:1].isupper() and len(c.strip(".")) >= 2)
    ]
    tokens = text.split()
    if tokens and found and fold(found[0]) == fold(tokens[0].strip("?.,!")):
        found = found[1:]
    # Title Case capitalises the little words too ("What Is The Context Window Of ...");
    # a question that is mostly names ("Where is Meta Superintelligence Labs based?")
    # does not, and keeps them (`Lexicon.may_name` reads the ordinary words among them).
    # "I" is capitalised in any case, so it tells nothing.
    little = any(
        t[:1].isupper()
        and fold(word := t.strip("?.,!")) in STOPWORDS
        and fold(t) not in NOT_NAMES
        and word != "I"
        for t in tokens[1:]
    )
    if mostly_capitalised(text) and little:
        found = [f for f in found if any(c.isdigit() for c in f)]
    return [f for f in found if fold(f).strip(".") not in NOT_NAMES]
