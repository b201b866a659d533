"""Sentence embeddings: texts -> unit vectors whose dot product is their closeness in meaning.

In: a folder with `model.onnx` (a sentence-transformers encoder exported to ONNX) and its
`tokenizer.json`. Out: float32 rows of unit length (mean pooling over the tokens, as the
model was trained). onnxruntime and `tokenizers` already come with faster-whisper and
Piper, so this adds no runtime dependency.

Lexical retrieval cannot tell "building" from "developing"; learners paraphrase and speech
recognition errs. The embeddings let retrieval and the coverage decision work on meaning.
A question is one short text (a few milliseconds); the articles' sentences are embedded
once per article and cached (see `lookup.py`)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
MAX_TOKENS = 256  # the model's training length; article sentences are far shorter
BATCH = 32


class Embedder:
    def __init__(self, folder: Path, name: str, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        start = time.perf_counter()
        self.name = name
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        # The file pads every text to 128 tokens; we pad each batch to its longest text
        # instead (a question is a dozen tokens: 10x less work).
        self.tokenizer.no_padding()
        opts = onnxruntime.SessionOptions()
        # Idle threads do not spin (below), so a second thread costs a question nothing
        # and halves the clause embeddings of a long answer sentence (services.py).
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see piper.py
        self.session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self._lock = threading.Lock()  # the tokenizer's padding state is shared
        self.load_seconds = time.perf_counter() - start
        log.info("loaded embedding model %s in %.2f s", name, self.load_seconds)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) unit rows. Texts are batched by length so that padding stays
        short (a 60-word sentence must not pad forty 8-word ones)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            out[chosen] = self._batch([texts[i] for i in chosen])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feed)[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-9)).astype(np.float32)
