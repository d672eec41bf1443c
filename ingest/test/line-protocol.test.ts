import { type DeviceEvent, type DeviceStatus, decodeTelemetry, type Telemetry } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import {
  appendTelemetryLines,
  escapeMeasurement,
  escapeTag,
  eventLine,
  isTrustedDeviceTime,
  quoteString,
  statusLine,
} from '../src/line-protocol.js';
import {
  CHARGER,
  chargerTelemetry,
  ELECTRIC,
  electricTelemetry,
  ODD,
  SMOKE,
  smokeTelemetry,
} from './fixtures.js';

const T = 1_700_000_000_000;

function telemetry(raw: unknown): Telemetry {
  const d = decodeTelemetry(JSON.stringify(raw));
  if (!d.ok) throw new Error(d.message);
  return d.value;
}

describe('escaping', () => {
  it('escapes comma, equals and space in tag values and leaves plain values untouched', () => {
    const plain = 'NB-SD01';
    expect(escapeTag(plain)).toBe(plain);
    expect(escapeTag('a b,c=d')).toBe('a\\ b\\,c\\=d');
    expect(escapeTag(',')).toBe('\\,');
    expect(escapeTag('=x ')).toBe('\\=x\\ ');
  });

  it('turns backslashes into / (1.6 cannot carry them before escaped chars) and control chars into \\n \\r \\t', () => {
    expect(escapeTag('a\\b')).toBe('a/b');
    expect(escapeTag('a\\ b')).toBe('a/\\ b');
    expect(escapeTag('end\\')).toBe('end/');
    expect(escapeTag('l1\nl2\r\tx')).toBe('l1\\nl2\\r\\tx');
  });

  it('escapes measurement names (comma and space, not equals)', () => {
    expect(escapeMeasurement('smoke')).toBe('smoke');
    expect(escapeMeasurement('a b,c=d')).toBe('a\\ b\\,c=d');
  });

  it('quotes string fields escaping " and \\ only', () => {
    expect(quoteString('idle')).toBe('"idle"');
    expect(quoteString('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteString('C:\\dir')).toBe('"C:\\\\dir"');
    expect(quoteString('a\nb, c=d')).toBe('"a\nb, c=d"');
    expect(quoteString('')).toBe('""');
  });
});

describe('telemetry lines', () => {
  it('smoke: one line, sorted tags, float fields, integer seq, building as string field, ms time', () => {
    const out: string[] = [];
    expect(appendTelemetryLines(out, telemetry(smokeTelemetry(T)), SMOKE, 'tw-1', T)).toBe(1);
    expect(out).toEqual([
      'smoke,device=sd-1,kind=smoke,model=NB-SD01,township=tw-1 ' +
        'smoke=1.25,temp_c=23.5,battery=88,rsrp=-95,snr=12.5,seq=7i,building="b-1" 1700000000000',
    ]);
  });

  it('smoke without radio fields and without township omits both', () => {
    const out: string[] = [];
    const t = telemetry(smokeTelemetry(T, { rsrp: undefined, snr: undefined }));
    appendTelemetryLines(out, t, SMOKE, undefined, T + 5);
    expect(out).toEqual([
      'smoke,device=sd-1,kind=smoke,model=NB-SD01 smoke=1.25,temp_c=23.5,battery=88,seq=7i,building="b-1" 1700000000005',
    ]);
  });

  it('electric: one line per circuit with the ch tag first and arc_count as integer', () => {
    const out: string[] = ['previous'];
    expect(appendTelemetryLines(out, telemetry(electricTelemetry(T)), ELECTRIC, 'tw-1', T)).toBe(2);
    expect(out).toEqual([
      'previous',
      'electric_circuit,ch=1,device=em-1,kind=electric,model=EFM-4C,township=tw-1 ' +
        'residual_ma=120.5,temp_c=31.5,current_a=10.25,voltage_v=229.5,power_w=2352.5,arc_count=0i,seq=42i,building="b-1" 1700000000000',
      'electric_circuit,ch=2,device=em-1,kind=electric,model=EFM-4C,township=tw-1 ' +
        'residual_ma=350,temp_c=65,current_a=16,voltage_v=231,power_w=3696,arc_count=3i,seq=42i,building="b-1" 1700000000000',
    ]);
  });

  it('charger: one line per port, port tag in key order, state and stop_reason as escaped strings', () => {
    const out: string[] = [];
    expect(appendTelemetryLines(out, telemetry(chargerTelemetry(T)), CHARGER, 'tw-1', T)).toBe(2);
    expect(out[1]).toBe(
      'charger_port,device=ch-1,kind=charger,model=EBC-10P,port=2,township=tw-1 ' +
        'state="idle",power_w=0,current_a=0,voltage_v=0,temp_c=22,energy_wh=0,stop_reason="full \\"ok\\"",seq=9i,building="b-2" 1700000000000',
    );
    expect(out[0]).toContain(',port=1,township=tw-1 state="charging",power_w=180.5,');
  });

  it('escapes the model tag', () => {
    const out: string[] = [];
    appendTelemetryLines(out, telemetry(smokeTelemetry(T)), ODD, 'tw 1', T);
    expect(out[0]).toMatch(
      /^smoke,device=sd-odd,kind=smoke,model=X\\ 1\\,a\\=b\/c,township=tw\\ 1 smoke=1.25,/,
    );
  });
});

describe('event and status lines', () => {
  it('device_event carries type, value, channel (integer), detail, msg_id, seq and building', () => {
    const e: DeviceEvent = {
      v: 1,
      id: 'ev-1',
      ts: T,
      seq: 3,
      type: 'leakage',
      channel: 2,
      value: 512.5,
      detail: 'a "b"',
    };
    expect(eventLine(e, ELECTRIC, 'tw-1', T)).toBe(
      'device_event,device=em-1,kind=electric,model=EFM-4C,township=tw-1 ' +
        'type="leakage",value=512.5,channel=2i,detail="a \\"b\\"",msg_id="ev-1",seq=3i,building="b-1" 1700000000000',
    );
  });

  it('device_status carries state, fw, reason and building', () => {
    const s: DeviceStatus = { v: 1, ts: T, state: 'offline', fw: '1.2.3', reason: 'power lost' };
    expect(statusLine(s, SMOKE, 'tw-1', T)).toBe(
      'device_status,device=sd-1,kind=smoke,model=NB-SD01,township=tw-1 ' +
        'state="offline",fw="1.2.3",reason="power lost",building="b-1" 1700000000000',
    );
  });
});

describe('isTrustedDeviceTime', () => {
  const day = 86_400_000;
  it('trusts device clocks within ±24 h inclusive and not beyond', () => {
    expect(isTrustedDeviceTime(T, T, day)).toBe(true);
    expect(isTrustedDeviceTime(T - day, T, day)).toBe(true);
    expect(isTrustedDeviceTime(T + day, T, day)).toBe(true);
    expect(isTrustedDeviceTime(T - day - 1, T, day)).toBe(false);
    expect(isTrustedDeviceTime(T + day + 1, T, day)).toBe(false);
    expect(isTrustedDeviceTime(0, T, day)).toBe(false);
  });
});
