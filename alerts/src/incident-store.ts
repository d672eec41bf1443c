import type { AuditEntry, HubKeys, Incident, PageMessage } from '@hub/protocol';
import type { Redis } from 'ioredis';
import { type AlertsKeys, UNPAGED_AUDIT_MAX } from './alerts-keys.js';
import type { QuarantineEntry } from './fault-quarantine.js';
import type { Notice } from './incident-decision.js';
import { formatIncidentId } from './incident-decision.js';
import { CLEAR_STALE_OPEN_LUA, casUpdateLua, openRecordLua } from './record-lua.js';
import { defineScript, type Script } from './redis-script.js';

/**
 * Incidents in Redis, per the shared contract:
 *   keys.incident(id)                      Incident JSON (SET)
 *   keys.incidentsByTime                   ZSET score openedAt, member id
 *   keys.incidentsOpen                     SET of open ids
 *   keys.incidentAudit(id)                 LIST of AuditEntry JSON (RPUSH)
 *   keys.buildingOpenIncident(b, 'fire')   the building's open incident id
 *   keys.incidentSeq                       INCR → INC-000123
 * plus the page outbox (alerts-keys.ts). Every change of an incident writes the
 * incident, its index keys, its audit lines and its outbox pages in one Lua script,
 * so a crash never leaves an incident without its index or a decided page without
 * its outbox entry.
 *
 * Concurrency (record-lua.ts): updates are compare-and-set on the stored JSON string
 * (the caller hands back the raw JSON it decided from). A timer and a reply racing on
 * one incident cannot overwrite each other: the loser reloads and decides again.
 * Opening is SET NX on the building key, so two alarms of one building processed at
 * once (two processes, later) still give one incident.
 */

/** An incident as loaded, with the exact stored JSON (the compare-and-set token). */
export interface StoredIncident {
  readonly incident: Incident;
  readonly raw: string;
}

/** One page waiting in the outbox (written with the incident change). */
export interface OutboxEntry {
  readonly page: PageMessage;
  /** When the change that decided the page was committed, ms. */
  readonly createdAt: number;
}

/**
 * A notice (SMS / voice / WeCom, notifier.ts) decided with a change: committed in the
 * same outbox, field `noticeOutboxField(...)`, so a crash between the commit and the
 * delivery queue loses none (the sweeper queues it; delivery ids are deterministic).
 */
export interface NoticeOutboxEntry {
  readonly notice: Notice;
  readonly incident: Pick<Incident, 'id' | 'township' | 'grid'>;
  readonly createdAt: number;
}

export function noticeOutboxField(n: Notice, i: number): string {
  return `notice:${n.incidentId}:${n.kind}:${n.step}:${n.stationId ?? '-'}:${i}`;
}

export type CreateResult = { ok: true; stored: StoredIncident } | { ok: false; existingId: string };

const LANE = 'fire';

// KEYS: incident, byTime, open, audit, buildingOpen, outbox
// ARGV: id, json, openedAt, nAudit, audit..., (pageId, outboxJson)...
const OPEN_LUA = openRecordLua(
  5,
  `redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
local n = tonumber(ARGV[4])
for i = 5, 4 + n do redis.call('RPUSH', KEYS[4], ARGV[i]) end
for i = 5 + n, #ARGV, 2 do redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1]) end`,
);

// KEYS: incident, open, audit, buildingOpen, outbox, quarantine keys...
// ARGV: expectedJson, newJson, id, closed ('1'|'0'), nAudit, audit..., nQuarantine,
//       (quarantineJson, ttlMs)..., (pageId, outboxJson)...
// The quarantine keys (a device_fault close, fault-quarantine.ts) are written in the
// same script as the close, so no process ever sees the close without them.
const UPDATE_LUA = casUpdateLua(
  'SREM',
  4,
  `local n = tonumber(ARGV[5])
for i = 6, 5 + n do redis.call('RPUSH', KEYS[3], ARGV[i]) end
local q = tonumber(ARGV[6 + n])
for j = 1, q do
  redis.call('SET', KEYS[5 + j], ARGV[5 + n + 2 * j], 'PX', ARGV[6 + n + 2 * j])
end
for i = 7 + n + 2 * q, #ARGV, 2 do redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1]) end`,
);

export class IncidentStore {
  private readonly openScript: Script;
  private readonly updateScript: Script;
  private readonly clearStaleScript: Script;

  constructor(
    private readonly redis: Redis,
    private readonly keys: HubKeys,
    private readonly akeys: AlertsKeys,
  ) {
    this.openScript = defineScript(redis, 'Open', OPEN_LUA);
    this.updateScript = defineScript(redis, 'Update', UPDATE_LUA);
    this.clearStaleScript = defineScript(redis, 'ClearStale', CLEAR_STALE_OPEN_LUA);
  }

  async nextId(): Promise<string> {
    return formatIncidentId(await this.redis.incr(this.keys.incidentSeq));
  }

  async get(id: string): Promise<StoredIncident | null> {
    const raw = await this.redis.get(this.keys.incident(id));
    return raw === null ? null : { incident: JSON.parse(raw) as Incident, raw };
  }

  /** The id the building's open-incident key names (may be stale; see clearStaleOpen). */
  async openIdFor(buildingId: string): Promise<string | null> {
    return this.redis.get(this.keys.buildingOpenIncident(buildingId, LANE));
  }

  /** Removes a building's open-incident key that names a missing or closed incident. */
  async clearStaleOpen(buildingId: string, id: string): Promise<void> {
    await this.clearStaleScript([this.keys.buildingOpenIncident(buildingId, LANE)], [id]);
  }

  /** Writes a new incident with its indexes, audit and outbox; refuses if the building has one open. */
  async create(
    incident: Incident,
    audit: AuditEntry[],
    pages: PageMessage[],
    now: number,
    notices: readonly Notice[] = [],
  ): Promise<CreateResult> {
    const raw = JSON.stringify(incident);
    const args: (string | number)[] = [incident.id, raw, incident.openedAt, audit.length];
    for (const a of audit) args.push(JSON.stringify(a));
    pushOutbox(args, pages, now);
    pushNotices(args, incident, notices, now);
    const res = await this.openScript(
      [
        this.keys.incident(incident.id),
        this.keys.incidentsByTime,
        this.keys.incidentsOpen,
        this.keys.incidentAudit(incident.id),
        this.keys.buildingOpenIncident(incident.buildingId, LANE),
        this.akeys.outbox,
      ],
      args,
    );
    if (res === 1) return { ok: true, stored: { incident, raw } };
    return { ok: false, existingId: String(res) };
  }

  /** Compare-and-set: null when the stored incident is no longer `prevRaw` (reload and decide again). */
  async update(
    prevRaw: string,
    next: Incident,
    audit: AuditEntry[],
    pages: PageMessage[],
    now: number,
    notices: readonly Notice[] = [],
    quarantine: readonly QuarantineEntry[] = [],
  ): Promise<StoredIncident | null> {
    const raw = JSON.stringify(next);
    const args: (string | number)[] = [
      prevRaw,
      raw,
      next.id,
      next.state === 'closed' ? '1' : '0',
      audit.length,
    ];
    for (const a of audit) args.push(JSON.stringify(a));
    const qKeys: string[] = [];
    const live = quarantine.filter((q) => q.until > now);
    args.push(live.length);
    for (const q of live) {
      qKeys.push(this.akeys.faultQuarantine(q.deviceId));
      args.push(JSON.stringify(q), q.until - now);
    }
    pushOutbox(args, pages, now);
    pushNotices(args, next, notices, now);
    const res = await this.updateScript(
      [
        this.keys.incident(next.id),
        this.keys.incidentsOpen,
        this.keys.incidentAudit(next.id),
        this.keys.buildingOpenIncident(next.buildingId, LANE),
        this.akeys.outbox,
        ...qKeys,
      ],
      args,
    );
    return res === 1 ? { incident: next, raw } : null;
  }

  async appendAudit(id: string, entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.redis.rpush(this.keys.incidentAudit(id), ...entries.map((e) => JSON.stringify(e)));
  }

  /** For inputs recorded with no open incident (test presses, maintenance devices). Bounded. */
  async appendUnpaged(entry: AuditEntry): Promise<void> {
    await this.redis
      .multi()
      .rpush(this.akeys.unpagedAudit, JSON.stringify(entry))
      .ltrim(this.akeys.unpagedAudit, -UNPAGED_AUDIT_MAX, -1)
      .exec();
  }

  async audit(id: string): Promise<AuditEntry[]> {
    const list = await this.redis.lrange(this.keys.incidentAudit(id), 0, -1);
    return list.map((s) => JSON.parse(s) as AuditEntry);
  }

  async unpagedAudit(): Promise<AuditEntry[]> {
    const list = await this.redis.lrange(this.akeys.unpagedAudit, 0, -1);
    return list.map((s) => JSON.parse(s) as AuditEntry);
  }

  async openIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.incidentsOpen);
  }
}

function pushOutbox(args: (string | number)[], pages: PageMessage[], now: number): void {
  for (const page of pages) {
    const entry: OutboxEntry = { page, createdAt: now };
    args.push(page.pageId, JSON.stringify(entry));
  }
}

function pushNotices(
  args: (string | number)[],
  incident: Incident,
  notices: readonly Notice[],
  now: number,
): void {
  if (notices.length === 0) return; // the common case: no notifier or nothing to tell
  const ref = { id: incident.id, township: incident.township, grid: incident.grid };
  notices.forEach((notice, i) => {
    const entry: NoticeOutboxEntry = { notice, incident: ref, createdAt: now };
    args.push(noticeOutboxField(notice, i), JSON.stringify(entry));
  });
}
