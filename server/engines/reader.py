"""The LLM reader's engines (`server/reason/answer/judge.py`, TUTOR_READER=llm): a chat prompt in,
the log-probabilities of the first token of the reply out, for a few tokens asked about
("Yes", "No"). Nothing is generated: one forward pass over the prompt.

    LlamaReader   llama.cpp in-process (the packaged Qwen2.5-Coder-1.5B by default)
    OpenAIReader  an OpenAI-compatible server (TUTOR_LLM_URL) that returns `top_logprobs`

Both are blocking and run on the reader's own ModelWorker (one slot in-process: a llama.cpp
context is not thread-safe)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from server.engines.failures import Failures
from server.engines.interfaces import model_address
from server.engines.openai import api_headers

CONNECT_S = 3.0
TOP_LOGPROBS = 10  # what a server is asked for: enough for "Yes"/"No" and their variants


def prefer_passive_threads() -> None:
    """llama.cpp's OpenMP threads busy-wait between calls by default, taking the cores the
    other models need (docs: architecture, "Reading models"). Read by libgomp when
    llama.cpp is first loaded, so call it before: a user's own OMP_WAIT_POLICY wins."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class LlamaReader:
    """llama.cpp, one context, the model's own chat template. Consecutive prompts share
    their beginning (the instructions and the question): the part already in the context
    is kept, so each further sentence costs only its own tokens."""

    kind = "in-process"
    parallel = 1

    def __init__(self, path: Path, name: str, threads: int, context: int = 1024) -> None:
        prefer_passive_threads()
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.name = name
        self.address = model_address(path)
        self.llm = Llama(
            model_path=str(path),
            n_ctx=context,
            n_threads=threads,
            n_threads_batch=threads,
            logits_all=False,  # only the last position's logits: all a yes/no needs
            verbose=False,
            seed=0,
        )
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{path.name}: no chat template in the GGUF")
        self._format = Jinja2ChatFormatter(
            template, eos_token="", bos_token="", add_generation_prompt=True
        )
        self._ids: dict[str, int | None] = {}

    def token_id(self, token: str) -> int | None:
        """The id of `token` when it is one token of the vocabulary, else None."""
        if token not in self._ids:
            ids = self.llm.tokenize(token.encode(), add_bos=False, special=False)
            self._ids[token] = ids[0] if len(ids) == 1 else None
        return self._ids[token]

    def first_token_logprobs(
        self, messages: list[dict[str, str]], tokens: Sequence[str]
    ) -> dict[str, float]:
        import numpy as np
        from llama_cpp import Llama, llama_get_logits

        prompt = self._format(messages=messages).prompt  # type: ignore[arg-type]
        ids = self.llm.tokenize(prompt.encode(), add_bos=False, special=True)
        if len(ids) >= self.llm.n_ctx():  # the Judge cuts long sentences well before this
            raise ValueError(f"a prompt of {len(ids)} tokens, over the reader's context")
        have = self.llm.input_ids[: self.llm.n_tokens].tolist()
        keep = min(Llama.longest_token_prefix(have, ids), len(ids) - 1)
        self.llm.n_tokens = keep  # eval() drops the cache past it
        self.llm.eval(ids[keep:])
        logits = np.ctypeslib.as_array(
            llama_get_logits(self.llm.ctx), shape=(self.llm.n_vocab(),)
        ).astype(np.float64)
        top = logits.max()
        norm = top + math.log(float(np.exp(logits - top).sum()))
        out = {}
        for token in tokens:
            tid = self.token_id(token)
            if tid is not None:
                out[token] = float(logits[tid] - norm)
        return out

    def close(self) -> None:
        self.llm.close()


class OpenAIReader:
    """`POST {url}/v1/chat/completions` with `max_tokens: 1, logprobs: true,
    top_logprobs: 10`: the first token's top alternatives. llama.cpp's `llama-server` and
    vLLM return them; `llama_cpp.server` only when started with `--logits_all True`. A
    server that returns none raises EngineError (llm_failed): use the local model."""

    kind = "openai"

    def __init__(
        self, url: str, model: str, timeout_s: float, parallel: int, api_key: str | None = None
    ) -> None:
        self.name = model
        self.address = url.rstrip("/")
        self.parallel = parallel
        self._client = httpx.Client(
            base_url=self.address,
            headers=api_headers(api_key),  # the cluster's LLM servers want their key
            timeout=httpx.Timeout(timeout_s, connect=CONNECT_S),
            limits=httpx.Limits(max_connections=parallel + 1, max_keepalive_connections=parallel),
        )
        self.failures = Failures("reader", f"LLM server {self.address} (reader)")

    def first_token_logprobs(
        self, messages: list[dict[str, str]], tokens: Sequence[str]
    ) -> dict[str, float]:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": messages,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
        }
        try:
            response = self._client.post("/v1/chat/completions", json=body)
        except httpx.ConnectError as exc:
            raise self.failures.error("llm_unreachable", f"cannot connect ({exc})") from exc
        except httpx.TimeoutException as exc:
            raise self.failures.error("llm_timeout", type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise self.failures.error("llm_failed", f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise self.failures.error(
                "llm_failed", f"HTTP {response.status_code}: {response.text[:200]}"
            )
        found = top_logprobs(response.json())
        if found is None:
            raise self.failures.error(
                "llm_failed",
                "no logprobs in the reply: the LLM reader needs a server that returns them "
                "(llama-server, vLLM; llama_cpp.server with --logits_all True) or the "
                "local model (unset TUTOR_LLM_URL)",
            )
        self.failures.cleared()
        wanted = set(tokens)
        return {t: lp for t, lp in found.items() if t in wanted}

    def close(self) -> None:
        self._client.close()


def top_logprobs(reply: Any) -> dict[str, float] | None:
    """The first token's alternatives in an OpenAI chat completion: {token: logprob}
    (`choices[0].logprobs.content[0].top_logprobs`, with the token chosen), or None when
    the reply carries none."""
    try:
        first = reply["choices"][0]["logprobs"]["content"][0]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(first, dict):
        return None
    out: dict[str, float] = {}
    for alt in [first, *(first.get("top_logprobs") or [])]:
        token, logprob = alt.get("token"), alt.get("logprob")
        if isinstance(token, str) and isinstance(logprob, int | float):
            out[token] = max(float(logprob), out.get(token, -math.inf))
    return out or None
