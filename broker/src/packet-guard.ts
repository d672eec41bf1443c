import type { Client } from 'aedes';

/**
 * Per-packet protocol checks aedes 1.2 does not make, run on every packet the
 * connection's parser emits, before aedes handles it.
 *
 * - A PUBLISH with QoS > 0, and every SUBSCRIBE, UNSUBSCRIBE and PUBACK, carries a
 *   non-zero Packet Identifier [MQTT-2.3.1-1]. aedes would acknowledge message id 0
 *   (a PUBACK the client cannot match) and aedes-persistence keys QoS state by it.
 *
 * How a bad packet is refused: the listener is prepended to the parser's 'packet'
 * listeners, so it sees the packet before aedes' own `enqueue`. An EventEmitter has
 * already copied its listener list, so removing aedes' listener or emitting an error
 * would not stop that packet reaching aedes; instead the packet's `cmd` is replaced by
 * one aedes does not know, and aedes' dispatcher (lib/handlers/index.js) destroys the
 * connection for an unknown command, connected or not. A protocol violation closes
 * the network connection ([MQTT-4.8.0-1]).
 *
 * The listener is one shared function (parser as `this`): no closure per connection,
 * no allocation per packet.
 */

/** The `cmd` a refused packet is rewritten to; aedes closes the connection on it. */
export const REFUSED_CMD = 'hub_refused';

export type PacketRefusalReason = 'zero_message_id';

interface GuardedParser {
  prependListener(event: 'packet', fn: (this: GuardedParser, packet: WirePacket) => void): void;
  hubOnRefused?: (reason: PacketRefusalReason, cmd: string) => void;
}

interface WirePacket {
  cmd: string;
  qos?: number;
  messageId?: number;
}

function guardPacket(this: GuardedParser, packet: WirePacket): void {
  const cmd = packet.cmd;
  let carriesId: boolean;
  switch (cmd) {
    case 'publish':
      carriesId = (packet.qos ?? 0) > 0;
      break;
    case 'subscribe':
    case 'unsubscribe':
    case 'puback':
      carriesId = true;
      break;
    default:
      return;
  }
  if (carriesId && packet.messageId === 0) {
    this.hubOnRefused?.('zero_message_id', cmd);
    packet.cmd = REFUSED_CMD;
  }
}

/** Installs the guard on a freshly created aedes client (before any byte is parsed). */
export function guardPackets(
  client: Client,
  onRefused?: (reason: PacketRefusalReason, cmd: string) => void,
): void {
  const parser = (client as unknown as { _parser?: GuardedParser })._parser;
  if (parser === undefined || typeof parser.prependListener !== 'function') {
    throw new Error('aedes internals changed: no per-client parser to guard');
  }
  if (onRefused !== undefined) parser.hubOnRefused = onRefused;
  parser.prependListener('packet', guardPacket);
}
