"""Everything stored about a learner, to take away: JSON, or Markdown to read.

In: the store and a learner id. Out: the profile, every session with its turns (question,
answer, what was heard of it, sources quoted verbatim) and its quiz answers, the review
cards (FSRS state included), the key points met, and the progress view. Session secrets
are not exported (only their hashes are stored, and they open nothing once exported)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from server.core.errors import NotFound
from server.lessons import records
from server.storage.store import Store
from server.teach import learners
from server.teach.progress import progress


def export(store: Store, learner_id: str, now: float) -> dict[str, Any]:
    found = learners.profile(store, learner_id)
    if found is None:
        raise NotFound(f"no learner {learner_id}")
    sessions = []
    for s in learners.sessions(store, learner_id):
        sid = s["session_id"]
        sessions.append(
            {
                **s,
                "turns": store.turns(sid),
                "quiz_answers": records.scores(store, sid)["answers"],
            }
        )
    cards = [
        {
            "item": c.item,
            "article_id": c.article_id,
            "point": c.point,
            "lesson_id": c.lesson_id,
            "question": c.question,
            "text": c.text,
            "answer": c.answer,
            "quote": c.quote,
            "due": c.due,
            "last_grade": c.last_grade,
            "reviews": c.reviews,
            "updated_at": c.updated_at,
            "card": json.loads(c.card),
        }
        for c in learners.cards(store, learner_id)
    ]
    points = [vars(p) for p in learners.points(store, learner_id)]
    return {
        "learner": found.to_dict(),
        "exported_at": now,
        "sessions": sessions,
        "review_cards": cards,
        "points": points,
        "progress": progress(store, learner_id, now)["articles"],
    }


def markdown(data: dict[str, Any]) -> str:
    """The export as a document: the transcript with each answer's sources quoted."""
    learner = data["learner"]
    name = learner["display_name"] or learner["id"]
    out = [
        f"# Learning record: {_inline(name)}",
        "",
        f"- Learner id: `{learner['id']}`",
        f"- Since: {_when(learner['created_at'])}",
        f"- Speaking speed: {learner['speed']:g}",
        f"- Exported: {_when(data['exported_at'])}",
        "",
        "## Progress",
    ]
    for article in data["progress"]:
        counts = article["counts"]
        out += [
            "",
            f"### {_inline(article['title'])}",
            "",
            f"{counts['mastered']} mastered, {counts['due']} due for review, {counts['new']} new"
            f" of {len(article['points'])} key points.",
            "",
        ]
        for point in article["points"]:
            due = f", due {_when(point['due'])}" if point["due"] else ""
            out.append(f"- {point['state']}, {point['mastery']}{due}: {_inline(point['text'])}")
    out += ["", "## Conversations"]
    for session in data["sessions"]:
        out += ["", f"### Session {session['session_id']} ({_when(session['created_at'])})"]
        for turn in session["turns"]:
            out += [
                "",
                f"**Q:** {_inline(turn['question'])}",
                "",
                f"**A:** {_inline(turn['answer'])}",
            ]
            if turn["heard"] is not None and turn["heard"] != turn["answer"]:
                out += ["", f"*(heard: {_inline(turn['heard'])})*"]
            for source in turn["sources"]:
                where = (
                    f", paragraph {source['paragraph'] + 1}"
                    if source.get("paragraph") is not None
                    else ""
                )
                out += ["", _quote(source["quote"]), f"> — *{_inline(source['title'])}*{where}"]
        if session["quiz_answers"]:
            out += ["", "Quiz answers:", ""]
            out += [
                f"- lesson {a['lesson_id']}, question {a['question'] + 1}: "
                f"{_inline(a['answer'])} ({a['grade'].replace('_', ' ')})"
                for a in session["quiz_answers"]
            ]
    out += ["", "## Review"]
    for card in data["review_cards"]:
        out += [
            "",
            f"- {_inline(card['text'])} **{_inline(card['answer'])}** — last"
            f" {card['last_grade'].replace('_', ' ')}, {card['reviews']} answer(s),"
            f" due {_when(card['due'])}",
            "",
            _quote(card["quote"], indent="  "),
        ]
    return "\n".join(out).rstrip() + "\n"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _inline(text: str) -> str:
    """One line: a learner's words with a newline or a leading '#' can't break the
    document's structure."""
    return " ".join(text.split())


def _quote(text: str, indent: str = "") -> str:
    return f"{indent}> {_inline(text)}"
