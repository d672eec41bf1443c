/**
 * Names of every Redis key, stream and channel the services share. All live under
 * one prefix so tests can run side by side on one Redis (a unique prefix per test)
 * and a deployment can host several townships.
 *
 * Streams are the durable hand-offs between services:
 * - fireEvents / otherEvents: written by the broker before PUBACK (fire lane apart,
 *   so an alarm is never queued behind faults); read by alerts in a consumer group.
 * - actions: station replies (accept, decline, ...) from the dashboard and terminals.
 * Pub/sub channels are for live views only (losing one is harmless: state is in keys).
 */
export interface HubKeys {
  readonly prefix: string;
  // registry
  readonly buildings: string;
  readonly devices: string;
  readonly stations: string;
  readonly townships: string;
  readonly accounts: string;
  readonly registryVersion: string;
  readonly registryChanged: string;
  // event hand-off
  readonly fireEvents: string;
  readonly otherEvents: string;
  readonly actions: string;
  /** SET NX key marking a device message id as recorded (idempotent retries). */
  seenEvent(deviceId: string, messageId: string): string;
  // incidents
  incident(id: string): string;
  incidentAudit(id: string): string;
  readonly incidentsByTime: string;
  readonly incidentsOpen: string;
  buildingOpenIncident(buildingId: string, lane: string): string;
  /** SET NX key making one page per (incident, step, station) at most. */
  pageSent(incidentId: string, step: number, stationId: string): string;
  readonly incidentSeq: string;
  // live views
  readonly live: string;
  /** HASH topic → cluster frame: retained messages shared by broker processes (broker/cluster-routing.ts). */
  readonly brokerRetained: string;
  // hazard tickets and key-period mode (see hazard-tickets.ts)
  hazardTicket(id: string): string;
  /** ZSET of open ticket ids, score: deadline ms. */
  readonly hazardTicketsOpen: string;
  /** ZSET of every ticket id, score: openedAt ms. */
  readonly hazardTicketsByTime: string;
  /** String: the open ticket id of a building and hazard lane. */
  buildingOpenTicket(buildingId: string, lane: string): string;
  readonly hazardTicketSeq: string;
  /** Stream of operators' actions (tickets, incident confirmation); fields u/j/r. */
  readonly operatorActions: string;
  /** JSON KeyPeriodConfig, written by the dashboard. */
  readonly keyPeriod: string;
  /** Pub/sub channel: the key-period config changed. */
  readonly keyPeriodChanged: string;
  // device liveness (missed heartbeats), written by ingest; see liveness.ts
  /** HASH device id → last report, hub receive time ms (decimal string). */
  readonly livenessLastSeen: string;
  /** ZSET device id → ms by which the device must report again (score). */
  readonly livenessDeadlines: string;
  /** ZSET device id → ms since which it is silent (score); absent = not silent. */
  readonly livenessSilent: string;
  /** SET of device ids silent at some time on `date` (YYYY-MM-DD, hub's local day) in `grid`. */
  livenessSilentDay(date: string, grid: string): string;
  /** SET of the grids that have a livenessSilentDay set on `date`. */
  livenessSilentDayGrids(date: string): string;
  /** SET NX (with TTL) marking a carrier platform push (OneNET/CTWing) as handled: retries are dropped. */
  carrierPushSeen(platform: string, digest: string): string;
  // BullMQ
  readonly bullPrefix: string;
}

export function hubKeys(prefix = 'hub'): HubKeys {
  const p = prefix;
  return {
    prefix: p,
    buildings: `${p}:reg:buildings`,
    devices: `${p}:reg:devices`,
    stations: `${p}:reg:stations`,
    townships: `${p}:reg:townships`,
    accounts: `${p}:reg:accounts`,
    registryVersion: `${p}:reg:version`,
    registryChanged: `${p}:reg:changed`,
    fireEvents: `${p}:stream:fire`,
    otherEvents: `${p}:stream:other`,
    actions: `${p}:stream:actions`,
    seenEvent: (deviceId, messageId) => `${p}:seen:${deviceId}:${messageId}`,
    incident: (id) => `${p}:incident:${id}`,
    incidentAudit: (id) => `${p}:incident:${id}:audit`,
    incidentsByTime: `${p}:incidents:by-time`,
    incidentsOpen: `${p}:incidents:open`,
    buildingOpenIncident: (buildingId, lane) => `${p}:building:${buildingId}:open:${lane}`,
    pageSent: (incidentId, step, stationId) => `${p}:page-sent:${incidentId}:${step}:${stationId}`,
    incidentSeq: `${p}:incidents:seq`,
    live: `${p}:live`,
    brokerRetained: `${p}:broker:retained`,
    hazardTicket: (id) => `${p}:ticket:${id}`,
    hazardTicketsOpen: `${p}:tickets:open`,
    hazardTicketsByTime: `${p}:tickets:by-time`,
    buildingOpenTicket: (buildingId, lane) => `${p}:building:${buildingId}:ticket:${lane}`,
    hazardTicketSeq: `${p}:tickets:seq`,
    operatorActions: `${p}:stream:operator-actions`,
    keyPeriod: `${p}:key-period`,
    keyPeriodChanged: `${p}:key-period:changed`,
    livenessLastSeen: `${p}:liveness:last-seen`,
    livenessDeadlines: `${p}:liveness:deadlines`,
    livenessSilent: `${p}:liveness:silent`,
    livenessSilentDay: (date, grid) => `${p}:liveness:silent-day:${date}:${grid}`,
    livenessSilentDayGrids: (date) => `${p}:liveness:silent-day:${date}`,
    carrierPushSeen: (platform, digest) => `${p}:carrier-seen:${platform}:${digest}`,
    bullPrefix: `${p}:bull`,
  };
}

/**
 * Fields of an entry in the fire/other event streams, written by the broker.
 * d: device id, p: the raw JSON payload as published, r: hub receive time (ms).
 */
export const EVENT_STREAM_FIELDS = { deviceId: 'd', payload: 'p', receivedAt: 'r' } as const;

/**
 * How a device event is recorded in an event stream once per (device id, message id),
 * by every writer (the broker before its PUBACK, ingest for carrier pushes and rule
 * hits), so an event arriving on two paths is stored once.
 * KEYS[1] seen key (`seenEvent`), KEYS[2] stream.
 * ARGV: ttl seconds, maxlen, then the three field/value pairs of the entry (EVENT_STREAM_FIELDS).
 * Returns 1 when the entry was added, 0 for a duplicate (seen key present).
 *
 * The contract's "SET NX, XADD only if it was set" is done as EXISTS → XADD → SET:
 * identical inside one atomic script, but if XADD fails (wrong key type, OOM) the
 * seen key is not left behind, so the device's retry is recorded instead of being
 * mistaken for a duplicate and lost.
 */
export const RECORD_EVENT_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return 1
`;

/**
 * RECORD_EVENT_LUA for many events in one call (the broker batches the events of one
 * event-loop turn: one round trip, one script call and one AOF write instead of one
 * each per event). Same rule per event, in order, so a retry inside the same batch is
 * seen as a duplicate of the first.
 * KEYS: seen key and stream of event 1, of event 2, ... (2 keys per event).
 * ARGV: ttl seconds, maxlen, the three field names (EVENT_STREAM_FIELDS), then per
 * event its three values (device id, payload, receive time).
 * Returns one 1 (added) or 0 (duplicate) per event, in order. Not atomic as a batch: if
 * a write fails half-way (OOM), the events before it stay recorded and the call errors,
 * so their devices get no PUBACK, retry, and are then acknowledged as duplicates.
 */
export const RECORD_EVENTS_LUA = `
local out = {}
local n = #KEYS / 2
for i = 1, n do
  local seen = KEYS[2 * i - 1]
  if redis.call('EXISTS', seen) == 1 then
    out[i] = 0
  else
    local a = 3 + 3 * i
    redis.call('XADD', KEYS[2 * i], 'MAXLEN', '~', ARGV[2], '*', ARGV[3], ARGV[a], ARGV[4], ARGV[a + 1], ARGV[5], ARGV[a + 2])
    redis.call('SET', seen, '1', 'EX', ARGV[1])
    out[i] = 1
  end
end
return out
`;

/**
 * Fields of an entry in the actions stream: j is the StationReply JSON, s the station id
 * the reply was authenticated for (never taken from the payload), r receive time.
 */
export const ACTION_STREAM_FIELDS = { stationId: 's', reply: 'j', receivedAt: 'r' } as const;
