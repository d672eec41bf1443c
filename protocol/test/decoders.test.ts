import { describe, expect, it } from 'vitest';
import { decodeEvent, decodeStationReply, decodeStatus, decodeTelemetry } from '../src/decoders.js';
import { EVENT_TYPES, eventFitsKind, laneOf } from '../src/events.js';
import { PAYLOAD_LIMITS } from '../src/limits.js';
import { REJECT_CODES } from '../src/reject-codes.js';

const env = { v: 1, id: 'm1', ts: 1_700_000_000_000, seq: 7 };

describe('decoders', () => {
  it('decodes each telemetry kind', () => {
    const smoke = decodeTelemetry(
      JSON.stringify({ ...env, kind: 'smoke', smoke: 0.2, tempC: 22, battery: 90 }),
    );
    expect(smoke.ok && smoke.value.kind).toBe('smoke');
    const electric = decodeTelemetry(
      Buffer.from(
        JSON.stringify({
          ...env,
          kind: 'electric',
          circuits: [
            { ch: 1, residualMa: 80, tempC: 35, currentA: 8, voltageV: 221, powerW: 1700, arcCount: 0 },
          ],
        }),
      ),
    );
    expect(electric.ok && electric.value.kind).toBe('electric');
    const charger = decodeTelemetry(
      JSON.stringify({
        ...env,
        kind: 'charger',
        ports: [
          { port: 1, state: 'charging', powerW: 180, currentA: 0.8, voltageV: 220, tempC: 31, energyWh: 120 },
        ],
      }),
    );
    expect(charger.ok && charger.value.kind).toBe('charger');
  });

  it('rejects invalid JSON, non-objects, wrong schema and oversize with stable codes', () => {
    const bad = decodeTelemetry('{"v":1,');
    expect(bad.ok === false && bad.code).toBe(REJECT_CODES.INVALID_JSON);
    const arr = decodeTelemetry('[1,2]');
    expect(arr.ok === false && arr.code).toBe(REJECT_CODES.INVALID_JSON);
    const nul = decodeTelemetry('null');
    expect(nul.ok === false && nul.code).toBe(REJECT_CODES.INVALID_JSON);
    const schema = decodeTelemetry(
      JSON.stringify({ ...env, kind: 'smoke', smoke: 500, tempC: 22, battery: 90 }),
    );
    expect(schema.ok === false && schema.code).toBe(REJECT_CODES.SCHEMA);
    expect(schema.ok === false && schema.message).toContain('smoke');
    const big = decodeEvent('x'.repeat(PAYLOAD_LIMITS.event + 1));
    expect(big.ok === false && big.code).toBe(REJECT_CODES.TOO_LARGE);
    const binary = decodeStatus(Buffer.from([0xff, 0xfe, 0x00]));
    expect(binary.ok === false && binary.code).toBe(REJECT_CODES.INVALID_JSON);
  });

  it('decodes events and maps them to lanes', () => {
    const e = decodeEvent(JSON.stringify({ ...env, type: 'alarm', value: 12.5 }));
    expect(e.ok && e.value.type).toBe('alarm');
    expect(laneOf('alarm')).toBe('fire');
    expect(laneOf('smoke_linkage')).toBe('fire');
    expect(laneOf('arc_fault')).toBe('electrical');
    expect(laneOf('port_over_temperature')).toBe('charging');
    expect(laneOf('low_battery')).toBe('fault');
    expect(laneOf('test')).toBe('info');
    const unknown = decodeEvent(JSON.stringify({ ...env, type: 'explode' }));
    expect(unknown.ok).toBe(false);
  });

  it('tells which kinds can raise which events; fire signals fit every kind', () => {
    for (const type of EVENT_TYPES) {
      if (laneOf(type) === 'fire') {
        for (const kind of ['smoke', 'electric', 'charger'] as const)
          expect(eventFitsKind(type, kind)).toBe(true);
      }
    }
    expect(eventFitsKind('arc_fault', 'electric')).toBe(true);
    expect(eventFitsKind('arc_fault', 'smoke')).toBe(false);
    expect(eventFitsKind('arc_fault', 'charger')).toBe(false);
    expect(eventFitsKind('over_power', 'charger')).toBe(true);
    expect(eventFitsKind('over_power', 'electric')).toBe(false);
    expect(eventFitsKind('low_battery', 'smoke')).toBe(true);
    expect(eventFitsKind('test', 'charger')).toBe(true);
    for (const hubOnly of ['offline', 'online', 'smoke_rising'] as const) {
      expect(eventFitsKind(hubOnly, 'smoke')).toBe(false);
    }
  });

  it('requires a disposition to close', () => {
    const noCode = decodeStationReply(JSON.stringify({ v: 1, type: 'close', incidentId: 'INC-1', ts: 1 }));
    expect(noCode.ok === false && noCode.code).toBe(REJECT_CODES.SCHEMA);
    const ok = decodeStationReply(
      JSON.stringify({ v: 1, type: 'close', incidentId: 'INC-1', ts: 1, disposition: 'false_cooking' }),
    );
    expect(ok.ok).toBe(true);
  });
});
