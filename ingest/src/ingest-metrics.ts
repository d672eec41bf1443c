import { REJECT_CODES } from '@hub/protocol';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CarrierStats } from './carrier-routes.js';
import type { DiskSpoolStats } from './disk-spool.js';
import type { HeartbeatStats } from './heartbeat-supervisor.js';
import type { HubEventWriterStats } from './hub-event-writer.js';
import type { WriterStats } from './influx-writer.js';
import type { MqttSourceStats } from './mqtt-source.js';
import type { RuleEngineStats } from './rule-engine.js';
import type { SpoolingSinkStats } from './spooling-sink.js';
import type { PipelineStats } from './telemetry-pipeline.js';

/**
 * Prometheus view of the ingest service. The hot path increments plain numbers on the
 * components' `stats` objects; prom-client reads them only when /metrics is scraped
 * (`collect`), so a message costs no label hashing. Labels are codes and outcomes,
 * never a device id.
 */

export interface MetricSources {
  writer: { readonly stats: WriterStats; readonly pending: number };
  pipeline: { readonly stats: PipelineStats };
  mqtt: { readonly stats: MqttSourceStats; readonly ready: boolean };
  spool?: {
    readonly stats: DiskSpoolStats;
    readonly pendingLines: number;
    readonly memoryLines: number;
    readonly usedBytes: number;
  };
  sink?: { readonly stats: SpoolingSinkStats; readonly inSpoolMode: boolean };
  heartbeat?: { readonly stats: HeartbeatStats };
  rules?: { readonly stats: RuleEngineStats };
  ruleEvents?: { readonly stats: HubEventWriterStats; readonly pending: number };
  carrier?: { readonly stats: CarrierStats };
}

/** Sets a counter to an absolute value read from a component's stats. */
function setCounter(c: Counter<string>, value: number, labels?: Record<string, string>): void {
  if (labels === undefined) {
    c.reset();
    c.inc(value);
  } else {
    c.inc(labels, value);
  }
}

export interface IngestMetrics {
  registry: Registry;
  /** Pass to InfluxWriterOptions.observeWriteLatency. */
  observeWriteLatency(seconds: number, ok: boolean): void;
  /** Wire the components once they exist (metrics are created before them). */
  bind(sources: MetricSources): void;
}

export function createIngestMetrics(): IngestMetrics {
  const registry = new Registry();
  let src: MetricSources | null = null;

  const latency = new Histogram({
    name: 'ingest_influx_write_seconds',
    help: 'Latency of InfluxDB write requests (one batch each)',
    labelNames: ['result'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const simple = (name: string, help: string, read: (s: MetricSources) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        if (src !== null) setCounter(this, read(src));
      },
    });

  simple(
    'ingest_lines_accepted_total',
    'Line-protocol lines accepted into the write buffer',
    (s) => s.writer.stats.accepted,
  );
  simple('ingest_lines_written_total', 'Lines acknowledged by InfluxDB', (s) => s.writer.stats.written);
  simple('ingest_lines_failed_total', 'Lines whose batch failed for good', (s) => s.writer.stats.failed);
  new Counter({
    name: 'ingest_lines_dropped_total',
    help: 'Lines dropped by the writer, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      if (src === null) return;
      const w = src.writer.stats;
      this.reset();
      setCounter(this, w.droppedBufferFull, { reason: 'buffer_full' });
      setCounter(this, w.droppedClosed, { reason: 'closing' });
      setCounter(this, w.retryDropped, { reason: 'retry_buffer' });
      setCounter(this, w.shutdownLost, { reason: 'shutdown' });
    },
  });
  new Gauge({
    name: 'ingest_lines_pending',
    help: 'Lines accepted and not yet acknowledged (batch, in flight, retrying)',
    registers: [registry],
    collect() {
      if (src !== null) this.set(src.writer.pending);
    },
  });
  new Counter({
    name: 'ingest_messages_total',
    help: 'Device messages ingested, by channel',
    labelNames: ['channel'],
    registers: [registry],
    collect() {
      if (src === null) return;
      const p = src.pipeline.stats;
      this.reset();
      setCounter(this, p.telemetry, { channel: 'telemetry' });
      setCounter(this, p.events, { channel: 'event' });
      setCounter(this, p.statuses, { channel: 'status' });
    },
  });
  new Counter({
    name: 'ingest_messages_rejected_total',
    help: 'Device messages rejected, by reject code',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      if (src === null) return;
      const r = src.pipeline.stats.rejected;
      this.reset();
      for (const code of Object.values(REJECT_CODES)) setCounter(this, r[code], { code });
    },
  });
  simple(
    'ingest_clock_skew_total',
    'Messages whose device clock was off by more than the allowed skew (stamped with receive time)',
    (s) => s.pipeline.stats.clockSkew,
  );
  simple(
    'ingest_messages_refused_total',
    'Messages refused by the writer (buffer full or closing)',
    (s) => s.pipeline.stats.sinkRefused,
  );
  simple(
    'ingest_stale_retained_total',
    'Replayed retained statuses with an untrusted clock, not recorded',
    (s) => s.pipeline.stats.staleRetained,
  );
  simple('ingest_mqtt_messages_total', 'MQTT messages received', (s) => s.mqtt.stats.messages);
  simple('ingest_mqtt_connects_total', 'MQTT connections established', (s) => s.mqtt.stats.connects);
  simple(
    'ingest_mqtt_handler_errors_total',
    'Exceptions from the message handler (bugs)',
    (s) => s.mqtt.stats.handlerErrors,
  );
  const spoolCounter = (name: string, help: string, read: (s: MetricSources) => number | undefined) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const v = src === null ? undefined : read(src);
        if (v !== undefined) setCounter(this, v);
      },
    });
  spoolCounter(
    'ingest_spool_lines_total',
    'Lines appended to the on-disk spool',
    (s) => s.sink?.stats.spooled,
  );
  spoolCounter(
    'ingest_spool_dropped_lines_total',
    'Lines the spool dropped: full, write errors, corrupt records',
    (s) => s.spool?.stats.droppedLines,
  );
  spoolCounter(
    'ingest_spool_replayed_lines_total',
    'Spooled lines replayed and acknowledged by InfluxDB',
    (s) => s.sink?.stats.replayed,
  );
  spoolCounter(
    'ingest_spool_replay_failed_lines_total',
    'Spooled lines InfluxDB refused for good (4xx)',
    (s) => s.sink?.stats.replayFailed,
  );
  spoolCounter(
    'ingest_spool_corrupt_records_total',
    'Spool records with a bad crc',
    (s) => s.spool?.stats.corrupt,
  );
  spoolCounter(
    'ingest_spool_fsyncs_total',
    'fdatasync calls on spool segments',
    (s) => s.spool?.stats.fsyncs,
  );
  spoolCounter(
    'ingest_lines_spilled_total',
    'Lines of failed batches handed to the spool',
    (s) => s.writer.stats.spilled,
  );
  spoolCounter(
    'ingest_sink_accepted_lines_total',
    'Lines taken by the sink (writer or spool)',
    (s) => s.sink?.stats.accepted,
  );
  spoolCounter(
    'ingest_liveness_silent_total',
    'Devices that became silent (offline events written)',
    (s) => s.heartbeat?.stats.wentSilent,
  );
  spoolCounter(
    'ingest_liveness_recovered_total',
    'Silent devices that reported again (online events)',
    (s) => s.heartbeat?.stats.recovered,
  );
  spoolCounter(
    'ingest_liveness_flushes_total',
    'Batched last-seen flushes to Redis',
    (s) => s.heartbeat?.stats.flushes,
  );
  spoolCounter('ingest_liveness_errors_total', 'Failed liveness flushes and sweeps (retried)', (s) =>
    s.heartbeat === undefined ? undefined : s.heartbeat.stats.flushErrors + s.heartbeat.stats.sweepErrors,
  );
  spoolCounter(
    'ingest_rule_hits_total',
    'Threshold rule hits (before de-duplication)',
    (s) => s.rules?.stats.hits,
  );
  spoolCounter(
    'ingest_rule_events_written_total',
    'Rule events appended to the other stream',
    (s) => s.ruleEvents?.stats.written,
  );
  spoolCounter(
    'ingest_rule_events_duplicate_total',
    'Rule events already written by another process',
    (s) => s.ruleEvents?.stats.duplicates,
  );
  spoolCounter(
    'ingest_rule_events_dropped_total',
    'Rule events dropped (queue full or shutdown)',
    (s) => s.ruleEvents?.stats.dropped,
  );
  spoolCounter(
    'ingest_rule_events_errors_total',
    'Failed rule event writes (retried)',
    (s) => s.ruleEvents?.stats.errors,
  );
  new Counter({
    name: 'ingest_carrier_pushes_total',
    help: 'Carrier platform pushes received, by platform',
    labelNames: ['platform'],
    registers: [registry],
    collect() {
      const c = src?.carrier?.stats;
      if (c === undefined) return;
      this.reset();
      setCounter(this, c.pushes.onenet, { platform: 'onenet' });
      setCounter(this, c.pushes.ctwing, { platform: 'ctwing' });
    },
  });
  new Counter({
    name: 'ingest_carrier_rejected_total',
    help: 'Carrier pushes refused or dropped, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const c = src?.carrier?.stats;
      if (c === undefined) return;
      this.reset();
      setCounter(this, c.badSignature, { reason: 'bad_signature' });
      setCounter(this, c.badRequest, { reason: 'bad_request' });
      setCounter(this, c.tooLarge, { reason: 'too_large' });
      setCounter(this, c.duplicates, { reason: 'duplicate' });
      setCounter(this, c.skipped, { reason: 'unmapped' });
      setCounter(this, c.redisErrors, { reason: 'redis_error' });
    },
  });
  spoolCounter(
    'ingest_carrier_messages_total',
    'Messages from carrier pushes fed to the pipeline',
    (s) => s.carrier?.stats.messages,
  );
  spoolCounter(
    'ingest_carrier_events_written_total',
    'Carrier events written to the event streams',
    (s) => s.carrier?.stats.eventsWritten,
  );
  new Gauge({
    name: 'ingest_rule_events_queued',
    help: 'Rule events waiting to be written',
    registers: [registry],
    collect() {
      if (src?.ruleEvents !== undefined) this.set(src.ruleEvents.pending);
    },
  });
  new Gauge({
    name: 'ingest_liveness_batched_devices',
    help: 'Devices with a report not yet flushed to Redis',
    registers: [registry],
    collect() {
      if (src?.heartbeat !== undefined) this.set(src.heartbeat.stats.batched);
    },
  });
  new Gauge({
    name: 'ingest_spool_pending_lines',
    help: 'Lines waiting in the spool (disk + memory chunk)',
    registers: [registry],
    collect() {
      if (src?.spool !== undefined) this.set(src.spool.pendingLines);
    },
  });
  new Gauge({
    name: 'ingest_spool_memory_lines',
    help: 'Spooled lines still in the memory chunk (not yet written to a segment)',
    registers: [registry],
    collect() {
      if (src?.spool !== undefined) this.set(src.spool.memoryLines);
    },
  });
  new Gauge({
    name: 'ingest_spool_bytes',
    help: 'Bytes used by the spool (segments + memory chunk)',
    registers: [registry],
    collect() {
      if (src?.spool !== undefined) this.set(src.spool.usedBytes);
    },
  });
  new Gauge({
    name: 'ingest_spool_mode',
    help: '1 while new lines go to the spool instead of straight to InfluxDB',
    registers: [registry],
    collect() {
      if (src?.sink !== undefined) this.set(src.sink.inSpoolMode ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ingest_mqtt_ready',
    help: '1 when connected to the broker and subscribed',
    registers: [registry],
    collect() {
      if (src !== null) this.set(src.mqtt.ready ? 1 : 0);
    },
  });

  return {
    registry,
    observeWriteLatency(seconds, ok) {
      latency.observe({ result: ok ? 'ok' : 'error' }, seconds);
    },
    bind(sources) {
      src = sources;
    },
  };
}
