"""`tutor bench voice`: voice-to-voice latency through the real server, against a naive
sequential pipeline measured in the same run.

Questions are spoken by Piper (natural) and espeak-ng (robotic), streamed into /ws/voice
in 20 ms frames at real-time pace, followed by silence as a live microphone would send.
Voice-to-voice is measured by the client: from the moment the last frame of speech was
sent to the first reply audio frame received. The naive baseline runs the same models
one after the other on the same utterances: the same end-of-turn silence, then
transcribe the whole utterance, then the whole answer (no streaming), then synthesize the
whole answer; its first audio is when all of that is done."""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import soxr

from server.ops.bench.stt import normalize

FRAME_S = 0.02
DEFAULT_QUESTIONS = [
    "What is Avocado?",
    "How was Llama 4 received?",
    "When is Avocado now expected to launch?",
    "Which open models are suggested as a fallback to Llama?",
    "What happened to Stability AI?",
    "Who is Meta's Chief AI Officer?",
    "What is the capital of Australia?",
]


@dataclass
class Utterance:
    text: str
    voice: str
    pcm: bytes  # 16 kHz s16le, speech then nothing: the talker appends silence
    lead_s: float = 0.3

    @property
    def speech_end_byte(self) -> int:
        """Where the speech really ends: after the last 10 ms above -40 dBFS (voices
        trail off in near-silence that no listener counts as speech)."""
        samples = np.frombuffer(self.pcm, "<i2").astype(np.float32) / 32768
        frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
        loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 0.01)
        end = (int(loud[-1]) + 1) * 160 if len(loud) else len(samples)
        return 2 * end


@dataclass
class TurnResult:
    utterance: Utterance
    heard: str = ""
    voice_to_voice: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def speak_questions(
    questions: list[str],
    synthesize: Callable[[str], bytes],
    rate: int,
    voices: tuple[str, ...] = ("piper", "espeak-ng"),
) -> list[Utterance]:
    out: list[Utterance] = []
    have_espeak = shutil.which("espeak-ng") is not None
    for text in questions:
        for voice in voices:
            if voice == "piper":
                audio = np.frombuffer(synthesize(text), np.int16).astype(np.float32) / 32768
                audio = soxr.resample(audio, rate, 16_000)
            elif have_espeak:
                with tempfile.TemporaryDirectory() as tmp:
                    wav = Path(tmp) / "q.wav"
                    subprocess.run(
                        ["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), text], check=True
                    )
                    with wave.open(str(wav)) as w:
                        raw = np.frombuffer(w.readframes(w.getnframes()), np.int16)
                        audio = soxr.resample(
                            raw.astype(np.float32) / 32768, w.getframerate(), 16_000
                        )
            else:
                continue
            lead = np.zeros(int(0.3 * 16_000), np.float32)
            pcm = (np.clip(np.concatenate([lead, audio]), -1, 1) * 32767).astype("<i2").tobytes()
            out.append(Utterance(text, voice, pcm))
    return out


async def talk(url: str, utterance: Utterance, timeout: float = 30.0) -> TurnResult:
    """One learner: speak, keep the mic open (silence), wait for the reply's first audio
    and the turn's metrics."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    result = TurnResult(utterance)
    try:
        await _talk(connect(url, max_size=None), utterance, result, timeout)
    except ConnectionClosed as exc:
        # A refused socket is closed at once, maybe before our hello is sent: 1013 = busy.
        busy = exc.rcvd is not None and exc.rcvd.code == 1013
        result.error = result.error or ("busy" if busy else "closed")
    return result


async def _talk(connection: Any, utterance: Utterance, result: TurnResult, timeout: float) -> None:
    frame = int(16_000 * FRAME_S) * 2
    async with connection as ws:
        await ws.send(json.dumps({"type": "hello", "sample_rate": 16_000}))
        first = json.loads(await ws.recv())
        if first["type"] == "error":  # busy (then closed), or refused
            result.error = first["code"]
            return
        speech_end: list[float] = []
        end_of_speech = utterance.speech_end_byte
        done = asyncio.Event()

        async def microphone() -> None:
            start = time.perf_counter()
            i = 0
            audio = utterance.pcm
            while not done.is_set():
                chunk = audio[i * frame : (i + 1) * frame] or bytes(frame)
                if not speech_end and (i + 1) * frame >= end_of_speech:
                    speech_end.append(time.perf_counter())
                await ws.send(chunk)
                i += 1
                await asyncio.sleep(max(0.0, start + i * FRAME_S - time.perf_counter()))

        mic = asyncio.create_task(microphone())
        try:
            async with asyncio.timeout(timeout):
                async for message in ws:
                    if isinstance(message, bytes):
                        if result.voice_to_voice is None and speech_end:
                            result.voice_to_voice = time.perf_counter() - speech_end[0]
                        continue
                    event = json.loads(message)
                    if event["type"] == "transcript.final":
                        result.heard = event["text"]
                    elif event["type"] == "error" and event["code"] != "silent_audio":
                        result.error = event["code"]
                        if event["code"] in ("no_speech", "busy"):
                            break
                    elif event["type"] == "turn.metrics":
                        result.metrics = event
                        break
        except TimeoutError:
            result.error = "timeout"
        finally:
            done.set()
            await mic


def turn_record(result: TurnResult) -> dict[str, Any]:
    """One turn as the bench's `--turns` file keeps it."""
    u = result.utterance
    return {
        "voice": u.voice,
        "said": u.text,
        "heard": result.heard,
        "voice_to_voice": result.voice_to_voice,
        "error": result.error,
        "metrics": {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))},
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(values, q))


def summarize(results: list[TurnResult]) -> dict[str, Any]:
    v2v = [r.voice_to_voice for r in results if r.voice_to_voice is not None]
    stages: dict[str, list[float]] = {}
    for r in results:
        for key in (
            "vad_end_delay",
            "end_of_speech_to_final",
            "retrieval",
            "first_token",
            "first_sentence",
            "tts_first_sentence",
            "first_audio",
            "voice_to_voice",
        ):
            if isinstance(r.metrics.get(key), (int, float)):
                stages.setdefault(key, []).append(float(r.metrics[key]))
    refs = [normalize(r.utterance.text) for r in results if r.heard]
    hyps = [normalize(r.heard) for r in results if r.heard]
    return {
        "turns": len(results),
        "errors": sum(1 for r in results if r.error),
        "v2v_p50": percentile(v2v, 50),
        "v2v_p95": percentile(v2v, 95),
        "stages": {k: (percentile(v, 50), percentile(v, 95)) for k, v in stages.items()},
        "wer": jiwer.wer(refs, hyps) if refs else float("nan"),
    }


async def naive_turn(services: Any, utterance: Utterance, silence_s: float) -> float:
    """The sequential pipeline's time from end of speech to its first audio: the same
    end-of-turn silence, then the whole transcription, then the whole LLM answer (then
    verified, with the same extractive fallback), then the whole answer synthesized."""
    import threading

    from server.listen.vocabulary import whisper_prompt
    from server.reason import ground
    from server.reason.answer.prompt import build_messages
    from server.reason.answer.sentences import SentenceSplitter

    engines, answerer = services.engines, services.answerer
    audio = np.frombuffer(utterance.pcm, np.int16).astype(np.float32) / 32768
    start = time.perf_counter()
    prompt = whisper_prompt(services.index.vocabulary())
    question = await engines.stt.call(engines.transcriber.transcribe, audio, prompt)
    parsed, hits, decision = answerer.decide(question, [])
    if not decision.answerable:
        text = answerer.not_covered()
    else:
        question = parsed.search_text
        hits = answerer.extractor.widen(parsed, hits)
        context = answerer.extractor.llm_context(parsed, hits)
        messages = build_messages(question, context, [])
        full = await engines.llm.call(
            lambda: "".join(
                engines.responder.stream(messages, answerer.max_tokens, threading.Event())
            )
        )
        splitter = SentenceSplitter()
        kept: list[str] = []
        for sentence in splitter.feed(full) + splitter.flush():
            if len(kept) == 3 or not ground.check(sentence, context, question).ok:
                break
            kept.append(sentence)
        text = " ".join(kept or answerer.extractor.extractive(parsed, hits))
    await engines.tts.call(lambda: b"".join(engines.synthesizer.synthesize(text)))
    return silence_s + time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
