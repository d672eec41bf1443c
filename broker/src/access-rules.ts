import { isOwnDeviceTopic, type ParsedTopic, parseTopic } from '@hub/protocol';
import type { Principal } from './principal.js';

/**
 * Who may publish and subscribe where: pure functions of (principal, topic), run on
 * every PUBLISH and SUBSCRIBE. No regex, split() or allocation: topics are compared
 * as whole strings or scanned by char code (`isOwnDeviceTopic`, `parseTopic` with a
 * caller-owned scratch object).
 *
 *   device   publishes  v1/dev/{own}/telemetry|event|status   subscribes v1/dev/{own}/cmd
 *   station  publishes  v1/station/{own}/reply                 subscribes v1/station/{own}/page
 *   service  publishes  v1/station/+/page, v1/dev/+/cmd        subscribes anything under v1/
 *
 * Nobody publishes outside the v1 tree, so `$SYS/...` is refused for everyone; a
 * subscription must start with `v1/`, which also refuses `#`, `+/...` and `$SYS/#`.
 */

/** The channel a permitted publish goes to; decides the payload limit and handling. */
export type PublishChannel = 'telemetry' | 'event' | 'status' | 'cmd' | 'page' | 'reply';

/**
 * The channel of `topic` when `principal` may publish there, else null.
 * `scratch` is reused by the caller across messages (service topics are parsed).
 */
export function publishChannelFor(
  principal: Principal,
  topic: string,
  scratch: ParsedTopic,
): PublishChannel | null {
  switch (principal.kind) {
    case 'device':
      // Telemetry first: it is by far the most frequent. Each check compares the
      // length first, so a miss costs a few integer compares.
      if (isOwnDeviceTopic(topic, principal.id, 'telemetry')) return 'telemetry';
      if (isOwnDeviceTopic(topic, principal.id, 'event')) return 'event';
      if (isOwnDeviceTopic(topic, principal.id, 'status')) return 'status';
      return null;
    case 'station':
      return topic === principal.replyTopic ? 'reply' : null;
    case 'service':
      if (!parseTopic(topic, scratch)) return null;
      if (scratch.scope === 'station' && scratch.channel === 'page') return 'page';
      if (scratch.scope === 'dev' && scratch.channel === 'cmd') return 'cmd';
      return null;
  }
}

const V1_PREFIX = 'v1/';

/** True when `principal` may subscribe to `filter` (already syntax-checked by aedes). */
export function maySubscribe(principal: Principal, filter: string): boolean {
  switch (principal.kind) {
    case 'device':
      return filter === principal.cmdTopic;
    case 'station':
      return filter === principal.pageTopic;
    case 'service':
      return filter.length > V1_PREFIX.length && filter.startsWith(V1_PREFIX);
  }
}

/**
 * Retain is kept only for a device's status (the retained online/offline state the
 * contract defines). Anywhere else a retained message would be replayed to every new
 * subscriber (an old alarm to a restarting alerts service) and grow the retained
 * store without bound, so the flag is cleared.
 */
export function mayRetain(channel: PublishChannel): boolean {
  return channel === 'status';
}

/** Highest QoS granted to a subscription: the hub uses 0 and 1 only. */
export const MAX_GRANTED_QOS = 1;
