/**
 * Size limits per channel, in bytes. A smoke detector's telemetry is ~150 bytes and
 * a 16-port charger's ~2 KiB; anything much larger is a bug or an attack.
 * The broker's packet-size cap (before authentication) sits above the largest of these.
 */
export const PAYLOAD_LIMITS = {
  telemetry: 16 * 1024,
  event: 2 * 1024,
  status: 1024,
  cmd: 4 * 1024,
  page: 16 * 1024,
  reply: 2 * 1024,
} as const;

/** Largest MQTT packet any client may send, header and topic included. */
export const MAX_PACKET_BYTES = 32 * 1024;
