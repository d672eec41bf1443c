import type { PageMessage } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { MqttPageSender, type PageSender } from '../src/page-sender.js';
import { fieldOf } from '../src/stream-consumer.js';
import { type Harness, harnessPerTest, waitFor } from './harness.js';

/**
 * The alarm flow end to end against the real Redis and a real MQTT broker: stream
 * entry in (as the broker writes it), page out on the station's MQTT topic and on
 * the live channel, escalation by BullMQ timers, replies from the actions stream,
 * and restart safety.
 */
const newHarness = harnessPerTest();

describe('alerts flow', () => {
  it('pages the nearest station on MQTT and the live channel, naming the right building', async () => {
    const h = await newHarness('flow_page');
    const svc = await h.startService();
    await h.publishEvent('D1', 'alarm');

    const [page] = await waitFor('a page to S-NEAR', () => {
      const p = h.pagesFor('S-NEAR');
      return p.length > 0 && p;
    });
    expect(page).toMatchObject({
      type: 'page',
      incidentId: 'INC-000001',
      pageId: 'INC-000001-s1-S-NEAR',
      stationId: 'S-NEAR',
      step: 1,
      building: { id: 'B1', name: 'Rental block 1', address: '1 Main St' },
      floor: 3,
      room: '301',
      deviceIds: ['D1'],
    });
    expect(page!.sentAt).toBeGreaterThanOrEqual(page!.receivedAt);
    expect(h.pages[0]!.topic).toBe('v1/station/S-NEAR/page');
    // Nobody else was paged (the nearer stations have nobody on duty).
    expect(h.pages).toHaveLength(1);

    const livePage = await waitFor('the page on the live channel', () =>
      h.live.find((m): m is { type: 'page'; page: PageMessage } => m.type === 'page'),
    );
    expect(livePage.page.building.id).toBe('B1');
    expect(livePage.page.pageId).toBe(page!.pageId);
    await waitFor('the incident on the live channel', () => h.live.some((m) => m.type === 'incident'));

    // Persisted per the contract, indexes included; the outbox is empty again.
    const k = h.keys;
    expect(await h.incident('INC-000001')).toMatchObject({ state: 'paging', buildingId: 'B1', step: 1 });
    expect(await h.redis.sismember(k.incidentsOpen, 'INC-000001')).toBe(1);
    expect(await h.redis.zscore(k.incidentsByTime, 'INC-000001')).not.toBeNull();
    expect(await h.redis.get(k.buildingOpenIncident('B1', 'fire'))).toBe('INC-000001');
    expect(await h.redis.exists(k.pageSent('INC-000001', 1, 'S-NEAR'))).toBe(1);
    const audit = await waitFor('page_sent in the audit', async () => {
      const a = await svc.store.audit('INC-000001');
      return a.some((e) => e.kind === 'page_sent') && a;
    });
    expect(audit.map((a) => a.kind)).toEqual(['opened', 'step', 'page_sent']);
    expect(await h.redis.hlen(svc.akeys.outbox)).toBe(0);
    await waitFor('the entry acked', async () => (await h.pending(k.fireEvents)) === 0);
    expect((await svc.metrics.pagesSent.get()).values.find((v) => v.labels.step === '1')?.value).toBe(1);
    expect(
      (await svc.metrics.firstPageLatency.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value,
    ).toBe(1);
  });

  it('folds a second alarm in the same building into the incident without a second page', async () => {
    const h = await newHarness('flow_fold');
    const svc = await h.startService();
    await h.publishEvent('D1', 'alarm');
    await waitFor('the first page', () => h.pagesFor('S-NEAR').length === 1);

    await h.publishEvent('D2', 'alarm');
    await h.publishEvent('D1', 'alarm'); // the first detector again
    await waitFor('D2 folded', async () => (await h.incident('INC-000001'))?.deviceIds.includes('D2'));
    await waitFor('all acked', async () => (await h.pending(h.keys.fireEvents)) === 0);
    // A sentinel alarm elsewhere: its page is sent after the fold was handled, by the
    // same MQTT client, so once it arrives any page of the fold would have too.
    await h.publishEvent('D3', 'alarm');
    await waitFor('the sentinel page to S-AREA', () => h.pagesFor('S-AREA').length === 1);

    expect(h.pagesFor('S-NEAR')).toHaveLength(1);
    const inc = await h.incident('INC-000001');
    expect(inc).toMatchObject({ deviceIds: ['D1', 'D2'], verification: 'confirmed', step: 1 });
    expect(await h.redis.get(h.keys.incidentSeq)).toBe('2');
    const kinds = (await svc.store.audit('INC-000001')).map((a) => a.kind);
    expect(kinds).toContain('fold');
    expect(kinds).toContain('repeat_alarm');
    expect((await svc.metrics.alarmsFolded.get()).values[0]?.value).toBe(1);
  });

  it('pages the next station when the first does not accept in time', async () => {
    const h = await newHarness('flow_escalate');
    const svc = await h.startService({ acceptTimeoutMs: 300 });
    await h.publishEvent('D1', 'alarm');
    await waitFor('page to S-NEAR', () => h.pagesFor('S-NEAR').length === 1);
    const second = await waitFor('page to S-MID', () => h.pagesFor('S-MID')[0]);
    expect(second).toMatchObject({ step: 2, incidentId: 'INC-000001', building: { id: 'B1' } });
    const inc = await h.incident('INC-000001');
    expect(inc?.pagedStations.slice(0, 2)).toEqual(['S-NEAR', 'S-MID']);
    const kinds = (await svc.store.audit('INC-000001')).map((a) => a.kind);
    expect(kinds).toContain('timeout');
    const lateness = (await svc.metrics.timerLateness.get()).values.find((v) =>
      v.metricName?.endsWith('_count'),
    );
    expect(lateness?.value).toBeGreaterThanOrEqual(1);
  });

  it('runs the whole ladder: stations, then the fire office record, then the 119 record', async () => {
    const h = await newHarness('flow_ladder');
    const svc = await h.startService({ acceptTimeoutMs: 150, fireOfficeTimeoutMs: 150 });
    await h.publishEvent('D1', 'alarm');
    const inc = await waitFor('the 119 record', async () => {
      const i = await h.incident('INC-000001');
      return i !== null && i.forwarded119At !== null && i;
    });
    expect(inc.step).toBe(5);
    expect(h.pages.map((p) => [p.page.stationId, p.page.step])).toEqual([
      ['S-NEAR', 1],
      ['S-MID', 2],
      ['S-FAR', 3],
    ]);
    const kinds = (await svc.store.audit('INC-000001')).map((a) => a.kind);
    expect(kinds.indexOf('fire_office')).toBeGreaterThan(-1);
    expect(kinds.indexOf('forward_119')).toBeGreaterThan(kinds.indexOf('fire_office'));
  });

  it('an accept in the actions stream stops the escalation', async () => {
    const h = await newHarness('flow_accept');
    const svc = await h.startService({ acceptTimeoutMs: 2_500 });
    await h.publishEvent('D1', 'alarm');
    await waitFor('page to S-NEAR', () => h.pagesFor('S-NEAR').length === 1);
    await h.reply('S-NEAR', { type: 'accept', incidentId: 'INC-000001', officerId: 'o1' });
    await waitFor('accepted', async () => (await h.incident('INC-000001'))?.state === 'accepted');
    // The step-1 timer still fires; wait until it did and decided "not paging".
    await waitFor('the step-1 timer to fire as a no-op', async () =>
      (await svc.metrics.escalations.get()).values.some((v) => v.labels.result === 'not_paging'),
    );
    expect(h.pagesFor('S-MID')).toHaveLength(0);
    expect(await h.redis.exists(h.keys.pageSent('INC-000001', 2, 'S-MID'))).toBe(0);
    expect(await h.incident('INC-000001')).toMatchObject({ step: 1, stationId: 'S-NEAR' });

    // A reply from a station that was never paged is refused with its code.
    await h.reply('S-FAR', { type: 'close', incidentId: 'INC-000001', disposition: 'test' });
    await waitFor('the refusal counted', async () =>
      (await svc.metrics.rejections.get()).values.some((v) => v.labels.code === 'E_NOT_PAGED'),
    );
    // Closing by the responder frees the building for a new incident.
    await h.reply('S-NEAR', { type: 'close', incidentId: 'INC-000001', disposition: 'false_cooking' });
    await waitFor('closed', async () => (await h.incident('INC-000001'))?.state === 'closed');
    expect(await h.redis.sismember(h.keys.incidentsOpen, 'INC-000001')).toBe(0);
    expect(await h.redis.exists(h.keys.buildingOpenIncident('B1', 'fire'))).toBe(0);
  });

  it('acks and counts bad entries, unknown devices and test presses without paging', async () => {
    const h = await newHarness('flow_bad');
    const svc = await h.startService();
    const k = h.keys;
    await h.redis.xadd(k.fireEvents, '*', 'd', 'D1', 'p', '{not json', 'r', String(Date.now()));
    await h.redis.xadd(k.fireEvents, '*', 'x', 'y');
    await h.publishEvent('NO-SUCH-DEVICE', 'alarm');
    await h.publishEvent('DM', 'alarm'); // device in maintenance
    await h.publishEvent('D1', 'test', k.otherEvents);
    await h.publishEvent('D1', 'low_battery', k.otherEvents);
    // The other lane rejects the same bad input the same way (event-entry.ts).
    await h.redis.xadd(k.otherEvents, '*', 'd', 'D1', 'p', '{not json', 'r', String(Date.now()));
    await h.redis.xadd(k.otherEvents, '*', 'x', 'y');
    await h.publishEvent('NO-SUCH-DEVICE', 'low_battery', k.otherEvents);
    await waitFor('fire entries acked', async () => (await h.pending(k.fireEvents)) === 0);
    await waitFor('other entries acked', async () => (await h.pending(k.otherEvents)) === 0);
    const rejections = (await svc.metrics.rejections.get()).values;
    const codes = (stream: string) =>
      rejections.filter((v) => v.labels.stream === stream).map((v) => v.labels.code);
    const bad = ['E_INVALID_JSON', 'E_BAD_ENTRY', 'E_UNKNOWN_DEVICE'];
    expect(codes('fire')).toEqual(expect.arrayContaining(bad));
    expect(codes('other')).toEqual(expect.arrayContaining(bad));
    const unpaged = await waitFor('test press and maintenance alarm recorded', async () => {
      const a = await svc.store.unpagedAudit();
      return a.length >= 2 && a;
    });
    expect(unpaged.map((a) => a.kind).sort()).toEqual(['maintenance_alarm', 'test_alarm']);
    expect(h.pages).toHaveLength(0);
    expect(await h.redis.get(k.incidentSeq)).toBeNull();
  });
});

describe('restart safety', () => {
  /** Reads the newest entries as a consumer that then dies without acking. */
  async function readAsDeadConsumer(h: Harness, name: string): Promise<{ id: string; fields: string[] }[]> {
    await h.redis.xgroup('CREATE', h.keys.fireEvents, 'alerts', '0', 'MKSTREAM').catch(() => undefined);
    const res = (await h.redis.xreadgroup(
      'GROUP',
      'alerts',
      name,
      'COUNT',
      10,
      'STREAMS',
      h.keys.fireEvents,
      '>',
    )) as [string, [string, string[]][]][] | null;
    return (res?.[0]?.[1] ?? []).map(([id, fields]) => ({ id, fields }));
  }

  it('an alarm read by a consumer that died before handling it is paged once by the next', async () => {
    const h = await newHarness('restart_unhandled');
    await h.redis.xgroup('CREATE', h.keys.fireEvents, 'alerts', '0', 'MKSTREAM');
    await h.publishEvent('D1', 'alarm');
    expect(await readAsDeadConsumer(h, 'alerts-dead-1')).toHaveLength(1);
    expect(await h.pending(h.keys.fireEvents)).toBe(1);

    await h.startService({}, { claimIdleMs: 200, claimEveryMs: 100 });
    await waitFor('the claimed alarm paged', () => h.pagesFor('S-NEAR').length === 1);
    await waitFor('acked', async () => (await h.pending(h.keys.fireEvents)) === 0);
    await h.publishEvent('D3', 'alarm');
    await waitFor('sentinel page', () => h.pagesFor('S-AREA').length === 1);
    expect(h.pagesFor('S-NEAR')).toHaveLength(1);
  });

  it('an alarm handled and paged by a consumer that died before acking is not paged again', async () => {
    const h = await newHarness('restart_unacked');
    await h.redis.xgroup('CREATE', h.keys.fireEvents, 'alerts', '0', 'MKSTREAM');
    await h.publishEvent('D1', 'alarm');
    const [entry] = await readAsDeadConsumer(h, 'alerts-dead-2');
    expect(entry).toBeDefined();

    // The first process handles the entry fully (incident, page) and dies before XACK.
    const first = await h.startService();
    const res = await first.engine.onFireEvent({
      deviceId: fieldOf(entry!.fields, 'd')!,
      event: JSON.parse(fieldOf(entry!.fields, 'p')!),
      receivedAt: Number(fieldOf(entry!.fields, 'r')),
    });
    expect(res.outcome).toBe('opened');
    await waitFor('first page', () => h.pagesFor('S-NEAR').length === 1);
    await h.stopService(first);
    expect(await h.pending(h.keys.fireEvents)).toBe(1);

    // A new process claims the stale entry: it is decided against the stored incident.
    const second = await h.startService({}, { claimIdleMs: 200, claimEveryMs: 100 });
    await waitFor(
      'the stale entry claimed and acked',
      async () => (await h.pending(h.keys.fireEvents)) === 0,
    );
    await h.publishEvent('D3', 'alarm');
    await waitFor('sentinel page', () => h.pagesFor('S-AREA').length === 1);
    expect(h.pagesFor('S-NEAR')).toHaveLength(1);
    expect((await second.metrics.claimed.get()).values.find((v) => v.labels.stream === 'fire')?.value).toBe(
      1,
    );
    expect(
      (await second.metrics.recorded.get()).values.find((v) => v.labels.reason === 'repeat_device')?.value,
    ).toBe(1);
  });

  it('a page decided but not sent (crash or broker failure) is sent by the outbox sweeper, once', async () => {
    const h = await newHarness('restart_outbox');
    const real = new MqttPageSender({ client: h.alertsMqtt });
    let calls = 0;
    const flaky: PageSender = {
      send: async (page) => {
        calls++;
        if (calls === 1) throw new Error('simulated failure between decision and send');
        await real.send(page);
      },
    };
    const svc = await h.startService({}, { sender: flaky, sweepMinAgeMs: 200 });
    await h.publishEvent('D1', 'alarm');
    await waitFor('the page sent by the sweeper', () => h.pagesFor('S-NEAR').length === 1);
    await waitFor('outbox empty', async () => (await h.redis.hlen(svc.akeys.outbox)) === 0);
    await h.publishEvent('D3', 'alarm');
    await waitFor('sentinel page', () => h.pagesFor('S-AREA').length === 1);
    expect(h.pagesFor('S-NEAR')).toHaveLength(1);
    const kinds = (await svc.store.audit('INC-000001')).map((a) => a.kind);
    expect(kinds).toEqual(['opened', 'step', 'page_failed', 'page_sent']);
    expect((await svc.metrics.outboxResent.get()).values[0]?.value).toBe(1);
  });
});
