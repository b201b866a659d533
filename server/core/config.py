"""One settings class. Values come from CLI flags, then TUTOR_* environment variables,
then the defaults below; `Settings.check()` refuses a bad configuration at start with one
line that names the setting."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from server.core import catalog

BUNDLED_CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@dataclass(frozen=True)
class ModelPaths:
    stt: Path | None  # None: a Wyoming server (TUTOR_STT_URL), not a file
    llm: Path | None  # None: the LLM is a server (TUTOR_LLM_URL), not a file
    tts: Path | None  # None: a Wyoming server (TUTOR_TTS_URL), not a file
    embed: Path
    turn: Path | None = None
    reader: Path | None = None  # the LLM reader's model (TUTOR_READER=llm, in-process)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TUTOR_", extra="ignore")

    host: str = "127.0.0.1"
    """Where to listen: the address (`0.0.0.0`: every interface; then list the names
    learners use in TUTOR_ALLOWED_HOSTS)."""
    port: int = Field(8000, ge=1, le=65535)
    """Where to listen: the port."""
    data_dir: Path = Path("data")
    """The SQLite database, search index and caches."""
    corpus_dir: Path = BUNDLED_CORPUS
    """Articles ingested on first start, when the database has none."""

    stt_model: str = "tiny.en"
    """The speech-to-text model: a catalog name (models/catalog.toml: `tiny.en`, `base`) or
    a Whisper model folder; with TUTOR_STT_URL, the model the server serves."""
    llm_model: str = "smollm2-135m"
    """The LLM that answers: a catalog name or any GGUF path; with TUTOR_LLM_URL, the model
    name sent to the server."""
    tts_voice: str = "joe-medium"
    """The voice: a catalog name or any Piper `.onnx` path; with TUTOR_TTS_URL, the voice the
    server serves. Its name also keys the lesson narration cache."""
    embed_model: str = "minilm-l6-int8"
    """Sentence-embedding model for retrieval and the coverage decision (catalog name, or
    a folder with model.onnx and tokenizer.json)."""
    threads: int = Field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)), ge=1)
    """CPU threads per model (whisper, llama.cpp, piper each get this many)."""

    llm_context: int = Field(2048, ge=512)
    """The LLM's context window, in tokens."""
    llm_url: str | None = None
    """An OpenAI-compatible server to answer with (`{url}/v1/chat/completions`, streamed)
    instead of the in-process model; TUTOR_LLM_MODEL is then the model name sent to it."""
    llm_parallel: int = Field(4, ge=1, le=256)
    """With TUTOR_LLM_URL: requests to the server in flight at once (it queues or batches
    them); more wait in the tutor's own priority queue."""
    llm_api_key: str | None = None
    """With TUTOR_LLM_URL: sent as `Authorization: Bearer <key>` (llama_cpp.server
    --api_key, vLLM --api-key, a hosted API). Never shown (it is not in the URL).
    `tutor cluster up` makes one."""
    llm_timeout_s: float = Field(15, gt=0, le=600)
    """With TUTOR_LLM_URL: the longest wait for the server's next piece of an answer;
    past it the turn gets the extractive answer (connecting: at most 3 s)."""
    stt_url: str | None = None
    """A Wyoming speech-to-text server (`tcp://host:port`, or `unix:///path` for a socket
    on this machine; e.g. wyoming-faster-whisper) to transcribe with instead of the
    in-process model; TUTOR_STT_MODEL then names what it serves. The vocabulary prompt is
    not sent (the protocol has none)."""
    stt_parallel: int = Field(2, ge=1, le=64)
    """With TUTOR_STT_URL: transcriptions in flight to the server at once."""
    stt_timeout_s: float = Field(10, gt=0, le=120)
    """With TUTOR_STT_URL: the longest wait for a transcript (connecting: at most 3 s);
    past it the learner gets error stt_timeout and may say it again."""
    tts_url: str | None = None
    """A Wyoming text-to-speech server (`tcp://host:port`, or `unix:///path`; e.g.
    wyoming-piper) to speak with instead of the in-process voice; TUTOR_TTS_VOICE then
    names the voice it serves. The speaking pace is not applied (the protocol has none)."""
    tts_parallel: int = Field(2, ge=1, le=64)
    """With TUTOR_TTS_URL: sentences in flight to the server at once."""
    tts_timeout_s: float = Field(10, gt=0, le=120)
    """With TUTOR_TTS_URL: the longest wait for a sentence's audio (connecting: at most
    3 s); past it the reply's audio ends with error tts_timeout (its text is shown)."""
    log_level: str = "INFO"
    """Server log level."""

    # Several hosts behind one load balancer (docs/deploying.md, "Several hosts")
    host_name: str | None = None
    """The name this host gives in `ready` and /healthz, so a client (and its operator)
    can tell which host answered; default: the machine's name and the port."""
    library_poll_s: float = Field(2.0, ge=0, le=3600)
    """How often this host looks in the database for articles another host sharing it
    added or removed, and rebuilds its index when there are (0: never)."""
    narration_dir: Path | None = None
    """Where lesson narration audio is kept; files are named by a hash of their text and
    voice, so hosts can share one folder. Default: <data>/cache/narration."""

    # Reasoning
    retrieval_k: int = Field(4, ge=1, le=20)
    """Passages retrieved per question."""
    answer_threshold: float = Field(0.5, gt=0, lt=1)
    """The coverage model's probability that the articles answer a question, below which
    the tutor declines (server/reason/answer/gate.py; higher declines more)."""
    reader: Literal["rules", "ranked", "llm"] = "rules"
    """How a typed question's answer sentence is chosen once the coverage decision says
    the articles answer it: `rules` (the extractor's scores alone), `ranked` (the trained
    answer ranker, server/reason/answer/rank.py: its best candidate leads, or the tutor declines
    when none is likely to hold the answer; microseconds, spoken turns too) or `llm` (the
    LLM reader judges the extractor's best 3 sentences, yes or no, one prompt each: the
    best judged answers, or the tutor declines when none reaches TUTOR_READER_THRESHOLD).
    Spoken turns always use the rules. `llm` needs the optional model (`make
    reader-llm`), or TUTOR_LLM_URL pointing at a server that returns logprobs."""
    reader_model: str = "qwen2.5-coder-1.5b"
    """With TUTOR_READER=llm: the reader's model (catalog name or GGUF path); with
    TUTOR_LLM_URL the server's own model (TUTOR_LLM_MODEL) reads instead."""
    reader_threshold: float = Field(0.5, gt=0, lt=1)
    """With TUTOR_READER=llm: the P(yes) the best-judged sentence needs to be said."""
    history_turns: int = Field(3, ge=0, le=20)
    """Earlier turns given to follow-up questions."""
    max_answer_tokens: int = Field(96, ge=8, le=1024)
    """LLM tokens per answer."""
    max_upload_bytes: int = Field(2_000_000, ge=1024)
    """Largest article upload (HTTP 413 above it)."""

    # Voice and sessions
    max_sessions: int = Field(8, ge=1)
    """Open websocket sessions at once; past it a new socket gets error busy, close 1013."""
    max_message_bytes: int = Field(256_000, ge=1024)
    """Largest websocket message (an audio frame or a JSON message); past it error
    too_large."""
    vad_silence_ms: int = Field(500, ge=100, le=3000)
    """Silence that ends the learner's turn (`TUTOR_TURN_DETECTOR=silence`)."""
    turn_detector: Literal["smart", "silence"] = "smart"
    """How the learner's turn ends: `smart` (Smart Turn v3.2 decides after a short pause
    whether the question sounds finished) or `silence` (the plain timer above)."""
    turn_model: str = "smart-turn-v3.2"
    """With TUTOR_TURN_DETECTOR=smart: the end-of-turn model (catalog name or any Smart
    Turn v3 `.onnx` path)."""
    turn_short_ms: int = Field(100, ge=60, le=2000)
    """smart: the pause after which a finished question ends: the model is first asked
    one VAD window (32 ms) before it, then every 100 ms while the pause is young, and the
    turn ends at the first verdict that hears the question finished."""
    turn_long_ms: int = Field(2000, ge=300, le=5000)
    """smart: the longest pause in an unfinished question before the turn ends anyway."""
    max_utterance_ms: int = Field(15_000, ge=1000, le=120_000)
    """Longest question; the turn is forced to end there (error too_long)."""
    partial_interval_ms: int = Field(700, ge=200)
    """How often a partial transcript is made while the learner speaks."""
    voice_answer_deadline_ms: int = Field(250, ge=0)
    """Spoken turns wait this long for the LLM's first verified sentence, then say the
    extractive answer instead (0: no deadline)."""
    # 250 ms: a spoken answer is due ~0.4 s after the learner stops. With 500 ms the
    # default 135M model's sentence came at 0.4-0.5 s and was used, and those turns were
    # the bench's slowest (v2v 0.9-1.2 s); on 2 cores its first token alone takes ~0.25 s,
    # so it is now tried beside every eighth spoken answer, off the spoken path
    # (LlmOdds), and a model that answers within 250 ms (a GPU server) on every turn.
    speech_cache_mb: int = Field(64, ge=0, le=4096)
    """Audio kept of the first words of replies (server/speak/cache.py): the openings of
    the articles' sentences, said while no learner speaks, and of replies said since; a
    reply that starts with one is heard at once. 0: none kept. ~67 KB an opening with the
    default voice: 10 MB for the two bundled articles, ~25 MB for a 4,000-word article."""
    idle_timeout_s: float = Field(300, gt=0)
    """An idle socket is closed (error idle_timeout); pings are not activity."""
    hello_timeout_s: float = Field(5, gt=0)
    """A new socket must send `hello` within this; else error hello_timeout, close."""
    max_sockets_per_address: int = Field(4, ge=1)
    """Open websockets per client address (a learner's tabs); past it error
    too_many_sockets, close 1013, so one address cannot hold every session."""

    database_url: str | None = None
    """Keep everything in this Postgres database (postgresql://user:password@host/name)
    instead of the SQLite file in the data folder; tutor processes may share it."""

    build_lessons: bool = True
    """Build missing lessons (scripts, narration) in the background at start."""
    lesson_budget_s: float = Field(600.0, gt=0)
    """The most one lesson's build may take (time spent waiting for learners' turns not
    counted): past it the build stops and the lesson fails with `build_timeout`."""
    index_wait_s: float = Field(120.0, ge=0)
    """At start the index loads in the background: a question asked before it is ready
    waits for it this long at most (then the index as it is answers)."""

    # Access (server/session/access.py)
    api_token: str | None = None
    """When set, every route but /healthz and the client files, and every websocket,
    need this token (in a header, or a single-use ticket for a browser's websocket)."""
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated host names (the Host header) the server answers to, e.g. tutor.example or
    *.example.org; any other gets HTTP 400, so a DNS-rebinding page cannot reach it
    (default: TUTOR_HOST, 127.0.0.1, localhost)."""
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated browser origins allowed to open sockets and change data (default:
    http and https on TUTOR_PORT of each of TUTOR_ALLOWED_HOSTS)."""
    question_rate_limit: str = "30/minute"
    """Questions per client address (limits syntax, e.g. "30/minute"); past it HTTP 429 or
    error rate_limited."""
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For /
    -Proto headers are believed (default: none, so the client address is always the real
    peer)."""
    proxy_secret: str | None = None
    """A secret the load balancer sends as `X-Tutor-Proxy` on every request, having
    dropped the client's own X-Forwarded-For and added the peer it saw: on a request
    with it, X-Forwarded-For is the client (server/session/access.py). `tutor cluster up` makes
    one, since on a shared machine the balancer's address proves nothing."""

    @field_validator("allowed_origins", "allowed_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """TUTOR_ALLOWED_ORIGINS=https://a.example,https://b.example"""
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("llm_url")
    @classmethod
    def _llm_url(cls, value: str | None) -> str | None:
        """http(s)://host[:port][/path]; an OpenAI-style base URL ending in /v1 is taken
        as its server's root (the tutor adds /v1/chat/completions itself)."""
        if not value:
            return None
        from urllib.parse import urlsplit

        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL such as http://127.0.0.1:8080")
        if parts.username or parts.password:
            # /healthz shows the URL, and it answers without the token.
            raise ValueError("a user or password in the URL would be shown by /healthz")
        return url.removesuffix("/v1")

    @field_validator("stt_url", "tts_url")
    @classmethod
    def _wyoming_url(cls, value: str | None) -> str | None:
        """tcp://host:port, or unix:///absolute/path (a socket on this machine), nothing
        else (the address of a Wyoming server)."""
        if not value:
            return None
        from urllib.parse import urlsplit

        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme == "unix":
            if parts.netloc or not parts.path.startswith("/") or parts.query or parts.fragment:
                raise ValueError(
                    f"{value!r} is not a Wyoming socket address such as unix:///run/stt.sock"
                )
            return url
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "tcp" or not parts.hostname or port is None or parts.path:
            raise ValueError(
                f"{value!r} is not a Wyoming address such as tcp://127.0.0.1:10300 or "
                "unix:///run/stt.sock"
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError(f"{value!r}: a Wyoming address is only tcp://host:port")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return f"tcp://{host}:{port}"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        """postgresql:// or postgres:// (libpq's URL: host, port, database, options)."""
        if not value or not value.strip():
            return None
        url = value.strip()
        if not url.startswith(("postgresql://", "postgres://")):
            # Not the value itself: a URL may hold a password.
            raise ValueError("must be a postgresql:// URL, e.g. postgresql://tutor@db/tutor")
        return url

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for proxy in value:
            try:
                ipaddress.ip_network(proxy)
            except ValueError as exc:
                raise ValueError(f"{proxy!r} is not an address or network") from exc
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            wild = host.startswith("*") and host != "*"
            if "*" in host[1:] or (wild and not host.startswith("*.")):
                raise ValueError(f"{host!r}: a wildcard host must look like *.example.com")
        return value

    @property
    def hosts(self) -> list[str]:
        """The Host header values served (TrustedHostMiddleware)."""
        return self.allowed_hosts or list(dict.fromkeys([self.host, "127.0.0.1", "localhost"]))

    @property
    def origins(self) -> list[str]:
        """Browser origins allowed to open sockets and change data: the setting, or our
        own pages' origins, derived from the allowed hosts and the port (never from a
        request's Host header). Wildcard hosts name no origin: list theirs in the
        setting (with only wildcards, the default hosts' origins are used)."""
        if self.allowed_origins:
            return [o.rstrip("/") for o in self.allowed_origins]
        names = [h for h in self.hosts if "*" not in h]
        if not names:
            names = list(dict.fromkeys([self.host, "127.0.0.1", "localhost"]))
        found = []
        for host in names:
            name = f"[{host}]" if ":" in host else host
            for scheme, default_port in (("http", 80), ("https", 443)):
                found.append(f"{scheme}://{name}:{self.port}")
                if self.port == default_port:
                    found.append(f"{scheme}://{name}")
        return found

    @field_validator("question_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate such as 30/minute") from exc
        return value

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tutor.sqlite3"

    @property
    def database(self) -> Path | str:
        """Where the store keeps everything: the Postgres URL, else the SQLite file."""
        return self.database_url or self.db_path

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def narration_path(self) -> Path:
        return self.narration_dir or self.cache_dir / "narration"

    @property
    def host_label(self) -> str:
        import socket

        return self.host_name or f"{socket.gethostname()}:{self.port}"

    def check(self) -> ModelPaths:
        """Resolve every model, make sure the data folder is writable and the database
        (TUTOR_DATABASE_URL) reachable (ConfigError). A model served at TUTOR_LLM_URL,
        TUTOR_STT_URL or TUTOR_TTS_URL is a name for that server, not a catalog entry."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise catalog.ConfigError(
                f"TUTOR_DATA_DIR={self.data_dir}: not writable ({exc.strerror}); "
                "point it at a folder you can write"
            ) from exc
        if self.database_url:  # reachable now, or one line naming the setting
            check_postgres(self.database_url)
        return ModelPaths(
            stt=None if self.stt_url else catalog.resolve("stt", self.stt_model, self.cache_dir),
            llm=None if self.llm_url else catalog.resolve("llm", self.llm_model, self.cache_dir),
            tts=None if self.tts_url else catalog.resolve("tts", self.tts_voice, self.cache_dir),
            embed=catalog.resolve("embed", self.embed_model, self.cache_dir),
            turn=catalog.resolve("turn", self.turn_model, self.cache_dir)
            if self.turn_detector == "smart"
            else None,
            reader=self.reader_path(),
        )

    def reader_path(self) -> Path | None:
        """The LLM reader's model file: None with the rules (the default) or when the
        reader asks TUTOR_LLM_URL; a ConfigError naming TUTOR_READER_MODEL and `make
        reader-llm` when its packages are not installed."""
        if self.reader != "llm" or self.llm_url:
            return None
        try:
            return catalog.resolve("reader", self.reader_model, self.cache_dir)
        except catalog.ConfigError as exc:
            raise catalog.ConfigError(
                f"TUTOR_READER=llm: {exc.message} (or set TUTOR_READER=rules)"
            ) from exc


def check_postgres(url: str) -> None:
    """Connect once, or raise a ConfigError that names the setting, the place and the
    reason (libpq's first line: it never holds the password)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except psycopg.Error as exc:  # (its message may quote the URL: not shown)
        raise catalog.ConfigError("TUTOR_DATABASE_URL: not a URL libpq understands") from exc
    place = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}/{info.get('dbname', '')}"
    try:
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.Error as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = lines[0] if lines else type(exc).__name__
        raise catalog.ConfigError(
            f"TUTOR_DATABASE_URL: cannot connect to {place} ({reason})"
        ) from exc
