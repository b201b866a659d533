// Gapless playback of reply PCM (AudioWorklet). Chunks of Int16 samples are queued and
// played back to back; the processor counts the samples that actually left it, so the
// page can tell the server how much of a reply the learner heard (barge-in history).
//
// In:  {cmd:"chunk", turn, rate, pcm: ArrayBuffer}, {cmd:"end", turn}, {cmd:"stop"}
// Out: {kind:"progress"|"drained"|"stopped", played, turn, turnPlayed, queued}
// `played` and `turnPlayed` count source samples (at the chunk's rate).

const REPORT_EVERY = 2048; // output samples between progress reports (~90 ms at 22 kHz)

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; // [{turn, rate, samples: Int16Array}]
    this.offset = 0; // fractional read position in queue[0]
    this.played = 0;
    this.turn = null;
    this.turnPlayed = 0;
    this.ended = new Set(); // turns whose audio.end arrived
    this.sinceReport = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  queued() {
    let n = -Math.floor(this.offset);
    for (const c of this.queue) n += c.samples.length;
    return Math.max(0, n);
  }

  report(kind) {
    this.port.postMessage({
      kind, played: this.played, turn: this.turn, turnPlayed: this.turnPlayed,
      queued: this.queued(),
    });
  }

  onMessage(msg) {
    if (msg.cmd === "chunk") {
      this.queue.push({ turn: msg.turn, rate: msg.rate, samples: new Int16Array(msg.pcm) });
    } else if (msg.cmd === "end") {
      this.ended.add(msg.turn);
      if (this.queue.length === 0 && msg.turn === this.turn) this.report("drained");
      if (this.queue.length === 0 && this.turn !== msg.turn) {
        // an answer whose audio never started playing (e.g. all of it arrived empty)
        this.turn = msg.turn;
        this.turnPlayed = 0;
        this.report("drained");
      }
    } else if (msg.cmd === "stop") {
      this.queue = [];
      this.offset = 0;
      this.report("stopped");
    }
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    let written = 0;
    while (written < out.length && this.queue.length) {
      const chunk = this.queue[0];
      if (chunk.turn !== this.turn) {
        this.turn = chunk.turn;
        this.turnPlayed = 0;
      }
      const step = chunk.rate / sampleRate;
      const data = chunk.samples;
      while (written < out.length && this.offset < data.length) {
        const i = Math.floor(this.offset);
        const next = i + 1 < data.length ? data[i + 1] : data[i];
        const frac = this.offset - i;
        out[written++] = (data[i] + (next - data[i]) * frac) / 32768;
        const before = Math.floor(this.offset);
        this.offset += step;
        const advanced = Math.min(Math.floor(this.offset), data.length) - before;
        this.played += advanced;
        this.turnPlayed += advanced;
      }
      if (this.offset >= data.length) {
        this.offset -= data.length;
        this.queue.shift();
        if (this.queue.length === 0) {
          this.offset = 0;
          if (this.ended.has(this.turn)) this.report("drained");
        }
      }
    }
    for (let k = written; k < out.length; k++) out[k] = 0;
    for (let ch = 1; ch < outputs[0].length; ch++) outputs[0][ch].set(out);
    this.sinceReport += written;
    if (this.sinceReport >= REPORT_EVERY) {
      this.sinceReport = 0;
      this.report("progress");
    }
    return true;
  }
}

registerProcessor("tutor-playback", PlaybackProcessor);
