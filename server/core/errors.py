"""Typed errors that cross module boundaries. Each carries a stable `code` for clients."""


class TutorError(Exception):
    """Base class: `code` is what a client sees in `error {code, message}`."""

    code = "internal"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(TutorError):
    """A setting is wrong. The message names the setting and says what to do."""

    code = "config"


class IngestError(TutorError):
    """A document could not be turned into an article (empty, unreadable, wrong type)."""

    code = "bad_document"


class NotFound(TutorError):
    code = "not_found"


class EngineError(TutorError):
    """A model engine could not answer: a remote server down, refusing, or silent past its
    timeout. `code`: {llm,stt,tts}_unreachable, _timeout or _failed."""

    code = "engine_failed"


SHOWN_CHARS = 64  # the most of a client's input an error message repeats


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A client's value as an error message may repeat it: at most `limit` characters
    (then "…"), control characters written as escapes, so a 5,000-character id or a NUL
    never comes back whole."""
    text = str(value)
    cut = text[:limit]
    cut = "".join(c if c.isprintable() or c == " " else ascii(c)[1:-1] for c in cut)
    return cut + ("…" if len(text) > limit else "")


class BadRequest(TutorError):
    """What a client sent can never be stored or read as it is (a control character, an
    id not of the server's making): HTTP 400 `bad_request`."""

    code = "bad_request"
