"""Answers from an OpenAI-compatible server (`TUTOR_LLM_URL`): `llama_cpp.server`,
llama.cpp's `llama-server`, vLLM.

`POST {url}/v1/chat/completions` with `stream: true`; the reply is server-sent events, one
`data: {json}` line per piece and `data: [DONE]` at the end. The call is blocking (httpx's
client, on the worker's threads like every engine), and one client is shared by them: its
connection pool is thread-safe and keeps connections to the server open between answers.

A server that wants a key (`llama_cpp.server --api_key`, vLLM's `--api-key`, a hosted
API) gets it as `Authorization: Bearer <key>` on every request (TUTOR_LLM_API_KEY).

A server that is down, refuses, or goes silent raises EngineError (typed, see the codes
below) after at most the connect or read timeout: a turn never hangs on it, and the
Answerer's worker view (`FailSoft`) turns the error into the extractive answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from server.engines.failures import Failures

# Connecting is quick or it is not happening (loopback or a LAN): a down server is seen
# within this; the read timeout (the longest silence between two pieces) is a setting.
CONNECT_S = 3.0
PROBE_S = 1.0  # /healthz's reachability check


def api_headers(api_key: str | None = None) -> dict[str, str]:
    """The headers that carry the LLM server's key (TUTOR_LLM_API_KEY), if it has one."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class OpenAIResponder:
    """A Responder that streams chat completions from `url`. `model` is sent as the
    request's model name (what vLLM serves it as; llama_cpp.server ignores it when it
    serves one model). `parallel`: requests in flight at once (its worker's slots).
    `api_key`: sent as a bearer token (default: TUTOR_LLM_API_KEY; none when unset)."""

    kind = "openai"

    def __init__(
        self, url: str, model: str, timeout_s: float, parallel: int, api_key: str | None = None
    ) -> None:
        self.name = model
        self.address = url.rstrip("/")  # settings refuse a URL with a user or password
        self.parallel = parallel
        self.timeout_s = timeout_s
        self._client = httpx.Client(
            base_url=self.address,
            headers=api_headers(api_key),
            timeout=httpx.Timeout(timeout_s, connect=CONNECT_S),
            limits=httpx.Limits(max_connections=parallel + 1, max_keepalive_connections=parallel),
        )
        # FailSoft counts and logs a failed answer where it turns it into the fallback.
        self.failures = Failures("llm", f"LLM server {self.address}", counted=False)

    def stream(
        self, messages: list[dict[str, str]], max_tokens: int, cancel: threading.Event
    ) -> Iterator[str]:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            # llama.cpp's servers honour it as in-process; OpenAI-style servers ignore it.
            "repeat_penalty": 1.1,
            "stream": True,
        }
        try:
            with self._client.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise self.failures.error(
                        "llm_failed", f"HTTP {response.status_code}: {response.text[:200]}"
                    )
                # Servers send keep-alive comments (`: ping`) while they compute: they reset
                # the read timeout, so the silence between pieces of text is timed here.
                last_text = time.monotonic()
                for line in response.iter_lines():
                    if cancel.is_set():
                        return  # leaving closes the connection: the server stops generating
                    piece, done = self._piece(line)
                    if done:
                        break
                    if piece:
                        last_text = time.monotonic()
                        yield piece
                    elif time.monotonic() - last_text > self.timeout_s:
                        raise self.failures.error(
                            "llm_timeout", "only keep-alives past the timeout"
                        )
        except httpx.ConnectError as exc:
            raise self.failures.error("llm_unreachable", f"cannot connect ({exc})") from exc
        except httpx.TimeoutException as exc:
            code = "llm_unreachable" if isinstance(exc, httpx.ConnectTimeout) else "llm_timeout"
            raise self.failures.error(
                code, f"no reply within the timeout ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise self.failures.error("llm_failed", f"{type(exc).__name__}: {exc}") from exc
        self.failures.cleared()

    def _piece(self, line: str) -> tuple[str | None, bool]:
        """One line of the event stream: (the text it adds, whether the stream is done).
        Comments (`: ping`), blank lines and other fields carry no text."""
        if not line.startswith("data:"):
            return None, False
        data = line[5:].strip()
        if data == "[DONE]":
            return None, True
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise self.failures.error(
                "llm_failed", f"not JSON in the event stream: {data[:80]!r}"
            ) from exc
        if "error" in event:
            raise self.failures.error("llm_failed", f"the server said: {str(event['error'])[:200]}")
        choices = event.get("choices") or [{}]
        return (choices[0].get("delta") or {}).get("content"), False

    def describe(self) -> dict[str, Any]:
        """For /healthz: where the server is, whether it answers now, the last failure."""
        start = time.perf_counter()
        try:
            # /health: vLLM's and llama-server's (503 while loading); llama_cpp.server has
            # none and answers 404 at once. Not /v1/models: llama_cpp.server holds that
            # behind the model's lock, so it waits out whatever answer is being streamed.
            reachable = self._client.get("/health", timeout=PROBE_S).status_code < 500
        except httpx.HTTPError:
            reachable = False
        return self.failures.report(
            {"reachable": reachable, "probe_ms": round(1000 * (time.perf_counter() - start), 1)}
        )

    def close(self) -> None:
        self._client.close()
