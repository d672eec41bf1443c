import type { DeviceKind } from '@hub/protocol';

/**
 * Telemetry and status JSON for flood devices, built from a few numbers per device
 * (no per-device generator object) and valid under the protocol's schemas (tested).
 * Readings are plausible for a quiet building but not a physical simulation: the
 * realistic per-device generators of device-profiles.ts cost an object per device.
 *
 * `r` is a uniform random source; `h` a per-device hash in [0, 1) that fixes the
 * device's baseline (smoke level, battery, load) across reports.
 */

function fixed(x: number, digits: number): string {
  return x.toFixed(digits);
}

/** Message ids `${prefix}${seq base 36}`: the prefix carries the run's boot id. */
function envelopeJson(prefix: string, seq: number, ts: number): string {
  return `"v":1,"id":"${prefix}${seq.toString(36)}","ts":${Math.floor(ts)},"seq":${seq}`;
}

export function smokeJson(
  prefix: string,
  seq: number,
  ts: number,
  h: number,
  r: () => number,
  battery: boolean,
): string {
  const smoke = fixed(0.02 + h * 0.2 + r() * 0.03, 3);
  const temp = fixed(18 + h * 8 + (r() - 0.5), 1);
  if (!battery)
    return `{${envelopeJson(prefix, seq, ts)},"kind":"smoke","smoke":${smoke},"tempC":${temp},"battery":100}`;
  const bat = Math.round(55 + h * 45);
  const rsrp = Math.round(-115 + h * 40 + (r() - 0.5) * 6);
  const snr = Math.round(-3 + h * 23 + (r() - 0.5) * 4);
  return `{${envelopeJson(prefix, seq, ts)},"kind":"smoke","smoke":${smoke},"tempC":${temp},"battery":${bat},"rsrp":${rsrp},"snr":${snr}}`;
}

export function electricJson(
  prefix: string,
  seq: number,
  ts: number,
  h: number,
  r: () => number,
  circuits: number,
): string {
  let body = '';
  for (let ch = 1; ch <= circuits; ch++) {
    const current = (1 + ((h * 7 + ch * 0.37) % 1) * 18) * (0.6 + r() * 0.8);
    const volt = 220 + (r() - 0.5) * 12;
    const residual = 30 + ((h * 13 + ch * 0.61) % 1) * 100;
    const temp = 24 + current * 0.9 + (r() - 0.5) * 2;
    if (ch > 1) body += ',';
    body +=
      `{"ch":${ch},"residualMa":${fixed(residual, 1)},"tempC":${fixed(Math.min(70, temp), 1)},` +
      `"currentA":${fixed(current, 2)},"voltageV":${fixed(volt, 1)},"powerW":${Math.round(volt * current * 0.9)},"arcCount":0}`;
  }
  return `{${envelopeJson(prefix, seq, ts)},"kind":"electric","circuits":[${body}]}`;
}

export function chargerJson(
  prefix: string,
  seq: number,
  ts: number,
  h: number,
  r: () => number,
  ports: number,
  /** In the evening peak now (the caller decides, with the run's profile and UTC offset). */
  inPeak: boolean,
): string {
  const busy = inPeak ? 0.75 : 0.3;
  let body = '';
  for (let port = 1; port <= ports; port++) {
    const charging = (h * 31 + port * 0.173) % 1 < busy;
    const power = charging ? 120 + ((h * 17 + port * 0.29) % 1) * 230 + (r() - 0.5) * 20 : 0;
    const volt = 220 + (r() - 0.5) * 10;
    if (port > 1) body += ',';
    body +=
      `{"port":${port},"state":"${charging ? 'charging' : 'idle'}","powerW":${fixed(power, 1)},` +
      `"currentA":${fixed(power / volt, 3)},"voltageV":${fixed(volt, 1)},"tempC":${fixed(26 + power / 25, 1)},` +
      `"energyWh":${charging ? fixed(((ts / 60_000) % 400) * (0.5 + h), 1) : '0'}}`;
  }
  return `{${envelopeJson(prefix, seq, ts)},"kind":"charger","ports":[${body}]}`;
}

/** Retained status after CONNECT (protocol/src/status.ts). */
export function statusJson(ts: number, state: 'online' | 'offline', reason?: string): string {
  return `{"v":1,"ts":${Math.floor(ts)},"state":"${state}"${reason === undefined ? '' : `,"reason":"${reason}"`}}`;
}

export function telemetryJson(
  kind: DeviceKind,
  prefix: string,
  seq: number,
  ts: number,
  h: number,
  r: () => number,
  channels: number,
  battery: boolean,
  inPeak: boolean,
): string {
  switch (kind) {
    case 'smoke':
      return smokeJson(prefix, seq, ts, h, r, battery);
    case 'electric':
      return electricJson(prefix, seq, ts, h, r, channels);
    case 'charger':
      return chargerJson(prefix, seq, ts, h, r, channels, inPeak);
  }
}
