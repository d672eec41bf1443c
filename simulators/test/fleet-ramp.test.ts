import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { Fleet, type FleetDevice } from '../src/fleet.js';

/** Stands in for an mqtt.js client: the test decides when CONNACK or close happens. */
class FakeClient extends EventEmitter {
  stream = { writableLength: 0, setNoDelay: () => {} };
  published: string[] = [];
  constructor(readonly clientId: string) {
    super();
  }
  publish(topic: string, _payload: string, _opts: unknown, cb?: (err?: Error) => void): this {
    this.published.push(topic);
    cb?.();
    return this;
  }
  end(_force?: boolean, _opts?: unknown, cb?: () => void): this {
    cb?.();
    return this;
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function devices(n: number): FleetDevice[] {
  return Array.from({ length: n }, (_, i) => ({ id: `d${i}`, kind: 'smoke', model: 'NB-SD01', secret: 's' }));
}

describe('Fleet ramp', () => {
  it('bounds attempts in flight, connects in order, and requeues dropped devices', async () => {
    const clients: FakeClient[] = [];
    const options: Array<Record<string, unknown>> = [];
    const fleet = new Fleet({
      mqttUrl: 'mqtt://fake',
      devices: devices(20),
      seed: 'x',
      bootId: 'b',
      connectRate: 10_000,
      maxConnecting: 5,
      reconnectDelayMs: 1,
      telemetry: true,
      intervals: { smoke: { intervalMs: 5, jitter: 0 } },
      connect: (_url, opts) => {
        options.push(opts as Record<string, unknown>);
        const c = new FakeClient(String(opts.clientId));
        clients.push(c);
        return c as unknown as MqttClient;
      },
    });
    fleet.start();
    await until(() => clients.length === 5, 'five attempts');
    // Nobody answered yet: the sixth attempt must wait for a slot.
    await new Promise((r) => setTimeout(r, 100));
    expect(clients.length).toBe(5);
    expect(fleet.stats()).toMatchObject({ connecting: 5, queued: 15, connected: 0 });
    expect(options[0]).toMatchObject({
      clientId: 'd0',
      username: 'd0',
      password: 's',
      clean: true,
      keepalive: 60,
    });
    expect(clients.map((c) => c.clientId)).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);

    // Refused and timed-out attempts count as connect errors and free their slot.
    clients[0]!.emit('error', new Error('Connection refused: Not authorized'));
    clients[0]!.emit('close');
    clients[1]!.emit('close');
    for (const c of clients.slice(2)) c.emit('connect');
    await until(() => fleet.stats().connects >= 3 && clients.length >= 10, 'next attempts');
    expect(fleet.stats().connectErrors).toBe(2);
    expect(fleet.stats().lastConnectError).toBe('Connection refused: Not authorized');

    // Connected devices publish telemetry on their own topic.
    await until(() => (clients[2]?.published.length ?? 0) > 0, 'telemetry');
    expect(clients[2]!.published[0]).toBe('v1/dev/d2/telemetry');

    // A dropped device counts a disconnect and comes back through the queue.
    clients[2]!.emit('close');
    expect(fleet.stats().disconnects).toBe(1);
    // Slots free up as the attempts ahead of it in the queue get their CONNACK.
    const answered = new Set<FakeClient>(clients.slice(0, 5));
    await until(() => {
      for (const c of clients) {
        if (!answered.has(c)) {
          answered.add(c);
          c.emit('connect');
        }
      }
      return clients.filter((c) => c.clientId === 'd2').length === 2;
    }, 'd2 to reconnect');
    expect(fleet.stats().connecting).toBeLessThanOrEqual(5);
    await fleet.stop();
  });
});
