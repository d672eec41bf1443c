import type { HazardTicket, HubKeys } from '@hub/protocol';
import type { Redis } from 'ioredis';
import type { AlertsKeys } from './alerts-keys.js';
import { CLEAR_STALE_OPEN_LUA, casUpdateLua, openRecordLua } from './record-lua.js';
import { defineScript, type Script } from './redis-script.js';
import { formatTicketId } from './ticket-decision.js';

/**
 * Hazard tickets in Redis, per protocol/src/hazard-tickets.ts:
 *   keys.hazardTicket(id)                    HazardTicket JSON
 *   keys.hazardTicketsOpen                   ZSET score deadline (open tickets only)
 *   keys.hazardTicketsByTime                 ZSET score openedAt (every ticket)
 *   keys.buildingOpenTicket(b, lane)         the open ticket id of a building and lane
 *   keys.hazardTicketSeq                     INCR → HZ-000123
 *   akeys.ticketHistory(b, lane)             ZSET score openedAt, trimmed to the repeat window
 * Opening (SET NX on the building key) and every update (compare-and-set on the
 * stored JSON) are one Lua script each, built like the incidents' (record-lua.ts).
 */
export interface StoredTicket {
  readonly ticket: HazardTicket;
  readonly raw: string;
}

// KEYS: ticket, open, byTime, buildingOpen, history
// ARGV: id, json, deadline, openedAt, windowStart
const OPEN_LUA = openRecordLua(
  4,
  `redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[5])`,
);

// KEYS: ticket, open, buildingOpen; ARGV: expectedJson, newJson, id, closed ('1'|'0')
const UPDATE_LUA = casUpdateLua('ZREM', 3);

export class TicketStore {
  private readonly openScript: Script;
  private readonly updateScript: Script;
  private readonly clearStaleScript: Script;

  constructor(
    private readonly redis: Redis,
    private readonly keys: HubKeys,
    private readonly akeys: AlertsKeys,
  ) {
    this.openScript = defineScript(redis, 'TicketOpen', OPEN_LUA);
    this.updateScript = defineScript(redis, 'TicketUpdate', UPDATE_LUA);
    this.clearStaleScript = defineScript(redis, 'TicketClearStale', CLEAR_STALE_OPEN_LUA);
  }

  async nextId(): Promise<string> {
    return formatTicketId(await this.redis.incr(this.keys.hazardTicketSeq));
  }

  async get(id: string): Promise<StoredTicket | null> {
    const raw = await this.redis.get(this.keys.hazardTicket(id));
    return raw === null ? null : { ticket: JSON.parse(raw) as HazardTicket, raw };
  }

  /** The building's open ticket of `lane`; a key naming a missing or closed ticket is cleared. */
  async openFor(buildingId: string, lane: string): Promise<StoredTicket | null> {
    const key = this.keys.buildingOpenTicket(buildingId, lane);
    const id = await this.redis.get(key);
    if (id === null) return null;
    const stored = await this.get(id);
    if (stored === null || stored.ticket.state === 'closed') {
      await this.clearStaleScript([key], [id]);
      return null;
    }
    return stored;
  }

  /** Tickets of the building and lane opened at or after `since`. */
  async recentCount(buildingId: string, lane: string, since: number): Promise<number> {
    return this.redis.zcount(this.akeys.ticketHistory(buildingId, lane), since, '+inf');
  }

  async create(ticket: HazardTicket, windowStart: number): Promise<StoredTicket | null> {
    const raw = JSON.stringify(ticket);
    const res = await this.openScript(
      [
        this.keys.hazardTicket(ticket.id),
        this.keys.hazardTicketsOpen,
        this.keys.hazardTicketsByTime,
        this.keys.buildingOpenTicket(ticket.buildingId, ticket.lane),
        this.akeys.ticketHistory(ticket.buildingId, ticket.lane),
      ],
      [ticket.id, raw, ticket.deadline, ticket.openedAt, windowStart],
    );
    return res === 1 ? { ticket, raw } : null;
  }

  /** Compare-and-set: null when the stored ticket is no longer `prevRaw`. */
  async update(prevRaw: string, next: HazardTicket): Promise<StoredTicket | null> {
    const raw = JSON.stringify(next);
    const res = await this.updateScript(
      [
        this.keys.hazardTicket(next.id),
        this.keys.hazardTicketsOpen,
        this.keys.buildingOpenTicket(next.buildingId, next.lane),
      ],
      [prevRaw, raw, next.id, next.state === 'closed' ? '1' : '0'],
    );
    return res === 1 ? { ticket: next, raw } : null;
  }

  /** Open tickets with their deadlines, earliest first (bounded page). */
  async openWithDeadlines(limit: number): Promise<{ id: string; deadline: number }[]> {
    const flat = await this.redis.zrange(this.keys.hazardTicketsOpen, 0, limit - 1, 'WITHSCORES');
    const out: { id: string; deadline: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, deadline: Number(flat[i + 1]) });
    return out;
  }
}
