/**
 * MQTT topic tree, protocol v1. The device id is part of every device topic so that
 * the broker can authorize per device by comparing one path segment, with no lookup.
 *
 *   v1/dev/{deviceId}/telemetry   device → hub   QoS 0  periodic readings
 *   v1/dev/{deviceId}/event       device → hub   QoS 1  alarm, fault, hazard events
 *   v1/dev/{deviceId}/status      device → hub   QoS 1  retained online/offline (also the last will)
 *   v1/dev/{deviceId}/cmd         hub → device   QoS 1  commands (silence, self-test, config)
 *   v1/station/{stationId}/page   hub → station  QoS 1  pages and incident updates
 *   v1/station/{stationId}/reply  station → hub  QoS 1  accept / decline / en route / on scene / close
 *
 * Parsing scans char codes instead of split() or a regex: it runs once per message
 * on the broker and in ingest (see aedes' topic handling for the model).
 */

export const TOPIC_VERSION = 'v1';

export const DEVICE_CHANNELS = ['telemetry', 'event', 'status', 'cmd'] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];

export const STATION_CHANNELS = ['page', 'reply'] as const;
export type StationChannel = (typeof STATION_CHANNELS)[number];

/** Ids of devices, stations, buildings: 1–64 chars of [A-Za-z0-9_-]. No '/', '+', '#', NUL. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_ID_LENGTH = 64;

const DEV_PREFIX = 'v1/dev/';
const STATION_PREFIX = 'v1/station/';

export function deviceTopic(deviceId: string, channel: DeviceChannel): string {
  return DEV_PREFIX + deviceId + '/' + channel;
}

export function stationTopic(stationId: string, channel: StationChannel): string {
  return STATION_PREFIX + stationId + '/' + channel;
}

/** Subscription filters used by hub services. */
export const FILTERS = {
  allTelemetry: 'v1/dev/+/telemetry',
  allEvents: 'v1/dev/+/event',
  allStatus: 'v1/dev/+/status',
  allStationReplies: 'v1/station/+/reply',
  allStationPages: 'v1/station/+/page',
} as const;

/** True for [A-Za-z0-9_-]. */
function isIdChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || // 0-9
    (c >= 65 && c <= 90) || // A-Z
    (c >= 97 && c <= 122) || // a-z
    c === 45 || // -
    c === 95 // _
  );
}

/** Validates an id without a regex (hot path: every CONNECT and every publish). */
export function isValidId(id: string): boolean {
  const n = id.length;
  if (n === 0 || n > MAX_ID_LENGTH) return false;
  for (let i = 0; i < n; i++) if (!isIdChar(id.charCodeAt(i))) return false;
  return true;
}

/**
 * Result of parsing a topic. Reused: callers that parse per message pass their own
 * instance to avoid an allocation per message.
 */
export interface ParsedTopic {
  /** 'dev' or 'station', or null when the topic is not part of the tree. */
  scope: 'dev' | 'station' | null;
  id: string;
  channel: DeviceChannel | StationChannel | null;
}

export function newParsedTopic(): ParsedTopic {
  return { scope: null, id: '', channel: null };
}

function matchChannel(
  topic: string,
  start: number,
  scope: 'dev' | 'station',
): DeviceChannel | StationChannel | null {
  const rest = topic.length - start;
  // Compare by length first, then content: no substring allocation for the common case.
  if (scope === 'dev') {
    if (rest === 9 && topic.startsWith('telemetry', start)) return 'telemetry';
    if (rest === 5 && topic.startsWith('event', start)) return 'event';
    if (rest === 6 && topic.startsWith('status', start)) return 'status';
    if (rest === 3 && topic.startsWith('cmd', start)) return 'cmd';
    return null;
  }
  if (rest === 4 && topic.startsWith('page', start)) return 'page';
  if (rest === 5 && topic.startsWith('reply', start)) return 'reply';
  return null;
}

/**
 * Parses `v1/dev/{id}/{channel}` or `v1/station/{id}/{channel}` into `out`.
 * Returns false (and out.scope = null) for anything else, including ids with
 * characters outside [A-Za-z0-9_-] and wildcards.
 */
export function parseTopic(topic: string, out: ParsedTopic): boolean {
  out.scope = null;
  out.channel = null;
  out.id = '';
  let scope: 'dev' | 'station';
  let i: number;
  if (topic.startsWith(DEV_PREFIX)) {
    scope = 'dev';
    i = DEV_PREFIX.length;
  } else if (topic.startsWith(STATION_PREFIX)) {
    scope = 'station';
    i = STATION_PREFIX.length;
  } else {
    return false;
  }
  const idStart = i;
  const n = topic.length;
  while (i < n) {
    const c = topic.charCodeAt(i);
    if (c === 47 /* / */) break;
    if (!isIdChar(c)) return false;
    i++;
  }
  const idLen = i - idStart;
  if (i >= n || idLen === 0 || idLen > MAX_ID_LENGTH) return false;
  const channel = matchChannel(topic, i + 1, scope);
  if (channel === null) return false;
  out.scope = scope;
  out.id = topic.slice(idStart, i);
  out.channel = channel;
  return true;
}

/**
 * True when `topic` is exactly `v1/dev/{deviceId}/{channel}` for this device.
 * Allocation-free: used by the broker's publish authorization.
 */
export function isOwnDeviceTopic(topic: string, deviceId: string, channel: DeviceChannel): boolean {
  const expectedLen = DEV_PREFIX.length + deviceId.length + 1 + channel.length;
  if (topic.length !== expectedLen) return false;
  if (!topic.startsWith(DEV_PREFIX)) return false;
  if (!topic.startsWith(deviceId, DEV_PREFIX.length)) return false;
  if (topic.charCodeAt(DEV_PREFIX.length + deviceId.length) !== 47) return false;
  return topic.startsWith(channel, DEV_PREFIX.length + deviceId.length + 1);
}

/** True when the topic or filter contains MQTT wildcards. */
export function hasWildcard(topic: string): boolean {
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 43 /* + */ || c === 35 /* # */) return true;
  }
  return false;
}
