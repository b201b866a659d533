"""Answers in-process: llama.cpp through llama-cpp-python."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from server.engines.interfaces import model_address


class LlamaResponder:
    """llama.cpp through llama-cpp-python, chat completion with the model's own template.
    One context: not safe from two threads at once, so its worker has one slot."""

    kind = "in-process"

    def __init__(self, path: Path, name: str, threads: int, context: int) -> None:
        from llama_cpp import Llama

        self.name = name
        self.address = model_address(path)
        self.llm = Llama(
            model_path=str(path),
            n_ctx=context,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
            seed=0,
        )

    def stream(
        self, messages: list[dict[str, str]], max_tokens: int, cancel: threading.Event
    ) -> Iterator[str]:
        chunks = self.llm.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            temperature=0.0,
            repeat_penalty=1.1,
            stream=True,
        )
        for chunk in chunks:
            if cancel.is_set():
                break  # leaving the generator stops llama.cpp after this token
            piece = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
            if piece:
                yield piece
