import type { DeviceLiveness, HubKeys, SilentDayList } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { Redis } from 'ioredis';

/**
 * Readers of the liveness keys (protocol/src/liveness.ts) for the dashboard's fleet
 * health and the daily list of silent devices per grid. Plain Redis reads; no state.
 */

/** Liveness of the given devices (one round trip). */
export async function deviceLiveness(
  redis: Redis,
  keys: HubKeys,
  ids: readonly string[],
): Promise<DeviceLiveness[]> {
  if (ids.length === 0) return [];
  const p = redis.pipeline();
  p.hmget(keys.livenessLastSeen, ...ids);
  for (const id of ids) p.zscore(keys.livenessDeadlines, id);
  for (const id of ids) p.zscore(keys.livenessSilent, id);
  const res = (await p.exec()) ?? [];
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const seen = (res[0]?.[1] as Array<string | null> | undefined) ?? [];
  return ids.map((deviceId, i) => ({
    deviceId,
    lastSeenAt: num(seen[i]),
    deadlineAt: num(res[1 + i]?.[1]),
    silentSince: num(res[1 + ids.length + i]?.[1]),
  }));
}

/** Every silent device with the time it went silent, oldest first. */
export async function silentDevices(
  redis: Redis,
  keys: HubKeys,
): Promise<Array<{ deviceId: string; silentSince: number }>> {
  const flat = await redis.zrange(keys.livenessSilent, 0, -1, 'WITHSCORES');
  const out: Array<{ deviceId: string; silentSince: number }> = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ deviceId: flat[i]!, silentSince: Number(flat[i + 1]) });
  return out;
}

/** Groups device ids by their building's grid ('(none)' when unknown). */
export function byGrid(snapshot: RegistrySnapshot, ids: Iterable<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const d = snapshot.devices.get(id);
    const grid = (d === undefined ? undefined : snapshot.buildings.get(d.buildingId)?.grid) ?? '(none)';
    const list = out.get(grid);
    if (list === undefined) out.set(grid, [id]);
    else list.push(id);
  }
  return out;
}

/** The daily list: devices silent at some time on `date` (YYYY-MM-DD, hub's local day), per grid. */
export async function dailySilentList(redis: Redis, keys: HubKeys, date: string): Promise<SilentDayList[]> {
  const grids = (await redis.smembers(keys.livenessSilentDayGrids(date))).sort();
  if (grids.length === 0) return [];
  const p = redis.pipeline();
  for (const g of grids) p.smembers(keys.livenessSilentDay(date, g));
  const res = (await p.exec()) ?? [];
  return grids.map((grid, i) => ({
    date,
    grid,
    deviceIds: ((res[i]?.[1] as string[] | undefined) ?? []).slice().sort(),
  }));
}
