import { z } from 'zod';

/**
 * Fields every device message carries.
 * - `id`: the device's message id; with the device id it makes a retried publish
 *   harmless (the broker and ingest drop a second copy).
 * - `ts`: the device's clock, ms since the epoch. Devices' clocks drift: the hub
 *   stamps its own receive time too and never trusts `ts` for timeouts.
 * - `seq`: per-device sequence number (wraps at 2^32), to see gaps and reordering.
 */
export const envelopeShape = {
  v: z.literal(1),
  id: z.string().min(1).max(64),
  ts: z.number().int().nonnegative(),
  seq: z.number().int().min(0).max(0xffff_ffff),
};

export const envelopeSchema = z.object(envelopeShape);
export type Envelope = z.infer<typeof envelopeSchema>;
