import { EventEmitter } from 'node:events';
import { deviceTopic } from '@hub/protocol';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngressScheduler, isFireEvent, peekEventType } from '../src/ingress-scheduler.js';
import {
  connectService,
  counterValue,
  deviceSecret,
  eventJson,
  type RunningBroker,
  subscribeGranted,
  waitFor,
  within,
} from './support/broker-fixture.js';
import { type BrokerSuite, openBrokerSuite } from './support/broker-suite.js';
import { publishFrame } from './support/frames.js';
import { RawMqtt } from './support/raw-mqtt.js';

/**
 * A stand-in for an aedes 1.2 client: its parser with the `enqueue` listener, the
 * connection with `nextBatch` on 'readable', and the batch counter aedes keeps.
 */
function fakeClient(kind: string, handled: string[]) {
  const client = {
    _parsingBatch: 0,
    connackSent: true,
    closed: false,
    hubPrincipal: { kind },
    reads: 0,
    _nextBatch() {
      client._parsingBatch--;
      if (client._parsingBatch <= 0) {
        client._parsingBatch = 0;
        client.reads++;
      }
    },
    _parser: new EventEmitter() as EventEmitter & { client?: unknown },
    conn: Object.assign(new EventEmitter(), { readableLength: 0, read: () => null }),
  };
  client._parser.client = client;
  // aedes' enqueue: counts the packet in the batch; "handling" finishes at once.
  client._parser.on('packet', function enqueue(packet: { topic?: string; cmd: string }) {
    client._parsingBatch++;
    handled.push(packet.topic ?? packet.cmd);
    client._nextBatch();
  });
  client.conn.on('readable', client._nextBatch);
  return client;
}

const tele = (n: number) => ({ cmd: 'publish', qos: 0, topic: `t${n}`, payload: Buffer.from('{}') });
const event = (type: string, topic: string) => ({
  cmd: 'publish',
  qos: 1,
  topic,
  payload: Buffer.from(`{"v":1,"id":"x","type":"${type}"}`),
});
const turn = () => new Promise((r) => setImmediate(r));

describe('IngressScheduler (unit, fake aedes client)', () => {
  it('fire alarms at once, then other events, then telemetry; each lane in order', async () => {
    const handled: string[] = [];
    const s = new IngressScheduler({ sliceMs: 50, maxTelemetryQueued: 100, onShed: () => undefined });
    const c = fakeClient('device', handled);
    s.attach(c);
    const p = c._parser;
    p.emit('packet', tele(1));
    p.emit('packet', event('test', 'ev-test'));
    p.emit('packet', tele(2));
    p.emit('packet', event('alarm', 'ev-alarm'));
    p.emit('packet', { cmd: 'pingreq' });
    expect(handled).toEqual(['ev-alarm', 'pingreq']);
    expect(s.queued).toEqual({ events: 1, telemetry: 2 });
    await turn();
    expect(handled).toEqual(['ev-alarm', 'pingreq', 'ev-test', 't1', 't2']);
    expect(c._parsingBatch).toBe(0);
  });

  it('holds the connection while it has deferred packets: no read on readable, one read when they are done', async () => {
    const handled: string[] = [];
    const s = new IngressScheduler({ sliceMs: 50, maxTelemetryQueued: 100, onShed: () => undefined });
    const c = fakeClient('device', handled);
    s.attach(c);
    c._parser.emit('packet', tele(1));
    c._parser.emit('packet', tele(2));
    expect(c._parsingBatch).toBe(2);
    c.conn.emit('readable');
    c.conn.emit('readable');
    expect(c.reads).toBe(0);
    await turn();
    expect(c.reads).toBe(1);
    c.conn.emit('readable');
    expect(c.reads).toBe(2);
  });

  it('services and stations are never deferred; packets before CONNACK pass straight to aedes', () => {
    const handled: string[] = [];
    const s = new IngressScheduler({ sliceMs: 50, maxTelemetryQueued: 100, onShed: () => undefined });
    const svc = fakeClient('service', handled);
    s.attach(svc);
    svc._parser.emit('packet', tele(7));
    const early = fakeClient('device', handled);
    early.connackSent = false;
    s.attach(early);
    early._parser.emit('packet', tele(8));
    expect(handled).toEqual(['t7', 't8']);
  });

  it('sheds the oldest readings from the cap down to half; a gated connection is read again after the lane', async () => {
    const handled: string[] = [];
    let load = 10;
    let shed = 0;
    const s = new IngressScheduler({
      sliceMs: 50,
      maxTelemetryQueued: 4,
      onShed: () => shed++,
      routerLoad: () => load,
      maxRouterLoad: 5,
    });
    const c = fakeClient('device', handled);
    s.attach(c);
    for (let i = 0; i < 4; i++) c._parser.emit('packet', tele(i));
    expect(s.shedding).toBe(true);
    // The router is full: the two oldest readings are shed, the other two wait.
    await turn();
    expect(handled).toEqual([]);
    expect(shed).toBe(2);
    expect(s.queued.telemetry).toBe(2);
    const other = fakeClient('device', handled);
    s.attach(other);
    s.gate(other._parser as never);
    s.gate(other._parser as never); // one placeholder per connection
    expect(other._parsingBatch).toBe(1);
    load = 0;
    await turn();
    expect(handled).toEqual(['t2', 't3']);
    expect(s.shedding).toBe(false);
    expect(c._parsingBatch).toBe(0);
    expect(other.reads).toBe(1);
    expect(other._parsingBatch).toBe(0);
  });

  it("a shed reading releases its hold but not the connection's placeholder", async () => {
    const s = new IngressScheduler({
      sliceMs: 50,
      maxTelemetryQueued: 4,
      onShed: () => undefined,
      routerLoad: () => 10,
      maxRouterLoad: 5,
    });
    const c = fakeClient('device', []);
    s.attach(c);
    for (let i = 0; i < 4; i++) c._parser.emit('packet', tele(i));
    s.gate(c._parser as never);
    expect(c._parsingBatch).toBe(5);
    await turn();
    // Two oldest readings shed, two wait behind the full router, the placeholder last.
    expect(c._parsingBatch).toBe(3);
    expect((c as { hubPlaceholder?: boolean }).hubPlaceholder).toBe(true);
    s.gate(c._parser as never); // still one placeholder: no second hold
    expect(c._parsingBatch).toBe(3);
  });

  it('peeks the event type without parsing the JSON', () => {
    expect(peekEventType(Buffer.from('{"v":1, "type" :\t"alarm","id":"x"}'))).toBe('alarm');
    expect(isFireEvent(Buffer.from('{"type":"smoke_linkage"}'))).toBe(true);
    expect(isFireEvent(Buffer.from('{"type":"test"}'))).toBe(false);
    expect(isFireEvent(Buffer.from('{"type":1}'))).toBe(false);
    expect(isFireEvent(Buffer.from('not json'))).toBe(false);
  });
});

describe('ingress scheduling over TCP with real Redis: shedding telemetry, not alarms', () => {
  let suite: BrokerSuite;
  let run: RunningBroker;
  let ids: string[];
  const cleanup: Array<() => unknown> = [];

  beforeAll(async () => {
    // A small lane and a router that takes one message at a time: shedding starts at once.
    suite = await openBrokerSuite('ingress', {
      env: { HUB_BROKER_INGRESS_TELEMETRY_MAX: '50', HUB_BROKER_INGRESS_ROUTER_MAX: '1' },
    });
    ({ run, ids } = suite);
  });
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
    await suite?.close();
  });

  it("a device's alarm behind 20,000 of its own readings is stored and acknowledged; readings are shed, counted, and some delivered", async () => {
    const ingest: MqttClient = await connectService(run.url, 'hub-ingest', 'hub-ingest-sched');
    cleanup.push(() => ingest.endAsync(true));
    expect(await subscribeGranted(ingest, ['v1/dev/+/telemetry'], 0)).toEqual([0]);
    let readings = 0;
    ingest.on('message', () => readings++);

    const id = ids[3]!;
    const dev = await RawMqtt.connect(run.port, id, id, deviceSecret(id));
    cleanup.push(() => dev.end());
    const one = publishFrame(
      deviceTopic(id, 'telemetry'),
      JSON.stringify({ v: 1, id: 't', ts: 1, seq: 1 }),
      0,
    );
    const alarm = eventJson('alarm', 'sched-alarm-1');
    // One write: 20,000 readings, then the alarm, on the same connection.
    dev.write(
      Buffer.concat([
        ...Array.from({ length: 20_000 }, () => one),
        publishFrame(deviceTopic(id, 'event'), alarm, 1, 42),
      ]),
    );
    await within(dev.waitForPacket('puback', 30_000), 35_000, 'the PUBACK of the alarm');

    const stored = await suite.reg.redis.xrange(suite.reg.keys.fireEvents, '-', '+');
    expect(stored.some(([, f]) => f[3] === alarm)).toBe(true);
    const shed = () => counterValue(run.broker.metrics.shed, { reason: 'ingress_queue' });
    await waitFor('readings shed at ingress', async () => (await shed()) > 0, 10_000);
    await waitFor('some readings delivered', () => readings > 0, 10_000);
    expect(dev.closed).toBe(false);
  }, 60_000);
});
