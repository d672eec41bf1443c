import { decodeStatus } from '@hub/protocol';
import type { Principal } from './principal.js';

/**
 * Pure CONNECT checks that aedes 1.2 does not make (shared/engineering.md lists what it
 * accepts that MQTT 3.1.1 forbids). Two stages, because the will can only be judged
 * once we know who connects:
 *
 * - `checkConnectPacket` runs in aedes' `preConnect` hook, before authentication, on
 *   the raw CONNECT: strings that are not valid UTF-8 or carry U+0000, an empty client
 *   id with a persistent session, a will topic that is not a topic name.
 * - `checkWill` runs after authentication: only a device may leave a will, and only
 *   its own `status` topic with an `offline` status (the retained online/offline
 *   contract of protocol/src/status.ts). A will anywhere else would let a client
 *   publish, after it is gone, where it may not publish while connected; a wildcard
 *   will would become a retained message nobody can clear.
 */

/** Why a CONNECT was refused by these rules: a metric label, so a fixed set. */
export type ConnectRuleReason =
  | 'bad_utf8'
  | 'empty_client_id'
  | 'bad_will_topic'
  | 'will_not_allowed'
  | 'bad_will_payload'
  | 'service_persistent_session';

export interface ConnectRefusal {
  reason: ConnectRuleReason;
  /**
   * CONNACK return code to send before closing, or null to close without a CONNACK
   * (malformed packet: [MQTT-1.5.3-1] "the Server MUST close the Network Connection").
   */
  returnCode: 2 | 5 | null;
}

/** The CONNECT fields these rules read (mqtt-packet's IConnectPacket has them). */
export interface ConnectFields {
  clientId: string;
  clean?: boolean;
  username?: string;
  will?: { topic: string; payload: Buffer | string; qos?: number; retain?: boolean } | null;
}

const BAD_UTF8: ConnectRefusal = { reason: 'bad_utf8', returnCode: null };
const EMPTY_ID: ConnectRefusal = { reason: 'empty_client_id', returnCode: 2 };
const BAD_WILL_TOPIC: ConnectRefusal = { reason: 'bad_will_topic', returnCode: null };
const WILL_NOT_ALLOWED: ConnectRefusal = { reason: 'will_not_allowed', returnCode: 5 };
const BAD_WILL_PAYLOAD: ConnectRefusal = { reason: 'bad_will_payload', returnCode: 5 };
const SERVICE_PERSISTENT: ConnectRefusal = { reason: 'service_persistent_session', returnCode: 5 };

/**
 * True when `s` (decoded by mqtt-packet with `toString('utf8')`) carries U+0000 or
 * U+FFFD. A UTF-8 encoded string MUST NOT include U+0000 [MQTT-1.5.3-2]; ill-formed
 * UTF-8 [MQTT-1.5.3-1] is decoded by Node to U+FFFD, so that is how it shows here (a
 * client that really sends U+FFFD is refused too: no hub id or topic contains it).
 */
export function hasForbiddenChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0xfffd) return true;
  }
  return false;
}

/** A topic name (not a filter): non-empty, no `+`/`#` [MQTT-3.3.2-2], no U+0000. */
export function isTopicName(topic: string): boolean {
  if (topic.length === 0) return false; // [MQTT-4.7.3-1]
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 43 /* + */ || c === 35 /* # */ || c === 0 || c === 0xfffd) return false;
  }
  return true;
}

/** The checks that need no principal; null when the CONNECT passes. */
export function checkConnectPacket(packet: ConnectFields): ConnectRefusal | null {
  if (hasForbiddenChar(packet.clientId)) return BAD_UTF8;
  if (packet.username !== undefined && hasForbiddenChar(packet.username)) return BAD_UTF8;
  // [MQTT-3.1.3-8]: a zero-byte client id with CleanSession 0 gets CONNACK 0x02 and
  // the connection is closed. (aedes would invent an id and keep a session for it.)
  if (packet.clientId.length === 0 && packet.clean === false) return EMPTY_ID;
  const will = packet.will;
  if (will !== undefined && will !== null && !isTopicName(will.topic)) return BAD_WILL_TOPIC;
  return null;
}

/** The will rule once the principal is known; null when allowed (or no will). */
export function checkWill(principal: Principal, will: ConnectFields['will']): ConnectRefusal | null {
  if (will === undefined || will === null) return null;
  if (principal.kind !== 'device') return WILL_NOT_ALLOWED;
  if (will.topic !== principal.statusTopic) return WILL_NOT_ALLOWED;
  const decoded = decodeStatus(
    typeof will.payload === 'string' ? will.payload : will.payload.toString('utf8'),
  );
  if (!decoded.ok || decoded.value.state !== 'offline') return BAD_WILL_PAYLOAD;
  return null;
}

/**
 * Service accounts must use clean sessions. They subscribe fleet-wide (`v1/dev/+/event`),
 * and aedes keeps a persistent session's offline QoS 1 queue in memory, unbounded: a
 * hub service that went away with `clean: false` would grow the broker by every event of
 * the fleet until it came back. Services read what they missed from the Redis streams
 * (durable before PUBACK), not from the broker. Devices and stations may keep a session:
 * they can subscribe only to their own `cmd` or `page` topic.
 */
export function checkSession(principal: Principal, clean: boolean | undefined): ConnectRefusal | null {
  return principal.kind === 'service' && clean === false ? SERVICE_PERSISTENT : null;
}
