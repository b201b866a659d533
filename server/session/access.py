"""Who may use the tutor: an optional token, an Origin check, and a per-client question
rate limit.

- Token (`TUTOR_API_TOKEN`): when set, every HTTP route except `/healthz`, `/livez` and the client
  files (`/`, `/static/...`, which hold no data and must load to ask for the token) and
  every websocket need it, as `Authorization: Bearer <token>` or an `X-Tutor-Token`
  header. It never travels in a URL (URLs end up in access logs, proxies and history):
  - a browser, which cannot set a websocket's headers, first asks `POST /api/ticket` for
    a single-use ticket that lives `TICKET_TTL_S` and opens `/ws/voice?ticket=...`; a
    used, expired or forged ticket is refused like a wrong token. Tickets are signed
    (expiry, nonce, HMAC), so any host sharing the token and the database accepts one,
    once: the used ones are kept in the database until they expire;
  - lesson audio (an `<audio>` element cannot send headers either) is served from URLs
    signed with a key made from the token, `?exp=<unix time>&sig=<HMAC of path and exp>`,
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
  (uvicorn's proxy headers, set in app.serve_options), or, with `TUTOR_PROXY_SECRET`, on
  a request that carries that secret in `X-Tutor-Proxy` (`client_key`): a balancer that
  shares the hosts' machine with other users (`tutor cluster up`) cannot be told apart
  by its address, so it proves itself with the secret it adds to every request, after
  dropping the client's own `X-Forwarded-For` and `X-Tutor-Proxy`."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from limits import parse, storage, strategies
from starlette.requests import HTTPConnection

from server.core.config import Settings
from server.core.errors import TutorError
from server.storage.database import Schema

if TYPE_CHECKING:
    from server.storage.store import Store

OPEN_PATHS = ("/healthz", "/livez", "/", "/favicon.ico")
OPEN_PREFIXES = ("/static/",)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TICKET_TTL_S = 30  # long enough to open a socket right after asking
AUDIO_URL_TTL_S = 300  # a lesson's segments are fetched again for fresh URLs after this
# Tickets are signed, so any host sharing the token can check one; that each opens one
# socket only is kept in the database every host shares.
TICKETS = Schema(
    "access",
    ("CREATE TABLE IF NOT EXISTS used_tickets (nonce TEXT PRIMARY KEY, expires REAL NOT NULL)",),
)
TICKET = re.compile(r"([0-9]{1,15})\.([A-Za-z0-9_-]{16,64})\.([0-9a-f]{64})")
EXPIRES = re.compile(r"[0-9]{1,12}")
PROXY_HEADER = "x-tutor-proxy"  # the balancer's secret: X-Forwarded-For is its word


class AccessDenied(TutorError):
    code = "unauthorized"


class Access:
    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        store: Store | None = None,
    ) -> None:
        self.token = settings.api_token
        self.allowed_origins = set(settings.origins)
        self.clock = clock  # unix seconds; tests move it instead of waiting
        # Made from the token, so every host behind one load balancer checks what any of
        # them signed: a ticket asked of one host opens a socket on another, and a signed
        # audio URL plays from any. Without a token nothing is signed.
        self._key = (
            hmac.new(self.token.encode(), b"voice-tutor signing key", hashlib.sha256).digest()
            if self.token
            else secrets.token_bytes(32)
        )
        self._store = store
        if store is not None:
            store.ensure_schema(TICKETS)
        self._used: dict[str, float] = {}  # without a store: nonce -> expiry
        # The balancer's shared secret (client_key): X-Forwarded-For is believed with it.
        self.proxy_secret = settings.proxy_secret or None
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
        """`expiry.nonce.signature`: nothing is kept until it is used."""
        expires_ms = int((self.clock() + TICKET_TTL_S) * 1000)
        body = f"{expires_ms}.{secrets.token_urlsafe(24)}"
        return f"{body}.{self._mac('ticket', body)}"

    def redeem_ticket(self, ticket: str) -> bool:
        """True once per issued ticket, within its lifetime, on whichever host."""
        match = TICKET.fullmatch(ticket)
        if match is None:
            return False
        expires_ms, nonce, sig = match.groups()
        expected = self._mac("ticket", f"{expires_ms}.{nonce}")
        if not hmac.compare_digest(sig.encode(), expected.encode()):
            return False
        expires = int(expires_ms) / 1000
        return self.clock() < expires and self._first_use(nonce, expires)

    def _first_use(self, nonce: str, expires: float) -> bool:
        now = self.clock()
        if self._store is None:
            self._used = {n: exp for n, exp in self._used.items() if exp > now}
            if nonce in self._used:
                return False
            self._used[nonce] = expires
            return True
        with self._store.transaction() as db:
            db.execute("DELETE FROM used_tickets WHERE expires < ?", (now,))
            inserted = db.execute(
                "INSERT INTO used_tickets (nonce, expires) VALUES (?, ?) "
                "ON CONFLICT (nonce) DO NOTHING",
                (nonce, expires),
            )
            return inserted.rowcount == 1

    # --- signed URLs (lesson audio) ---------------------------------------------------

    def sign(self, path: str, ttl_s: float = AUDIO_URL_TTL_S) -> str:
        """`path` with an expiry and a signature: readable without the token until then."""
        expires = int(self.clock() + ttl_s)
        return f"{path}?exp={expires}&sig={self._mac(path, str(expires))}"

    def signed_ok(self, conn: HTTPConnection) -> bool:
        expires, sig = conn.query_params.get("exp", ""), conn.query_params.get("sig", "")
        if not sig or not EXPIRES.fullmatch(expires) or int(expires) <= self.clock():
            return False
        expected = self._mac(conn.url.path, str(int(expires)))
        return hmac.compare_digest(sig.encode(), expected.encode())

    def _mac(self, what: str, detail: str) -> str:
        return hmac.new(self._key, f"{what}\n{detail}".encode(), hashlib.sha256).hexdigest()

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

    # --- client address ---------------------------------------------------------------

    def client_address(self, conn: HTTPConnection) -> str:
        """The peer's address; or, on a request that carries the balancer's secret, the
        address the balancer put in `X-Forwarded-For` (the last one: the balancer drops
        what the client sent and adds the peer it saw)."""
        peer = conn.client.host if conn.client else "unknown"
        if not self.proxy_secret:
            return peer
        presented = conn.headers.get(PROXY_HEADER, "")
        if not hmac.compare_digest(presented.encode(), self.proxy_secret.encode()):
            return peer
        forwarded = conn.headers.get("x-forwarded-for", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            return peer


def client_key(conn: HTTPConnection) -> str:
    """Whom the per-address limits count this request or socket against: the real peer,
    or the client behind a balancer that proved itself (Access.client_address)."""
    services = getattr(getattr(conn.scope.get("app"), "state", None), "services", None)
    access = getattr(services, "access", None)
    if isinstance(access, Access):
        return access.client_address(conn)
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
