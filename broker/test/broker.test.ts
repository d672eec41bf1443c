import { connect as tcpConnect } from 'node:net';
import { deviceTopic, REJECT_CODES, stationTopic } from '@hub/protocol';
import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closed,
  connectAs,
  connectDevice,
  connectReturnCode,
  connectService,
  connectStation,
  counterValue,
  deviceSecret,
  eventJson,
  type RegistryFixture,
  type RunningBroker,
  subscribeGranted,
  waitFor,
  within,
} from './support/broker-fixture.js';
import { type BrokerSuite, openBrokerSuite } from './support/broker-suite.js';

/**
 * The broker over real TCP (mqtt.js clients) with the real Redis: authentication,
 * authorization, durable events and replies before PUBACK, payload checks.
 */
describe('broker (TCP + real Redis)', () => {
  let suite: BrokerSuite;
  let reg: RegistryFixture;
  let run: RunningBroker;
  const clients: MqttClient[] = [];
  let dev1: string;
  let dev2: string;
  let dev3: string;
  const FIXED_NOW = 1_750_000_000_123;

  async function track<T extends MqttClient>(p: Promise<T>): Promise<T> {
    const c = await p;
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    suite = await openBrokerSuite('broker', { clock: { now: () => FIXED_NOW } });
    ({ reg, run } = suite);
    const { ids } = suite;
    [dev1, dev2, dev3] = [ids[0]!, ids[1]!, ids[2]!];
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.endAsync(true)));
    await suite?.close();
  });

  describe('authentication', () => {
    it('accepts a device with its own secret', async () => {
      const c = await track(connectDevice(run.url, dev1));
      expect(c.connected).toBe(true);
      expect(await counterValue(run.broker.metrics.connects, { result: 'ok' })).toBeGreaterThan(0);
    });

    it('refuses a wrong secret with CONNACK 4 and counts it', async () => {
      const before = await counterValue(run.broker.metrics.connects, { result: 'bad_secret' });
      const code = await connectReturnCode(run.url, { clientId: dev1, username: dev1, password: 'wrong' });
      expect(code).toBe(4);
      expect(await counterValue(run.broker.metrics.connects, { result: 'bad_secret' })).toBe(before + 1);
    });

    it('refuses an unknown device with CONNACK 4', async () => {
      const code = await connectReturnCode(run.url, { clientId: 'nope', username: 'nope', password: 'x' });
      expect(code).toBe(4);
      expect(await counterValue(run.broker.metrics.connects, { result: 'unknown_user' })).toBeGreaterThan(0);
    });

    it('refuses a device whose client id is not its device id (CONNACK 5)', async () => {
      const code = await connectReturnCode(run.url, {
        clientId: dev2,
        username: dev1,
        password: deviceSecret(dev1),
      });
      expect(code).toBe(5);
      expect(
        await counterValue(run.broker.metrics.connects, { result: 'client_id_mismatch' }),
      ).toBeGreaterThan(0);
    });

    it('refuses missing credentials and service accounts with a foreign client id', async () => {
      expect(await connectReturnCode(run.url, { clientId: dev1 })).toBe(4);
      expect(
        await connectReturnCode(run.url, {
          clientId: 'hub-alertsX',
          username: 'hub-alerts',
          password: 'svc',
        }),
      ).toBe(5);
      expect(
        await connectReturnCode(run.url, {
          clientId: 'hub-alerts-2',
          username: 'hub-alerts',
          password: 'nope',
        }),
      ).toBe(4);
    });
  });

  describe('authorization', () => {
    it('a device cannot publish on another device topic: disconnected, never routed', async () => {
      const svc = await track(connectService(run.url, 'hub-ingest', 'hub-ingest-authz'));
      expect(await subscribeGranted(svc, ['v1/dev/+/telemetry'], 0)).toEqual([0]);
      const got: Array<{ topic: string; body: string }> = [];
      svc.on('message', (topic, payload) => got.push({ topic, body: payload.toString() }));

      const intruder = await track(connectDevice(run.url, dev1));
      const gone = closed(intruder);
      intruder.publish(deviceTopic(dev2, 'telemetry'), '{"forged":true}', { qos: 0 });
      await gone;
      expect(
        await counterValue(run.broker.metrics.rejections, { code: REJECT_CODES.NOT_AUTHORIZED }),
      ).toBeGreaterThan(0);

      // A marker sent after the refusal arrives; the forged message never did.
      const honest = await track(connectDevice(run.url, dev3));
      honest.publish(deviceTopic(dev3, 'telemetry'), '{"marker":true}', { qos: 0 });
      await waitFor('marker telemetry', () => got.some((m) => m.body === '{"marker":true}'));
      expect(got.some((m) => m.body.includes('forged'))).toBe(false);
      expect(got.every((m) => m.topic === deviceTopic(dev3, 'telemetry'))).toBe(true);
    });

    it('a device cannot publish to $SYS or to a cmd topic', async () => {
      const watcher = await track(connectService(run.url, 'hub-ingest', 'hub-ingest-cmd-watch'));
      expect(await subscribeGranted(watcher, [deviceTopic(dev2, 'cmd')], 0)).toEqual([0]);
      const got: string[] = [];
      watcher.on('message', (_t, payload) => got.push(payload.toString()));
      const refusedBefore = await counterValue(run.broker.metrics.rejections, {
        code: REJECT_CODES.NOT_AUTHORIZED,
      });

      for (const topic of ['$SYS/x/new/clients', deviceTopic(dev2, 'cmd')]) {
        const c = await track(connectDevice(run.url, dev2));
        const gone = closed(c);
        c.publish(topic, '{"forged":true}', { qos: 0 });
        await gone;
      }
      // Both were refused by authorization (not closed for another reason)...
      expect(await counterValue(run.broker.metrics.rejections, { code: REJECT_CODES.NOT_AUTHORIZED })).toBe(
        refusedBefore + 2,
      );
      // ...and the forged command never reached a subscriber: a real one sent after it does.
      watcher.publish(deviceTopic(dev2, 'cmd'), '{"marker":true}', { qos: 0 });
      await waitFor('marker command', () => got.includes('{"marker":true}'));
      expect(got).toEqual(['{"marker":true}']);
    });

    it('a device subscribes only to its own cmd topic (others get SUBACK 128)', async () => {
      const c = await track(connectDevice(run.url, dev1));
      const granted = await subscribeGranted(c, [
        deviceTopic(dev1, 'cmd'),
        '#',
        deviceTopic(dev2, 'cmd'),
        'v1/dev/+/telemetry',
        '$SYS/#',
      ]);
      expect(granted).toEqual([1, 128, 128, 128, 128]);
      expect(c.connected).toBe(true);

      // The granted subscription works: a service command reaches the device.
      const got: string[] = [];
      c.on('message', (topic, payload) => got.push(`${topic} ${payload}`));
      const svc = await track(connectService(run.url, 'hub-dashboard', 'hub-dashboard-cmd'));
      await svc.publishAsync(deviceTopic(dev1, 'cmd'), '{"cmd":"silence"}', { qos: 1 });
      await svc.publishAsync(deviceTopic(dev2, 'cmd'), '{"cmd":"other"}', { qos: 1 });
      await waitFor('command delivered', () => got.length > 0);
      await svc.publishAsync(deviceTopic(dev1, 'cmd'), '{"cmd":"second"}', { qos: 1 });
      await waitFor('second command delivered', () => got.length > 1);
      expect(got).toEqual([
        `${deviceTopic(dev1, 'cmd')} {"cmd":"silence"}`,
        `${deviceTopic(dev1, 'cmd')} {"cmd":"second"}`,
      ]);
    });

    it('a service account receives device telemetry on v1/dev/+/telemetry', async () => {
      const svc = await track(connectService(run.url, 'hub-ingest', 'hub-ingest-1'));
      expect(await subscribeGranted(svc, ['v1/dev/+/telemetry', '#', '$SYS/#', 'v1/#'], 0)).toEqual([
        0, 128, 128, 0,
      ]);
      const got: string[] = [];
      svc.on('message', (topic, payload) => got.push(`${topic} ${payload}`));
      const dev = await track(connectDevice(run.url, dev2));
      const body = JSON.stringify({ v: 1, id: 't1', ts: 1, seq: 1, smoke: 0.01 });
      dev.publish(deviceTopic(dev2, 'telemetry'), body, { qos: 0 });
      await waitFor('telemetry at the service', () =>
        got.includes(`${deviceTopic(dev2, 'telemetry')} ${body}`),
      );
    });

    it('a station subscribes to its own page topic only and receives pages', async () => {
      const st = await track(connectStation(run.url, 's01'));
      const granted = await subscribeGranted(st, [
        stationTopic('s01', 'page'),
        stationTopic('s02', 'page'),
        'v1/station/+/page',
        stationTopic('s01', 'reply'),
      ]);
      expect(granted).toEqual([1, 128, 128, 128]);
      const got: string[] = [];
      st.on('message', (topic) => got.push(topic));
      const alerts = await track(connectService(run.url, 'hub-alerts', 'hub-alerts-pager'));
      await alerts.publishAsync(stationTopic('s02', 'page'), '{"page":2}', { qos: 1 });
      await alerts.publishAsync(stationTopic('s01', 'page'), '{"page":1}', { qos: 1 });
      await waitFor('page at station s01', () => got.length > 0);
      expect(got).toEqual([stationTopic('s01', 'page')]);
    });

    it("a station cannot publish on another station's reply topic", async () => {
      const st = await track(connectStation(run.url, 's01'));
      const gone = closed(st);
      st.publish(stationTopic('s02', 'reply'), '{}', { qos: 1 });
      await gone;
    });
  });

  describe('events: durable before PUBACK', () => {
    it('a QoS 1 alarm is in the fire stream with d/p/r when the PUBACK arrives', async () => {
      const dev = await track(connectDevice(run.url, dev1));
      const body = eventJson('alarm', 'alarm-1', { value: 12.5 });
      await dev.publishAsync(deviceTopic(dev1, 'event'), body, { qos: 1 });
      // No polling: the entry must already be there when the publish resolved.
      const entries = await reg.redis.xrange(reg.keys.fireEvents, '-', '+');
      expect(entries).toHaveLength(1);
      const [, fields] = entries[0]!;
      expect(fields).toEqual(['d', dev1, 'p', body, 'r', String(FIXED_NOW)]);
      expect(await reg.redis.exists(reg.keys.seenEvent(dev1, 'alarm-1'))).toBe(1);
      const ttl = await reg.redis.ttl(reg.keys.seenEvent(dev1, 'alarm-1'));
      expect(ttl).toBeGreaterThan(86_000);
      expect(await counterValue(run.broker.metrics.durableWrites, { stream: 'fire', result: 'ok' })).toBe(1);
      const hist = await run.broker.metrics.eventAckLatency.get();
      expect(hist.values.find((v) => v.metricName?.endsWith('_count'))?.value).toBeGreaterThan(0);
    });

    it('a retried publish with the same message id is recorded once', async () => {
      const dev = await track(connectDevice(run.url, dev2));
      const body = eventJson('alarm', 'dup-1');
      await dev.publishAsync(deviceTopic(dev2, 'event'), body, { qos: 1 });
      await dev.publishAsync(deviceTopic(dev2, 'event'), body, { qos: 1 });
      // A resend with a new ts (device retry after reconnect) is still the same message id.
      await dev.publishAsync(deviceTopic(dev2, 'event'), eventJson('alarm', 'dup-1'), { qos: 1 });
      const entries = await reg.redis.xrange(reg.keys.fireEvents, '-', '+');
      expect(entries.filter(([, f]) => f[1] === dev2)).toHaveLength(1);
      expect(
        await counterValue(run.broker.metrics.durableWrites, { stream: 'fire', result: 'duplicate' }),
      ).toBe(2);
    });

    it('a fault event lands in the other stream, not the fire stream', async () => {
      const dev = await track(connectDevice(run.url, dev3));
      const fireBefore = await reg.redis.xlen(reg.keys.fireEvents);
      const body = eventJson('low_battery', 'lb-1', { value: 9 });
      await dev.publishAsync(deviceTopic(dev3, 'event'), body, { qos: 1 });
      const other = await reg.redis.xrange(reg.keys.otherEvents, '-', '+');
      expect(other.map(([, f]) => f)).toEqual([['d', dev3, 'p', body, 'r', String(FIXED_NOW)]]);
      expect(await reg.redis.xlen(reg.keys.fireEvents)).toBe(fireBefore);
    });

    it('invalid JSON, wrong schema and oversize events are dropped and counted; routing goes on', async () => {
      const svc = await track(connectService(run.url, 'hub-alerts', 'hub-alerts-events'));
      expect(await subscribeGranted(svc, ['v1/dev/+/event'])).toEqual([1]);
      const routed: string[] = [];
      svc.on('message', (_t, payload) => routed.push(payload.toString()));

      const devId = dev3;
      const dev = await track(connectDevice(run.url, devId));
      const fireBefore = await reg.redis.xlen(reg.keys.fireEvents);
      const otherBefore = await reg.redis.xlen(reg.keys.otherEvents);
      const count = (code: string) => counterValue(run.broker.metrics.rejections, { code, channel: 'event' });
      const [json0, schema0, large0] = await Promise.all([
        count(REJECT_CODES.INVALID_JSON),
        count(REJECT_CODES.SCHEMA),
        count(REJECT_CODES.TOO_LARGE),
      ]);

      const topic = deviceTopic(devId, 'event');
      // Each is acknowledged (so a buggy device does not resend it forever) but dropped.
      await dev.publishAsync(topic, '{"v":1,', { qos: 1 });
      await dev.publishAsync(topic, JSON.stringify({ v: 1, id: 'bad', ts: 1, seq: 1, type: 'explosion' }), {
        qos: 1,
      });
      await dev.publishAsync(
        topic,
        eventJson('alarm', 'big', { detail: 'x'.repeat(150), pad: 'y'.repeat(3000) }),
        {
          qos: 1,
        },
      );
      expect(dev.connected).toBe(true);
      expect(await count(REJECT_CODES.INVALID_JSON)).toBe(json0 + 1);
      expect(await count(REJECT_CODES.SCHEMA)).toBe(schema0 + 1);
      expect(await count(REJECT_CODES.TOO_LARGE)).toBe(large0 + 1);

      const good = eventJson('alarm', 'after-bad');
      await dev.publishAsync(topic, good, { qos: 1 });
      await waitFor('valid event routed to the service', () => routed.includes(good));
      expect(routed).toEqual([good]);
      expect(await reg.redis.xlen(reg.keys.fireEvents)).toBe(fireBefore + 1);
      expect(await reg.redis.xlen(reg.keys.otherEvents)).toBe(otherBefore);
    });

    it("an event the device's kind cannot raise is acknowledged, dropped and counted; a fire alarm from any kind is stored", async () => {
      const byKind = (kind: string) => {
        const d = [...reg.snapshot.devices.values()]
          .filter((x) => x.kind === kind)
          .sort((a, b) => a.id.localeCompare(b.id))[0];
        if (d === undefined) throw new Error(`the demo registry has no ${kind} device`);
        return d.id;
      };
      const smokeId = byKind('smoke');
      const electricId = byKind('electric');
      const smoke = await track(connectDevice(run.url, smokeId));
      const electric = await track(connectDevice(run.url, electricId));
      const mismatches = () =>
        counterValue(run.broker.metrics.rejections, { code: REJECT_CODES.KIND_MISMATCH, channel: 'event' });
      const m0 = await mismatches();
      const other0 = await reg.redis.xlen(reg.keys.otherEvents);
      const fire0 = await reg.redis.xlen(reg.keys.fireEvents);

      await smoke.publishAsync(
        deviceTopic(smokeId, 'event'),
        eventJson('arc_fault', undefined, { channel: 1 }),
        { qos: 1 },
      );
      await smoke.publishAsync(
        deviceTopic(smokeId, 'event'),
        eventJson('port_fault', undefined, { channel: 1 }),
        { qos: 1 },
      );
      // The hub's own types (heartbeat supervision) never come from a device.
      await electric.publishAsync(deviceTopic(electricId, 'event'), eventJson('offline'), { qos: 1 });
      expect(await mismatches()).toBe(m0 + 3);
      expect(smoke.connected && electric.connected).toBe(true);

      await electric.publishAsync(
        deviceTopic(electricId, 'event'),
        eventJson('arc_fault', undefined, { channel: 2 }),
        { qos: 1 },
      );
      await electric.publishAsync(deviceTopic(electricId, 'event'), eventJson('alarm'), { qos: 1 });
      await smoke.publishAsync(deviceTopic(smokeId, 'event'), eventJson('low_battery'), { qos: 1 });
      expect(await mismatches()).toBe(m0 + 3);
      expect(await reg.redis.xlen(reg.keys.otherEvents)).toBe(other0 + 2);
      expect(await reg.redis.xlen(reg.keys.fireEvents)).toBe(fire0 + 1);
    });

    it('oversize telemetry is dropped, not routed', async () => {
      const svc = await track(connectService(run.url, 'hub-ingest', 'hub-ingest-size'));
      await subscribeGranted(svc, ['v1/dev/+/telemetry'], 0);
      const routed: number[] = [];
      svc.on('message', (_t, payload) => routed.push(payload.length));
      const dev = await track(connectDevice(run.url, dev1));
      dev.publish(deviceTopic(dev1, 'telemetry'), 'z'.repeat(17 * 1024), { qos: 0 });
      dev.publish(deviceTopic(dev1, 'telemetry'), '{"ok":1}', { qos: 0 });
      await waitFor('small telemetry routed', () => routed.includes(8));
      expect(routed).toEqual([8]);
      expect(
        await counterValue(run.broker.metrics.rejections, {
          code: REJECT_CODES.TOO_LARGE,
          channel: 'telemetry',
        }),
      ).toBe(1);
    });
  });

  describe('station replies', () => {
    it('land in the actions stream with the authenticated station id', async () => {
      const st = await track(connectStation(run.url, 's02'));
      const reply = { v: 1, type: 'accept', incidentId: 'inc-1', officerId: 's02-o1', ts: 123 };
      await st.publishAsync(stationTopic('s02', 'reply'), JSON.stringify({ ...reply, stationId: 's01' }), {
        qos: 1,
      });
      const entries = await reg.redis.xrange(reg.keys.actions, '-', '+');
      expect(entries).toHaveLength(1);
      const fields = entries[0]![1];
      expect(fields[0]).toBe('s');
      expect(fields[1]).toBe('s02');
      expect(fields[2]).toBe('j');
      expect(JSON.parse(fields[3]!)).toEqual(reply);
      expect(fields.slice(4)).toEqual(['r', String(FIXED_NOW)]);

      // An invalid reply (close without disposition) is dropped.
      await st.publishAsync(
        stationTopic('s02', 'reply'),
        JSON.stringify({ v: 1, type: 'close', incidentId: 'inc-1', ts: 1 }),
        { qos: 1 },
      );
      expect(await reg.redis.xlen(reg.keys.actions)).toBe(1);
      expect(
        await counterValue(run.broker.metrics.rejections, { code: REJECT_CODES.SCHEMA, channel: 'reply' }),
      ).toBe(1);
    });
  });

  describe('packet size cap', () => {
    it('closes a connection that declares an oversize packet before its body arrives', async () => {
      const before = await counterValue(run.broker.metrics.rejections, {
        code: REJECT_CODES.TOO_LARGE,
        channel: 'packet',
      });
      const sock = tcpConnect(run.port, '127.0.0.1');
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      const gone = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      sock.on('error', () => undefined);
      // CONNECT, then a PUBLISH header declaring 1 MiB: 0x30, remaining length 1048576
      // (varint 80 80 40), then only a few bytes of it.
      sock.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          keepalive: 0,
          clientId: dev1,
          username: dev1,
          password: Buffer.from(deviceSecret(dev1)),
        }),
      );
      sock.write(Buffer.from([0x30, 0x80, 0x80, 0x40, 0x00, 0x03, 0x61, 0x2f, 0x62]));
      await within(gone, 10_000, 'the broker to close the oversize connection');
      expect(
        await counterValue(run.broker.metrics.rejections, {
          code: REJECT_CODES.TOO_LARGE,
          channel: 'packet',
        }),
      ).toBe(before + 1);
    });

    it('closes a connection whose first packet (before CONNECT) is oversize', async () => {
      const sock = tcpConnect(run.port, '127.0.0.1');
      sock.on('error', () => undefined);
      const gone = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      // CONNECT header declaring 100 MB: 0x10, varint ff ff ff 2f... (104,857,599)
      sock.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x31, 0x00]));
      await within(gone, 10_000, 'the broker to close the oversize connection');
    });
  });

  it('the service account connected with a suffix can connect twice (different processes)', async () => {
    const takeoversBefore = await counterValue(run.broker.metrics.takeovers, {});
    const a = await track(connectAs(run.url, 'hub-ingest-a', 'hub-ingest', 'svc'));
    const b = await track(connectAs(run.url, 'hub-ingest-b', 'hub-ingest', 'svc'));
    // A takeover closes the first connection from the broker side, which the client
    // would only notice later: a SUBACK on `a` after `b` connected proves it is still open.
    expect(await subscribeGranted(a, ['v1/dev/+/status'], 0)).toEqual([0]);
    expect(await subscribeGranted(b, ['v1/dev/+/status'], 0)).toEqual([0]);
    expect(a.connected && b.connected).toBe(true);
    expect(await counterValue(run.broker.metrics.takeovers, {})).toBe(takeoversBefore);
  });
});
