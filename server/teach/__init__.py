"""Teaching, beyond answering: learners, their progress through the articles' key points,
and spaced review of the quiz items they answered (FSRS).

    learners.py  the tables: profiles, key points met, review cards (all of this package's SQL)
    points.py    what a key point is (its identity survives lesson rebuilds), per article
    review.py    FSRS: a grade -> the card's next due time; mastery
    record.py    what the socket session and the quiz report (the calls the lead wires in)
    progress.py  the progress view and the due review list
    export.py    everything about a learner, as JSON or Markdown

May import: core, reason, storage, lessons (a key point is a lesson's point). Never the
session or the web edge (the routes are `server/web/learners.py`)."""

from server.teach.record import length_scale, record_asked, record_heard, record_quiz

__all__ = ["length_scale", "record_asked", "record_heard", "record_quiz"]
