import type { Clock } from './clock.js';
import type { StationListenerStats } from './station-listener.js';

/** Resolves after ms, or at once when the run is interrupted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Something the settle phase of a run waits for before its fixed grace starts, e.g.
 * the crews' accept replies counted: on a loaded machine a reply can take longer
 * than any grace picked in advance, so the caller names the condition and a bound.
 */
export interface SettleUntil {
  done(stations: StationListenerStats | null): boolean;
  /** Gives up after this long; the report then shows what was counted. */
  maxMs: number;
}

/** Polls `done` every 20 ms until it holds, maxMs passes or the run is interrupted; returns whether it held. */
export async function waitUntil(
  done: () => boolean,
  maxMs: number,
  clock: Clock,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = clock() + maxMs;
  for (;;) {
    if (done()) return true;
    if (clock() >= deadline || signal?.aborted) return false;
    await sleep(20, signal);
  }
}
