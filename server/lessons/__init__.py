"""Narrated lessons made from the articles, and the spoken quiz.

script.py     articles -> lesson scripts (extractive, verified) and quiz questions
quiz.py       a lesson's quiz items: questions with options, blanks only as a fallback
questions.py  sentence -> who / what / when / which / how much / why questions, by rule
clauses.py    sentence -> [front,] subject verb rest (what a question is made of)
spans.py      the dates, amounts and names in a sentence, as runs of its own words
facts.py      the articles' names by kind (person / company / model) and wrong options
grading.py    a reply (typed, spoken, or a chosen option) -> right / partly / not yet
narration.py  segment text -> Opus audio, cached on disk by text and voice
records.py    scripts and quiz answers in SQLite
build.py      Lessons: build once, rebuild on change, in the background, politely, bounded

May import: core, engines, reason, storage. Never the session or the web edge: the quiz
as a conversation plays it is `server/session/quiz.py`, the routes `server/web/lessons.py`.
"""

from server.lessons.build import Lessons

__all__ = ["Lessons"]
