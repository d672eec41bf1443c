import { deviceTopic } from '@hub/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectDeviceWithWill,
  connectService,
  counterValue,
  deviceSecret,
  type RunningBroker,
  retainedStatus as statusNow,
  subscribeGranted,
  waitFor,
} from './support/broker-fixture.js';
import { type BrokerSuite, openBrokerSuite } from './support/broker-suite.js';
import { publishFrame } from './support/frames.js';
import { RawMqtt } from './support/raw-mqtt.js';

/**
 * Retained online/offline on `v1/dev/{id}/status` for always-connected devices: the
 * device publishes `online` (retained) after CONNECT and leaves an `offline` will; the
 * broker publishes the will, retained and re-stamped, when the connection is lost
 * without DISCONNECT. (Sleeping battery devices are judged by heartbeat in ingest.)
 */
describe('device status from the last will (TCP + real Redis)', () => {
  let suite: BrokerSuite;
  let run: RunningBroker;
  let dev: string;
  const FIXED_NOW = 1_760_000_000_000;

  beforeAll(async () => {
    suite = await openBrokerSuite('status', { clock: { now: () => FIXED_NOW } });
    run = suite.run;
    dev = suite.ids[4]!;
  });
  afterAll(async () => {
    await suite?.close();
  });

  const connectWithWill = () => connectDeviceWithWill(run.url, dev);
  const retainedStatus = () => statusNow(run.url, dev);

  it('online while connected; the will makes it offline (retained, re-stamped) when the connection is lost', async () => {
    const c = await connectWithWill();
    await c.publishAsync(
      deviceTopic(dev, 'status'),
      JSON.stringify({ v: 1, ts: 6, state: 'online', fw: '2.1' }),
      {
        qos: 1,
        retain: true,
      },
    );
    expect((await retainedStatus()).state).toBe('online');

    const live = await connectService(run.url, 'hub-alerts', 'hub-alerts-status');
    const seen: string[] = [];
    live.on('message', (_t, p) => seen.push(p.toString()));
    expect(await subscribeGranted(live, [deviceTopic(dev, 'status')])).toEqual([1]);
    await waitFor('retained online at the live subscriber', () => seen.length === 1);

    const willsBefore = await counterValue(run.broker.metrics.willsPublished, {});
    c.stream.destroy(); // connection lost, no DISCONNECT
    await waitFor('offline delivered live', () => seen.length === 2);
    const offline = JSON.parse(seen[1]!) as { state: string; ts: number; reason: string };
    expect(offline).toEqual({ v: 1, ts: FIXED_NOW, state: 'offline', reason: 'lost' });
    expect(await retainedStatus()).toEqual(offline);
    expect(await counterValue(run.broker.metrics.willsPublished, {})).toBe(willsBefore + 1);
    await live.endAsync(true);
  });

  it('a clean DISCONNECT publishes no will: the retained status stays online', async () => {
    const c = await connectWithWill();
    await c.publishAsync(deviceTopic(dev, 'status'), JSON.stringify({ v: 1, ts: 7, state: 'online' }), {
      qos: 1,
      retain: true,
    });
    const willsBefore = await counterValue(run.broker.metrics.willsPublished, {});
    await c.endAsync();
    const s = await retainedStatus();
    expect(s).toEqual({ v: 1, ts: 7, state: 'online' });
    expect(await counterValue(run.broker.metrics.willsPublished, {})).toBe(willsBefore);
  });

  it('an invalid status payload is not retained (the previous state stays)', async () => {
    const raw = await RawMqtt.connect(run.port, dev, dev, deviceSecret(dev));
    raw.write(publishFrame(deviceTopic(dev, 'status'), '{"state":"on fire"}', 1, 3, true));
    await raw.waitForPacket('puback');
    raw.end();
    expect((await retainedStatus()).ts).toBe(7);
  });
});
