"""Narrated lessons made from the articles, and the spoken quiz.

script.py     articles -> lesson scripts (extractive, verified) and quiz questions
quiz.py       cloze questions from key sentences; grading right / partly / not yet
narration.py  segment text -> Opus audio, cached on disk by text and voice
records.py    scripts and quiz answers in SQLite
build.py      Lessons: build once, rebuild on change, in the background, politely, bounded
api.py        HTTP routes; live.py: the quiz on the websocket
"""

from server.lessons.build import Lessons

__all__ = ["Lessons"]
