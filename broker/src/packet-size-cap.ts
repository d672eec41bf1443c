import type { Client } from 'aedes';

/**
 * Caps the MQTT "remaining length" a connection may declare, before the body is
 * buffered and before authentication.
 *
 * aedes 1.2 has no max-packet-size option: its per-client mqtt-packet parser buffers
 * whatever length a packet declares, up to 256 MB, even before CONNECT (aedes issue
 * 831). The parser reads the fixed header in `_parseLength()`; wrapping that one
 * method on the client's own parser instance (not the shared prototype, which the
 * process' MQTT clients use too) lets us refuse an oversize packet as soon as its
 * length is known: the parser emits an error, aedes closes the connection, and at
 * most one socket read (≤ 64 KiB) was ever buffered.
 *
 * This relies on mqtt-packet internals (`_parseLength`, `_emitError`, `packet.length`);
 * `assertParserInternals` fails loudly at start-up if an upgrade removes them.
 */

interface ParserInternals {
  _parseLength(): boolean;
  _emitError(err: Error): void;
  packet: { length: number; cmd?: string };
  /** Our cap, stored on the instance so the wrapper needs no closure. */
  hubMaxPacketBytes?: number;
  hubOnOversize?: (length: number, clientId: string | null) => void;
  /** Set by aedes' Client constructor. */
  client?: { id: string | null };
  hubParseLength?: () => boolean;
}

type ParserProto = { _parseLength: () => boolean };

export class PacketTooLargeError extends Error {
  readonly code = 'E_TOO_LARGE';
  constructor(
    readonly declared: number,
    readonly limit: number,
  ) {
    super(`packet declares ${declared} bytes, limit ${limit}`);
    this.name = 'PacketTooLargeError';
  }
}

function cappedParseLength(this: ParserInternals): boolean {
  const ok = (this.hubParseLength as () => boolean).call(this);
  const limit = this.hubMaxPacketBytes as number;
  if (ok && this.packet.length > limit) {
    this.hubOnOversize?.(this.packet.length, this.client?.id ?? null);
    this._emitError(new PacketTooLargeError(this.packet.length, limit));
    return false;
  }
  return ok;
}

function parserOf(client: Client): ParserInternals | undefined {
  return (client as unknown as { _parser?: ParserInternals })._parser;
}

/** Throws when the aedes/mqtt-packet internals this module relies on are missing. */
export function assertParserInternals(client: Client): void {
  const parser = parserOf(client);
  if (
    parser === undefined ||
    typeof parser._parseLength !== 'function' ||
    typeof parser._emitError !== 'function' ||
    typeof parser.packet !== 'object'
  ) {
    throw new Error('aedes/mqtt-packet internals changed: cannot cap the MQTT packet size');
  }
}

/** Installs the cap on a freshly created aedes client (before any byte is parsed). */
export function capPacketSize(
  client: Client,
  maxBytes: number,
  onOversize?: (length: number, clientId: string | null) => void,
): void {
  const parser = parserOf(client);
  assertParserInternals(client);
  const p = parser as ParserInternals;
  p.hubParseLength = (Object.getPrototypeOf(p) as ParserProto)._parseLength;
  p.hubMaxPacketBytes = maxBytes;
  if (onOversize !== undefined) p.hubOnOversize = onOversize;
  p._parseLength = cappedParseLength;
}
