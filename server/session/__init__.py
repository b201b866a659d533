"""One learner's conversation, from an accepted socket to a spoken reply: the services
a session uses, built once (`services.py`), who may connect and how many at once
(`access.py`, `admission.py`), the socket's loop (`conversation.py`), one question's
answer run and recorded (`turns.py`), the reply streamed as text and speech
(`reply.py`) and a lesson's quiz played in the conversation (`quiz.py`).

May import: core, engines, storage, reason, listen, speak, lessons, teach. Never the web
edge (`server/web`) or operations (`server/ops`)."""
