import { deviceTopic, newParsedTopic, stationTopic } from '@hub/protocol';
import { demoDeviceSecret, generateDemoTownship, RegistrySnapshot } from '@hub/registry';
import { describe, expect, it } from 'vitest';
import { mayRetain, maySubscribe, publishChannelFor } from '../src/access-rules.js';
import { authenticateClient, isAccountClientId } from '../src/authenticate-client.js';
import { devicePrincipal, servicePrincipal, stationPrincipal } from '../src/principal.js';

/** The pure authorization and authentication rules, without a broker. */
describe('publishChannelFor', () => {
  const scratch = newParsedTopic();
  const dev = devicePrincipal('d000001', 'smoke');
  const station = stationPrincipal('s01', 'station-s01');
  const svc = servicePrincipal('hub-alerts');

  it('lets a device publish telemetry, event and status on its own topics only', () => {
    expect(publishChannelFor(dev, 'v1/dev/d000001/telemetry', scratch)).toBe('telemetry');
    expect(publishChannelFor(dev, 'v1/dev/d000001/event', scratch)).toBe('event');
    expect(publishChannelFor(dev, 'v1/dev/d000001/status', scratch)).toBe('status');
    for (const topic of [
      'v1/dev/d000001/cmd',
      'v1/dev/d000002/telemetry',
      'v1/dev/d0000011/telemetry',
      'v1/dev/d00000/telemetry',
      'v1/dev/d000001/telemetry/x',
      'v1/dev/d000001/telemetryx',
      'v1/dev/d000001/',
      'v2/dev/d000001/telemetry',
      '$SYS/broker/x',
      'v1/station/s01/reply',
      '',
    ]) {
      expect(publishChannelFor(dev, topic, scratch), topic).toBeNull();
    }
  });

  it('lets a station publish only on its own reply topic', () => {
    expect(publishChannelFor(station, 'v1/station/s01/reply', scratch)).toBe('reply');
    for (const topic of ['v1/station/s02/reply', 'v1/station/s01/page', 'v1/dev/s01/event', '$SYS/x']) {
      expect(publishChannelFor(station, topic, scratch), topic).toBeNull();
    }
  });

  it('lets a service publish pages and commands, nothing else', () => {
    expect(publishChannelFor(svc, stationTopic('s07', 'page'), scratch)).toBe('page');
    expect(publishChannelFor(svc, deviceTopic('d000009', 'cmd'), scratch)).toBe('cmd');
    for (const topic of [
      'v1/dev/d000009/telemetry',
      'v1/dev/d000009/event',
      'v1/station/s07/reply',
      'v1/station/s 07/page',
      '$SYS/abc/new/clients',
      'other/topic',
    ]) {
      expect(publishChannelFor(svc, topic, scratch), topic).toBeNull();
    }
  });
});

describe('maySubscribe', () => {
  it('confines a device to its own cmd topic', () => {
    const dev = devicePrincipal('d1', 'smoke');
    expect(maySubscribe(dev, 'v1/dev/d1/cmd')).toBe(true);
    for (const f of [
      '#',
      'v1/#',
      'v1/dev/+/cmd',
      'v1/dev/d2/cmd',
      'v1/dev/d1/#',
      'v1/dev/d1/telemetry',
      '$SYS/#',
    ]) {
      expect(maySubscribe(dev, f), f).toBe(false);
    }
  });

  it('confines a station to its own page topic', () => {
    const st = stationPrincipal('s01', 'station-s01');
    expect(maySubscribe(st, 'v1/station/s01/page')).toBe(true);
    for (const f of [
      'v1/station/s02/page',
      'v1/station/+/page',
      'v1/station/s01/#',
      '#',
      'v1/station/s01/reply',
    ]) {
      expect(maySubscribe(st, f), f).toBe(false);
    }
  });

  it('lets a service subscribe to anything under v1/, never # alone or $SYS', () => {
    const svc = servicePrincipal('hub-ingest');
    for (const f of ['v1/dev/+/telemetry', 'v1/#', 'v1/station/+/reply', 'v1/dev/d1/event']) {
      expect(maySubscribe(svc, f), f).toBe(true);
    }
    for (const f of ['#', '+/dev/x', '$SYS/#', '$SYS/+/new/clients', 'v1', 'v1/', 'x/v1/#']) {
      expect(maySubscribe(svc, f), f).toBe(false);
    }
  });
});

describe('mayRetain', () => {
  it('keeps retain for device status only', () => {
    expect(mayRetain('status')).toBe(true);
    for (const c of ['telemetry', 'event', 'cmd', 'page', 'reply'] as const) expect(mayRetain(c)).toBe(false);
  });
});

describe('isAccountClientId', () => {
  it('accepts the username or username-suffix', () => {
    expect(isAccountClientId('hub-ingest', 'hub-ingest')).toBe(true);
    expect(isAccountClientId('hub-ingest', 'hub-ingest-1')).toBe(true);
    expect(isAccountClientId('hub-ingest', 'hub-ingest-worker_2')).toBe(true);
    for (const id of [
      'hub-ingest-',
      'hub-ingestX',
      'hub-ingest/1',
      'hub-inges',
      'xhub-ingest-1',
      'hub-ingest-a b',
      '',
    ]) {
      expect(isAccountClientId('hub-ingest', id), id).toBe(false);
    }
    expect(isAccountClientId('hub-ingest', `hub-ingest-${'a'.repeat(200)}`)).toBe(false);
  });
});

describe('authenticateClient', () => {
  const data = generateDemoTownship({
    seed: 'u',
    buildings: 3,
    devices: 5,
    stations: 2,
    serviceSecret: 'svc',
  });
  const snap = new RegistrySnapshot(data, 1);
  const d = data.devices[0]!;
  const secret = demoDeviceSecret('u', d.id);
  const pw = (s: string) => Buffer.from(s);

  it('authenticates a device with client id = username = device id', () => {
    const r = authenticateClient(snap, d.id, d.id, pw(secret));
    expect(r).toEqual({ ok: true, principal: devicePrincipal(d.id, d.kind) });
  });

  it('refuses wrong or missing credentials with 4 and a foreign client id with 5', () => {
    expect(authenticateClient(snap, d.id, d.id, pw('nope'))).toMatchObject({
      ok: false,
      reason: 'bad_secret',
      returnCode: 4,
    });
    expect(authenticateClient(snap, 'x', 'x', pw('y'))).toMatchObject({
      ok: false,
      reason: 'unknown_user',
      returnCode: 4,
    });
    expect(authenticateClient(snap, d.id, undefined, undefined)).toMatchObject({
      reason: 'no_credentials',
      returnCode: 4,
    });
    expect(authenticateClient(snap, d.id, d.id, undefined)).toMatchObject({
      reason: 'no_credentials',
      returnCode: 4,
    });
    const other = data.devices[1]!.id;
    expect(authenticateClient(snap, other, d.id, pw(secret))).toMatchObject({
      reason: 'client_id_mismatch',
      returnCode: 5,
    });
  });

  it('authenticates service and station accounts, with client id suffixes', () => {
    expect(authenticateClient(snap, 'hub-alerts-3', 'hub-alerts', pw('svc'))).toEqual({
      ok: true,
      principal: servicePrincipal('hub-alerts'),
    });
    const st = data.stations[1]!;
    const username = `station-${st.id}`;
    const r = authenticateClient(snap, username, username, pw(demoDeviceSecret('u', username)));
    expect(r).toEqual({ ok: true, principal: stationPrincipal(st.id, username) });
    expect(authenticateClient(snap, 'hub-dashboard', 'hub-alerts', pw('svc'))).toMatchObject({
      reason: 'client_id_mismatch',
    });
    expect(authenticateClient(snap, username, username, pw('svc'))).toMatchObject({ reason: 'bad_secret' });
  });

  it('refuses a station account without a station id', () => {
    const acc = data.accounts.find((a) => a.role === 'station')!;
    const broken = new RegistrySnapshot({ ...data, accounts: [{ ...acc, stationId: undefined }] }, 2);
    const r = authenticateClient(broken, acc.username, acc.username, pw(demoDeviceSecret('u', acc.username)));
    expect(r).toMatchObject({ ok: false, reason: 'account_invalid', returnCode: 5 });
  });
});
