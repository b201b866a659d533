"""Who may use the tutor: an optional token, an Origin check, and a per-client question
rate limit.

- Token (`TUTOR_API_TOKEN`): when set, every HTTP route except `/healthz`, `/livez` and the client
  files (`/`, `/static/...`, which hold no data and must load to ask for the token) and
  every websocket need it, as `Authorization: Bearer <token>` or an `X-Tutor-Token`
  header. It never travels in a URL (URLs end up in access logs, proxies and history):
  - a browser, which cannot set a websocket's headers, first asks `POST /api/ticket` for
    a single-use ticket that lives `TICKET_TTL_S` and opens `/ws/voice?ticket=...`; a
    used, expired or unknown ticket is refused like a wrong token;
  - lesson audio (an `<audio>` element cannot send headers either) is served from URLs
    signed with a per-process random key, `?exp=<unix time>&sig=<HMAC of path and exp>`,
    valid `AUDIO_URL_TTL_S`; the lessons API hands them out when a token is set.
  `RedactSecrets` keeps `token=`, `ticket=` and `sig=` values out of uvicorn's logs.
- Host: only the names in `TUTOR_ALLOWED_HOSTS` are served (Starlette's
  TrustedHostMiddleware, installed in app.py), so a page on another name that resolves to
  us (DNS rebinding) gets HTTP 400.
- Origin: a browser sends `Origin`; a websocket, or an HTTP request that changes
  something, from an origin not in `Settings.origins` (`TUTOR_ALLOWED_ORIGINS`, default
  our own pages' origins, derived from the allowed hosts and the port, never from the
  request) is refused, so another site cannot open a socket or upload in the learner's
  name. Clients that send no Origin (curl, scripts) are not browsers and pass.
- Questions are rate limited per client address with `limits` (moving window). The
  address is the real peer's: forwarded headers count only from `TUTOR_TRUSTED_PROXIES`
  (uvicorn's proxy headers, set in app.serve_options)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable

from limits import parse, storage, strategies
from starlette.requests import HTTPConnection

from server.config import Settings
from server.errors import TutorError

OPEN_PATHS = ("/healthz", "/livez", "/", "/favicon.ico")
OPEN_PREFIXES = ("/static/",)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TICKET_TTL_S = 30  # long enough to open a socket right after asking
AUDIO_URL_TTL_S = 300  # a lesson's segments are fetched again for fresh URLs after this
MAX_TICKETS = 10_000  # outstanding at once; the oldest go first
EXPIRES = re.compile(r"[0-9]{1,12}")


class AccessDenied(TutorError):
    code = "unauthorized"


class Access:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.token = settings.api_token
        self.allowed_origins = set(settings.origins)
        self.clock = clock  # unix seconds; tests move it instead of waiting
        # Per process: a restart voids every ticket and signed URL, which is the point.
        self._key = secrets.token_bytes(32)
        self._tickets: dict[str, float] = {}  # ticket -> expiry, oldest first
        self._limit = parse(settings.question_rate_limit)
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    # --- token ------------------------------------------------------------------------

    def presented_token(self, conn: HTTPConnection) -> str:
        auth = conn.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return conn.headers.get("x-tutor-token", "")

    def token_ok(self, conn: HTTPConnection) -> bool:
        if not self.token:
            return True
        return hmac.compare_digest(self.presented_token(conn).encode(), self.token.encode())

    def needs_token(self, path: str) -> bool:
        return bool(self.token) and path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES)

    def authorized(self, conn: HTTPConnection, method: str | None) -> bool:
        """The token in a header; or, for a websocket, a ticket; or, for a read, a
        signed URL."""
        if self.token_ok(conn):
            return True
        if conn.scope["type"] == "websocket":
            return self.redeem_ticket(conn.query_params.get("ticket", ""))
        return method in ("GET", "HEAD") and self.signed_ok(conn)

    # --- tickets (websockets) ---------------------------------------------------------

    def issue_ticket(self) -> str:
        now = self.clock()
        self._tickets = {t: exp for t, exp in self._tickets.items() if exp > now}
        while len(self._tickets) >= MAX_TICKETS:
            del self._tickets[next(iter(self._tickets))]
        ticket = secrets.token_urlsafe(32)
        self._tickets[ticket] = now + TICKET_TTL_S
        return ticket

    def redeem_ticket(self, ticket: str) -> bool:
        """True once per issued ticket, within its lifetime."""
        expires = self._tickets.pop(ticket, None)
        return expires is not None and self.clock() < expires

    # --- signed URLs (lesson audio) ---------------------------------------------------

    def sign(self, path: str, ttl_s: float = AUDIO_URL_TTL_S) -> str:
        """`path` with an expiry and a signature: readable without the token until then."""
        expires = int(self.clock() + ttl_s)
        return f"{path}?exp={expires}&sig={self._mac(path, expires)}"

    def signed_ok(self, conn: HTTPConnection) -> bool:
        expires, sig = conn.query_params.get("exp", ""), conn.query_params.get("sig", "")
        if not sig or not EXPIRES.fullmatch(expires) or int(expires) <= self.clock():
            return False
        expected = self._mac(conn.url.path, int(expires))
        return hmac.compare_digest(sig.encode(), expected.encode())

    def _mac(self, path: str, expires: int) -> str:
        return hmac.new(self._key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()

    # --- origin -----------------------------------------------------------------------

    def origin_ok(self, conn: HTTPConnection) -> bool:
        origin = conn.headers.get("origin")
        if not origin:
            return True
        return origin.rstrip("/") in self.allowed_origins or "*" in self.allowed_origins

    def check(self, conn: HTTPConnection, method: str | None = None) -> None:
        """Raise AccessDenied (unauthorized / forbidden_origin) unless allowed. `method`
        is the HTTP method; None for a websocket."""
        if self.needs_token(conn.url.path) and not self.authorized(conn, method):
            raise AccessDenied("a valid token is required (TUTOR_API_TOKEN is set)")
        if (method is None or method not in SAFE_METHODS) and not self.origin_ok(conn):
            raise AccessDenied(
                f"requests from {conn.headers.get('origin')} are not allowed",
                code="forbidden_origin",
            )

    # --- rate -------------------------------------------------------------------------

    def allow_question(self, client: str) -> None:
        if not self._limiter.hit(self._limit, client):
            raise TutorError(
                f"too many questions; the limit is {self._limit} per client", "rate_limited"
            )


def client_key(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


# --- logs -----------------------------------------------------------------------------

SECRET_QUERY = re.compile(r"(?i)([?&;](?:token|ticket|sig)=)[^&;\s\"']*")
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")  # request lines; websocket lines


def redact(text: str) -> str:
    return SECRET_QUERY.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Rewrites `token=`, `ticket=` and `sig=` query values in a log record (uvicorn logs
    every request's path with its query string) as `[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_server_logs() -> None:
    """Install RedactSecrets on uvicorn's loggers (once; any later log config keeps it)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
