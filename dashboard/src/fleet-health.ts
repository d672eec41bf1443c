import { byGrid, dailySilentList, type FleetCounts, type InfluxQueries, silentDevices } from '@hub/ingest';
import type { HubKeys, SilentDayList } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { Redis } from 'ioredis';

/** Silent devices listed per grid (the worklist); the counts are always complete. */
export const MAX_WORKLIST_PER_GRID = 200;

export interface SilentEntry {
  deviceId: string;
  kind: string | null;
  buildingId: string | null;
  buildingName: string | null;
  floor: number | null;
  room: string | null;
  silentSince: number;
}

export interface GridHealth {
  grid: string;
  devices: number;
  silent: number;
  /** Share of tracked devices that are not silent, 0..1 (null when none is tracked). */
  onlineRate: number | null;
  worklist: SilentEntry[];
}

export interface FleetHealth {
  /** Where "silent" comes from: ingest's liveness keys (missed heartbeats per model). */
  source: 'liveness';
  /**
   * Where low batteries come from: InfluxDB (ingest's fleet query); 'unavailable' when it
   * is configured but did not answer (the rest of the health view still works); null when
   * not configured.
   */
  batterySource: 'influxdb' | 'unavailable' | null;
  devices: number;
  maintenance: number;
  /** Devices ingest supervises (a deadline exists): registered, not in maintenance. */
  tracked: number;
  silent: number;
  onlineRate: number | null;
  lowBattery: number | null;
  /** Devices reporting telemetry in the last hour, per kind (InfluxDB), when configured. */
  reportingByKind: Record<string, number> | null;
  grids: GridHealth[];
  /** ingest's daily list (devices silent at some time today, hub-local day) per grid of this township. */
  today: { date: string; grids: Array<{ grid: string; devices: number }> };
}

/** YYYY-MM-DD of `ms` in an IANA time zone (ingest's silent-day lists use the hub's local day). */
export function localDate(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(ms);
}

/**
 * Fleet health of one township (null = all): counts from the registry, silence from
 * ingest's liveness keys (protocol/src/liveness.ts, read with ingest's own readers),
 * low batteries and reporting devices from InfluxDB when a query client is given.
 */
export async function fleetHealth(
  redis: Redis,
  keys: HubKeys,
  snapshot: RegistrySnapshot,
  township: string | null,
  influx: InfluxQueries | null,
  onInfluxError: (err: unknown) => void = () => undefined,
  today: { now: number; timeZone: string } = { now: Date.now(), timeZone: 'Asia/Shanghai' },
): Promise<FleetHealth> {
  const inTownship = (buildingId: string) => {
    const b = snapshot.buildings.get(buildingId);
    return b !== undefined && (township === null || b.township === township);
  };
  const perGrid = new Map<string, GridHealth>();
  const gridOf = (grid: string) => {
    let g = perGrid.get(grid);
    if (g === undefined) {
      g = { grid, devices: 0, silent: 0, onlineRate: null, worklist: [] };
      perGrid.set(grid, g);
    }
    return g;
  };
  let devices = 0;
  let maintenance = 0;
  for (const d of snapshot.devices.values()) {
    if (!inTownship(d.buildingId)) continue;
    devices++;
    if (d.maintenance) maintenance++;
    else gridOf(snapshot.buildings.get(d.buildingId)?.grid ?? '(none)').devices++;
  }
  const tracked = await redis.zcard(keys.livenessDeadlines);
  const silentAll = await silentDevices(redis, keys);
  const since = new Map(silentAll.map((s) => [s.deviceId, s.silentSince]));
  const mine = silentAll
    .map((s) => s.deviceId)
    .filter((id) => {
      const d = snapshot.devices.get(id);
      return d !== undefined && inTownship(d.buildingId);
    });
  for (const [grid, ids] of byGrid(snapshot, mine)) {
    const g = gridOf(grid);
    g.silent = ids.length;
    for (const id of ids.slice(0, MAX_WORKLIST_PER_GRID)) {
      const d = snapshot.devices.get(id);
      const b = d === undefined ? undefined : snapshot.buildings.get(d.buildingId);
      g.worklist.push({
        deviceId: id,
        kind: d?.kind ?? null,
        buildingId: d?.buildingId ?? null,
        buildingName: b?.name ?? null,
        floor: d?.floor ?? null,
        room: d?.room ?? null,
        silentSince: since.get(id) ?? 0,
      });
    }
    g.worklist.sort((a, b) => a.silentSince - b.silentSince);
  }
  let silent = 0;
  for (const g of perGrid.values()) {
    silent += g.silent;
    g.onlineRate = g.devices === 0 ? null : Math.max(0, (g.devices - g.silent) / g.devices);
  }
  const active = devices - maintenance;
  let lowBattery: number | null = null;
  let reportingByKind: Record<string, number> | null = null;
  let counts: FleetCounts | null = null;
  if (influx !== null) {
    try {
      counts = await influx.fleetCounts();
    } catch (err) {
      onInfluxError(err);
    }
  }
  if (counts !== null) {
    lowBattery = 0;
    for (const l of counts.lowBattery)
      if (township === null || l.township === township) lowBattery += l.devices;
    reportingByKind = {};
    for (const r of counts.reporting) {
      if (township !== null && r.township !== township) continue;
      reportingByKind[r.kind] = (reportingByKind[r.kind] ?? 0) + r.devices;
    }
  }
  const date = localDate(today.now, today.timeZone);
  const grids = new Set([...perGrid.keys()]);
  const daily: SilentDayList[] = await dailySilentList(redis, keys, date);
  const todayGrids = daily
    .filter((d) => township === null || grids.has(d.grid))
    .map((d) => ({ grid: d.grid, devices: d.deviceIds.length }));
  return {
    today: { date, grids: todayGrids },
    source: 'liveness',
    batterySource: influx === null ? null : counts === null ? 'unavailable' : 'influxdb',
    devices,
    maintenance,
    tracked: Math.min(tracked, active),
    silent,
    onlineRate: active === 0 ? null : Math.max(0, (active - silent) / active),
    lowBattery,
    reportingByKind,
    grids: [...perGrid.values()].sort((a, b) => b.silent - a.silent || (a.grid < b.grid ? -1 : 1)),
  };
}
