/**
 * The simulator's clock: epoch milliseconds with sub-millisecond resolution. Publish
 * and receive times of a latency sample both come from this one clock in one process,
 * so they are comparable without trusting any other machine's clock.
 */
export type Clock = () => number;

export const systemClock: Clock = () => performance.timeOrigin + performance.now();
