import {
  type AuditEntry,
  type Building,
  type DeviceEvent,
  type Incident,
  laneOf,
  type PageMessage,
  type Station,
  type StationReply,
} from '@hub/protocol';
import type { RankedStation, RegistrySnapshot } from '@hub/registry';
import { ALERTS_CODES, type AlertsCode } from './alerts-codes.js';

/**
 * The alerts service's decisions, as pure functions of (registry snapshot, incident
 * state, input, now). Nothing here does I/O or reads a clock: the engine loads
 * state, calls one of these, and persists / sends what comes back. That keeps every
 * rule testable with a fake clock and makes a replayed input harmless (the same
 * input against the already-changed state decides "nothing new").
 *
 * The ladder, by `incident.step` (1-based):
 *   steps 1..k       micro fire stations, nearest available first (k ≤ maxStations)
 *   step k+1         the township fire office (a timestamped record; channel later)
 *   step k+2         the 119 forwarding record (`forwarded119At`); the ladder ends
 * So "fire office reached" is exactly `step > pagedStations.length`, which needs no
 * extra field in the shared Incident schema.
 */

export interface LadderParams {
  /** How long a paged station has to accept before the next step. */
  readonly acceptTimeoutMs: number;
  /** After accepting, how long until "on scene" is overdue (which escalates too). */
  readonly onSceneDeadlineMs: number;
  /** How long the fire office step waits before the 119 forwarding record. */
  readonly fireOfficeTimeoutMs: number;
  /** Stations on the ladder before the fire office step. */
  readonly maxStations: number;
}

/** The parts of a registry snapshot the decisions read (tests may hand in a real snapshot). */
export type DecisionRegistry = Pick<RegistrySnapshot, 'devices' | 'buildings' | 'townships' | 'stationIndex'>;

export interface DecisionContext {
  readonly registry: DecisionRegistry;
  readonly params: LadderParams;
}

export type TimerKind = 'accept' | 'on_scene';

/** A timer the engine must schedule: at `dueAt`, run decideEscalation for (incident, kind, step). */
export interface TimerRequest {
  readonly incidentId: string;
  readonly kind: TimerKind;
  readonly step: number;
  readonly dueAt: number;
}

/** A new incident state plus what follows from it; persisted together (atomically). */
export interface IncidentChange {
  readonly incident: Incident;
  readonly audit: AuditEntry[];
  readonly pages: PageMessage[];
  readonly timers: TimerRequest[];
}

export interface AlarmInput {
  readonly deviceId: string;
  readonly event: DeviceEvent;
  /** Hub receive time (stream field r), ms. */
  readonly receivedAt: number;
}

/** Why an input was only recorded (never pages). */
export type RecordReason = 'repeat_device' | 'test' | 'maintenance' | 'cleared' | 'not_fire';

export type AlarmDecision =
  /** Open an incident; its id is PENDING_INCIDENT_ID until `assignIncidentId`. */
  | { kind: 'open'; change: IncidentChange }
  /** A new device alarmed in the building's open incident: add it, no new page. */
  | { kind: 'fold'; change: IncidentChange }
  /** Audit only, no state change, no page. incidentId null: no open incident to attach to. */
  | { kind: 'record'; reason: RecordReason; incidentId: string | null; entry: AuditEntry }
  | { kind: 'reject'; code: AlertsCode; message: string };

export type EscalationDecision =
  | { kind: 'update'; change: IncidentChange }
  | { kind: 'noop'; reason: 'not_paging' | 'stale' | 'ladder_done' | 'not_due' | 'closed' };

export type ReplyDecision =
  | { kind: 'update'; change: IncidentChange }
  | { kind: 'record'; entry: AuditEntry }
  | { kind: 'reject'; code: AlertsCode; message: string };

/** Placeholder id of an incident decided but not yet numbered (ids come from Redis INCR). */
export const PENDING_INCIDENT_ID = '';

export function formatIncidentId(seq: number): string {
  return 'INC-' + String(seq).padStart(6, '0');
}

/** Unique per (incident, step, station): terminals drop a page id they have seen. */
export function pageIdOf(incidentId: string, step: number, stationId: string): string {
  return incidentId + '-s' + step + '-' + stationId;
}

/**
 * A station can take a page when it is on duty and at least one officer is. A plain
 * function (not a closure per call): the ranking runs once per alarm.
 */
export function stationAvailable(s: Station): boolean {
  if (!s.onDuty) return false;
  for (const o of s.officers) if (o.onDuty) return true;
  return false;
}

// ---------------------------------------------------------------------------------
// Alarms

/**
 * An event from the fire lane. `open` is the building's open fire incident (or null).
 * A single detector is enough to page: nothing is held back for verification; a
 * second detector in the building folds in and marks the incident confirmed.
 */
export function decideAlarm(
  ctx: DecisionContext,
  open: Incident | null,
  alarm: AlarmInput,
  now: number,
): AlarmDecision {
  const device = ctx.registry.devices.get(alarm.deviceId);
  if (device === undefined) {
    return { kind: 'reject', code: ALERTS_CODES.UNKNOWN_DEVICE, message: 'device not in the registry' };
  }
  const building = ctx.registry.buildings.get(device.buildingId);
  if (building === undefined) {
    return {
      kind: 'reject',
      code: ALERTS_CODES.UNKNOWN_BUILDING,
      message: `building ${device.buildingId} not in the registry`,
    };
  }
  const current = open !== null && open.state !== 'closed' ? open : null;
  const openId = current === null ? null : current.id;
  const type = alarm.event.type;
  const base = { at: now, deviceId: alarm.deviceId };

  // Recorded, never paging. Order matters: a test press on a device in maintenance
  // is recorded as a test.
  if (type === 'test') {
    return {
      kind: 'record',
      reason: 'test',
      incidentId: openId,
      entry: { ...base, kind: 'test_alarm', detail: `building ${building.id}, event ${alarm.event.id}` },
    };
  }
  if (device.maintenance) {
    return {
      kind: 'record',
      reason: 'maintenance',
      incidentId: openId,
      entry: {
        ...base,
        kind: 'maintenance_alarm',
        detail: `${type} from a device in maintenance, building ${building.id}, event ${alarm.event.id}`,
      },
    };
  }
  if (type === 'alarm_cleared') {
    return {
      kind: 'record',
      reason: 'cleared',
      incidentId: openId,
      entry: { ...base, kind: 'alarm_cleared', detail: `event ${alarm.event.id}` },
    };
  }
  if (laneOf(type) !== 'fire') {
    return {
      kind: 'record',
      reason: 'not_fire',
      incidentId: openId,
      entry: { ...base, kind: 'event', detail: `${type}, event ${alarm.event.id}` },
    };
  }

  if (current !== null) {
    if (current.deviceIds.includes(alarm.deviceId)) {
      // A detector that keeps alarming does not page again while its incident is open.
      return {
        kind: 'record',
        reason: 'repeat_device',
        incidentId: current.id,
        entry: { ...base, kind: 'repeat_alarm', detail: `${type}, event ${alarm.event.id}` },
      };
    }
    const audit: AuditEntry[] = [
      { ...base, kind: 'fold', detail: `${type} on floor ${device.floor}, ${device.room}` },
    ];
    if (current.verification === 'unverified') {
      audit.push({ ...base, kind: 'confirmed', detail: 'a second detector in the same building' });
    }
    const incident: Incident = {
      ...current,
      deviceIds: [...current.deviceIds, alarm.deviceId],
      verification: 'confirmed',
      updatedAt: now,
    };
    return { kind: 'fold', change: { incident, audit, pages: [], timers: [] } };
  }

  const opened: Incident = {
    id: PENDING_INCIDENT_ID,
    lane: 'fire',
    state: 'paging',
    verification: 'unverified',
    buildingId: building.id,
    township: building.township,
    grid: building.grid,
    openedAt: now,
    updatedAt: now,
    deviceIds: [alarm.deviceId],
    firstFloor: device.floor,
    firstRoom: device.room,
    alarmTs: alarm.event.ts,
    receivedAt: alarm.receivedAt,
    step: 0,
    pagedStations: [],
    stationId: null,
    acceptBy: null,
    acceptedAt: null,
    onSceneBy: null,
    onSceneAt: null,
    closedAt: null,
    disposition: null,
    forwarded119At: null,
  };
  const first = advanceLadder(ctx, opened, building, now, true);
  const audit: AuditEntry[] = [
    { ...base, kind: 'opened', detail: `${type} in building ${building.id}, event ${alarm.event.id}` },
    ...first.audit,
  ];
  return { kind: 'open', change: { ...first, audit } };
}

/** Gives a decided-but-unnumbered incident its id (pages and timers follow). */
export function assignIncidentId(change: IncidentChange, id: string): IncidentChange {
  return {
    incident: { ...change.incident, id },
    audit: change.audit,
    pages: change.pages.map((p) => ({ ...p, incidentId: id, pageId: pageIdOf(id, p.step, p.stationId) })),
    timers: change.timers.map((t) => ({ ...t, incidentId: id })),
  };
}

// ---------------------------------------------------------------------------------
// The ladder

/**
 * One step up the ladder: the next ranked available station not yet paged, else the
 * fire office record, else the 119 forwarding record. `withTimer` false is used for
 * a reinforcement page after an overdue arrival: the incident stays accepted and no
 * accept timer runs for it.
 */
function advanceLadder(
  ctx: DecisionContext,
  incident: Incident,
  building: Building | undefined,
  now: number,
  withTimer: boolean,
): IncidentChange {
  const { params } = ctx;
  const paged = incident.pagedStations;
  const fireOfficeReached = incident.step > paged.length;
  const step = incident.step + 1;

  if (!fireOfficeReached && building !== undefined && paged.length < params.maxStations) {
    const ranked = ctx.registry.stationIndex.rank(
      building.lat,
      building.lon,
      params.maxStations + paged.length,
      stationAvailable,
    );
    let next: RankedStation | undefined;
    for (const r of ranked) {
      if (!paged.includes(r.station.id)) {
        next = r;
        break;
      }
    }
    if (next !== undefined) {
      const acceptBy = now + params.acceptTimeoutMs;
      const updated: Incident = {
        ...incident,
        step,
        pagedStations: [...paged, next.station.id],
        acceptBy: withTimer ? acceptBy : incident.acceptBy,
        updatedAt: now,
      };
      return {
        incident: updated,
        audit: [
          {
            at: now,
            kind: 'step',
            stationId: next.station.id,
            detail: `step ${step}: station ${next.station.id}, ${Math.round(next.distanceM)} m${next.inArea ? ', responsibility area' : ''}`,
          },
        ],
        pages: [buildPage(updated, building, next, step, now, acceptBy)],
        timers: withTimer ? [{ incidentId: incident.id, kind: 'accept', step, dueAt: acceptBy }] : [],
      };
    }
  }

  if (!fireOfficeReached) {
    const township = ctx.registry.townships.get(incident.township);
    const acceptBy = now + params.fireOfficeTimeoutMs;
    return {
      incident: { ...incident, step, acceptBy: withTimer ? acceptBy : incident.acceptBy, updatedAt: now },
      audit: [
        {
          at: now,
          kind: 'fire_office',
          channel: 'record',
          detail: `step ${step}: township ${incident.township} fire office${township ? ' ' + township.fireOfficePhone : ''}`,
        },
      ],
      pages: [],
      timers: withTimer ? [{ incidentId: incident.id, kind: 'accept', step, dueAt: acceptBy }] : [],
    };
  }

  return {
    incident: { ...incident, step, acceptBy: null, forwarded119At: now, updatedAt: now },
    audit: [
      { at: now, kind: 'forward_119', channel: 'record', detail: `step ${step}: 119 forwarding record` },
    ],
    pages: [],
    timers: [],
  };
}

function buildPage(
  incident: Incident,
  building: Building,
  ranked: RankedStation,
  step: number,
  now: number,
  acceptBy: number,
): PageMessage {
  return {
    v: 1,
    type: 'page',
    pageId: pageIdOf(incident.id, step, ranked.station.id),
    incidentId: incident.id,
    stationId: ranked.station.id,
    lane: incident.lane,
    step,
    verification: incident.verification,
    building: {
      id: building.id,
      name: building.name,
      address: building.address,
      lat: building.lat,
      lon: building.lon,
      occupancy: building.occupancy,
      floors: building.floors,
      contacts: building.contacts,
    },
    floor: incident.firstFloor,
    room: incident.firstRoom,
    deviceIds: incident.deviceIds,
    distanceM: ranked.distanceM,
    alarmTs: incident.alarmTs,
    receivedAt: incident.receivedAt,
    // The sender stamps the real send time; this is the decision time.
    sentAt: now,
    acceptBy,
  };
}

/**
 * A timer fired. Timers are deduplicated by (incident, kind, step) but may still
 * fire after the incident moved on (a decline already escalated, someone accepted):
 * those are no-ops, which is what makes at-least-once timers safe.
 */
export function decideEscalation(
  ctx: DecisionContext,
  incident: Incident,
  timer: { kind: TimerKind; step: number },
  now: number,
): EscalationDecision {
  if (incident.state === 'closed') return { kind: 'noop', reason: 'closed' };
  const building = ctx.registry.buildings.get(incident.buildingId);

  if (timer.kind === 'on_scene') {
    if (incident.state !== 'accepted' && incident.state !== 'en_route')
      return { kind: 'noop', reason: 'stale' };
    if (incident.onSceneBy === null) return { kind: 'noop', reason: 'stale' };
    if (now < incident.onSceneBy) return { kind: 'noop', reason: 'not_due' };
    const overdue: Incident = { ...incident, onSceneBy: null, updatedAt: now };
    const audit: AuditEntry = {
      at: now,
      kind: 'on_scene_overdue',
      ...(incident.stationId !== null ? { stationId: incident.stationId } : {}),
      detail: `accepted at ${incident.acceptedAt ?? '?'}, not on scene by ${incident.onSceneBy}`,
    };
    if (incident.forwarded119At !== null) {
      return { kind: 'update', change: { incident: overdue, audit: [audit], pages: [], timers: [] } };
    }
    // Reinforcement: one more step up the ladder, the accepted station stays responsible.
    const next = advanceLadder(ctx, overdue, building, now, false);
    return { kind: 'update', change: { ...next, audit: [audit, ...next.audit] } };
  }

  if (incident.state !== 'paging') return { kind: 'noop', reason: 'not_paging' };
  if (incident.step !== timer.step) return { kind: 'noop', reason: 'stale' };
  if (incident.forwarded119At !== null) return { kind: 'noop', reason: 'ladder_done' };
  const last =
    incident.step <= incident.pagedStations.length ? incident.pagedStations[incident.step - 1] : undefined;
  const timeout: AuditEntry = {
    at: now,
    kind: 'timeout',
    ...(last !== undefined ? { stationId: last } : {}),
    detail: `step ${incident.step} not accepted by ${incident.acceptBy ?? '?'}`,
  };
  const next = advanceLadder(ctx, incident, building, now, true);
  return { kind: 'update', change: { ...next, audit: [timeout, ...next.audit] } };
}

// ---------------------------------------------------------------------------------
// Station replies

function reject(code: AlertsCode, message: string): ReplyDecision {
  return { kind: 'reject', code, message };
}

/**
 * A station's reply. `stationId` is the authenticated station (stream field s), never
 * taken from the payload. Only stations that were paged for the incident may reply.
 */
export function applyReply(
  ctx: DecisionContext,
  incident: Incident,
  stationId: string,
  reply: StationReply,
  now: number,
): ReplyDecision {
  if (reply.incidentId !== incident.id) {
    return reject(ALERTS_CODES.UNKNOWN_INCIDENT, `reply names ${reply.incidentId}, not ${incident.id}`);
  }
  if (incident.state === 'closed') return reject(ALERTS_CODES.INCIDENT_CLOSED, `${incident.id} is closed`);
  if (!incident.pagedStations.includes(stationId)) {
    return reject(ALERTS_CODES.NOT_PAGED, `station ${stationId} was not paged for ${incident.id}`);
  }
  const who = {
    at: now,
    stationId,
    ...(reply.officerId !== undefined ? { officerId: reply.officerId } : {}),
  };
  const isResponder = incident.stationId === stationId;

  // Accept, explicitly or implied by en_route / on_scene while still paging.
  const accepted = (): Incident => ({
    ...incident,
    state: 'accepted',
    stationId,
    acceptedAt: now,
    acceptBy: null,
    onSceneBy: now + ctx.params.onSceneDeadlineMs,
    updatedAt: now,
  });
  const onSceneTimer = (i: Incident): TimerRequest[] =>
    i.onSceneBy === null ? [] : [{ incidentId: i.id, kind: 'on_scene', step: i.step, dueAt: i.onSceneBy }];

  switch (reply.type) {
    case 'accept': {
      if (incident.state === 'paging') {
        const next = accepted();
        return {
          kind: 'update',
          change: {
            incident: next,
            audit: [{ ...who, kind: 'accept', detail: `step ${incident.step}` }],
            pages: [],
            timers: onSceneTimer(next),
          },
        };
      }
      // Already accepted: a repeat from the responder, or a reinforcement station.
      return { kind: 'record', entry: { ...who, kind: isResponder ? 'accept_repeat' : 'accept_additional' } };
    }

    case 'decline': {
      if (incident.state !== 'paging') {
        if (isResponder) {
          return reject(
            ALERTS_CODES.BAD_STATE,
            `station ${stationId} accepted ${incident.id}; it cannot decline now`,
          );
        }
        return { kind: 'record', entry: { ...who, kind: 'decline' } };
      }
      const current =
        incident.step <= incident.pagedStations.length
          ? incident.pagedStations[incident.step - 1]
          : undefined;
      if (current !== stationId) {
        // A late decline from a station the ladder already moved past.
        return { kind: 'record', entry: { ...who, kind: 'decline', detail: 'after its step timed out' } };
      }
      // Decline → the next step at once, not at the timeout.
      const next = advanceLadder(ctx, incident, ctx.registry.buildings.get(incident.buildingId), now, true);
      return {
        kind: 'update',
        change: {
          ...next,
          audit: [{ ...who, kind: 'decline', detail: `step ${incident.step}` }, ...next.audit],
        },
      };
    }

    case 'en_route': {
      if (incident.state === 'paging') {
        const next: Incident = { ...accepted(), state: 'en_route' };
        return {
          kind: 'update',
          change: {
            incident: next,
            audit: [
              { ...who, kind: 'accept', detail: 'implied by en_route' },
              { ...who, kind: 'en_route' },
            ],
            pages: [],
            timers: onSceneTimer(next),
          },
        };
      }
      if (!isResponder)
        return { kind: 'record', entry: { ...who, kind: 'en_route', detail: 'not the responder' } };
      if (incident.state !== 'accepted')
        return { kind: 'record', entry: { ...who, kind: 'en_route_repeat' } };
      return {
        kind: 'update',
        change: {
          incident: { ...incident, state: 'en_route', updatedAt: now },
          audit: [{ ...who, kind: 'en_route' }],
          pages: [],
          timers: [],
        },
      };
    }

    case 'on_scene': {
      if (incident.state === 'on_scene')
        return { kind: 'record', entry: { ...who, kind: 'on_scene_repeat' } };
      if (incident.state !== 'paging' && !isResponder) {
        return { kind: 'record', entry: { ...who, kind: 'on_scene', detail: 'not the responder' } };
      }
      const base = incident.state === 'paging' ? accepted() : incident;
      const audit: AuditEntry[] =
        incident.state === 'paging' ? [{ ...who, kind: 'accept', detail: 'implied by on_scene' }] : [];
      audit.push({ ...who, kind: 'on_scene' });
      return {
        kind: 'update',
        change: {
          incident: { ...base, state: 'on_scene', onSceneAt: now, onSceneBy: null, updatedAt: now },
          audit,
          pages: [],
          timers: [],
        },
      };
    }

    case 'close': {
      if (reply.disposition === undefined) {
        return reject(ALERTS_CODES.DISPOSITION_REQUIRED, 'close needs a disposition code');
      }
      if (incident.stationId !== null && !isResponder) {
        return reject(
          ALERTS_CODES.NOT_RESPONDER,
          `${incident.id} is handled by station ${incident.stationId}`,
        );
      }
      return {
        kind: 'update',
        change: {
          incident: {
            ...incident,
            state: 'closed',
            stationId: incident.stationId ?? stationId,
            closedAt: now,
            disposition: reply.disposition,
            acceptBy: null,
            onSceneBy: null,
            updatedAt: now,
          },
          audit: [
            { ...who, kind: 'close', detail: reply.disposition + (reply.note ? ': ' + reply.note : '') },
          ],
          pages: [],
          timers: [],
        },
      };
    }
  }
}

/**
 * The timers an incident should have running, from its state alone. The engine
 * re-schedules these for every open incident at start (and periodically): with
 * deterministic job ids that is harmless, and it closes the gap of a crash between
 * committing a change and scheduling its timer.
 */
export function pendingTimers(incident: Incident): TimerRequest[] {
  if (incident.state === 'paging' && incident.acceptBy !== null && incident.forwarded119At === null) {
    return [{ incidentId: incident.id, kind: 'accept', step: incident.step, dueAt: incident.acceptBy }];
  }
  if ((incident.state === 'accepted' || incident.state === 'en_route') && incident.onSceneBy !== null) {
    return [{ incidentId: incident.id, kind: 'on_scene', step: incident.step, dueAt: incident.onSceneBy }];
  }
  return [];
}
