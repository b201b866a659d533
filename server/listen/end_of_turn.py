"""End of turn: has the learner finished, or are they pausing to think?

In: the utterance so far (16 kHz float32) and how long the learner has been silent. Out:
whether the turn is over.

A plain silence timer must choose between cutting off a learner who pauses mid-question
("When was Avocado, um, ... supposed to launch?") and answering everyone late. With the
`smart` detector the turn ends after a short silence (`short_ms`, from 100 ms) when Smart
Turn v3.2 (pipecat's open end-of-turn model: 8.7 MB ONNX, Whisper log-mel features of the
last 8 s) says the utterance sounds complete, and only after the long wait (`long_ms`,
~2 s, the segmenter's own timer) when it does not. The model costs ~90 ms on one thread
and runs off the event loop, one ask at a time, as the pause grows.

The model file and its numpy feature code both come from the `pipecat-ai` wheel,
installed without its dependencies and never imported as a package: the feature module
is loaded from its file (it needs only numpy)."""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from server.reason.text import words
from server.reason.words import (
    ARTICLES,
    CONJUNCTIONS,
    HESITATIONS,
    MODALS,
    POSSESSIVES,
    PREPOSITIONS,
    RELATIVES,
    TO_BE,
)

log = logging.getLogger(__name__)
WINDOW_SECONDS = 8  # what the model was trained on
RATE = 16_000
COMPLETE = 0.5


@dataclass(frozen=True)
class TurnSettings:
    detector: str = "smart"  # or "silence": the plain timer
    short_ms: int = 200
    long_ms: int = 2000


# The model is asked as the pause grows, on the audio already in hand: every ASK_EVERY_MS
# from `short_ms` while the pause is young, then every ASK_LATE_MS until `long_ms`. Its
# verdict depends on the trailing silence it hears: on the bench's 22 spoken questions, 8
# complete ones were judged unfinished at 0.2 s of silence and 3 still at 0.5 s, while a
# question broken off on "um" stayed at 0.01 throughout. Asking often while the pause is
# young ends a finished question at the first verdict that hears it finished, instead of
# at fixed points 0.3 s and 0.8 s apart. An ask costs ~90 ms on one thread; one in flight
# is never doubled (`Listener._judge_pause`).
ASK_EVERY_MS = 100
ASK_DENSE_UNTIL_MS = 600
ASK_LATE_MS = 300
# The first ask comes one VAD window before `short_ms`, on the audio in hand then, and a
# "complete" verdict ends the turn once the pause has reached `short_ms` (it usually has
# by the time the verdict is in: ~50-100 ms). Measured offline on 122 utterances (three
# voices; questions about three articles, 32 with a thinking pause), asking at 96 ms
# instead of 128 ended exactly the same pauses, and a finished question 27 ms sooner on
# average; asking at 64 ms cut one thinking pause more ("When is Avocado, um, ...").
ASK_AHEAD_MS = 32


class TurnDecision:
    """The pure part, per pause: ask the model once the silence reaches `short_ms`, then
    at each later checkpoint (see ASK_EVERY_MS) while under `long_ms`; a verdict that says
    complete ends the turn. Speech resuming starts a new pause."""

    def __init__(self, settings: TurnSettings) -> None:
        self.s = settings
        dense_until = min(ASK_DENSE_UNTIL_MS, settings.long_ms)
        self.checkpoints = [
            *range(settings.short_ms, dense_until, ASK_EVERY_MS),
            *range(max(settings.short_ms, dense_until), settings.long_ms, ASK_LATE_MS),
        ]
        if self.checkpoints:  # the first ask a window ahead (see ASK_AHEAD_MS)
            self.checkpoints[0] = max(ASK_AHEAD_MS, settings.short_ms - ASK_AHEAD_MS)
        self._next = 0  # the next checkpoint in this pause

    @property
    def asked(self) -> bool:
        """The model was asked during this pause."""
        return self._next > 0

    @property
    def optional(self) -> bool:
        """The ask just due is one of the frequent early ones after the first: worth
        making only when the model is idle (with many learners on few cores, it falls
        back to a verdict every ASK_LATE_MS rather than queueing theirs)."""
        at = self.checkpoints[self._next - 1] if self._next else 0
        on_late_beat = (at - self.s.short_ms) % ASK_LATE_MS == 0  # the sparse schedule's
        return self._next > 1 and at < ASK_DENSE_UNTIL_MS and not on_late_beat

    def should_ask(self, speaking: bool, silence_ms: int) -> bool:
        if silence_ms == 0:
            self._next = 0  # speech resumed: the next pause is a new question
            return False
        if not speaking or self.s.detector != "smart":
            return False
        passed = self._next
        while passed < len(self.checkpoints) and silence_ms >= self.checkpoints[passed]:
            passed += 1  # checkpoints passed at once get one ask
        asked, self._next = passed > self._next, passed
        return asked

    def due(self, silence_ms: int) -> bool:
        """The pause is long enough for a "complete" verdict to end the turn."""
        return silence_ms >= self.s.short_ms

    @staticmethod
    def ends_turn(probability: float, silence_ms: int = 0, transcript: str | None = None) -> bool:
        """The model says complete; or the words so far read as a finished sentence, the
        pause has lasted READ_COMPLETE_MS, and the model does not say unfinished outright
        (READ_COMPLETE_P) or the pause has lasted READ_COMPLETE_LONG_MS. Robotic or flat
        voices leave the model unsure for a long time after a finished question, while a
        learner who stops to think mid-sentence gets a firm "unfinished" (p ~0.01) and
        words that end open ("about", "um,")."""
        if probability >= COMPLETE:
            return True
        if transcript is None or silence_ms < READ_COMPLETE_MS or not reads_complete(transcript):
            return False
        return probability >= READ_COMPLETE_P or silence_ms >= READ_COMPLETE_LONG_MS


# The second signal: the transcript so far. Measured offline on 69 spoken questions (23
# questions, three of them the bench's, about three articles; Piper at two paces and
# espeak-ng) and 32 with a thinking pause, asking the model at each checkpoint: ending
# a turn when its words read complete, the pause is 300 ms old and p >= 0.1 took the
# 90th percentile of the end-of-turn wait from 320 to 269 ms and the 95th from 723 to
# 627 ms, with no turn ended in a pause that the model alone did not end. With 200 ms
# and p >= 0.2 one thinking pause was cut ("Where did never car go?", espeak-ng).
READ_COMPLETE_MS = 300
READ_COMPLETE_P = 0.1
# And words that read complete shorten the long wait whatever the model says (as
# LiveKit's text end-of-utterance model shortens its maximum delay): the bench's espeak-ng
# "What should developers who build on Llama do now?" reads complete but its flat voice
# keeps p at 0.01-0.07, so it waited the full 2 s. A learner who stops to think after
# words that read complete ("When was Avocado?" ... "supposed to launch?") for longer
# than this is answered, and their next words start a new turn.
READ_COMPLETE_LONG_MS = 1200
# Words an English sentence is not finished on when its speaker is still going: articles,
# possessives, prepositions, conjunctions, modals and "to be", hesitations ("What did Madison
# say about", "When is Avocado, um,"). A question that does end on one ("What is it
# for?") only waits for the model, as before; "do", "have", "be" often end a finished
# one ("What should developers do?").
OPEN_ENDINGS = (
    ARTICLES
    | POSSESSIVES
    | PREPOSITIONS
    | {"of"}
    | CONJUNCTIONS
    | RELATIVES
    | TO_BE
    | MODALS
    | HESITATIONS
)


def reads_complete(transcript: str) -> bool:
    """Whisper's words read as a finished sentence: they end on . ? or ! (Whisper leaves
    a trailing-off utterance unpunctuated, or ends it "...") and not on an open word."""
    text = transcript.strip()
    if not text.endswith((".", "?", "!")) or text.endswith(".."):
        return False
    said = words(text)
    return bool(said) and said[-1] not in OPEN_ENDINGS


def _load_features(model_path: Path) -> ModuleType:
    source = model_path.parent.parent / "_whisper_features.py"
    spec = importlib.util.spec_from_file_location("smart_turn_features", source)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SmartTurn:
    """Smart Turn v3.2: audio -> probability that the utterance is complete."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        features = _load_features(path)
        self._features: Callable[..., np.ndarray] = features.compute_whisper_log_mel_features
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """The model is running a verdict (for any session): an optional ask waits."""
        return self._lock.locked()

    def probability(self, audio: np.ndarray) -> float:
        """The last 8 s (left-padded with silence when shorter), as pipecat feeds it."""
        window = WINDOW_SECONDS * RATE
        audio = audio[-window:].astype(np.float32, copy=False)
        if len(audio) < window:
            audio = np.pad(audio, (window - len(audio), 0))
        mel = self._features(audio, do_normalize=True)
        with self._lock:
            out = self.session.run(None, {"input_features": mel[None, ...].astype(np.float32)})
        return float(np.ravel(out[0])[0])
