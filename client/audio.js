// Audio in and out of the page.
// Mic: getUserMedia (echo cancellation, noise suppression, auto gain) -> capture worklet
//      -> onFrame(Int16 ArrayBuffer at 16 kHz, level).
// Player: reply PCM chunks -> playback worklet (gapless) -> speakers, with a count of the
//      samples actually played (window.tutorStats.playedSamples) for barge-in reports.

import { INPUT_RATE } from "./protocol.js";

const WORKLETS = new URL("./worklets/", import.meta.url);

export class Mic {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.ctx = null;
    this.stream = null;
  }

  get active() {
    return this.stream !== null;
  }

  /** Opens the microphone; throws the browser's error (NotAllowedError, NotFoundError). */
  async start() {
    if (this.stream) return;
    if (!navigator.mediaDevices?.getUserMedia) {
      throw Object.assign(new Error("this browser gives pages no microphone"),
        { name: "NotSupportedError" });
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true,
        channelCount: 1 },
    });
    try {
      this.ctx = new AudioContext({ sampleRate: INPUT_RATE });
    } catch {
      this.ctx = new AudioContext(); // the worklet resamples to 16 kHz itself
    }
    await this.ctx.audioWorklet.addModule(new URL("capture.js", WORKLETS));
    const source = this.ctx.createMediaStreamSource(this.stream);
    const node = new AudioWorkletNode(this.ctx, "tutor-capture");
    node.port.onmessage = (e) => this.onFrame(e.data.pcm, e.data.level);
    source.connect(node);
    // A worklet only runs when pulled: connect it to a muted gain so nothing is heard.
    const mute = this.ctx.createGain();
    mute.gain.value = 0;
    node.connect(mute).connect(this.ctx.destination);
    await this.ctx.resume();
  }

  stop() {
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.ctx?.close();
    this.ctx = null;
  }
}

export class Player {
  /** stats: the object exposed as window.tutorStats (playedSamples, queuedSamples...). */
  constructor(stats, { onDrained, onStopped } = {}) {
    this.stats = stats;
    this.onDrained = onDrained ?? (() => {});
    this.onStopped = onStopped ?? (() => {});
    this.ctx = null;
    this.node = null;
    this.ready = null;
    this.pending = [];
  }

  /** Creates (or resumes) the audio output; call it from a click so autoplay allows it. */
  unlock(rate = 22050) {
    if (!this.ready) this.ready = this._open(rate);
    else this.ctx?.resume();
    return this.ready;
  }

  async _open(rate) {
    try {
      this.ctx = new AudioContext({ sampleRate: rate, latencyHint: "interactive" });
    } catch {
      this.ctx = new AudioContext({ latencyHint: "interactive" });
    }
    await this.ctx.audioWorklet.addModule(new URL("playback.js", WORKLETS));
    this.node = new AudioWorkletNode(this.ctx, "tutor-playback", { outputChannelCount: [1] });
    this.node.connect(this.ctx.destination);
    this.node.port.onmessage = (e) => this._onReport(e.data);
    await this.ctx.resume();
    for (const msg of this.pending) this._post(msg);
    this.pending = [];
  }

  _post(msg, transfer = []) {
    if (this.node) this.node.port.postMessage(msg, transfer);
    else this.pending.push(msg);
  }

  _onReport(r) {
    this.stats.playedSamples = r.played;
    this.stats.queuedSamples = r.queued;
    this.stats.playing = r.queued > 0;
    if (r.turn) this.stats.turnPlayed[r.turn] = r.turnPlayed;
    if (r.kind === "drained") this.onDrained(r.turn, r.turnPlayed);
    if (r.kind === "stopped") this.onStopped(r.turn, r.turnPlayed);
  }

  /** Queues one frame of reply audio (PCM s16le mono). */
  play(turnId, rate, buffer) {
    if (!this.ready) this.unlock(rate);
    this.stats.receivedSamples += buffer.byteLength / 2;
    this.stats.playing = true;
    this._post({ cmd: "chunk", turn: turnId, rate, pcm: buffer }, [buffer]);
  }

  end(turnId) {
    this._post({ cmd: "end", turn: turnId });
  }

  /** Drops everything queued at once; onStopped reports what was played. */
  stop() {
    this.stats.playing = false;
    this._post({ cmd: "stop" });
  }
}
