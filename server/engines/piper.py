"""Speech in-process: Piper (onnxruntime)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from server.engines.interfaces import model_address, speaking_pace


class PiperSynthesizer:
    """Piper (onnxruntime). One call per sentence keeps the first audio early."""

    kind = "in-process"

    def __init__(self, path: Path, name: str, threads: int) -> None:
        import onnxruntime
        from piper import PiperVoice, SynthesisConfig

        self.name = name
        self.address = model_address(path)
        self.voice = PiperVoice.load(str(path))
        # PiperVoice.load takes no session options: rebuild its session with our thread
        # count, so TTS doesn't fight the LLM and Whisper for every core.
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # onnxruntime's own thread pool spins its idle threads by default, taking the
        # cores Whisper needs when learners talk at once (2 cores, Piper and Whisper
        # looping side by side: Whisper 290 -> 208 ms a call, Piper 471 -> 427 ms; Piper
        # alone unchanged at 250 ms).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.voice.session = onnxruntime.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.sample_rate = int(self.voice.config.sample_rate)
        self._config_type = SynthesisConfig  # imported here: piper loads onnxruntime
        # The voice's trained pace: a learner's pace scales it (some voices ship != 1.0).
        self._own_length_scale = float(self.voice.config.length_scale or 1.0)

    def synthesize(self, text: str, length_scale: float = 1.0) -> Iterator[bytes]:
        config = self._config_type(
            normalize_audio=True,
            length_scale=self._own_length_scale * speaking_pace(length_scale),
        )
        for chunk in self.voice.synthesize(text, syn_config=config):
            yield chunk.audio_int16_bytes
