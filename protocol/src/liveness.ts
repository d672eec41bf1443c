import { z } from 'zod';

/**
 * Device liveness from missed heartbeats: the contract between ingest (the only
 * writer) and readers (dashboard fleet health, alerts through the events it gets).
 *
 * Battery NB-IoT detectors sleep for hours and never trigger an MQTT last will, so
 * "offline" means "no report within interval × grace" for the device's model.
 *
 * Keys (hub-keys.ts):
 * - `livenessLastSeen` HASH device id → last report time (hub receive ms, decimal).
 *   Updated in batches (about once a second), only forward in time.
 * - `livenessDeadlines` ZSET device id → deadline ms (last report + interval × grace).
 *   Every registered device that is not in maintenance has one (seeded at start-up
 *   for devices never seen). While a supervisor is deciding about a due device, its
 *   score is briefly a lease (now + a few seconds).
 * - `livenessSilent` ZSET device id → ms since which the device is silent (its missed
 *   deadline). Removed when the device reports again.
 * - `livenessSilentDay(date, grid)` SET of device ids that were silent at some time on
 *   that local day (YYYY-MM-DD in the hub's configured time zone) in that grid; and
 *   `livenessSilentDayGrids(date)` SET of the grids that have such a set. Both
 *   expire after about 40 days. This is the "daily list of silent devices per grid".
 *
 * Events: when a device becomes silent, ingest appends an `offline` event (events.ts,
 * lane `offline`) to `keys.otherEvents` with the broker's fields d/p/r (d device id,
 * p the event JSON, r hub time ms), exactly once per silence even with several ingest
 * processes; when it reports again, an `online` event (lane `info`). Payload ids are
 * `hub-offline-<deadline>` / `hub-online-<report time>`, seq 0, ts the hub's time.
 */

/** A last-seen hash value or a ZSET score as Redis returns it. */
export const livenessMsSchema = z.coerce.number().int().nonnegative();

/** One device's liveness as a reader assembles it from the keys above. */
export const deviceLivenessSchema = z.object({
  deviceId: z.string(),
  /** Last report (hub ms), or null when never seen since liveness tracking began. */
  lastSeenAt: z.number().nullable(),
  /** The device must report by this time (ms), or null when not tracked (maintenance, unknown). */
  deadlineAt: z.number().nullable(),
  /** Silent since (ms), or null when reporting normally. */
  silentSince: z.number().nullable(),
});
export type DeviceLiveness = z.infer<typeof deviceLivenessSchema>;

/** The daily list of one grid. */
export const silentDayListSchema = z.object({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  grid: z.string(),
  deviceIds: z.array(z.string()),
});
export type SilentDayList = z.infer<typeof silentDayListSchema>;
