import {
  type Building,
  buildingSchema,
  type Device,
  deviceSchema,
  type HubKeys,
  type ServiceAccount,
  type Station,
  serviceAccountSchema,
  stationSchema,
  type Township,
  townshipSchema,
} from '@hub/protocol';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { type RegistryData, RegistrySnapshot } from './registry-snapshot.js';

export type RegistryCollection = 'townships' | 'buildings' | 'devices' | 'stations' | 'accounts';

const SCHEMAS = {
  townships: townshipSchema,
  buildings: buildingSchema,
  devices: deviceSchema,
  stations: stationSchema,
  accounts: serviceAccountSchema,
} as const;

type EntityOf<C extends RegistryCollection> = C extends 'townships'
  ? Township
  : C extends 'buildings'
    ? Building
    : C extends 'devices'
      ? Device
      : C extends 'stations'
        ? Station
        : ServiceAccount;

function keyOf(c: RegistryCollection, e: { id?: string; username?: string }): string {
  return c === 'accounts' ? (e.username as string) : (e.id as string);
}

/** Writes in chunks so one HSET never carries 100k fields (keeps Redis latency flat). */
const WRITE_CHUNK = 1000;

/**
 * The registry in Redis: one hash per collection (id → JSON), a version counter and a
 * change channel. Writers bump the version and publish; services reload their
 * in-memory snapshot.
 */
export class RegistryStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: HubKeys,
  ) {}

  private hashKey(c: RegistryCollection): string {
    return this.keys[c];
  }

  async load(): Promise<RegistrySnapshot> {
    const pipeline = this.redis.multi();
    pipeline.get(this.keys.registryVersion);
    for (const c of Object.keys(SCHEMAS) as RegistryCollection[]) pipeline.hgetall(this.hashKey(c));
    const results = (await pipeline.exec()) ?? [];
    const version = Number(results[0]?.[1] ?? 0);
    const rejected: Record<string, number> = {};
    const data = {} as RegistryData;
    let i = 1;
    for (const c of Object.keys(SCHEMAS) as RegistryCollection[]) {
      const raw = (results[i++]?.[1] ?? {}) as Record<string, string>;
      const schema = SCHEMAS[c] as z.ZodType;
      const list: unknown[] = [];
      for (const json of Object.values(raw)) {
        try {
          const parsed = schema.safeParse(JSON.parse(json));
          if (parsed.success) list.push(parsed.data);
          else rejected[c] = (rejected[c] ?? 0) + 1;
        } catch {
          rejected[c] = (rejected[c] ?? 0) + 1;
        }
      }
      (data as unknown as Record<string, unknown[]>)[c] = list;
    }
    return new RegistrySnapshot(data, version, rejected);
  }

  /** Replaces the whole registry atomically (MULTI) and announces the change. */
  async replaceAll(data: RegistryData): Promise<number> {
    const tx = this.redis.multi();
    for (const c of Object.keys(SCHEMAS) as RegistryCollection[]) {
      tx.del(this.hashKey(c));
      const list = data[c] as Array<{ id?: string; username?: string }>;
      for (let i = 0; i < list.length; i += WRITE_CHUNK) {
        const args: string[] = [];
        for (const e of list.slice(i, i + WRITE_CHUNK)) args.push(keyOf(c, e), JSON.stringify(e));
        if (args.length > 0) tx.hset(this.hashKey(c), ...args);
      }
    }
    tx.incr(this.keys.registryVersion);
    const res = (await tx.exec()) ?? [];
    const version = Number(res[res.length - 1]?.[1] ?? 0);
    await this.redis.publish(this.keys.registryChanged, String(version));
    return version;
  }

  /** Inserts or replaces entities of one collection, validated first. */
  async upsert<C extends RegistryCollection>(c: C, entities: EntityOf<C>[]): Promise<number> {
    const schema = SCHEMAS[c] as z.ZodType;
    const tx = this.redis.multi();
    for (let i = 0; i < entities.length; i += WRITE_CHUNK) {
      const args: string[] = [];
      for (const e of entities.slice(i, i + WRITE_CHUNK)) {
        const valid = schema.parse(e) as { id?: string; username?: string };
        args.push(keyOf(c, valid), JSON.stringify(valid));
      }
      if (args.length > 0) tx.hset(this.hashKey(c), ...args);
    }
    tx.incr(this.keys.registryVersion);
    const res = (await tx.exec()) ?? [];
    const version = Number(res[res.length - 1]?.[1] ?? 0);
    await this.redis.publish(this.keys.registryChanged, String(version));
    return version;
  }

  async remove(c: RegistryCollection, ids: string[]): Promise<number> {
    if (ids.length === 0) return Number((await this.redis.get(this.keys.registryVersion)) ?? 0);
    const tx = this.redis.multi();
    tx.hdel(this.hashKey(c), ...ids);
    tx.incr(this.keys.registryVersion);
    const res = (await tx.exec()) ?? [];
    const version = Number(res[res.length - 1]?.[1] ?? 0);
    await this.redis.publish(this.keys.registryChanged, String(version));
    return version;
  }
}
