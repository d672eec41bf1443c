import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Carrier platforms' HTTP pushes (NB-IoT detectors often reach us this way, not over
 * MQTT): signature checks and the mapping of their messages to our topic channels and
 * v1 payloads. Pure functions; the HTTP side is carrier-routes.ts.
 *
 * China Mobile OneNET (数据推送 / HTTP推送, developer manual of the push service):
 * - URL verification: GET `?msg=…&nonce=…&signature=…`; signature =
 *   Base64(MD5(token + nonce + msg)) (the signature arrives URL-encoded; the query
 *   parser decodes it). Answer the `msg` value as the body when it matches.
 * - Data: POST JSON `{"msg": <object | array | string>, "nonce": "…",
 *   "msg_signature": "…"}` (OneNET Studio names it `signature`, with `msg` as a JSON
 *   string, plus `id`/`time`); signature = Base64(MD5(token + nonce + msg text)). The
 *   msg text is taken verbatim from the body (the bytes OneNET signed), not
 *   re-serialized. Answer 200 quickly or OneNET pushes again.
 * - msg `type` 1: data point {dev_id, ds_id, at (ms), value}; type 2: online/offline
 *   {dev_id, status 1/0, at}. Only plaintext mode is supported (not AES "safe mode").
 *
 * China Telecom CTWing (AEP 订阅推送): POST JSON per message, e.g.
 *   {"messageType":"dataReport","deviceId":"…","IMEI":"…","timestamp":ms,
 *    "payload":{"APPdata":"<base64>"}, "upPacketSN":-1, …}
 *   and `deviceOnlineOfflineReport` with `eventType` 1 (online) / 0 (offline).
 *   It retries up to 3 times when the answer is not 200 within its timeout. We found no
 *   body signature in CTWing's published HTTP push description, so the subscription
 *   URL carries a secret token (`/carrier/ctwing/<token>`), compared in constant time;
 *   put the route behind HTTPS.
 *
 * Payload contract (both): the device's data is our v1 JSON message (telemetry, event
 * or status as on MQTT): OneNET `value` (object or JSON string), with `ds_id`
 * `telemetry` / `event` / `status` or any other name (then the channel is inferred:
 * `kind` → telemetry, `type` → event, `state` → status); CTWing `APPdata` base64 of
 * that JSON. The hub device id is `<prefix><platform device id>` (OneNET `dev_id`,
 * CTWing `deviceId`, or the IMEI when configured).
 */

export type CarrierChannel = 'telemetry' | 'event' | 'status';

export interface CarrierMessage {
  deviceId: string;
  channel: CarrierChannel;
  /** v1 JSON payload for the pipeline. */
  payload: string;
}

export function onenetSignature(token: string, nonce: string, msg: string): string {
  return createHash('md5')
    .update(token + nonce + msg, 'utf8')
    .digest('base64');
}

/** Constant-time string comparison (equal length first, as timingSafeEqual requires). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export function verifyOnenet(token: string, nonce: string, msg: string, signature: string): boolean {
  return safeEqual(onenetSignature(token, nonce, msg), signature);
}

/**
 * The raw text of the value of top-level key `key` in a JSON object text, or
 * undefined. Scans strings and nesting by char code; assumes `text` already parsed as
 * JSON (the caller checks), so it needs no error handling of its own.
 */
export function rawJsonValue(text: string, key: string): string | undefined {
  let i = text.indexOf('{');
  if (i < 0) return undefined;
  i++;
  const n = text.length;
  const skipWs = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      i++;
    }
  };
  const skipString = () => {
    i++; // opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 92) i += 2;
      else if (c === 34) {
        i++;
        return;
      } else i++;
    }
  };
  const skipValue = () => {
    const c = text.charCodeAt(i);
    if (c === 34) return skipString();
    if (c === 123 || c === 91) {
      let depth = 0;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 34) {
          skipString();
          continue;
        }
        if (d === 123 || d === 91) depth++;
        else if (d === 125 || d === 93) {
          depth--;
          if (depth === 0) {
            i++;
            return;
          }
        }
        i++;
      }
      return;
    }
    while (i < n) {
      const d = text.charCodeAt(i);
      if (d === 44 || d === 125 || d === 93 || d === 32 || d === 9 || d === 10 || d === 13) return;
      i++;
    }
  };
  for (;;) {
    skipWs();
    if (i >= n || text.charCodeAt(i) !== 34) return undefined;
    const keyStart = i;
    skipString();
    const k = JSON.parse(text.slice(keyStart, i)) as string;
    skipWs();
    i++; // colon
    skipWs();
    const start = i;
    skipValue();
    if (k === key) return text.slice(start, i);
    skipWs();
    if (text.charCodeAt(i) !== 44) return undefined;
    i++;
  }
}

function inferChannel(v: unknown): CarrierChannel | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  if ('kind' in v) return 'telemetry';
  if ('type' in v) return 'event';
  if ('state' in v) return 'status';
  return undefined;
}

/** A v1 payload given as an object or as a JSON string → [channel, JSON text]. */
function v1Payload(value: unknown, hint: string | undefined): [CarrierChannel, string] | undefined {
  let obj: unknown = value;
  let text: string;
  if (typeof value === 'string') {
    try {
      obj = JSON.parse(value);
    } catch {
      return undefined;
    }
    text = value;
  } else {
    text = JSON.stringify(value);
  }
  const channel = hint === 'telemetry' || hint === 'event' || hint === 'status' ? hint : inferChannel(obj);
  return channel === undefined ? undefined : [channel, text];
}

export interface MapResult {
  messages: CarrierMessage[];
  /** Entries we could not map (other message types, payloads not in our format). */
  skipped: number;
}

/** OneNET msg (already parsed; object or array) → our messages. */
export function mapOnenet(msg: unknown, idPrefix: string): MapResult {
  const out: MapResult = { messages: [], skipped: 0 };
  const list = Array.isArray(msg) ? msg : [msg];
  for (const m of list) {
    if (typeof m !== 'object' || m === null) {
      out.skipped++;
      continue;
    }
    const e = m as Record<string, unknown>;
    const dev = e.dev_id;
    if (typeof dev !== 'number' && typeof dev !== 'string') {
      out.skipped++;
      continue;
    }
    const deviceId = idPrefix + String(dev);
    const at = typeof e.at === 'number' ? e.at : Date.now();
    if (e.type === 1) {
      const p = v1Payload(e.value, typeof e.ds_id === 'string' ? e.ds_id : undefined);
      if (p === undefined) out.skipped++;
      else out.messages.push({ deviceId, channel: p[0], payload: p[1] });
    } else if (e.type === 2 && (e.status === 0 || e.status === 1)) {
      const state = e.status === 1 ? 'online' : 'offline';
      out.messages.push({
        deviceId,
        channel: 'status',
        payload: JSON.stringify({ v: 1, ts: at, state, reason: 'onenet' }),
      });
    } else {
      out.skipped++;
    }
  }
  return out;
}

/** CTWing push body (parsed) → our messages. */
export function mapCtwing(body: unknown, idPrefix: string, useImei: boolean): MapResult {
  const out: MapResult = { messages: [], skipped: 0 };
  if (typeof body !== 'object' || body === null) {
    out.skipped++;
    return out;
  }
  const b = body as Record<string, unknown>;
  const rawId = useImei ? b.IMEI : b.deviceId;
  if (typeof rawId !== 'string' || rawId === '') {
    out.skipped++;
    return out;
  }
  const deviceId = idPrefix + rawId;
  const ts = typeof b.timestamp === 'number' ? b.timestamp : Date.now();
  if (b.messageType === 'dataReport') {
    const payload = b.payload as Record<string, unknown> | undefined;
    const app = payload?.APPdata;
    let value: unknown;
    if (typeof app === 'string') {
      value = Buffer.from(app, 'base64').toString('utf8');
    } else if (payload !== undefined && typeof payload.serviceData === 'object') {
      value = payload.serviceData; // profile mode: the service data is the v1 message
    }
    const p = value === undefined ? undefined : v1Payload(value, undefined);
    if (p === undefined) out.skipped++;
    else out.messages.push({ deviceId, channel: p[0], payload: p[1] });
  } else if (b.messageType === 'deviceOnlineOfflineReport' && (b.eventType === 0 || b.eventType === 1)) {
    out.messages.push({
      deviceId,
      channel: 'status',
      payload: JSON.stringify({
        v: 1,
        ts,
        state: b.eventType === 1 ? 'online' : 'offline',
        reason: 'ctwing',
      }),
    });
  } else {
    out.skipped++;
  }
  return out;
}

/** Duplicate key of a push: a retry carries the same body. */
export function pushDigest(body: Buffer): string {
  return createHash('sha1').update(body).digest('base64url');
}
