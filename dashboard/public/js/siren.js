// A generated siren (no audio files): a square-wave oscillator whose pitch is swept
// by a slow sine LFO between ~650 and ~1350 Hz, the wail of a fire engine.
// Browsers only allow sound after a user gesture, so unlock() must run from a click
// ("开始值班"); until then the console shows that sound is off.

export class Siren {
  constructor() {
    this.ctx = null;
    this.master = null;
    this.playing = false;
    this.testing = false;
    this.listeners = new Set();
  }

  /** Call from a click handler. Resolves true when sound is on. */
  async unlock() {
    const AC = window.AudioContext ?? window.webkitAudioContext;
    if (AC === undefined) return false;
    if (this.ctx === null) {
      this.ctx = new AC();
      const osc = this.ctx.createOscillator();
      osc.type = 'square';
      osc.frequency.value = 1000;
      const lfo = this.ctx.createOscillator();
      lfo.type = 'sine';
      lfo.frequency.value = 0.7;
      const depth = this.ctx.createGain();
      depth.gain.value = 350;
      lfo.connect(depth).connect(osc.frequency);
      this.master = this.ctx.createGain();
      this.master.gain.value = 0;
      osc.connect(this.master).connect(this.ctx.destination);
      osc.start();
      lfo.start();
      this.ctx.addEventListener('statechange', () => this.emit());
    }
    if (this.ctx.state !== 'running') await this.ctx.resume();
    this.apply();
    this.emit();
    return this.enabled;
  }

  get enabled() {
    return this.ctx !== null && this.ctx.state === 'running';
  }

  /** Starts or stops the wail for alerts; harmless while sound is locked. */
  set(on) {
    this.playing = on;
    this.apply();
  }

  /** A two-second test that never cuts a real alert short. */
  test() {
    this.testing = true;
    this.apply();
    setTimeout(() => {
      this.testing = false;
      this.apply();
    }, 2000);
  }

  apply() {
    if (this.master === null) return;
    const now = this.ctx.currentTime;
    this.master.gain.cancelScheduledValues(now);
    this.master.gain.setTargetAtTime(this.playing || this.testing ? 0.25 : 0, now, 0.02);
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  emit() {
    for (const fn of this.listeners) fn(this.enabled);
  }
}
