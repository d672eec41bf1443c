import { describe, expect, it } from 'vitest';
import {
  DEFAULT_KEY_PERIOD_CONFIG,
  hazardTicketSchema,
  hubKeys,
  isKeyPeriodActive,
  keyPeriodConfigSchema,
  operatorActionSchema,
} from '../src/index.js';

const ticket = {
  v: 1,
  id: 'HZ-000001',
  lane: 'electrical',
  state: 'open',
  buildingId: 'b1',
  township: 't1',
  grid: 'g1',
  deviceIds: ['d1'],
  cause: 'leakage',
  causes: { leakage: 1 },
  eventCount: 1,
  openedAt: 1000,
  lastEventAt: 1000,
  updatedAt: 1000,
  deadline: 1000 + 86_400_000,
  overdueAt: null,
  ownerId: null,
  assignedAt: null,
  rectifyingAt: null,
  closedAt: null,
  closedBy: null,
  evidence: null,
  repeatCount: 1,
  supervised: false,
  supervisedAt: null,
  audit: [{ at: 1000, kind: 'opened', deviceId: 'd1' }],
  auditDropped: 0,
};

describe('hazard tickets contract', () => {
  it('accepts a well-formed ticket and refuses an unknown lane or state', () => {
    expect(hazardTicketSchema.safeParse(ticket).success).toBe(true);
    expect(hazardTicketSchema.safeParse({ ...ticket, lane: 'fire' }).success).toBe(false);
    expect(hazardTicketSchema.safeParse({ ...ticket, state: 'done' }).success).toBe(false);
  });

  it('close needs evidence text; assign needs an owner', () => {
    expect(operatorActionSchema.safeParse({ v: 1, ts: 1, type: 'close', ticketId: 'HZ-1' }).success).toBe(
      false,
    );
    expect(
      operatorActionSchema.safeParse({ v: 1, ts: 1, type: 'close', ticketId: 'HZ-1', evidence: { text: '' } })
        .success,
    ).toBe(false);
    expect(
      operatorActionSchema.safeParse({
        v: 1,
        ts: 1,
        type: 'close',
        ticketId: 'HZ-1',
        evidence: { text: 'replaced breaker', photoUrl: 'https://x.example/p.jpg' },
      }).success,
    ).toBe(true);
    expect(operatorActionSchema.safeParse({ v: 1, ts: 1, type: 'assign', ticketId: 'HZ-1' }).success).toBe(
      false,
    );
    expect(
      operatorActionSchema.safeParse({ v: 1, ts: 1, type: 'confirm_incident', incidentId: 'INC-1' }).success,
    ).toBe(true);
  });

  it('key-period: the manual switch wins over the calendar', () => {
    const cfg = keyPeriodConfigSchema.parse({
      v: 1,
      mode: 'auto',
      periods: [{ id: 'spring', name: '春节', start: 100, end: 200 }],
      updatedAt: 1,
    });
    expect(isKeyPeriodActive(cfg, 99)).toBe(false);
    expect(isKeyPeriodActive(cfg, 100)).toBe(true);
    expect(isKeyPeriodActive(cfg, 200)).toBe(false);
    expect(isKeyPeriodActive({ ...cfg, mode: 'on' }, 50)).toBe(true);
    expect(isKeyPeriodActive({ ...cfg, mode: 'off' }, 150)).toBe(false);
    expect(isKeyPeriodActive(DEFAULT_KEY_PERIOD_CONFIG, 150)).toBe(false);
    expect(
      keyPeriodConfigSchema.safeParse({ ...cfg, periods: [{ id: 'x', name: 'x', start: 5, end: 5 }] })
        .success,
    ).toBe(false);
  });

  it('keys live under the prefix', () => {
    const k = hubKeys('t');
    expect(k.hazardTicket('HZ-1')).toBe('t:ticket:HZ-1');
    expect(k.operatorActions).toBe('t:stream:operator-actions');
    expect(k.keyPeriod).toBe('t:key-period');
  });
});
