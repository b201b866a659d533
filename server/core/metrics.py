"""Prometheus metrics (served at /metrics). Names are prefixed `tutor_`."""

from prometheus_client import Counter, Gauge, Histogram

STAGE_SECONDS = Histogram(
    "tutor_stage_seconds",
    "Time spent per pipeline stage",
    ["stage"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
TURNS = Counter("tutor_turns_total", "Answered turns", ["channel", "grounded"])
FALLBACKS = Counter(
    "tutor_answer_fallbacks_total", "LLM answers replaced by an extractive answer", ["reason"]
)
ERRORS = Counter("tutor_errors_total", "Typed errors sent to clients", ["code"])
ENGINE_ERRORS = Counter(
    "tutor_engine_errors_total",
    "Engine calls that failed (a remote server down or silent)",
    ["engine", "code"],
)
SESSIONS = Gauge("tutor_active_sessions", "Open websocket sessions", ["channel"])
