import type { LatencySummary } from './latency-recorder.js';
import type { ScenarioReport } from './scenario.js';
import type { RunProgress } from './scenario-runner.js';

/** Progress line of flood and scenario runs (stderr, once a second). */
export function formatRunProgress(p: RunProgress): string {
  return (
    `[${p.elapsedS.toFixed(0).padStart(4)} s] connected ${p.connected}/${p.devices} (connecting ${p.connecting})` +
    `  connect errors ${p.connectErrors}  msgs/s ${p.msgsPerS}  errors ${p.errors}` +
    `  ack p99 ${p.ackP99Ms === null ? '-' : p.ackP99Ms.toFixed(1)} ms  pages ${p.pages}`
  );
}

function lat(s: LatencySummary | null): string {
  if (s === null) return 'off';
  if (s.count === 0) return 'no samples';
  const f = (v: number | null) => (v === null ? '-' : v.toFixed(1));
  return `p50 ${f(s.p50Ms)} · p90 ${f(s.p90Ms)} · p99 ${f(s.p99Ms)} · max ${f(s.maxMs)} ms (n=${s.count})`;
}

function reportRows(r: ScenarioReport): Array<[string, string]> {
  const f = r.fleet;
  const codes = Object.entries(f.connectErrorsByCode)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const a = r.audit;
  const rows: Array<[string, string]> = [
    ['scenario', `${r.scenario}: ${r.title}${r.aborted ? ' (interrupted)' : ''}`],
    ['plan', r.summary],
    [
      'broker',
      `${r.mqttUrl} from ${r.sourceAddresses.length === 0 ? 'default address' : r.sourceAddresses.join(', ')}`,
    ],
    ['elapsed (s)', r.elapsedS.toFixed(1)],
    ['devices', `${r.devices} (scale ${r.scale})`],
    [
      'connected at end / peak',
      `${f.connected} / ${r.peakConnected} (connects ${f.connects}, disconnects ${f.disconnects})`,
    ],
    ['connect errors', `${f.connectErrors}${codes === '' ? '' : ` (${codes})`}`],
    ['connect latency', lat(r.connectLatency)],
    [
      'telemetry',
      `${f.messagesSent} msgs, ${r.msgsPerS}/s avg, ${(f.bytesSent / 1e6).toFixed(1)} MB, skipped (backpressure) ${f.skippedBackpressure}`,
    ],
    ['QoS 1 PUBACK latency', lat(r.ackLatency)],
    ['probe PUBACK (CO-corrected)', `${lat(r.probeLatency)} (${f.probesAcked}/${f.probesSent} acked)`],
    [
      'status / events acked',
      `${f.statusAcked}/${f.statusSent} status, ${f.eventsAcked}/${f.eventsSent} events (errors ${f.eventErrors})`,
    ],
    ['scheduler lag', lat(r.schedulerLag)],
    [
      'events sent',
      Object.entries(r.eventsSent)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '-',
    ],
    ['alarms (fire lane)', `${a.alarmsSent} sent, ${a.neverPaged} never paged, ${a.duplicates} duplicates`],
    ['alarm → station page', lat(a.stationLatency)],
    [
      'alarm → dashboard page',
      r.dashboard === null
        ? 'off'
        : r.dashboard.state === 'connected' || r.dashboard.state === 'closed'
          ? lat(a.dashboardLatency)
          : `${r.dashboard.state}: ${r.dashboard.detail ?? ''}`,
    ],
  ];
  for (const b of a.buildings) {
    const s = b.station;
    rows.push([
      `  building ${b.buildingId}`,
      `${s.alarmsSent} alarms, paged ${s.paged} (named ${s.pagedDirect}, folded ${s.folded}), never ${s.neverPaged + s.pending}, ` +
        `first page ${s.firstPageLatencyMs === null ? '-' : s.firstPageLatencyMs.toFixed(1) + ' ms'} from ${s.pagingStationId ?? '-'} ` +
        `(expected ${b.expectedStationId ?? '-'}${b.rightStation === false ? ', WRONG' : ''}), pages ${s.pagesMatched}` +
        (b.dashboard === null
          ? ''
          : `, dashboard first page ${b.dashboard.firstPageLatencyMs === null ? '-' : b.dashboard.firstPageLatencyMs.toFixed(1) + ' ms'}`),
    ]);
  }
  rows.push(['escalated incidents', `${a.escalated} of ${a.incidents.length}`]);
  for (const inc of a.incidents.filter((i) => i.steps.length > 1)) {
    rows.push([
      `  ${inc.incidentId}`,
      inc.steps.map((s) => `step ${s.step} ${s.stationId} +${(s.afterMs / 1000).toFixed(1)} s`).join(' → '),
    ]);
  }
  if (r.stations !== null) {
    const st = r.stations;
    rows.push([
      'station listeners',
      `${st.connected}/${st.stations}, pages ${st.pagesSeen}, accepts sent ${st.accepts}, invalid ${st.invalidPages}, misrouted ${st.misroutedPages}`,
    ]);
  }
  for (const c of r.checks) rows.push([`check: ${c.name}`, `${c.ok ? 'ok' : 'FAILED'} — ${c.detail}`]);
  rows.push(['result', r.ok ? 'OK' : 'FAILED']);
  return rows;
}

export function formatReport(r: ScenarioReport): string {
  const rows = reportRows(r);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
