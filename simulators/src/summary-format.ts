import type { Progress, SimulationSummary } from './simulation.js';

/** One status line for stderr, rewritten every second. */
export function formatProgress(p: Progress): string {
  return (
    `[${p.elapsedS.toFixed(0).padStart(4)} s] connected ${p.connected}/${p.devices}` +
    `  connect errors ${p.connectErrors}  msgs/s ${p.msgsPerS}  errors ${p.errors}  pages ${p.pagesSeen}`
  );
}

function ms(v: number | null): string {
  return v === null ? '-' : v.toFixed(3);
}

/** Rows of the final summary: [label, value]. */
function summaryRows(s: SimulationSummary): Array<[string, string]> {
  const f = s.fleet;
  const rows: Array<[string, string]> = [
    ['mode', s.mode + (s.aborted ? ' (interrupted)' : '')],
    ['broker', s.mqttUrl],
    ['elapsed (s)', s.elapsedS.toFixed(1)],
    ['devices connected', `${f.connected}/${f.devices} (connects ${f.connects}, errors ${f.connectErrors})`],
    ['telemetry sent', String(f.messagesSent)],
    [
      'errors',
      `${f.errors + f.publishErrors} (disconnects ${f.disconnects}, skipped ${f.skippedBackpressure})`,
    ],
  ];
  if (s.fire !== null) {
    const r = s.fire;
    rows.push(
      ['fire building', `${r.buildingId} (${r.detectors} detectors)`],
      ['latency p50 (ms)', ms(s.latency.p50Ms)],
      ['latency p99 (ms)', ms(s.latency.p99Ms)],
      ['latency max (ms)', ms(s.latency.maxMs)],
      ['first page (ms)', ms(r.firstPageLatencyMs)],
      ['alarms sent', `${r.alarmsSent} (acked ${r.alarmsAcked}, publish errors ${r.publishErrors})`],
      ['alarms paged', `${r.paged} (named in a page ${r.pagedDirect}, folded ${r.folded})`],
      ['never paged', String(r.neverPaged + r.pending)],
      ['duplicate pages', String(r.duplicates)],
      [
        'pages for the building',
        `${r.pagesMatched}${r.stalePages > 0 ? ` (+${r.stalePages} from an older incident)` : ''}`,
      ],
      ['expected station', r.expectedStationId ?? '-'],
      [
        'paging station',
        (r.pagingStationId ?? '-') +
          (s.expectedStationPaged === false
            ? '  (differs from expected)'
            : s.expectedStationPaged
              ? '  (as expected)'
              : ''),
      ],
    );
  }
  if (s.stations !== null) {
    const st = s.stations;
    rows.push([
      'station listeners',
      `${st.connected}/${st.stations} (pages ${st.pagesSeen}, invalid ${st.invalidPages}, misrouted ${st.misroutedPages}, duplicates ${st.duplicatePages})`,
    ]);
  }
  rows.push(['result', s.ok ? 'OK' : 'FAILED: an alarm was never paged']);
  return rows;
}

/** The summary as an aligned two-column table. */
export function formatSummary(s: SimulationSummary): string {
  const rows = summaryRows(s);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
