import type { Building, Device, DeviceEvent } from '@hub/protocol';
import type { RankedStation, RegistrySnapshot } from '@hub/registry';
import type { Clock } from './clock.js';
import { alarmEvent, type DeviceProfileState } from './device-profiles.js';
import type { LatencyRecorder } from './latency-recorder.js';
import { SIM_ERRORS, SimError } from './sim-error.js';
import type { ReceivedPage } from './station-listener.js';

/** A building chosen to burn, its detectors, and the station the hub should page first. */
export interface FireTarget {
  building: Building;
  /** Smoke detectors not in maintenance, sorted by id (maintenance devices never page). */
  detectors: Device[];
  expected: RankedStation | null;
}

function detectorsOf(snapshot: RegistrySnapshot, buildingId: string): Device[] {
  const list = snapshot.devicesByBuilding.get(buildingId) ?? [];
  return list.filter((d) => d.kind === 'smoke' && !d.maintenance).sort((a, b) => (a.id < b.id ? -1 : 1));
}

/**
 * The station the hub should page first: the first of the registry's ranking that
 * is on duty with someone on duty (what the alerts service is expected to pick).
 */
export function expectedStation(snapshot: RegistrySnapshot, building: Building): RankedStation | null {
  const ranked = snapshot.stationIndex.rank(
    building.lat,
    building.lon,
    1,
    (s) => s.onDuty && s.officers.some((o) => o.onDuty),
  );
  return ranked[0] ?? null;
}

/**
 * Picks the building: the given id, or (`random`) one of the buildings with smoke
 * detectors, drawn with the seeded PRNG so a run is reproducible.
 */
export function chooseFireTarget(snapshot: RegistrySnapshot, target: string, rnd: () => number): FireTarget {
  let building: Building | undefined;
  if (target === 'random') {
    const candidates = [...snapshot.buildings.keys()]
      .filter((id) => detectorsOf(snapshot, id).length > 0)
      .sort();
    if (candidates.length === 0) {
      throw new SimError(SIM_ERRORS.NO_BUILDING, 'no building in the registry has a smoke detector');
    }
    building = snapshot.buildings.get(candidates[Math.floor(rnd() * candidates.length)] as string);
  } else {
    building = snapshot.buildings.get(target);
    if (building === undefined)
      throw new SimError(SIM_ERRORS.NO_BUILDING, `no building "${target}" in the registry`);
  }
  if (building === undefined) throw new SimError(SIM_ERRORS.NO_BUILDING, `no building "${target}"`);
  const detectors = detectorsOf(snapshot, building.id);
  if (detectors.length === 0) {
    throw new SimError(SIM_ERRORS.NO_BUILDING, `building ${building.id} has no smoke detector in service`);
  }
  return { building, detectors, expected: expectedStation(snapshot, building) };
}

interface AlarmRecord {
  deviceId: string;
  messageId: string;
  deviceTs: number;
  publishedAt: number;
  ackedAt: number | null;
  publishError: string | null;
  /** Arrival of the first page that names this device, received after the publish. */
  pagedAt: number | null;
  pageId: string | null;
  /** A page for this fire arrived after the publish without naming the device: folded there. */
  coveredAt: number | null;
}

export interface FireReport {
  buildingId: string;
  detectors: number;
  alarmsSent: number;
  /** PUBACKs received: the broker recorded the alarm. */
  alarmsAcked: number;
  publishErrors: number;
  /** Alarms covered by a page: named in one (pagedDirect) or folded into an incident that was paged. */
  paged: number;
  pagedDirect: number;
  folded: number;
  /** No page for the building within the timeout after the alarm. */
  neverPaged: number;
  /** Neither paged nor timed out yet (only before the scenario settles). */
  pending: number;
  /** Pages for this building received more than once (same pageId). */
  duplicates: number;
  /** Distinct pages for this building (escalation steps included). */
  pagesMatched: number;
  /** Pages for this building from an older incident (alarmTs before this fire), ignored. */
  stalePages: number;
  expectedStationId: string | null;
  /** Station of the first page for this fire. */
  pagingStationId: string | null;
  /** First alarm publish → first page for the building, ms. */
  firstPageLatencyMs: number | null;
  /** The first page's alarmTs equals the first alarm's device ts (the page is for this alarm). */
  alarmTsMatches: boolean | null;
}

/**
 * Tracks one fire: the alarms published and the pages that arrive for the building.
 * Pure bookkeeping: every input carries its own time, so tests drive it directly.
 *
 * Matching: a page is for this fire when its building id is this building or it
 * names one of the building's detectors, it arrived after the first alarm was
 * published, and its alarmTs is not older than the first alarm's device ts (else it
 * is a page from an older incident of the building, counted as stale).
 *
 * An alarm is paged directly when a page naming its device arrives after its
 * publish; its latency (publish → arrival, one clock) goes into the histogram. An
 * alarm the hub folds into an incident that was paged without naming it counts as
 * folded: covered, but with no latency of its own. An alarm covered by neither within
 * `pageTimeoutMs` of its publish was never paged: that is the failure this measures.
 */
export class FireTracker {
  private readonly detectorIds: ReadonlySet<string>;
  private readonly alarms: AlarmRecord[] = [];
  private readonly byMessage = new Map<string, AlarmRecord>();
  private readonly pageIds = new Set<string>();
  private duplicates = 0;
  private stalePages = 0;
  private firstPage: ReceivedPage | null = null;

  constructor(
    readonly buildingId: string,
    detectorIds: Iterable<string>,
    readonly expectedStationId: string | null,
    private readonly latency: LatencyRecorder,
    readonly pageTimeoutMs: number,
  ) {
    this.detectorIds = new Set(detectorIds);
  }

  recordAlarm(deviceId: string, event: DeviceEvent, publishedAt: number): void {
    const rec: AlarmRecord = {
      deviceId,
      messageId: event.id,
      deviceTs: event.ts,
      publishedAt,
      ackedAt: null,
      publishError: null,
      pagedAt: null,
      pageId: null,
      coveredAt: null,
    };
    this.alarms.push(rec);
    this.byMessage.set(deviceId + '\u0000' + event.id, rec);
  }

  recordAck(deviceId: string, messageId: string, at: number): void {
    const rec = this.byMessage.get(deviceId + '\u0000' + messageId);
    if (rec !== undefined) rec.ackedAt = at;
  }

  recordPublishError(deviceId: string, messageId: string, err: unknown): void {
    const rec = this.byMessage.get(deviceId + '\u0000' + messageId);
    if (rec !== undefined) rec.publishError = err instanceof Error ? err.message : String(err);
  }

  /** Feeds a page from the station listener; returns true when it belongs to this fire. */
  onPage(rec: ReceivedPage): boolean {
    const first = this.alarms[0];
    if (first === undefined) return false;
    const page = rec.page;
    let forUs = page.building.id === this.buildingId;
    if (!forUs) for (const id of page.deviceIds) if (this.detectorIds.has(id)) forUs = true;
    if (!forUs || rec.receivedAt < first.publishedAt) return false;
    if (page.alarmTs < first.deviceTs) {
      this.stalePages++;
      return false;
    }
    if (this.pageIds.has(page.pageId)) {
      this.duplicates++;
      return true;
    }
    this.pageIds.add(page.pageId);
    if (this.firstPage === null) this.firstPage = rec;
    for (const a of this.alarms) {
      if (a.pagedAt !== null || rec.receivedAt < a.publishedAt) continue;
      // Folded into an incident already paged: an escalation page naming it a minute
      // later is not this alarm's paging latency (an update page of the same step is).
      if (a.coveredAt !== null && page.step > 1) continue;
      if (!page.deviceIds.includes(a.deviceId)) {
        if (a.coveredAt === null) a.coveredAt = rec.receivedAt;
        continue;
      }
      a.pagedAt = rec.receivedAt;
      a.pageId = page.pageId;
      this.latency.record(rec.receivedAt - a.publishedAt);
    }
    return true;
  }

  /** Every alarm is paged, folded into a paged incident, or past its timeout. */
  settled(now: number): boolean {
    if (this.alarms.length === 0) return false;
    for (const a of this.alarms) {
      if (a.pagedAt !== null || this.firstPage !== null) continue;
      if (now - a.publishedAt < this.pageTimeoutMs) return false;
    }
    return true;
  }

  report(now: number): FireReport {
    let direct = 0;
    let folded = 0;
    let never = 0;
    let pending = 0;
    let acked = 0;
    let errors = 0;
    for (const a of this.alarms) {
      if (a.ackedAt !== null) acked++;
      if (a.publishError !== null) errors++;
      if (a.pagedAt !== null) direct++;
      else if (this.firstPage !== null) folded++;
      else if (now - a.publishedAt >= this.pageTimeoutMs) never++;
      else pending++;
    }
    const first = this.alarms[0];
    const fp = this.firstPage;
    return {
      buildingId: this.buildingId,
      detectors: this.detectorIds.size,
      alarmsSent: this.alarms.length,
      alarmsAcked: acked,
      publishErrors: errors,
      paged: direct + folded,
      pagedDirect: direct,
      folded,
      neverPaged: never,
      pending,
      duplicates: this.duplicates,
      pagesMatched: this.pageIds.size,
      stalePages: this.stalePages,
      expectedStationId: this.expectedStationId,
      pagingStationId: fp?.page.stationId ?? null,
      firstPageLatencyMs:
        fp !== null && first !== undefined ? round3(fp.receivedAt - first.publishedAt) : null,
      alarmTsMatches: fp !== null && first !== undefined ? fp.page.alarmTs === first.deviceTs : null,
    };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** What the fire needs from the fleet (a Fleet fits; tests may fake it). */
export interface AlarmPublisher {
  deviceState(deviceId: string): DeviceProfileState | undefined;
  publishEvent(deviceId: string, event: DeviceEvent): Promise<void>;
}

export interface IgniteOptions {
  /** Spread the second and later detectors' alarms over this many ms (0 = all at once). */
  spreadMs: number;
  clock: Clock;
  random: () => number;
}

/**
 * Makes the detectors alarm: the first at once, the others at random offsets within
 * `spreadMs` (smoke reaching other rooms). Publish time is taken just before each
 * publish; acks and errors are recorded as they come. Resolves when every alarm has
 * been handed to its client (not when acked).
 */
export async function ignite(
  publisher: AlarmPublisher,
  tracker: FireTracker,
  detectorIds: readonly string[],
  opts: IgniteOptions,
): Promise<void> {
  const fire = (deviceId: string): void => {
    const state = publisher.deviceState(deviceId);
    if (state === undefined) return;
    const publishedAt = opts.clock();
    const event = alarmEvent(state, publishedAt);
    tracker.recordAlarm(deviceId, event, publishedAt);
    publisher.publishEvent(deviceId, event).then(
      () => tracker.recordAck(deviceId, event.id, opts.clock()),
      (err: unknown) => tracker.recordPublishError(deviceId, event.id, err),
    );
  };
  const [first, ...rest] = detectorIds;
  if (first === undefined) return;
  fire(first);
  if (opts.spreadMs <= 0) {
    for (const id of rest) fire(id);
    return;
  }
  const offsets = rest.map((id) => ({ id, at: opts.random() * opts.spreadMs })).sort((a, b) => a.at - b.at);
  const start = opts.clock();
  for (const o of offsets) {
    const wait = start + o.at - opts.clock();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    fire(o.id);
  }
}
