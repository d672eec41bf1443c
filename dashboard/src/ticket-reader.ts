import { type HazardTicket, type HubKeys, hazardTicketSchema } from '@hub/protocol';
import type { Redis } from 'ioredis';

/** Tickets returned by one list request. */
export const MAX_TICKETS_LISTED = 500;

/**
 * Reads hazard tickets as alerts stores them (protocol/src/hazard-tickets.ts):
 * `hazardTicket(id)` JSON, `hazardTicketsOpen` ZSET by deadline, `hazardTicketsByTime`
 * ZSET by openedAt. Records failing the schema are skipped and reported.
 */
export class TicketReader {
  constructor(
    private readonly redis: Redis,
    private readonly keys: HubKeys,
    private readonly onBadRecord: (key: string) => void = () => undefined,
  ) {}

  async get(id: string): Promise<HazardTicket | null> {
    const key = this.keys.hazardTicket(id);
    return this.parse(key, await this.redis.get(key));
  }

  /** Open tickets by deadline (most urgent first), or all tickets newest first. */
  async list(state: 'open' | 'all', limit: number, township: string | null): Promise<HazardTicket[]> {
    const n = Math.min(Math.max(limit, 1), MAX_TICKETS_LISTED);
    // Township filtering happens after the read: scan a bounded window (a county's
    // tickets share one prefix only when it hosts several townships).
    const scan = township === null ? n : Math.min(n * 4, 5_000);
    const ids =
      state === 'open'
        ? await this.redis.zrange(this.keys.hazardTicketsOpen, 0, scan - 1)
        : await this.redis.zrevrange(this.keys.hazardTicketsByTime, 0, scan - 1);
    if (ids.length === 0) return [];
    const keys = ids.map((id) => this.keys.hazardTicket(id));
    const values = await this.redis.mget(keys);
    const out: HazardTicket[] = [];
    for (let i = 0; i < values.length && out.length < n; i++) {
      const t = this.parse(keys[i] as string, values[i] ?? null);
      if (t !== null && (township === null || t.township === township)) out.push(t);
    }
    return out;
  }

  private parse(key: string, raw: string | null): HazardTicket | null {
    if (raw === null) return null;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      v = undefined;
    }
    const r = hazardTicketSchema.safeParse(v);
    if (r.success) return r.data;
    this.onBadRecord(key);
    return null;
  }
}
