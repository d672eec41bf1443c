import { z } from 'zod';
import { LANES } from './events.js';
import { contactSchema, latLonShape, OCCUPANCY_TYPES } from './registry-entities.js';

/**
 * Messages between the hub and micro fire stations. Pages go out on
 * `v1/station/{id}/page` (MQTT, QoS 1) and on the dashboard's live stream with the
 * same body; replies come back on `v1/station/{id}/reply` or the dashboard's REST API.
 */

export const INCIDENT_STATES = [
  'paging', // paged, nobody accepted yet
  'accepted',
  'en_route',
  'on_scene',
  'closed',
] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const VERIFICATION_STATES = ['unverified', 'confirmed'] as const;
export type Verification = (typeof VERIFICATION_STATES)[number];

/** Close codes (处置结果) of domain.md. */
export const DISPOSITION_CODES = [
  'real_fire', // 真实火警
  'false_cooking', // 误报-烹饪油烟
  'false_smoking', // 误报-吸烟
  'false_steam_dust', // 误报-蒸汽/灰尘
  'device_fault', // 设备故障
  'test', // 测试
  'human_error', // 人为误触
] as const;
export type DispositionCode = (typeof DISPOSITION_CODES)[number];

export const pageBuildingSchema = z.object({
  id: z.string(),
  name: z.string(),
  address: z.string(),
  ...latLonShape,
  occupancy: z.enum(OCCUPANCY_TYPES),
  floors: z.number().int(),
  contacts: z.array(contactSchema),
});

export const pageMessageSchema = z.object({
  v: z.literal(1),
  type: z.literal('page'),
  /** Unique per (incident, step, station): a terminal drops a page id it has seen. */
  pageId: z.string(),
  incidentId: z.string(),
  stationId: z.string(),
  lane: z.enum(LANES),
  /** Ladder step that produced this page, 1-based. */
  step: z.number().int().min(1),
  verification: z.enum(VERIFICATION_STATES),
  building: pageBuildingSchema,
  /** Where the first alarm came from. */
  floor: z.number().int(),
  room: z.string(),
  deviceIds: z.array(z.string()),
  /** Straight-line distance station → building, metres. */
  distanceM: z.number().nonnegative(),
  /** Device clock of the first alarm (ms) and hub receive time (ms). */
  alarmTs: z.number(),
  receivedAt: z.number(),
  /** Hub time the page was sent (ms) and the accept deadline (ms). */
  sentAt: z.number(),
  acceptBy: z.number(),
});
export type PageMessage = z.infer<typeof pageMessageSchema>;

export const STATION_ACTIONS = ['accept', 'decline', 'en_route', 'on_scene', 'close'] as const;
export type StationAction = (typeof STATION_ACTIONS)[number];

export const stationReplySchema = z
  .object({
    v: z.literal(1),
    type: z.enum(STATION_ACTIONS),
    incidentId: z.string().min(1).max(64),
    officerId: z.string().min(1).max(64).optional(),
    disposition: z.enum(DISPOSITION_CODES).optional(),
    note: z.string().max(500).optional(),
    ts: z.number().int().nonnegative(),
  })
  .refine((r) => r.type !== 'close' || r.disposition !== undefined, {
    message: 'close needs a disposition code',
    path: ['disposition'],
  });
export type StationReply = z.infer<typeof stationReplySchema>;

/** One line of an incident's audit record. */
export const auditEntrySchema = z.object({
  at: z.number(),
  kind: z.string(),
  stationId: z.string().optional(),
  officerId: z.string().optional(),
  channel: z.string().optional(),
  deviceId: z.string().optional(),
  detail: z.string().optional(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** An incident as stored and as shown on consoles. */
export const incidentSchema = z.object({
  id: z.string(),
  lane: z.enum(LANES),
  state: z.enum(INCIDENT_STATES),
  verification: z.enum(VERIFICATION_STATES),
  buildingId: z.string(),
  township: z.string(),
  grid: z.string(),
  openedAt: z.number(),
  updatedAt: z.number(),
  /** Devices that alarmed in this episode, first one first. */
  deviceIds: z.array(z.string()),
  firstFloor: z.number().int(),
  firstRoom: z.string(),
  alarmTs: z.number(),
  receivedAt: z.number(),
  step: z.number().int(),
  /** Stations paged so far, in order. */
  pagedStations: z.array(z.string()),
  /** The station that accepted, when one has. */
  stationId: z.string().nullable(),
  acceptBy: z.number().nullable(),
  acceptedAt: z.number().nullable(),
  onSceneBy: z.number().nullable(),
  onSceneAt: z.number().nullable(),
  closedAt: z.number().nullable(),
  disposition: z.enum(DISPOSITION_CODES).nullable(),
  /** Set when the ladder ran out of stations and the 119 forwarding record was made. */
  forwarded119At: z.number().nullable(),
  // Optional fields below were added later (older stored incidents lack them).
  /** When and why the incident became confirmed (second_detector, electrical, charging, temperature, human). */
  confirmedAt: z.number().nullable().optional(),
  confirmedBy: z.string().nullable().optional(),
  /** Ladder step of each entry of pagedStations (a first wave pages several stations in one step). */
  pageSteps: z.array(z.number().int()).optional(),
  /** Stations that declined while paging. */
  declined: z.array(z.string()).optional(),
  /** When the township fire office step was reached. */
  fireOfficeAt: z.number().nullable().optional(),
  /** After accepting: en route by (ms), when it was reported; after on scene: closed by (ms). */
  enRouteBy: z.number().nullable().optional(),
  enRouteAt: z.number().nullable().optional(),
  closeBy: z.number().nullable().optional(),
  /** Temperature (°C) of the first alarm that carried one, and the highest seen. */
  firstTempC: z.number().nullable().optional(),
  maxTempC: z.number().nullable().optional(),
  /** The ladder this incident runs on (chosen at opening from occupancy and key-period mode). */
  ladder: z
    .object({
      name: z.string(),
      acceptTimeoutMs: z.number(),
      fireOfficeTimeoutMs: z.number(),
      enRouteDeadlineMs: z.number().nullable(),
      onSceneDeadlineMs: z.number(),
      closeDeadlineMs: z.number().nullable(),
      maxStations: z.number().int(),
      firstWave: z.number().int(),
      confirmedSkipsToFireOffice: z.boolean(),
    })
    .optional(),
  /** The 119 forwarding record, prepared when confirmed (sent when the ladder reaches 119). */
  forward119: z.object({ preparedAt: z.number(), text: z.string() }).nullable().optional(),
});
export type Incident = z.infer<typeof incidentSchema>;

/** What the dashboard's live stream carries. */
export type LiveMessage = { type: 'page'; page: PageMessage } | { type: 'incident'; incident: Incident };
