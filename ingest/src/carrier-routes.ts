import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeEvent, deviceTopic, type HubKeys, laneOf } from '@hub/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  type CarrierMessage,
  type MapResult,
  mapCtwing,
  mapOnenet,
  pushDigest,
  rawJsonValue,
  safeEqual,
  verifyOnenet,
} from './carrier-push.js';
import { recordDeviceEvent } from './hub-event-writer.js';
import type { RegistryView } from './telemetry-pipeline.js';

/**
 * HTTP routes for carrier platform pushes (formats and signatures: carrier-push.ts):
 *
 *   GET  /carrier/onenet?msg=&nonce=&signature=   URL verification → body = msg
 *   POST /carrier/onenet                          data (signature in the body)
 *   POST /carrier/ctwing/<token>                  data (secret token in the URL)
 *
 * Order per push: body (bounded) → signature/token check (403 when wrong, counted) →
 * map to our messages → then
 * - telemetry and statuses only: 200 at once, then the duplicate check
 *   (SET NX with TTL on the body digest: a retry of the same push is dropped) and the
 *   same pipeline as MQTT (`handleMessage` with the device's topic);
 * - with events (an alarm!): the duplicate check and the durable write of each event
 *   into the broker's streams (fire lane → keys.fireEvents, else keys.otherEvents;
 *   d/p/r; once per device + event id) happen before the 200, as the broker writes
 *   before PUBACK: when Redis fails we answer 503 and the platform retries. That
 *   costs ~1 ms; both platforms allow seconds.
 * Events of unknown devices or invalid events are not written (the pipeline counts
 * the rejection).
 */

export interface CarrierRoutesOptions {
  redis: Redis;
  keys: HubKeys;
  registry: RegistryView;
  /** The MQTT pipeline's entry (topic, payload, receivedAt). */
  handle: (topic: string, payload: string, receivedAt: number) => unknown;
  onenetToken?: string;
  ctwingToken?: string;
  /** Prefix of the hub device id before the platform's device id. */
  idPrefix?: string;
  /** CTWing: use the IMEI instead of the platform deviceId. */
  ctwingUseImei?: boolean;
  dedupeTtlS?: number;
  maxBodyBytes?: number;
  streamMaxLen?: number;
  now?: () => number;
  logger?: Logger;
}

export interface CarrierStats {
  pushes: Record<'onenet' | 'ctwing', number>;
  verifications: number;
  badSignature: number;
  badRequest: number;
  tooLarge: number;
  duplicates: number;
  messages: number;
  skipped: number;
  eventsWritten: number;
  redisErrors: number;
}

type Platform = 'onenet' | 'ctwing';

export function createCarrierRoutes(opts: CarrierRoutesOptions) {
  const stats: CarrierStats = {
    pushes: { onenet: 0, ctwing: 0 },
    verifications: 0,
    badSignature: 0,
    badRequest: 0,
    tooLarge: 0,
    duplicates: 0,
    messages: 0,
    skipped: 0,
    eventsWritten: 0,
    redisErrors: 0,
  };
  const now = opts.now ?? Date.now;
  const maxBody = opts.maxBodyBytes ?? 256 * 1024;
  const ttl = opts.dedupeTtlS ?? 86_400;
  const prefix = opts.idPrefix ?? '';
  const log = opts.logger;

  const reply = (res: ServerResponse, status: number, body = '') => {
    if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  };

  /** Sets the duplicate marker; true when this push is new. */
  const firstTime = async (platform: Platform, body: Buffer): Promise<boolean> => {
    const ok = await opts.redis.set(
      opts.keys.carrierPushSeen(platform, pushDigest(body)),
      '1',
      'EX',
      ttl,
      'NX',
    );
    if (ok === null) stats.duplicates++;
    return ok !== null;
  };

  const feed = (messages: CarrierMessage[], receivedAt: number) => {
    for (const m of messages) {
      stats.messages++;
      opts.handle(deviceTopic(m.deviceId, m.channel), m.payload, receivedAt);
    }
  };

  /** Maps, deduplicates, writes events durably when there are any, answers, feeds the pipeline. */
  const dispatch = async (platform: Platform, body: Buffer, mapped: MapResult, res: ServerResponse) => {
    stats.skipped += mapped.skipped;
    const receivedAt = now();
    const events = mapped.messages.filter((m) => m.channel === 'event');
    if (events.length === 0) {
      reply(res, 200, 'ok');
      try {
        if (await firstTime(platform, body)) feed(mapped.messages, receivedAt);
      } catch (err) {
        stats.redisErrors++;
        log?.warn(
          { err: (err as Error).message, platform },
          'carrier push not de-duplicated (Redis); fed anyway',
        );
        feed(mapped.messages, receivedAt); // a duplicate point overwrites itself in InfluxDB
      }
      return;
    }
    try {
      if (!(await firstTime(platform, body))) {
        reply(res, 200, 'duplicate');
        return;
      }
      const snapshot = opts.registry.current;
      for (const m of events) {
        if (!snapshot.devices.has(m.deviceId)) continue;
        const d = decodeEvent(m.payload);
        if (!d.ok) continue;
        const stream = laneOf(d.value.type) === 'fire' ? opts.keys.fireEvents : opts.keys.otherEvents;
        if (
          await recordDeviceEvent(
            opts.redis,
            opts.keys,
            stream,
            m.deviceId,
            d.value.id,
            m.payload,
            receivedAt,
            {
              streamMaxLen: opts.streamMaxLen,
            },
          )
        ) {
          stats.eventsWritten++;
        }
      }
    } catch (err) {
      stats.redisErrors++;
      // Let the platform retry: drop our marker so the retry is not taken for a duplicate.
      await opts.redis.del(opts.keys.carrierPushSeen(platform, pushDigest(body))).catch(() => undefined);
      log?.error({ err: (err as Error).message, platform }, 'carrier event not stored; answered 503');
      reply(res, 503, 'retry');
      return;
    }
    reply(res, 200, 'ok');
    feed(mapped.messages, receivedAt);
  };

  const readBody = (req: IncomingMessage): Promise<Buffer | null> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBody) {
          resolve(null);
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const onenet = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const token = opts.onenetToken;
    if (token === undefined) return reply(res, 404, 'not found');
    if (req.method === 'GET') {
      stats.verifications++;
      const msg = url.searchParams.get('msg') ?? '';
      const nonce = url.searchParams.get('nonce') ?? '';
      const sig = url.searchParams.get('signature') ?? '';
      if (!verifyOnenet(token, nonce, msg, sig)) {
        stats.badSignature++;
        return reply(res, 403, 'bad signature');
      }
      return reply(res, 200, msg);
    }
    stats.pushes.onenet++;
    const body = await readBody(req);
    if (body === null) {
      stats.tooLarge++;
      return reply(res, 413, 'too large');
    }
    const text = body.toString('utf8');
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
    } catch {
      stats.badRequest++;
      return reply(res, 400, 'bad json');
    }
    const nonce = parsed.nonce;
    const sig = parsed.msg_signature ?? parsed.signature;
    const msgText = typeof parsed.msg === 'string' ? parsed.msg : rawJsonValue(text, 'msg');
    if (typeof nonce !== 'string' || typeof sig !== 'string' || msgText === undefined) {
      stats.badSignature++;
      return reply(res, 403, 'missing signature');
    }
    if (!verifyOnenet(token, nonce, msgText, sig)) {
      stats.badSignature++;
      return reply(res, 403, 'bad signature');
    }
    let msg: unknown = parsed.msg;
    if (typeof msg === 'string') {
      try {
        msg = JSON.parse(msg);
      } catch {
        stats.badRequest++;
        return reply(res, 400, 'bad msg');
      }
    }
    await dispatch('onenet', body, mapOnenet(msg, prefix), res);
  };

  const ctwing = async (req: IncomingMessage, res: ServerResponse, given: string) => {
    const token = opts.ctwingToken;
    if (token === undefined) return reply(res, 404, 'not found');
    stats.pushes.ctwing++;
    if (!safeEqual(given, token)) {
      stats.badSignature++;
      return reply(res, 403, 'bad token');
    }
    if (req.method !== 'POST') return reply(res, 405, 'POST only');
    const body = await readBody(req);
    if (body === null) {
      stats.tooLarge++;
      return reply(res, 413, 'too large');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      stats.badRequest++;
      return reply(res, 400, 'bad json');
    }
    await dispatch('ctwing', body, mapCtwing(parsed, prefix, opts.ctwingUseImei === true), res);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://carrier');
    const path = url.pathname;
    let p: Promise<void> | undefined;
    if (path === '/carrier/onenet') p = onenet(req, res, url);
    else if (path.startsWith('/carrier/ctwing/')) {
      let given: string;
      try {
        given = decodeURIComponent(path.slice(16));
      } catch {
        given = ''; // malformed escape: never equal to a configured token
      }
      p = ctwing(req, res, given);
    } else reply(res, 404, 'not found');
    p?.catch((err: Error) => {
      log?.error({ err: err.message }, 'carrier route failed');
      reply(res, 500, 'error');
    });
  };

  return { handler, stats };
}
