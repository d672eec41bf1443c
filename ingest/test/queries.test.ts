import { describe, expect, it } from 'vitest';
import {
  deviceHistoryQuery,
  fleetCountsQuery,
  influxIdent,
  influxString,
  QueryArgumentError,
} from '../src/queries.js';

describe('InfluxQL escaping', () => {
  it('quotes strings so a value can never end the literal', () => {
    expect(influxString('sd-1')).toBe("'sd-1'");
    expect(influxString("x' OR 1=1 --")).toBe("'x\\' OR 1=1 --'");
    expect(influxString('a\\')).toBe("'a\\\\'");
    expect(influxString("a\\' b")).toBe("'a\\\\\\' b'");
    expect(influxString('l1\nl2')).toBe("'l1\\nl2'");
    expect(() => influxString('a\rb')).toThrow(QueryArgumentError);
    expect(() => influxString('a\0b')).toThrow(QueryArgumentError);
  });

  it('quotes identifiers', () => {
    expect(influxIdent('smoke')).toBe('"smoke"');
    expect(influxIdent('a"b\\c')).toBe('"a\\"b\\\\c"');
  });
});

describe('query builders', () => {
  it('deviceHistory: every measurement, the device as a string literal, ms epoch bounds', () => {
    expect(deviceHistoryQuery('sd-1', 1000, 2000)).toBe(
      'SELECT * FROM "smoke","electric_circuit","charger_port","device_event","device_status" ' +
        'WHERE "device" = \'sd-1\' AND time >= 1000ms AND time < 2000ms ORDER BY time ASC LIMIT 10000',
    );
    expect(deviceHistoryQuery("x'; DROP DATABASE hub", 0, 1, 5)).toContain(
      `"device" = 'x\\'; DROP DATABASE hub' AND`,
    );
  });

  it('refuses arguments that are not what they claim to be', () => {
    expect(() => deviceHistoryQuery('sd-1', 2000, 1000)).toThrow(QueryArgumentError);
    expect(() => deviceHistoryQuery('sd-1', Number.NaN, 1000)).toThrow(QueryArgumentError);
    expect(() => deviceHistoryQuery('sd-1', 1.5, 1000)).toThrow(QueryArgumentError);
    expect(() => deviceHistoryQuery('sd-1', 0, 1000, 0)).toThrow(QueryArgumentError);
    expect(() => deviceHistoryQuery('', 0, 1000)).toThrow(QueryArgumentError);
    expect(() => fleetCountsQuery({ windowMs: -1 })).toThrow(QueryArgumentError);
    expect(() => fleetCountsQuery({ lowBatteryPct: Number.POSITIVE_INFINITY })).toThrow(QueryArgumentError);
  });

  it('fleetCounts: distinct reporting devices per kind/township and low batteries per township', () => {
    const q = fleetCountsQuery({ windowMs: 600_000, lowBatteryPct: 15 });
    expect(q).toBe(
      'SELECT count("last") AS "devices" FROM (SELECT last("seq") FROM "smoke","electric_circuit","charger_port" ' +
        'WHERE time > now() - 600000ms GROUP BY "device","kind","township") GROUP BY "kind","township";' +
        'SELECT count("last") AS "devices" FROM (SELECT last("battery") FROM "smoke" ' +
        'WHERE time > now() - 86400000ms GROUP BY "device","township") WHERE "last" < 15 GROUP BY "township"',
    );
  });
});
