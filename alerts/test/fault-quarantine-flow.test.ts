import type { HazardTicket } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { alertsKeys } from '../src/alerts-keys.js';
import { event } from './fixtures.js';
import { type Harness, harnessPerTest, waitFor } from './harness.js';

/**
 * Fault quarantine end to end (real Redis, in-process MQTT broker): a station closes
 * an incident as device_fault; the same detector's next alarms page nobody but land
 * in the unpaged audit and the building's fault ticket, also after a restart (the
 * quarantine lives in Redis); a hot alarm of that detector still pages at once.
 */
const newHarness = harnessPerTest();

async function faultTicket(h: Harness): Promise<HazardTicket | null> {
  const id = await h.redis.get(h.keys.buildingOpenTicket('B1', 'fault'));
  return id === null ? null : h.ticket(id);
}

describe('fault quarantine', () => {
  it('a device_fault close quarantines the detector: later lone alarms open a fault ticket, not a page', async () => {
    const h = await newHarness('fault_quarantine');
    const ak = alertsKeys(h.keys);
    let svc = await h.startService({}, { faultQuarantineMs: 30 * 60_000 });

    await h.publishEvent('D1', 'alarm');
    await waitFor('the first page', () => h.pagesFor('S-NEAR').length === 1);
    await h.reply('S-NEAR', { type: 'accept', incidentId: 'INC-000001' });
    await h.reply('S-NEAR', { type: 'close', incidentId: 'INC-000001', disposition: 'device_fault' });
    await waitFor('closed', async () => (await h.incident('INC-000001'))?.state === 'closed');
    const pttl = await h.redis.pttl(ak.faultQuarantine('D1'));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(30 * 60_000);
    const audit = (await h.redis.lrange(h.keys.incidentAudit('INC-000001'), 0, -1)).map(
      (s) => JSON.parse(s) as { kind: string },
    );
    expect(audit.map((a) => a.kind)).toContain('fault_quarantine');

    // The faulty detector flaps twice: no incident, no page; audited and ticketed.
    await h.publishEvent('D1', 'alarm');
    await h.publishEvent('D1', 'alarm');
    const t = await waitFor('a fault ticket with both alarms', async () => {
      const x = await faultTicket(h);
      return x !== null && x.eventCount === 2 && x;
    });
    expect(t).toMatchObject({ lane: 'fault', deviceIds: ['D1'], cause: 'quarantined_alarm' });
    await waitFor('fire lane drained', async () => (await h.pending(h.keys.fireEvents)) === 0);
    const unpaged = await svc.store.unpagedAudit();
    expect(unpaged.filter((a) => a.kind === 'fault_quarantined')).toHaveLength(2);
    expect(await h.redis.get(h.keys.incidentSeq)).toBe('1');
    expect(h.pages).toHaveLength(1);
    const m = await svc.metrics.faultQuarantine.get();
    expect(m.values.find((v) => v.labels.result === 'suppressed')?.value).toBe(2);
    expect(m.values.find((v) => v.labels.result === 'quarantined')?.value).toBe(1);

    // A new process (restart) agrees: the quarantine is in Redis.
    await h.stopService(svc);
    svc = await h.startService({}, { faultQuarantineMs: 30 * 60_000 });
    await h.publishEvent('D1', 'alarm');
    await waitFor('the third alarm on the ticket', async () => (await faultTicket(h))?.eventCount === 3);
    await waitFor('fire lane drained', async () => (await h.pending(h.keys.fireEvents)) === 0);
    expect(await h.redis.get(h.keys.incidentSeq)).toBe('1');

    // Safety: a second detector of the building pages at once, confirmed by the
    // quarantined one's held-back alarm; the quarantined one then folds in.
    await h.publishEvent('D2', 'alarm');
    await waitFor('a page for the second detector', () => h.pagesFor('S-NEAR').length === 2);
    const inc = await waitFor('INC-000002', () => h.incident('INC-000002'));
    expect(inc).toMatchObject({
      deviceIds: ['D2'],
      verification: 'confirmed',
      confirmedBy: 'second_detector',
    });
    await h.publishEvent('D1', 'alarm');
    await waitFor('D1 folded', async () => (await h.incident('INC-000002'))?.deviceIds.includes('D1'));
    await waitFor('fire lane drained', async () => (await h.pending(h.keys.fireEvents)) === 0);
    expect(h.pages).toHaveLength(2);
  });

  it('a hot alarm of a quarantined detector still pages at once', async () => {
    const h = await newHarness('fault_quarantine_hot');
    await h.startService({}, { faultQuarantineMs: 30 * 60_000 });
    await h.publishEvent('D1', 'alarm');
    await waitFor('the first page', () => h.pagesFor('S-NEAR').length === 1);
    await h.reply('S-NEAR', { type: 'close', incidentId: 'INC-000001', disposition: 'device_fault' });
    await waitFor('closed', async () => (await h.incident('INC-000001'))?.state === 'closed');
    expect(await h.redis.exists(alertsKeys(h.keys).faultQuarantine('D1'))).toBe(1);
    await h.publishPayload('D1', { ...event('alarm', Date.now()), tempC: 72 }, h.keys.fireEvents);
    await waitFor('a page for the hot alarm', () => h.pagesFor('S-NEAR').length === 2);
    const inc = await waitFor('INC-000002', () => h.incident('INC-000002'));
    expect(inc).toMatchObject({ deviceIds: ['D1'], verification: 'confirmed', confirmedBy: 'temperature' });
    const audit = (await h.redis.lrange(h.keys.incidentAudit('INC-000002'), 0, -1)).map(
      (s) => JSON.parse(s) as { kind: string; detail?: string },
    );
    expect(audit.find((a) => a.kind === 'quarantine_override')?.detail).toContain('heat');
    expect(await faultTicket(h)).toBeNull();
  });

  it('with HUB_FAULT_QUARANTINE_MS 0 a device_fault close quarantines nothing and the detector pages again', async () => {
    const h = await newHarness('fault_quarantine_off');
    await h.startService({}, { faultQuarantineMs: 0 });
    await h.publishEvent('D1', 'alarm');
    await waitFor('the first page', () => h.pagesFor('S-NEAR').length === 1);
    await h.reply('S-NEAR', { type: 'close', incidentId: 'INC-000001', disposition: 'device_fault' });
    await waitFor('closed', async () => (await h.incident('INC-000001'))?.state === 'closed');
    expect(await h.redis.exists(alertsKeys(h.keys).faultQuarantine('D1'))).toBe(0);
    await h.publishEvent('D1', 'alarm');
    await waitFor('paged again', () => h.pagesFor('S-NEAR').length === 2);
  });
});
