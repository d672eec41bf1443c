import {
  type AuditEntry,
  type Building,
  type DeviceEvent,
  type Incident,
  laneOf,
  type PageMessage,
  type StationReply,
} from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import { ALERTS_CODES, type AlertsCode } from './alerts-codes.js';
import {
  DEFAULT_FAULT_QUARANTINE_MS,
  type QuarantineEntry,
  type QuarantineState,
  quarantineOnClose,
  quarantineVerdict,
} from './fault-quarantine.js';
import {
  type Ladder,
  type LadderParams,
  type LadderPolicy,
  ladderOf,
  resolveLadder,
} from './ladder-policy.js';
import { type ChosenStation, chooseStations, type TravelTimes } from './station-choice.js';
import {
  type ConfirmReason,
  type Corroboration,
  DEFAULT_VERIFICATION,
  forward119Text,
  temperatureConfirms,
  type VerificationParams,
  withinWindow,
} from './verification.js';

export type { LadderParams } from './ladder-policy.js';
export { stationAvailable } from './station-choice.js';

/**
 * The alerts service's decisions, as pure functions of (registry snapshot, incident
 * state, input, now). Nothing here does I/O or reads a clock: the engine loads
 * state, calls one of these, and persists / sends what comes back. That keeps every
 * rule testable with a fake clock and makes a replayed input harmless (the same
 * input against the already-changed state decides "nothing new").
 *
 * The ladder, by `incident.step` (1-based), on the incident's own ladder (chosen at
 * opening from occupancy and key-period mode, ladder-policy.ts):
 *   step 1           the first wave: `firstWave` stations paged at once
 *   steps 2..        one more station each, until `maxStations` were paged
 *   then             the township fire office (`fireOfficeAt`, a record + notice)
 *   then             the 119 forwarding record (`forwarded119At`); the ladder ends
 * `pageSteps[i]` is the step that paged `pagedStations[i]`.
 *
 * After an accept: en route by `enRouteBy` (when the ladder has that deadline), on
 * scene by `onSceneBy`, closed by `closeBy` (after on scene). A missed deadline
 * records an audit line, reminds the responder (a notice) and escalates: one more
 * station as reinforcement (en route, on scene) or the fire office (close).
 */

/** The parts of a registry snapshot the decisions read (tests may hand in a real snapshot). */
export type DecisionRegistry = Pick<RegistrySnapshot, 'devices' | 'buildings' | 'townships' | 'stationIndex'>;

export interface DecisionContext {
  readonly registry: DecisionRegistry;
  /** The base ladder (and the ladder of incidents stored without one). */
  readonly params: LadderParams;
  /** Per-occupancy and key-period ladders; without it every incident runs on `params`. */
  readonly policy?: LadderPolicy;
  /** Key-period mode in force now (chooses the ladder of incidents opened now). */
  readonly keyPeriod?: boolean;
  readonly verification?: VerificationParams;
  /** Stations that are the accepted responder of another open incident. */
  readonly busyStations?: ReadonlySet<string>;
  readonly skipBusyStations?: boolean;
  readonly travelTimes?: TravelTimes;
  /** Quarantine after a device_fault close (fault-quarantine.ts); 0 = off, default 30 min. */
  readonly faultQuarantineMs?: number;
}

export type TimerKind = 'accept' | 'en_route' | 'on_scene' | 'close';

/** A timer the engine must schedule: at `dueAt`, run decideEscalation for (incident, kind, step). */
export interface TimerRequest {
  readonly incidentId: string;
  readonly kind: TimerKind;
  readonly step: number;
  readonly dueAt: number;
}

/**
 * Something to tell people over the notification channels (SMS, voice, WeCom
 * webhooks): who exactly is resolved by the notifier (notifier.ts).
 */
export interface Notice {
  readonly kind: 'page' | 'remind' | 'fire_office' | 'forward_119' | 'confirmed';
  readonly incidentId: string;
  /** The station concerned (paged, or reminded); null for the fire office / 119. */
  readonly stationId: string | null;
  readonly step: number;
  readonly text: string;
}

/** A new incident state plus what follows from it; persisted together (atomically). */
export interface IncidentChange {
  readonly incident: Incident;
  readonly audit: AuditEntry[];
  readonly pages: PageMessage[];
  readonly timers: TimerRequest[];
  readonly notices?: Notice[];
  /** Devices quarantined by this change (a device_fault close), written in the same commit. */
  readonly quarantine?: QuarantineEntry[];
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
  /** A new device alarmed in the building's open incident (or a repeat confirmed it): no new page. */
  | { kind: 'fold'; change: IncidentChange }
  /** Audit only, no state change, no page. incidentId null: no open incident to attach to. */
  | { kind: 'record'; reason: RecordReason; incidentId: string | null; entry: AuditEntry }
  /**
   * A quarantined device alarmed alone (fault-quarantine.ts): no incident, no page;
   * the engine records `entry` (unpaged audit) and opens / folds the device's fault ticket.
   */
  | { kind: 'suppress'; entry: AuditEntry; quarantine: QuarantineEntry }
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

function ladderFor(ctx: DecisionContext, incident: Incident): Ladder {
  return ladderOf(incident, ctx.params);
}

function verificationOf(ctx: DecisionContext): VerificationParams {
  return ctx.verification ?? DEFAULT_VERIFICATION;
}

/** Step of each paged station (incidents stored before waves: one station per step). */
function pageStepsOf(incident: Incident): number[] {
  return incident.pageSteps ?? incident.pagedStations.map((_, i) => i + 1);
}

/** Whether the fire office step was reached (older incidents: step past the stations). */
function fireOfficeReached(incident: Incident): boolean {
  if (incident.fireOfficeAt !== undefined) return incident.fireOfficeAt !== null;
  return incident.step > incident.pagedStations.length;
}

/** Stations paged at the incident's current step. */
function currentStepStations(incident: Incident): string[] {
  const steps = pageStepsOf(incident);
  const out: string[] = [];
  for (let i = 0; i < incident.pagedStations.length; i++) {
    if (steps[i] === incident.step) out.push(incident.pagedStations[i]!);
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Alarms

/**
 * An event from the fire lane. `open` is the building's open fire incident (or null).
 * A single detector is enough to page: nothing is held back for verification; a
 * second detector in the building folds in and marks the incident confirmed, as do
 * a rising temperature and a corroborating hazard (`corroboration`: the building's
 * latest electrical/charging event within the window, looked up by the engine).
 */
export function decideAlarm(
  ctx: DecisionContext,
  open: Incident | null,
  alarm: AlarmInput,
  now: number,
  corroboration?: Corroboration | null,
  quarantine?: QuarantineState | null,
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
  const tempC = alarm.event.tempC;
  const vp = verificationOf(ctx);

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
    const hot = temperatureConfirms(vp, current.firstTempC, tempC);
    const withTemp: Incident = {
      ...current,
      firstTempC: current.firstTempC ?? tempC ?? null,
      maxTempC: Math.max(current.maxTempC ?? Number.NEGATIVE_INFINITY, tempC ?? Number.NEGATIVE_INFINITY),
    };
    if (withTemp.maxTempC === Number.NEGATIVE_INFINITY) withTemp.maxTempC = null;
    if (current.deviceIds.includes(alarm.deviceId)) {
      // A detector that keeps alarming does not page again while its incident is
      // open; only a temperature that confirms the fire changes the incident.
      if (hot && current.verification === 'unverified') {
        const c = confirmChange(
          ctx,
          { ...withTemp, updatedAt: now },
          'temperature',
          `${tempC} °C`,
          now,
          base,
        );
        return {
          kind: 'fold',
          change: {
            ...c,
            audit: [
              { ...base, kind: 'repeat_alarm', detail: `${type}, event ${alarm.event.id}` },
              ...c.audit,
            ],
          },
        };
      }
      return {
        kind: 'record',
        reason: 'repeat_device',
        incidentId: current.id,
        entry: { ...base, kind: 'repeat_alarm', detail: `${type}, event ${alarm.event.id}` },
      };
    }
    const folded: Incident = {
      ...withTemp,
      deviceIds: [...current.deviceIds, alarm.deviceId],
      updatedAt: now,
    };
    const foldEntry: AuditEntry = {
      ...base,
      kind: 'fold',
      detail: `${type} on floor ${device.floor}, ${device.room}`,
    };
    if (current.verification === 'unverified') {
      const reason: ConfirmReason = device.kind === 'charger' ? 'charging' : 'second_detector';
      const detail =
        reason === 'charging'
          ? 'smoke linkage of a charging station'
          : 'a second detector in the same building';
      const c = confirmChange(ctx, folded, reason, detail, now, base);
      return { kind: 'fold', change: { ...c, audit: [foldEntry, ...c.audit] } };
    }
    return { kind: 'fold', change: { incident: folded, audit: [foldEntry], pages: [], timers: [] } };
  }

  // No open incident: this alarm would open one. A device quarantined after a
  // device_fault close is held back only when alone (the safety rule in
  // fault-quarantine.ts: heat, a corroborating hazard or another detector page).
  const verdict = quarantineVerdict(vp, quarantine, alarm.deviceId, tempC, corroboration, now);
  if (verdict.kind === 'suppress') {
    return {
      kind: 'suppress',
      quarantine: verdict.entry,
      entry: {
        ...base,
        kind: 'fault_quarantined',
        detail: `${type} in building ${building.id}, event ${alarm.event.id}: device quarantined after ${verdict.entry.incidentId} (device_fault) until ${verdict.entry.until}; not paged`,
      },
    };
  }

  const ladder =
    ctx.policy !== undefined
      ? resolveLadder(ctx.policy, building.occupancy, ctx.keyPeriod === true)
      : resolveLadder({ base: ctx.params }, building.occupancy, false);
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
    confirmedAt: null,
    confirmedBy: null,
    pageSteps: [],
    declined: [],
    fireOfficeAt: null,
    enRouteBy: null,
    enRouteAt: null,
    closeBy: null,
    firstTempC: tempC ?? null,
    maxTempC: tempC ?? null,
    ladder,
    forward119: null,
  };
  const first = advanceLadder(ctx, opened, building, now, true);
  const audit: AuditEntry[] = [
    {
      ...base,
      kind: 'opened',
      detail: `${type} in building ${building.id}, event ${alarm.event.id}, ladder ${ladder.name}`,
    },
    ...first.audit,
  ];
  if (verdict.kind === 'override') {
    audit.push({
      ...base,
      kind: 'quarantine_override',
      detail: `device quarantined after ${verdict.entry.incidentId} until ${verdict.entry.until}; paged: ${verdict.reason}`,
    });
  }
  const change: IncidentChange = { ...first, audit };
  // Verification never delays the first page: the page above is already decided;
  // confirming only adds to the same change.
  if (temperatureConfirms(vp, null, tempC)) {
    return { kind: 'open', change: mergeConfirm(ctx, change, 'temperature', `${tempC} °C`, now, base) };
  }
  // Another detector of the building alarmed within the window while quarantined
  // (held back then): two detectors agree, so this incident is confirmed.
  const held = quarantine?.lastSuppressed ?? null;
  if (held !== null && held.deviceId !== alarm.deviceId && now - held.at <= vp.corroborationWindowMs) {
    return {
      kind: 'open',
      change: mergeConfirm(
        ctx,
        change,
        'second_detector',
        `${held.deviceId} alarmed at ${held.at} during its fault quarantine`,
        now,
        base,
      ),
    };
  }
  if (corroboration !== null && corroboration !== undefined && withinWindow(vp, opened, corroboration.at)) {
    return {
      kind: 'open',
      change: mergeConfirm(
        ctx,
        change,
        corroboration.kind,
        `${corroboration.type} from ${corroboration.deviceId} in the same building`,
        now,
        base,
      ),
    };
  }
  return { kind: 'open', change };
}

/** Applies a confirmation on top of a decided change (its pages stay as decided). */
function mergeConfirm(
  ctx: DecisionContext,
  change: IncidentChange,
  reason: ConfirmReason,
  detail: string,
  now: number,
  who: Partial<AuditEntry>,
): IncidentChange {
  const c = confirmChange(ctx, change.incident, reason, detail, now, who);
  return {
    incident: c.incident,
    audit: [...change.audit, ...c.audit],
    // The page built before the confirmation says "unverified"; the station learns
    // of the confirmation from the incident update, the page itself stays as sent.
    pages: [...change.pages, ...c.pages],
    // A skip to the fire office replaces the first step's accept timer.
    timers: c.timers.length > 0 ? c.timers : change.timers,
    notices: [...(change.notices ?? []), ...(c.notices ?? [])],
  };
}

/**
 * Marks `incident` confirmed (no-op change when it already is), prepares the 119
 * forwarding record, and when its ladder says so jumps to the fire office step.
 */
function confirmChange(
  ctx: DecisionContext,
  incident: Incident,
  reason: ConfirmReason,
  detail: string,
  now: number,
  who: Partial<AuditEntry>,
): IncidentChange {
  if (incident.verification === 'confirmed') {
    return { incident, audit: [], pages: [], timers: [] };
  }
  const building = ctx.registry.buildings.get(incident.buildingId);
  const township = ctx.registry.townships.get(incident.township);
  const confirmed: Incident = {
    ...incident,
    verification: 'confirmed',
    confirmedAt: now,
    confirmedBy: reason,
    forward119: incident.forward119 ?? {
      preparedAt: now,
      text: forward119Text(incident, building, township, reason, now),
    },
    updatedAt: now,
  };
  const audit: AuditEntry[] = [
    { at: now, ...who, kind: 'confirmed', detail: `${reason}: ${detail}` },
    { at: now, kind: 'forward_119_prepared', channel: 'record', detail: confirmed.forward119!.text },
  ];
  const notices: Notice[] = [
    {
      kind: 'confirmed',
      incidentId: incident.id,
      stationId: incident.stationId,
      step: incident.step,
      text: `confirmed (${reason})`,
    },
  ];
  const ladder = ladderFor(ctx, incident);
  if (
    ladder.confirmedSkipsToFireOffice &&
    confirmed.state === 'paging' &&
    !fireOfficeReached(confirmed) &&
    confirmed.forwarded119At === null
  ) {
    const skip = fireOfficeStep(ctx, confirmed, now, true);
    return {
      incident: skip.incident,
      audit: [
        ...audit,
        { at: now, kind: 'skip_steps', detail: 'confirmed: straight to the fire office' },
        ...skip.audit,
      ],
      pages: [],
      timers: skip.timers,
      notices: [...notices, ...(skip.notices ?? [])],
    };
  }
  return { incident: confirmed, audit, pages: [], timers: [], notices };
}

/**
 * A corroborating hazard (electrical arc / over-temperature, charging smoke linkage
 * or port over-temperature) reported in the incident's building.
 */
export function decideCorroboration(
  ctx: DecisionContext,
  incident: Incident,
  c: Corroboration,
  now: number,
): EscalationDecision {
  if (incident.state === 'closed') return { kind: 'noop', reason: 'closed' };
  if (incident.verification === 'confirmed') return { kind: 'noop', reason: 'stale' };
  if (!withinWindow(verificationOf(ctx), incident, c.at)) return { kind: 'noop', reason: 'stale' };
  const change = confirmChange(
    ctx,
    { ...incident, updatedAt: now },
    c.kind,
    `${c.type} from ${c.deviceId} in the same building`,
    now,
    { deviceId: c.deviceId },
  );
  return { kind: 'update', change };
}

/** A person (township operator, duty officer at the console) confirmed the fire. */
export function decideHumanConfirmation(
  ctx: DecisionContext,
  incident: Incident,
  accountId: string,
  now: number,
  note?: string,
): ReplyDecision {
  if (incident.state === 'closed') return reject(ALERTS_CODES.INCIDENT_CLOSED, `${incident.id} is closed`);
  if (incident.verification === 'confirmed') {
    return { kind: 'record', entry: { at: now, kind: 'confirm_repeat', officerId: accountId } };
  }
  const change = confirmChange(
    ctx,
    { ...incident, updatedAt: now },
    'human',
    `by ${accountId}${note ? ': ' + note : ''}`,
    now,
    { officerId: accountId },
  );
  return { kind: 'update', change };
}

/** Gives a decided-but-unnumbered incident its id (pages, timers and notices follow). */
export function assignIncidentId(change: IncidentChange, id: string): IncidentChange {
  const incident = { ...change.incident, id };
  if (incident.forward119 !== null && incident.forward119 !== undefined) {
    incident.forward119 = {
      ...incident.forward119,
      text: incident.forward119.text.replace(`火警 ${PENDING_INCIDENT_ID}（`, `火警 ${id}（`),
    };
  }
  return {
    incident,
    audit: change.audit.map((a) =>
      a.kind === 'forward_119_prepared' && incident.forward119
        ? { ...a, detail: incident.forward119.text }
        : a,
    ),
    pages: change.pages.map((p) => ({ ...p, incidentId: id, pageId: pageIdOf(id, p.step, p.stationId) })),
    timers: change.timers.map((t) => ({ ...t, incidentId: id })),
    notices: (change.notices ?? []).map((n) => ({ ...n, incidentId: id })),
  };
}

// ---------------------------------------------------------------------------------
// The ladder

/**
 * One step up the ladder: the next ranked available stations not yet paged (the
 * first wave at step 1), else the fire office, else the 119 forwarding record.
 * `withTimer` false is used for a reinforcement page after a missed deadline: the
 * incident stays accepted and no accept timer runs for it.
 */
function advanceLadder(
  ctx: DecisionContext,
  incident: Incident,
  building: Building | undefined,
  now: number,
  withTimer: boolean,
): IncidentChange {
  const ladder = ladderFor(ctx, incident);
  const paged = incident.pagedStations;
  const step = incident.step + 1;

  if (!fireOfficeReached(incident) && building !== undefined && paged.length < ladder.maxStations) {
    const want = Math.min(step === 1 ? ladder.firstWave : 1, ladder.maxStations - paged.length);
    const chosen = chooseStations(ctx.registry.stationIndex, building, paged, want, {
      ...(ctx.busyStations !== undefined ? { busy: ctx.busyStations } : {}),
      ...(ctx.skipBusyStations !== undefined ? { skipBusy: ctx.skipBusyStations } : {}),
      ...(ctx.travelTimes !== undefined ? { travelTimes: ctx.travelTimes } : {}),
    });
    if (chosen.length > 0) {
      const acceptBy = now + ladder.acceptTimeoutMs;
      const updated: Incident = {
        ...incident,
        step,
        pagedStations: [...paged, ...chosen.map((c) => c.station.id)],
        pageSteps: [...pageStepsOf(incident), ...chosen.map(() => step)],
        acceptBy: withTimer ? acceptBy : incident.acceptBy,
        updatedAt: now,
      };
      return {
        incident: updated,
        audit: chosen.map((c) => ({
          at: now,
          kind: 'step',
          stationId: c.station.id,
          detail:
            `step ${step}: station ${c.station.id}, ${Math.round(c.distanceM)} m` +
            (c.travelS !== undefined ? `, ${c.travelS} s by the travel-time table` : '') +
            (c.inArea ? ', responsibility area' : '') +
            (c.busy ? ', busy with another incident' : ''),
        })),
        pages: chosen.map((c) => buildPage(updated, building, c, step, now, acceptBy)),
        timers: withTimer ? [{ incidentId: incident.id, kind: 'accept', step, dueAt: acceptBy }] : [],
        notices: chosen.map((c) => ({
          kind: 'page' as const,
          incidentId: incident.id,
          stationId: c.station.id,
          step,
          text: pageText(incident, building, step),
        })),
      };
    }
  }

  if (!fireOfficeReached(incident)) return fireOfficeStep(ctx, incident, now, withTimer);

  return {
    incident: { ...incident, step, acceptBy: null, forwarded119At: now, updatedAt: now },
    audit: [
      {
        at: now,
        kind: 'forward_119',
        channel: 'record',
        detail: `step ${step}: 119 forwarding record${incident.forward119 ? ': ' + incident.forward119.text : ''}`,
      },
    ],
    pages: [],
    timers: [],
    notices: [
      {
        kind: 'forward_119',
        incidentId: incident.id,
        stationId: null,
        step,
        text: incident.forward119?.text ?? `火警 ${incident.id} 转119`,
      },
    ],
  };
}

function fireOfficeStep(
  ctx: DecisionContext,
  incident: Incident,
  now: number,
  withTimer: boolean,
): IncidentChange {
  const ladder = ladderFor(ctx, incident);
  const township = ctx.registry.townships.get(incident.township);
  const step = incident.step + 1;
  const acceptBy = now + ladder.fireOfficeTimeoutMs;
  return {
    incident: {
      ...incident,
      step,
      fireOfficeAt: now,
      acceptBy: withTimer ? acceptBy : incident.acceptBy,
      updatedAt: now,
    },
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
    notices: [
      {
        kind: 'fire_office',
        incidentId: incident.id,
        stationId: null,
        step,
        text: `building ${incident.buildingId}, step ${step}: no station has accepted`,
      },
    ],
  };
}

function pageText(incident: Incident, building: Building, step: number): string {
  return `${building.name} ${building.address} ${incident.firstFloor}F ${incident.firstRoom} (step ${step})`;
}

function buildPage(
  incident: Incident,
  building: Building,
  ranked: ChosenStation,
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

function remind(incident: Incident, what: string, step: number): Notice {
  return {
    kind: 'remind',
    incidentId: incident.id,
    stationId: incident.stationId,
    step,
    text: what,
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
  const who = incident.stationId !== null ? { stationId: incident.stationId } : {};

  if (timer.kind === 'en_route') {
    if (incident.state !== 'accepted') return { kind: 'noop', reason: 'stale' };
    const by = incident.enRouteBy ?? null;
    if (by === null) return { kind: 'noop', reason: 'stale' };
    if (now < by) return { kind: 'noop', reason: 'not_due' };
    const overdue: Incident = { ...incident, enRouteBy: null, updatedAt: now };
    const audit: AuditEntry = {
      at: now,
      kind: 'en_route_overdue',
      ...who,
      detail: `accepted at ${incident.acceptedAt ?? '?'}, not en route by ${by}`,
    };
    const notice = remind(incident, 'not en route yet: reply en_route now', incident.step);
    return { kind: 'update', change: reinforce(ctx, overdue, building, now, audit, notice) };
  }

  if (timer.kind === 'on_scene') {
    if (incident.state !== 'accepted' && incident.state !== 'en_route')
      return { kind: 'noop', reason: 'stale' };
    if (incident.onSceneBy === null) return { kind: 'noop', reason: 'stale' };
    if (now < incident.onSceneBy) return { kind: 'noop', reason: 'not_due' };
    const overdue: Incident = { ...incident, onSceneBy: null, updatedAt: now };
    const audit: AuditEntry = {
      at: now,
      kind: 'on_scene_overdue',
      ...who,
      detail: `accepted at ${incident.acceptedAt ?? '?'}, not on scene by ${incident.onSceneBy}`,
    };
    const notice = remind(incident, 'on-scene deadline missed', incident.step);
    return { kind: 'update', change: reinforce(ctx, overdue, building, now, audit, notice) };
  }

  if (timer.kind === 'close') {
    if (incident.state !== 'on_scene') return { kind: 'noop', reason: 'stale' };
    const by = incident.closeBy ?? null;
    if (by === null) return { kind: 'noop', reason: 'stale' };
    if (now < by) return { kind: 'noop', reason: 'not_due' };
    const overdue: Incident = { ...incident, closeBy: null, updatedAt: now };
    const audit: AuditEntry[] = [
      {
        at: now,
        kind: 'close_overdue',
        ...who,
        detail: `on scene at ${incident.onSceneAt ?? '?'}, not closed by ${by}`,
      },
    ];
    const notices: Notice[] = [remind(incident, 'close the incident with a disposition code', incident.step)];
    // Escalate to the fire office (a notice; the ladder itself is over once accepted).
    notices.push({
      kind: 'fire_office',
      incidentId: incident.id,
      stationId: incident.stationId,
      step: incident.step,
      text: `station ${incident.stationId ?? '?'} on scene, incident not closed in time`,
    });
    audit.push({ at: now, kind: 'fire_office', channel: 'record', detail: 'close deadline missed' });
    return { kind: 'update', change: { incident: overdue, audit, pages: [], timers: [], notices } };
  }

  if (incident.state !== 'paging') return { kind: 'noop', reason: 'not_paging' };
  if (incident.step !== timer.step) return { kind: 'noop', reason: 'stale' };
  if (incident.forwarded119At !== null) return { kind: 'noop', reason: 'ladder_done' };
  const stepStations = currentStepStations(incident);
  const timeout: AuditEntry = {
    at: now,
    kind: 'timeout',
    ...(stepStations.length === 1 ? { stationId: stepStations[0] } : {}),
    detail: `step ${incident.step} not accepted by ${incident.acceptBy ?? '?'}${stepStations.length > 1 ? ` (${stepStations.join(', ')})` : ''}`,
  };
  const next = advanceLadder(ctx, incident, building, now, true);
  return { kind: 'update', change: { ...next, audit: [timeout, ...next.audit] } };
}

/** A missed deadline after accepting: remind, and one more station as reinforcement. */
function reinforce(
  ctx: DecisionContext,
  overdue: Incident,
  building: Building | undefined,
  now: number,
  audit: AuditEntry,
  notice: Notice,
): IncidentChange {
  if (overdue.forwarded119At !== null) {
    return { incident: overdue, audit: [audit], pages: [], timers: [], notices: [notice] };
  }
  // The accepted station stays responsible; no accept timer runs for the reinforcement.
  const next = advanceLadder(ctx, overdue, building, now, false);
  return { ...next, audit: [audit, ...next.audit], notices: [notice, ...(next.notices ?? [])] };
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
  const ladder = ladderFor(ctx, incident);
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
    enRouteBy: ladder.enRouteDeadlineMs !== null ? now + ladder.enRouteDeadlineMs : null,
    onSceneBy: now + ladder.onSceneDeadlineMs,
    updatedAt: now,
  });
  const afterAcceptTimers = (i: Incident): TimerRequest[] => {
    const t: TimerRequest[] = [];
    if (i.state === 'accepted' && i.enRouteBy !== null && i.enRouteBy !== undefined)
      t.push({ incidentId: i.id, kind: 'en_route', step: i.step, dueAt: i.enRouteBy });
    if (i.onSceneBy !== null)
      t.push({ incidentId: i.id, kind: 'on_scene', step: i.step, dueAt: i.onSceneBy });
    return t;
  };

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
            timers: afterAcceptTimers(next),
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
      const current = fireOfficeReached(incident) ? [] : currentStepStations(incident);
      if (!current.includes(stationId)) {
        // A late decline from a station the ladder already moved past.
        return { kind: 'record', entry: { ...who, kind: 'decline', detail: 'after its step timed out' } };
      }
      const declined = [...(incident.declined ?? []), stationId];
      const withDecline: Incident = { ...incident, declined, updatedAt: now };
      const entry: AuditEntry = { ...who, kind: 'decline', detail: `step ${incident.step}` };
      // In a wave, the step goes on while another station of it may still accept.
      if (!current.every((s) => declined.includes(s))) {
        return { kind: 'update', change: { incident: withDecline, audit: [entry], pages: [], timers: [] } };
      }
      // Decline → the next step at once, not at the timeout.
      const next = advanceLadder(
        ctx,
        withDecline,
        ctx.registry.buildings.get(incident.buildingId),
        now,
        true,
      );
      return { kind: 'update', change: { ...next, audit: [entry, ...next.audit] } };
    }

    case 'en_route': {
      if (incident.state === 'paging') {
        const next: Incident = { ...accepted(), state: 'en_route', enRouteAt: now, enRouteBy: null };
        return {
          kind: 'update',
          change: {
            incident: next,
            audit: [
              { ...who, kind: 'accept', detail: 'implied by en_route' },
              { ...who, kind: 'en_route' },
            ],
            pages: [],
            timers: afterAcceptTimers(next),
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
          incident: { ...incident, state: 'en_route', enRouteAt: now, enRouteBy: null, updatedAt: now },
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
      const closeBy = ladder.closeDeadlineMs !== null ? now + ladder.closeDeadlineMs : null;
      const next: Incident = {
        ...base,
        state: 'on_scene',
        onSceneAt: now,
        onSceneBy: null,
        enRouteBy: null,
        closeBy,
        updatedAt: now,
      };
      return {
        kind: 'update',
        change: {
          incident: next,
          audit,
          pages: [],
          timers:
            closeBy !== null ? [{ incidentId: next.id, kind: 'close', step: next.step, dueAt: closeBy }] : [],
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
      const closed: Incident = {
        ...incident,
        state: 'closed',
        stationId: incident.stationId ?? stationId,
        closedAt: now,
        disposition: reply.disposition,
        acceptBy: null,
        onSceneBy: null,
        enRouteBy: null,
        closeBy: null,
        updatedAt: now,
      };
      const audit: AuditEntry[] = [
        { ...who, kind: 'close', detail: reply.disposition + (reply.note ? ': ' + reply.note : '') },
      ];
      // A device_fault close quarantines the incident's devices (fault-quarantine.ts),
      // in the same commit as the close.
      const quarantine = quarantineOnClose(closed, ctx.faultQuarantineMs ?? DEFAULT_FAULT_QUARANTINE_MS, now);
      if (quarantine.length > 0) {
        audit.push({
          at: now,
          kind: 'fault_quarantine',
          detail: `${quarantine.map((q) => q.deviceId).join(', ')} until ${quarantine[0]!.until}: a lone alarm of these opens a fault ticket, not a page`,
        });
      }
      return {
        kind: 'update',
        change: {
          incident: closed,
          audit,
          pages: [],
          timers: [],
          ...(quarantine.length > 0 ? { quarantine } : {}),
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
  const id = incident.id;
  const step = incident.step;
  if (incident.state === 'paging' && incident.acceptBy !== null && incident.forwarded119At === null) {
    return [{ incidentId: id, kind: 'accept', step, dueAt: incident.acceptBy }];
  }
  const out: TimerRequest[] = [];
  if (incident.state === 'accepted' && incident.enRouteBy !== null && incident.enRouteBy !== undefined) {
    out.push({ incidentId: id, kind: 'en_route', step, dueAt: incident.enRouteBy });
  }
  if ((incident.state === 'accepted' || incident.state === 'en_route') && incident.onSceneBy !== null) {
    out.push({ incidentId: id, kind: 'on_scene', step, dueAt: incident.onSceneBy });
  }
  if (incident.state === 'on_scene' && incident.closeBy !== null && incident.closeBy !== undefined) {
    out.push({ incidentId: id, kind: 'close', step, dueAt: incident.closeBy });
  }
  return out;
}
