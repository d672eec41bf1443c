import {
  type Decoded,
  type Device,
  decodeEvent,
  decodeStatus,
  decodeTelemetry,
  newParsedTopic,
  parseTopic,
  REJECT_CODES,
  type RejectCode,
  RejectLogLimiter,
  type RejectLogLimiterOptions,
  type Telemetry,
} from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { Logger } from 'pino';
import type { LineSink } from './influx-writer.js';
import {
  appendTelemetryLines,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  eventLine,
  isTrustedDeviceTime,
  statusLine,
} from './line-protocol.js';

/**
 * One MQTT message in, InfluxDB lines out:
 *   topic → device (registry snapshot, in memory) → decode → kind check → lines → sink.
 *
 * Runs once per message at fleet rate: the parsed topic and the line array are
 * reused, there are no closures or promises per message, and nothing is logged for
 * a good message. Bad messages are counted by reject code and logged at warn with
 * the device id, at most once per device per minute (RejectLogLimiter).
 *
 * Later issues hang off the same place: heartbeat supervision and threshold rules
 * read the decoded value right where it is converted; the carrier HTTP routes call
 * `handleMessage` with a synthesized topic.
 */

/** Anything with a current registry snapshot (RegistryCache, or a fixed one in tests). */
export interface RegistryView {
  readonly current: RegistrySnapshot;
}

export interface TelemetryPipelineOptions {
  registry: RegistryView;
  sink: LineSink;
  logger: Logger;
  /** Device clocks further off than this are replaced by the hub's receive time. Default 24 h. */
  maxClockSkewMs?: number;
  rejectLog?: RejectLogLimiterOptions;
  /**
   * Called for every accepted report from a device (telemetry, event, a live
   * `online` status; not retained replays or a last-will `offline`): heartbeat
   * supervision. Must be cheap (the supervisor only updates a Map).
   */
  onSeen?: (deviceId: string, receivedAt: number) => void;
  /** Called with every decoded telemetry message (threshold rules). */
  onTelemetry?: (t: Telemetry, device: Device, receivedAt: number) => void;
}

/** What happened to a message; a reject code when it was refused. */
export type HandleResult = 'written' | 'dropped' | 'skipped' | RejectCode;

export interface PipelineStats {
  telemetry: number;
  events: number;
  statuses: number;
  /** Lines handed to the sink and accepted. */
  lines: number;
  /** Messages whose device clock was off by more than maxClockSkewMs (stamped with receive time). */
  clockSkew: number;
  /** Messages the sink refused (buffer full / closing); the sink counts the lines. */
  sinkRefused: number;
  /** Retained status messages replayed on subscribe whose time we cannot trust (not re-recorded). */
  staleRetained: number;
  /** Rejections by reject code. */
  rejected: Record<RejectCode, number>;
}

function zeroRejects(): Record<RejectCode, number> {
  const r = {} as Record<RejectCode, number>;
  for (const code of Object.values(REJECT_CODES)) r[code] = 0;
  return r;
}

/** Longest topic quoted in a log line (topics from the outside can be long). */
const MAX_LOGGED_TOPIC = 128;

export class TelemetryPipeline {
  readonly stats: PipelineStats = {
    telemetry: 0,
    events: 0,
    statuses: 0,
    lines: 0,
    clockSkew: 0,
    sinkRefused: 0,
    staleRetained: 0,
    rejected: zeroRejects(),
  };
  private readonly parsed = newParsedTopic();
  private readonly lines: string[] = [];
  private readonly maxSkew: number;
  private readonly limiter: RejectLogLimiter;

  constructor(private readonly opts: TelemetryPipelineOptions) {
    this.maxSkew = opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
    this.limiter = new RejectLogLimiter(opts.rejectLog);
  }

  /**
   * Handles one message. Never throws for bad input. `receivedAt` is the hub's clock
   * (ms) when the message arrived; `retained` is the MQTT retain flag (set on status
   * messages the broker replays when we subscribe).
   */
  handleMessage(
    topic: string,
    payload: Uint8Array | string,
    receivedAt: number,
    retained = false,
  ): HandleResult {
    const parsed = this.parsed;
    if (!parseTopic(topic, parsed) || parsed.scope !== 'dev') {
      return this.reject(REJECT_CODES.TOPIC, '', topic, 'topic outside v1/dev/{id}/…', receivedAt);
    }
    const deviceId = parsed.id;
    const channel = parsed.channel;
    if (channel !== 'telemetry' && channel !== 'event' && channel !== 'status') {
      return this.reject(
        REJECT_CODES.TOPIC,
        deviceId,
        topic,
        `channel ${channel} is not ingested`,
        receivedAt,
      );
    }
    const snapshot = this.opts.registry.current;
    const device = snapshot.devices.get(deviceId);
    if (device === undefined) {
      return this.reject(REJECT_CODES.UNKNOWN_DEVICE, deviceId, topic, 'device not in registry', receivedAt);
    }
    const township = snapshot.buildings.get(device.buildingId)?.township;
    const lines = this.lines;
    lines.length = 0;

    if (channel === 'telemetry') {
      const decoded = decodeTelemetry(payload);
      if (!decoded.ok) return this.rejectDecoded(decoded, deviceId, topic, receivedAt);
      const t = decoded.value;
      if (t.kind !== device.kind) {
        const msg = `payload kind ${t.kind}, registered as ${device.kind}`;
        return this.reject(REJECT_CODES.KIND_MISMATCH, deviceId, topic, msg, receivedAt);
      }
      this.stats.telemetry++;
      this.opts.onSeen?.(deviceId, receivedAt);
      this.opts.onTelemetry?.(t, device, receivedAt);
      appendTelemetryLines(lines, t, device, township, this.pointTime(t.ts, receivedAt));
    } else if (channel === 'event') {
      const decoded = decodeEvent(payload);
      if (!decoded.ok) return this.rejectDecoded(decoded, deviceId, topic, receivedAt);
      this.stats.events++;
      this.opts.onSeen?.(deviceId, receivedAt);
      lines.push(eventLine(decoded.value, device, township, this.pointTime(decoded.value.ts, receivedAt)));
    } else {
      const decoded = decodeStatus(payload);
      if (!decoded.ok) return this.rejectDecoded(decoded, deviceId, topic, receivedAt);
      const s = decoded.value;
      // A replayed retained status with a trusted clock rewrites the identical point
      // (same series and time: InfluxDB keeps one); one with an untrusted clock would
      // be stamped "now" and claim a fresh status, so it is skipped.
      if (retained && !isTrustedDeviceTime(s.ts, receivedAt, this.maxSkew)) {
        this.stats.staleRetained++;
        return 'skipped';
      }
      this.stats.statuses++;
      // A last will (`offline`) is the broker speaking for a lost connection, not a report.
      if (!retained && s.state === 'online') this.opts.onSeen?.(deviceId, receivedAt);
      lines.push(statusLine(s, device, township, this.pointTime(s.ts, receivedAt)));
    }

    if (!this.opts.sink.write(lines, lines.length)) {
      this.stats.sinkRefused++;
      return 'dropped';
    }
    this.stats.lines += lines.length;
    return 'written';
  }

  /** Device time when trusted, else the hub's receive time (counted as clock skew). */
  private pointTime(deviceTs: number, receivedAt: number): number {
    if (isTrustedDeviceTime(deviceTs, receivedAt, this.maxSkew)) return deviceTs;
    this.stats.clockSkew++;
    return receivedAt;
  }

  private rejectDecoded(
    decoded: Extract<Decoded<unknown>, { ok: false }>,
    deviceId: string,
    topic: string,
    now: number,
  ): RejectCode {
    return this.reject(decoded.code, deviceId, topic, decoded.message, now);
  }

  private reject(
    code: RejectCode,
    deviceId: string,
    topic: string,
    message: string,
    now: number,
  ): RejectCode {
    this.stats.rejected[code]++;
    // Rejections without a device id (bad topics) share one key: one line a minute.
    const suppressed = this.limiter.admit(deviceId === '' ? '(no device)' : deviceId, now);
    if (suppressed >= 0) {
      this.opts.logger.warn(
        {
          code,
          deviceId: deviceId === '' ? undefined : deviceId,
          topic: topic.length > MAX_LOGGED_TOPIC ? topic.slice(0, MAX_LOGGED_TOPIC) + '…' : topic,
          reason: message,
          suppressed,
        },
        'message rejected',
      );
    }
    return code;
  }
}
