import type { ServerResponse } from 'node:http';
import type { HubKeys, Incident, PageMessage } from '@hub/protocol';
import { type RegistrySnapshot, whenReady } from '@hub/registry';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { API_ERRORS, ApiError } from './api-error.js';
import type { DashboardKeys } from './dashboard-keys.js';
import type { DashboardMetrics } from './dashboard-metrics.js';
import { toIncidentView } from './incident-view.js';
import { type DropReason, SseStream, type StreamScope } from './sse-stream.js';

export interface LiveHubOptions {
  /** Connection in subscriber mode (may be shared with the RegistryCache: both filter by channel). */
  subscriber: Redis;
  keys: HubKeys;
  dkeys: DashboardKeys;
  registry: { readonly current: RegistrySnapshot };
  metrics: DashboardMetrics;
  logger: Logger;
  clock: () => number;
  /** Comment frame interval that keeps proxies and browsers from timing the stream out. */
  heartbeatMs?: number;
  /** Bound on open streams (all consoles together). */
  maxStreams?: number;
  /** Per-client queue bound, bytes (see SseStream). */
  maxBufferedBytes?: number;
  /** EventSource reconnect delay hint sent to browsers. */
  retryMs?: number;
}

export const LIVE_DEFAULTS = {
  heartbeatMs: 15_000,
  maxStreams: 2_000,
  maxBufferedBytes: 512 * 1024,
  retryMs: 3_000,
} as const;

/**
 * Fans the live Redis channel out to browsers. The app holds ONE subscription to
 * `keys.live`, whatever the number of consoles; each message is parsed and turned into
 * an SSE frame once, then written to the township streams and to the streams of the
 * stations it concerns (a page for the station, or an incident that paged it).
 * Pub/sub is lossy by design (state lives in Redis keys): a console reloads over REST
 * whenever its stream (re)opens.
 */
export class LiveHub {
  /**
   * Township-scope streams keyed by the township they are limited to (null: an admin's,
   * every township), so a message visits only the streams that may receive it.
   */
  private readonly byTownship = new Map<string | null, Set<SseStream>>();
  private readonly byStation = new Map<string, Set<SseStream>>();
  private count = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private started = false;
  private closing = false;
  private readonly heartbeatMs: number;
  private readonly maxStreams: number;
  private readonly maxBufferedBytes: number;
  private readonly retryMs: number;

  constructor(private readonly opts: LiveHubOptions) {
    this.heartbeatMs = opts.heartbeatMs ?? LIVE_DEFAULTS.heartbeatMs;
    this.maxStreams = opts.maxStreams ?? LIVE_DEFAULTS.maxStreams;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? LIVE_DEFAULTS.maxBufferedBytes;
    this.retryMs = opts.retryMs ?? LIVE_DEFAULTS.retryMs;
  }

  get streamCount(): number {
    return this.count;
  }

  /** True once the live channel is subscribed (readiness). */
  get subscribed(): boolean {
    return this.started && !this.closing;
  }

  async start(): Promise<void> {
    if (this.started) return;
    await whenReady(this.opts.subscriber);
    this.opts.subscriber.on('message', this.onMessage);
    await this.opts.subscriber.subscribe(this.opts.keys.live, this.opts.dkeys.sessionsRevoked);
    // One coalesced timer for every stream, not one per client.
    this.heartbeat = setInterval(this.beat, this.heartbeatMs);
    this.heartbeat.unref();
    this.started = true;
  }

  /** Ends every stream (before the HTTP server closes, or it would wait for them forever). */
  closeStreams(): void {
    this.closing = true;
    for (const s of [...this.allStreams()]) s.close();
  }

  async stop(): Promise<void> {
    this.closeStreams();
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.opts.subscriber.off('message', this.onMessage);
    if (this.started) {
      this.started = false;
      await this.opts.subscriber
        .unsubscribe(this.opts.keys.live, this.opts.dkeys.sessionsRevoked)
        .catch(() => undefined);
    }
  }

  /**
   * Starts a stream on a raw response (the route has hijacked the reply). Throws
   * ApiError before anything is written when the hub is closing or full.
   */
  attach(
    res: ServerResponse,
    scope: StreamScope,
    stationId: string | null,
    who: { sessionId: string; township: string | null },
  ): SseStream {
    if (this.closing) throw new ApiError(503, API_ERRORS.SHUTTING_DOWN, 'the dashboard is shutting down');
    if (this.count >= this.maxStreams) {
      this.opts.metrics.sseRejected.inc();
      throw new ApiError(503, API_ERRORS.TOO_MANY_STREAMS, `live stream limit (${this.maxStreams}) reached`);
    }
    const stream = new SseStream(res, {
      scope,
      stationId,
      township: scope === 'township' ? who.township : null,
      sessionId: who.sessionId,
      maxBufferedBytes: this.maxBufferedBytes,
      onEnd: this.onStreamEnd,
    });
    if (stream.stationId === null) addTo(this.byTownship, stream.township, stream);
    else addTo(this.byStation, stream.stationId, stream);
    this.count++;
    this.opts.metrics.sseClients.inc({ scope });
    const hello = JSON.stringify({ now: this.opts.clock(), scope, stationId, heartbeatMs: this.heartbeatMs });
    stream.open(`retry: ${this.retryMs}\n\nevent: hello\ndata: ${hello}\n\n`);
    return stream;
  }

  private readonly onStreamEnd = (
    stream: SseStream,
    reason: DropReason | 'client_closed' | 'server_closed',
  ): void => {
    const removed =
      stream.stationId === null
        ? removeFrom(this.byTownship, stream.township, stream)
        : removeFrom(this.byStation, stream.stationId, stream);
    if (!removed) return;
    this.count--;
    this.opts.metrics.sseClients.dec({ scope: stream.scope });
    if (reason === 'slow' || reason === 'write_error') {
      this.opts.metrics.sseDrops.inc({ reason });
      this.opts.logger.warn(
        { scope: stream.scope, stationId: stream.stationId, reason },
        'live stream dropped',
      );
    }
  };

  private readonly beat = (): void => {
    const frame = `: hb ${this.opts.clock()}\n\n`;
    for (const s of this.allStreams()) s.send(frame);
  };

  private *allStreams(): Generator<SseStream> {
    for (const set of this.byTownship.values()) yield* set;
    for (const set of this.byStation.values()) yield* set;
  }

  /** Ends the streams opened by these sessions (logout, shift change, account disabled). */
  closeSessions(sessionIds: readonly string[]): number {
    if (sessionIds.length === 0) return 0;
    const ids = new Set(sessionIds);
    const doomed: SseStream[] = [];
    for (const s of this.allStreams()) if (ids.has(s.sessionId)) doomed.push(s);
    for (const s of doomed) s.close();
    return doomed.length;
  }

  /** Bound once: the subscriber calls it for every message on every channel it holds. */
  private readonly onMessage = (channel: string, raw: string): void => {
    if (channel === this.opts.dkeys.sessionsRevoked) {
      try {
        const ids: unknown = JSON.parse(raw);
        if (Array.isArray(ids)) this.closeSessions(ids.filter((x): x is string => typeof x === 'string'));
      } catch {
        this.opts.logger.warn('invalid session revocation message ignored');
      }
      return;
    }
    if (channel !== this.opts.keys.live) return;
    // ioredis calls listeners inside its reply parser: nothing may throw out of here.
    try {
      this.handleLive(channel, raw);
    } catch (err) {
      this.opts.logger.error({ err }, 'live message handling failed');
    }
  };

  private handleLive(channel: string, raw: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(raw);
    } catch {
      msg = null;
    }
    const type = liveType(msg);
    this.opts.metrics.liveMessagesIn.inc({ type });
    if (type === 'page') {
      const page = (msg as { page: PageMessage }).page;
      // Re-serialized so a pretty-printed publish cannot break the one-line data field.
      const frame = `event: page\ndata: ${JSON.stringify(msg)}\n\n`;
      const township = this.opts.registry.current.stations.get(page.stationId)?.township ?? null;
      this.deliver(frame, page.stationId, null, township);
    } else if (type === 'incident') {
      const incident = (msg as { incident: Incident }).incident;
      // Enriched once per message (building from the registry); distances are per
      // station and come with the REST view and the page.
      const view = toIncidentView(incident, this.opts.registry.current);
      const frame = `event: incident\ndata: ${JSON.stringify({ type: 'incident', incident: view })}\n\n`;
      this.deliver(frame, incident.stationId, incident.pagedStations, incident.township);
    } else if (type === 'ticket') {
      // Hazard tickets are the township's business: township streams only.
      const ticket = (msg as { ticket: { township: string; buildingId?: unknown } }).ticket;
      // Enriched once with the building's name and address, as the REST list does.
      const b =
        typeof ticket.buildingId === 'string'
          ? this.opts.registry.current.buildings.get(ticket.buildingId)
          : undefined;
      const building = b === undefined ? null : { id: b.id, name: b.name, address: b.address };
      const frame = `event: ticket\ndata: ${JSON.stringify({ type: 'ticket', ticket: { ...ticket, building } })}\n\n`;
      this.deliver(frame, null, null, ticket.township);
    } else {
      this.opts.logger.warn({ channel, bytes: raw.length }, 'invalid live message ignored');
    }
  }

  private deliver(
    frame: string,
    stationId: string | null,
    paged: readonly string[] | null,
    township: string | null,
  ): void {
    let written = 0;
    // A township operator's stream gets its own township only; an admin's (null) all.
    written += this.sendToSet(this.byTownship.get(null), frame);
    if (township !== null) written += this.sendToSet(this.byTownship.get(township), frame);
    if (paged !== null) {
      for (let i = 0; i < paged.length; i++) {
        const id = paged[i] as string;
        if (paged.indexOf(id) !== i) continue; // a station paged twice gets the frame once
        written += this.sendTo(id, frame);
      }
    }
    if (stationId !== null && (paged === null || !paged.includes(stationId))) {
      written += this.sendTo(stationId, frame);
    }
    this.opts.metrics.liveFramesOut.inc(written);
  }

  private sendTo(stationId: string, frame: string): number {
    return this.sendToSet(this.byStation.get(stationId), frame);
  }

  private sendToSet(set: Set<SseStream> | undefined, frame: string): number {
    if (set === undefined) return 0;
    let written = 0;
    for (const s of set) if (s.send(frame)) written++;
    return written;
  }
}

function addTo<K>(index: Map<K, Set<SseStream>>, key: K, stream: SseStream): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(stream);
}

/** Removes the stream; drops the key's set once empty, so the index does not grow with churn. */
function removeFrom<K>(index: Map<K, Set<SseStream>>, key: K, stream: SseStream): boolean {
  const set = index.get(key);
  if (set === undefined || !set.delete(stream)) return false;
  if (set.size === 0) index.delete(key);
  return true;
}

/** Cheap shape check: the alerts service is trusted, but one bad publish must not throw here. */
function liveType(msg: unknown): 'page' | 'incident' | 'ticket' | 'invalid' {
  if (msg === null || typeof msg !== 'object') return 'invalid';
  const m = msg as { type?: unknown; page?: unknown; incident?: unknown; ticket?: unknown };
  if (m.type === 'ticket') {
    const t = m.ticket as { id?: unknown; township?: unknown } | null | undefined;
    return t != null && typeof t.id === 'string' && typeof t.township === 'string' ? 'ticket' : 'invalid';
  }
  if (m.type === 'page') {
    const p = m.page as { stationId?: unknown; incidentId?: unknown } | null | undefined;
    return p != null && typeof p.stationId === 'string' && typeof p.incidentId === 'string'
      ? 'page'
      : 'invalid';
  }
  if (m.type === 'incident') {
    const i = m.incident as
      | { id?: unknown; buildingId?: unknown; pagedStations?: unknown; stationId?: unknown }
      | null
      | undefined;
    return i != null &&
      typeof i.id === 'string' &&
      typeof i.buildingId === 'string' &&
      Array.isArray(i.pagedStations) &&
      (i.stationId === null || typeof i.stationId === 'string')
      ? 'incident'
      : 'invalid';
  }
  return 'invalid';
}
