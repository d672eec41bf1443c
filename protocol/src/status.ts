import { z } from 'zod';

/**
 * Retained on `v1/dev/{id}/status`. Always-connected devices publish `online` after
 * CONNECT and register `offline` as their last will. Sleeping battery devices cannot
 * rely on a will; ingest judges them by missed heartbeats instead.
 */
export const deviceStatusSchema = z.object({
  v: z.literal(1),
  ts: z.number().int().nonnegative(),
  state: z.enum(['online', 'offline']),
  fw: z.string().max(32).optional(),
  reason: z.string().max(100).optional(),
});
export type DeviceStatus = z.infer<typeof deviceStatusSchema>;
