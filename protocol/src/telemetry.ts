import { z } from 'zod';
import { envelopeShape } from './envelope.js';

/**
 * Periodic readings, published QoS 0 on `v1/dev/{id}/telemetry`.
 * Units are in the field names' comments; numbers are what vendors report.
 */

export const smokeTelemetrySchema = z.object({
  ...envelopeShape,
  kind: z.literal('smoke'),
  /** Smoke obscuration, %/m (0–100). */
  smoke: z.number().min(0).max(100),
  /** Chamber temperature, °C. */
  tempC: z.number().min(-60).max(200),
  /** Battery level, % (mains devices report 100). */
  battery: z.number().min(0).max(100),
  /** Radio signal: RSRP dBm and SNR dB for NB-IoT/4G; absent for wired. */
  rsrp: z.number().min(-160).max(0).optional(),
  snr: z.number().min(-30).max(50).optional(),
});

export const circuitReadingSchema = z.object({
  /** Circuit number on the monitor, 1-based. */
  ch: z.number().int().min(1).max(64),
  /** Residual (leakage) current, mA. GB 50116 alarm: 300–500 mA. */
  residualMa: z.number().min(0).max(10_000),
  /** Cable/terminal temperature, °C. */
  tempC: z.number().min(-60).max(300),
  currentA: z.number().min(0).max(2_000),
  voltageV: z.number().min(0).max(1_000),
  powerW: z.number().min(0).max(2_000_000),
  /** Arc-fault half-cycles counted in the report period. */
  arcCount: z.number().int().min(0).max(1_000_000),
});

export const electricTelemetrySchema = z.object({
  ...envelopeShape,
  kind: z.literal('electric'),
  circuits: z.array(circuitReadingSchema).min(1).max(64),
});

export const PORT_STATES = ['idle', 'charging', 'full', 'fault', 'offline'] as const;

export const portReadingSchema = z.object({
  port: z.number().int().min(1).max(128),
  state: z.enum(PORT_STATES),
  powerW: z.number().min(0).max(100_000),
  currentA: z.number().min(0).max(1_000),
  voltageV: z.number().min(0).max(1_000),
  tempC: z.number().min(-60).max(300),
  /** Energy delivered in the current session, Wh. */
  energyWh: z.number().min(0).max(1_000_000),
  /** Why the last session stopped (vendor code or text). */
  stopReason: z.string().max(64).optional(),
});

export const chargerTelemetrySchema = z.object({
  ...envelopeShape,
  kind: z.literal('charger'),
  ports: z.array(portReadingSchema).min(1).max(128),
});

export const telemetrySchema = z.discriminatedUnion('kind', [
  smokeTelemetrySchema,
  electricTelemetrySchema,
  chargerTelemetrySchema,
]);

export type SmokeTelemetry = z.infer<typeof smokeTelemetrySchema>;
export type ElectricTelemetry = z.infer<typeof electricTelemetrySchema>;
export type ChargerTelemetry = z.infer<typeof chargerTelemetrySchema>;
export type CircuitReading = z.infer<typeof circuitReadingSchema>;
export type PortReading = z.infer<typeof portReadingSchema>;
export type Telemetry = z.infer<typeof telemetrySchema>;
