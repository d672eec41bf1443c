import { type Incident, OCCUPANCY_TYPES, type OccupancyType } from '@hub/protocol';
import { z } from 'zod';

/**
 * Which escalation ladder an incident runs on: a base ladder, overridden per
 * occupancy type (an elderly home gets shorter timeouts and two stations at once),
 * then changed by key-period mode (timeouts scaled down, a wider first wave).
 * Resolved once, when the incident opens, and stored on it (`incident.ladder`), so
 * every later step of that incident follows the same ladder even if the mode
 * switches meanwhile, and a replayed input decides the same thing.
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
  /** Stations paged at once at step 1 (default 1). */
  readonly firstWave?: number;
  /** After accepting, "en route" is due within this (default: no deadline). */
  readonly enRouteDeadlineMs?: number | null;
  /** After "on scene", closing is due within this (default: no deadline). */
  readonly closeDeadlineMs?: number | null;
  /** A confirmed incident still paging goes to the fire office step at once (default false). */
  readonly confirmedSkipsToFireOffice?: boolean;
  /**
   * Occupancy overrides only: multiplies the accept and fire-office timeouts of the
   * base ladder (so an override follows HUB_ACCEPT_TIMEOUT_MS instead of fixing a number).
   */
  readonly timeoutFactor?: number;
}

/** A ladder with every field resolved, as stored on the incident. */
export type Ladder = NonNullable<Incident['ladder']>;

const partialLadder = z
  .object({
    acceptTimeoutMs: z.number().int().min(100).max(3_600_000),
    onSceneDeadlineMs: z.number().int().min(1_000).max(3_600_000),
    fireOfficeTimeoutMs: z.number().int().min(100).max(3_600_000),
    maxStations: z.number().int().min(1).max(30),
    firstWave: z.number().int().min(1).max(10),
    enRouteDeadlineMs: z.number().int().min(1_000).max(3_600_000).nullable(),
    closeDeadlineMs: z
      .number()
      .int()
      .min(1_000)
      .max(7 * 86_400_000)
      .nullable(),
    confirmedSkipsToFireOffice: z.boolean(),
    timeoutFactor: z.number().min(0.05).max(4),
  })
  .partial()
  .strict();

const occupancyMap = z.partialRecord(z.enum(OCCUPANCY_TYPES), partialLadder);

/** The part of the policy that comes from config (HUB_ALERTS_LADDERS, JSON). */
export const ladderPolicyConfigSchema = z
  .object({
    occupancy: occupancyMap.default({}),
    keyPeriod: z
      .object({
        /** Every timeout and deadline is multiplied by this while key-period mode is on. */
        timeoutFactor: z.number().min(0.05).max(1).default(0.5),
        /** Scaled timeouts never go below this (nor above the unscaled value). */
        minTimeoutMs: z.number().int().min(100).default(5_000),
        /** Stations added to the first wave. */
        firstWaveAdd: z.number().int().min(0).max(5).default(1),
        /** Explicit overrides per occupancy while key-period mode is on (after scaling). */
        occupancy: occupancyMap.default({}),
      })
      .strict()
      .default({ timeoutFactor: 0.5, minTimeoutMs: 5_000, firstWaveAdd: 1, occupancy: {} }),
  })
  .strict();
export type LadderPolicyConfig = z.output<typeof ladderPolicyConfigSchema>;

/**
 * Defaults per occupancy (domain.md: sleeping occupants, elderly residents and a shop
 * under living quarters are where small fires kill). Numbers are configurable.
 */
export const DEFAULT_OCCUPANCY_LADDERS: LadderPolicyConfig['occupancy'] = {
  elderly_home: { timeoutFactor: 0.5, firstWave: 2, confirmedSkipsToFireOffice: true },
  rental: { timeoutFactor: 0.75 },
  shop_residence: { timeoutFactor: 0.75, firstWave: 2 },
  self_built: { timeoutFactor: 0.75 },
};

export interface LadderPolicy {
  readonly base: LadderParams;
  readonly config?: LadderPolicyConfig;
}

function full(p: LadderParams, name: string): Ladder {
  return {
    name,
    acceptTimeoutMs: p.acceptTimeoutMs,
    fireOfficeTimeoutMs: p.fireOfficeTimeoutMs,
    enRouteDeadlineMs: p.enRouteDeadlineMs ?? null,
    onSceneDeadlineMs: p.onSceneDeadlineMs,
    closeDeadlineMs: p.closeDeadlineMs ?? null,
    maxStations: p.maxStations,
    firstWave: Math.min(p.firstWave ?? 1, p.maxStations),
    confirmedSkipsToFireOffice: p.confirmedSkipsToFireOffice ?? false,
  };
}

function strip<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (o === undefined) return out;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** The ladder for a building of `occupancy`, with key-period mode on or off. Pure. */
export function resolveLadder(policy: LadderPolicy, occupancy: OccupancyType, keyPeriod: boolean): Ladder {
  const cfg = policy.config;
  const over = strip(cfg?.occupancy[occupancy]);
  const f = over.timeoutFactor ?? 1;
  const p: LadderParams = {
    ...policy.base,
    acceptTimeoutMs: Math.round(policy.base.acceptTimeoutMs * f),
    fireOfficeTimeoutMs: Math.round(policy.base.fireOfficeTimeoutMs * f),
    ...over,
  };
  if (!keyPeriod || cfg === undefined) {
    return full(p, cfg?.occupancy[occupancy] !== undefined ? occupancy : 'base');
  }
  const k = cfg.keyPeriod;
  const scale = (ms: number) => Math.min(ms, Math.max(k.minTimeoutMs, Math.round(ms * k.timeoutFactor)));
  const scaleN = (ms: number | null | undefined) => (ms === null || ms === undefined ? ms : scale(ms));
  const scaled: LadderParams = {
    ...p,
    acceptTimeoutMs: scale(p.acceptTimeoutMs),
    fireOfficeTimeoutMs: scale(p.fireOfficeTimeoutMs),
    onSceneDeadlineMs: scale(p.onSceneDeadlineMs),
    enRouteDeadlineMs: scaleN(p.enRouteDeadlineMs) ?? null,
    closeDeadlineMs: scaleN(p.closeDeadlineMs) ?? null,
    firstWave: (p.firstWave ?? 1) + k.firstWaveAdd,
    ...strip(k.occupancy[occupancy]),
  };
  return full(scaled, `${cfg.occupancy[occupancy] !== undefined ? occupancy : 'base'}+key_period`);
}

/** The ladder of an incident stored before ladders were stored on incidents. */
export function ladderOf(incident: Incident, fallback: LadderParams): Ladder {
  return incident.ladder ?? full(fallback, 'base');
}
