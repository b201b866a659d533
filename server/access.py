"""Who may use the tutor: an optional token, an Origin check, and a per-client question
rate limit.

- Token (`TUTOR_API_TOKEN`): when set, every HTTP route except `/healthz` and the client
  files (`/`, `/static/...`, which hold no data and must load to ask for the token) and
  every websocket need it, as `Authorization: Bearer <token>`, an `X-Tutor-Token` header or
  a `token` query parameter (browsers cannot set websocket headers).
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

import hmac

from limits import parse, storage, strategies
from starlette.requests import HTTPConnection

from server.config import Settings
from server.errors import TutorError

OPEN_PATHS = ("/healthz", "/", "/favicon.ico")
OPEN_PREFIXES = ("/static/",)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class AccessDenied(TutorError):
    code = "unauthorized"


class Access:
    def __init__(self, settings: Settings) -> None:
        self.token = settings.api_token
        self.allowed_origins = set(settings.origins)
        self._limit = parse(settings.question_rate_limit)
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    # --- token ------------------------------------------------------------------------

    def presented_token(self, conn: HTTPConnection) -> str:
        auth = conn.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return conn.headers.get("x-tutor-token") or conn.query_params.get("token") or ""

    def token_ok(self, conn: HTTPConnection) -> bool:
        if not self.token:
            return True
        return hmac.compare_digest(self.presented_token(conn).encode(), self.token.encode())

    def needs_token(self, path: str) -> bool:
        return bool(self.token) and path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES)

    # --- origin -----------------------------------------------------------------------

    def origin_ok(self, conn: HTTPConnection) -> bool:
        origin = conn.headers.get("origin")
        if not origin:
            return True
        return origin.rstrip("/") in self.allowed_origins or "*" in self.allowed_origins

    def check(self, conn: HTTPConnection, method: str | None = None) -> None:
        """Raise AccessDenied (unauthorized / forbidden_origin) unless allowed."""
        if self.needs_token(conn.url.path) and not self.token_ok(conn):
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
