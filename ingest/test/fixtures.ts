import type { Building, Device, Township } from '@hub/protocol';
import { RegistrySnapshot } from '@hub/registry';

/** A tiny registry: one township, two buildings, one device of each kind (+ an odd model name). */
export const TOWNSHIP: Township = {
  id: 'tw-1',
  name: 'Test Town',
  lat: 25.8,
  lon: 114.9,
  fireOfficePhone: '0797-000',
};

export const BUILDINGS: Building[] = [
  {
    id: 'b-1',
    name: 'B1',
    address: 'Road 1',
    lat: 25.8,
    lon: 114.9,
    occupancy: 'rental',
    floors: 5,
    township: 'tw-1',
    grid: 'g-1',
    contacts: [],
  },
  {
    id: 'b-2',
    name: 'B2',
    address: 'Road 2',
    lat: 25.81,
    lon: 114.91,
    occupancy: 'charging_site',
    floors: 1,
    township: 'tw-1',
    grid: 'g-1',
    contacts: [],
  },
];

function device(id: string, kind: Device['kind'], model: string, buildingId: string): Device {
  return {
    id,
    kind,
    model,
    buildingId,
    floor: 1,
    room: '101',
    secretHash: '0'.repeat(64),
    salt: 'saltsalt',
    maintenance: false,
  };
}

export const SMOKE = device('sd-1', 'smoke', 'NB-SD01', 'b-1');
export const ELECTRIC = device('em-1', 'electric', 'EFM-4C', 'b-1');
export const CHARGER = device('ch-1', 'charger', 'EBC-10P', 'b-2');
/** A model name with every character line protocol must escape. */
export const ODD = device('sd-odd', 'smoke', 'X 1,a=b\\c', 'b-2');
/** A device whose building is not in the registry (no township tag). */
export const ORPHAN = device('sd-orphan', 'smoke', 'NB-SD01', 'b-missing');

export function snapshot(devices: Device[] = [SMOKE, ELECTRIC, CHARGER, ODD, ORPHAN]): RegistrySnapshot {
  return new RegistrySnapshot(
    { townships: [TOWNSHIP], buildings: BUILDINGS, devices, stations: [], accounts: [] },
    1,
  );
}

export function smokeTelemetry(ts: number, over: Record<string, unknown> = {}) {
  return {
    v: 1,
    id: 'm-' + ts,
    ts,
    seq: 7,
    kind: 'smoke',
    smoke: 1.25,
    tempC: 23.5,
    battery: 88,
    rsrp: -95,
    snr: 12.5,
    ...over,
  };
}

export function electricTelemetry(ts: number) {
  return {
    v: 1,
    id: 'e-' + ts,
    ts,
    seq: 42,
    kind: 'electric',
    circuits: [
      {
        ch: 1,
        residualMa: 120.5,
        tempC: 31.5,
        currentA: 10.25,
        voltageV: 229.5,
        powerW: 2352.5,
        arcCount: 0,
      },
      { ch: 2, residualMa: 350, tempC: 65, currentA: 16, voltageV: 231, powerW: 3696, arcCount: 3 },
    ],
  };
}

export function chargerTelemetry(ts: number) {
  return {
    v: 1,
    id: 'c-' + ts,
    ts,
    seq: 9,
    kind: 'charger',
    ports: [
      {
        port: 1,
        state: 'charging',
        powerW: 180.5,
        currentA: 3.5,
        voltageV: 48.5,
        tempC: 35.5,
        energyWh: 120.25,
      },
      {
        port: 2,
        state: 'idle',
        powerW: 0,
        currentA: 0,
        voltageV: 0,
        tempC: 22,
        energyWh: 0,
        stopReason: 'full "ok"',
      },
    ],
  };
}

/** Polls `check` until it returns a value other than undefined (no fixed sleeps, no timed assertions). */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A pino-compatible logger that records warn and error calls (info/debug are dropped). */
export function recordingLogger() {
  const warns: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const errors: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const logger = {
    warn(obj: Record<string, unknown>, msg: string) {
      warns.push({ obj, msg });
    },
    error(obj: Record<string, unknown>, msg: string) {
      errors.push({ obj, msg });
    },
    info() {},
    debug() {},
    child() {
      return logger;
    },
  };
  return { logger: logger as unknown as import('pino').Logger, warns, errors };
}
