"""Scraped page text -> article body and metadata.

In: the text of a scraped page (or the text trafilatura pulled out of HTML). Out: the
title, site, author and date, and the body as a list of paragraphs with the site's chrome
removed ("Back to Blog", reading-time badges, comment widgets, author cards, repeated
titles, literal "\\n" debris). Rules are generic patterns of blog chrome, not the two
bundled pages: a user's own scraped pages get the same treatment.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from server.reason.words import MONTH_NUMBERS

# Month names are capitalised; scraped text often glues them to the word before
# ("Artificial IntelligenceApril 8, 2026"), so a lower-case letter may precede them.
DATE_RE = re.compile(
    r"(?:\b|(?<=[a-z]))(?P<month>"
    + "|".join(m.capitalize() for m in sorted(MONTH_NUMBERS, key=len, reverse=True))
    + r")\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>(?:19|20)\d{2})"
)
ISO_DATE_RE = re.compile(r"\b(?P<year>(?:19|20)\d{2})-(?P<month>\d{2})-(?P<day>\d{2})\b")

# A line that is chrome wherever it appears.
CHROME = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^back to (blog|home|articles|posts|top)\b",
        r"^scroll to top$",
        r"^loading comments",
        r"^leave a (comment|reply)",
        r"^\d+\s+comments?$",
        r"^comments?$",
        r"^(share|tweet|pin) (this|on)\b",
        r"^(📖|⏱|🕒)",
        r"^.{0,80}\b\d+\s*min(ute)?s? read(?![a-z]).{0,80}$",  # a badge, not a sentence
        r"^(updated|last updated|originally published|published)( on)?[:\s]",
        r"^(advertisement|sponsored)$",
        r"^(learn more|read more|see more|explore [\w ]+)\s*(→|»|>)?$",
        r"^enjoyed this article\??",
        r"^(browse )?(topics|tags|categories)\s*:",
        r"^(subscribe|sign up)\b.*newsletter",
        r"^table of contents$",
        r"^skip to (main )?content$",
        r"^[\W_]+$",  # emoji or punctuation alone (icons)
    )
]
# The article body ends at the first of these (author card, comments, footer).
FOOTER = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^(🕒|last updated|originally published)",
        r"^written by\b",
        r"^about the author$",
        r"^comments?$",
        r"^loading comments",
        r"^leave a (comment|reply)",
        r"^(related|recommended) (posts|articles|reading)$",
        r"^(browse )?(topics|tags|categories)\s*:",
        r"^scroll to top$",
        r"^[\W_]+$",
    )
]
AVATAR_INITIALS = re.compile(r"^[A-Z]{1,3}$")
BULLET = re.compile(r"^\s*(?:[•●▪◦‣∙·*]|-|\d+[.)])\s+")
BYLINE = re.compile(r"^(?:written by|by|author:)\s+(?P<name>[^|,]{3,60})$", re.IGNORECASE)
TERMINAL = tuple(".!?:;\"”’')…")


@dataclass
class Cleaned:
    title: str | None = None
    site: str | None = None
    author: str | None = None
    published: str | None = None  # ISO date
    paragraphs: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)  # see find_details


def normalize(text: str) -> str:
    """Unicode NFC, literal backslash-n debris and odd spaces -> plain text lines."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\\t", " ")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\u00a0\u2000-\u200b\u202f\u205f\u3000\t]", " ", text)
    return "\n".join(re.sub(r" {2,}", " ", line).strip() for line in text.split("\n"))


def fold(s: str) -> str:
    """Comparison key: case, curly quotes and spacing don't matter."""
    s = s.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", s).strip().casefold()


def parse_date(line: str) -> str | None:
    """The first date in a line, as an ISO date."""
    m = DATE_RE.search(line)
    if m:
        try:
            return date(
                int(m["year"]), MONTH_NUMBERS[m["month"].lower()], int(m["day"])
            ).isoformat()
        except ValueError:
            return None
    m = ISO_DATE_RE.search(line)
    if m:
        try:
            return date(int(m["year"]), int(m["month"]), int(m["day"])).isoformat()
        except ValueError:
            return None
    return None


def find_date(lines: list[str]) -> str | None:
    """Publication date: 'published' wins over 'updated'; else the first date seen."""
    for line in lines:
        if re.search(r"published", line, re.IGNORECASE) and (found := parse_date(line)):
            return found
    for line in lines:
        if not re.search(r"updated", line, re.IGNORECASE) and (found := parse_date(line)):
            return found
    return next((d for line in lines if (d := parse_date(line))), None)


# "4 min read", also glued to a date before it ("April 8, 20264 min read") or a count after.
READING = re.compile(
    r"(?:(?<!\d)|(?<=(?:19|20)\d\d))(\d{1,2})\s*min(?:ute)?s?\s+read(?![a-z])", re.IGNORECASE
)
# "📖 5 min read883 words": a badge's word count, glued to what precedes it.
STATED_WORDS = re.compile(r"(?<![\d,])(\d{1,3}(?:,\d{3})+|\d+)\s*[Ww]ords(?![a-z])")
UPDATED = re.compile(r"[Uu]pdated\s*(?:on\s*)?:?\s*")


def find_details(lines: list[str], author: str | None) -> dict[str, str]:
    """What a page's badges and author card say about the article, beyond its title, site,
    author and date: reading time ("5 min read"), its own word count ("883 words"), when
    it was last updated, and the author's one-line description. Only badge lines (those
    that are chrome) count, so a body sentence about "1,000 words" is never taken."""
    details: dict[str, str] = {}
    for line in lines[:60]:
        if not any(p.search(line) for p in CHROME + FOOTER):
            continue
        if (m := READING.search(line)) and "reading_minutes" not in details:
            details["reading_minutes"] = m[1]
        if (m := STATED_WORDS.search(line)) and "stated_words" not in details:
            details["stated_words"] = m[1].replace(",", "")
        if (m := UPDATED.search(line)) and "updated" not in details:
            if found := parse_date(line[m.end() : m.end() + 24]):
                details["updated"] = found
    if author:
        # The author card: the name (or "Written by <name>"), then a line about them.
        for i, line in enumerate(lines[:-1]):
            if line.strip() == author or BYLINE.match(line):
                bio = lines[i + 1].strip()
                if 3 <= len(bio.split()) <= 40 and not any(p.search(bio) for p in CHROME):
                    details["author_bio"] = bio
    return details


def find_title(lines: list[str]) -> str | None:
    """A scraped page repeats its headline (the <title>, the h1, a social card): the first
    substantial line seen twice is the title."""
    seen: dict[str, str] = {}
    for line in lines[:40]:
        if len(line) < 12 or any(p.search(line) for p in CHROME):
            continue
        key = fold(line)
        if key in seen:
            return seen[key]
        seen[key] = line
    return None


def find_site(lines: list[str], title: str) -> str | None:
    """'<title> - Site' or '<title> | Site | Site' lines carry the site name."""
    key = fold(title)
    for line in lines:
        folded = fold(line)
        if folded.startswith(key) and len(folded) > len(key):
            rest = line[len(title) :] if line.startswith(title) else line[len(key) :]
            # "<title> - Site <title> - Site": a doubled <title> tag; stop at the repeat.
            repeat = fold(rest).find(key)
            if repeat > 0:
                rest = rest[:repeat]
            m = re.match(r"^\s*[-|–—:]\s*(?P<site>[^|\-–—]+?)\s*(?:[-|–—]|$)", rest)
            if m and len(m["site"]) <= 60:
                return m["site"].strip()
    return None


def find_author(lines: list[str]) -> str | None:
    for i, line in enumerate(lines):
        if m := BYLINE.match(line):
            return m["name"].strip()
        # Author cards: avatar initials, then the name on the next line.
        if AVATAR_INITIALS.match(line) and i + 1 < len(lines) and len(lines[i + 1].split()) <= 6:
            return lines[i + 1].strip()
    return None


def join_wrapped(lines: list[str]) -> list[str]:
    """Re-join hard-wrapped lines: a line that doesn't end a sentence, followed by one that
    starts in lower case, is the same paragraph."""
    out: list[str] = []
    for line in lines:
        if out and not out[-1].endswith(TERMINAL) and line[:1].islower():
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return out


def clean(raw: str, fallback_title: str | None = None) -> Cleaned:
    lines = [line for line in normalize(raw).split("\n") if line]
    result = Cleaned()
    result.title = find_title(lines)
    result.published = find_date(lines)
    result.author = find_author(lines)
    result.details = find_details(lines, result.author)

    start = 0
    if result.title:
        key = fold(result.title)
        hits = [i for i, line in enumerate(lines[:40]) if fold(line) == key]
        start = hits[-1] + 1
        result.site = find_site(lines, result.title)

    body: list[str] = []
    for line in lines[start:]:
        if any(p.search(line) for p in FOOTER) or AVATAR_INITIALS.match(line):
            break
        if any(p.search(line) for p in CHROME):
            continue
        if result.title and fold(line).startswith(fold(result.title)):
            continue  # the headline again, or "<title> | site"
        body.append(BULLET.sub("", line))
    result.paragraphs = join_wrapped(body)

    if not result.title:
        # No repeated headline: a short first line without a full stop is the title.
        first = result.paragraphs[0] if result.paragraphs else ""
        if first and len(first.split()) <= 16 and not first.endswith("."):
            result.title = first
            result.paragraphs = result.paragraphs[1:]
        else:
            result.title = fallback_title
    return result
