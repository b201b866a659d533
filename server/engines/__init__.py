"""Engines behind small interfaces, and the workers that run them.

    interfaces.py  Transcriber / Responder / Synthesizer, queue priorities, speaking pace
    worker.py      ModelWorker: an engine's threads and priority queue; FailSoft
    whisper.py     faster-whisper, in-process          llama.py   llama.cpp, in-process
    piper.py       Piper, in-process                   openai.py  an OpenAI-compatible server
    wyoming_stt.py a Wyoming speech-to-text server  wyoming_tts.py  a Wyoming voice server
    wyoming_link.py one Wyoming request over TCP, within a deadline (both use it)
    loaded.py      Engines: the three a tutor uses, each behind its worker

Which backend serves each role is decided from the settings in one place,
`server.session.services.open_engines`. The names below are re-exported so callers import them
from `server.engines`.
"""

from __future__ import annotations

import os

# Three models share a few cores. OpenMP's default is to spin idle worker threads for a
# long while, which steals the cores the other models need; never spinning (passive)
# slows llama.cpp's token loop instead. A short spin kept the single-talker latency and
# halved it with four talkers (2 cores: p50 2.4-3.0 s -> 1.6 s; passive: 1.4-1.7 s but
# about 0.1 s slower with one talker). Read by libgomp when llama.cpp and CTranslate2
# start it, so it is set here, before any backend module is imported; a user's own
# OMP_WAIT_POLICY wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "20000")

from server.engines.interfaces import (  # noqa: E402
    BACKGROUND,
    LATER,
    MAX_LENGTH_SCALE,
    MIN_LENGTH_SCALE,
    NORMAL,
    STT_RATE,
    URGENT,
    Responder,
    Synthesizer,
    Transcriber,
    speaking_pace,
)
from server.engines.llama import LlamaResponder  # noqa: E402
from server.engines.loaded import Engines, load_engines  # noqa: E402
from server.engines.openai import OpenAIResponder  # noqa: E402
from server.engines.piper import PiperSynthesizer  # noqa: E402
from server.engines.whisper import WhisperTranscriber, encoder_window  # noqa: E402
from server.engines.worker import FailSoft, ModelWorker  # noqa: E402

__all__ = [
    "BACKGROUND",
    "LATER",
    "MAX_LENGTH_SCALE",
    "MIN_LENGTH_SCALE",
    "NORMAL",
    "STT_RATE",
    "URGENT",
    "Engines",
    "FailSoft",
    "LlamaResponder",
    "ModelWorker",
    "OpenAIResponder",
    "PiperSynthesizer",
    "Responder",
    "Synthesizer",
    "Transcriber",
    "WhisperTranscriber",
    "encoder_window",
    "load_engines",
    "speaking_pace",
]
