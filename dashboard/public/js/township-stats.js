// Statistics (火灾和警情统计): totals, per station, grid and month, CSV export.
import { el } from './format.js';
import { DISPOSITION, label, t } from './labels.js';

function secs(ms) {
  return ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(0)} s`;
}

function pct(x) {
  return x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`;
}

function stat(n, text, cls = 'stat-closed') {
  return el(
    'div',
    { class: `stat ${cls}` },
    el('span', { class: 'stat-n', text: n }),
    el('span', { class: 'stat-label', text }),
  );
}

function table(title, buckets) {
  const head = el(
    'tr',
    {},
    ...[
      't.stats.key',
      't.stats.alarms',
      't.stats.closed',
      't.stats.trueFires',
      't.stats.false',
      't.stats.falseRate',
      't.stats.declines',
      't.stats.accept',
      't.stats.p90accept',
      't.stats.arrive',
      't.stats.p90arrive',
    ].map((k) => el('th', { text: t(k) })),
  );
  const rows = buckets.map((b) =>
    el(
      'tr',
      { dataset: { key: b.key } },
      el('td', { text: b.label }),
      el('td', { text: String(b.alarms) }),
      el('td', { text: String(b.closed) }),
      el('td', { text: String(b.trueFires) }),
      el('td', { text: String(b.falseAlarms) }),
      el('td', { text: pct(b.falseAlarmRate) }),
      el('td', { text: String(b.declines) }),
      el('td', { text: secs(b.toAccept.avgMs) }),
      el('td', { text: secs(b.toAccept.p90Ms) }),
      el('td', { text: secs(b.toArrive.avgMs) }),
      el('td', { text: secs(b.toArrive.p90Ms) }),
    ),
  );
  return [
    el('h2', { text: title }),
    el(
      'div',
      { class: 'table-wrap' },
      el('table', { class: 'incident-table stats-table' }, el('tbody', {}, head, ...rows)),
    ),
  ];
}

export function renderStats(s) {
  const tot = s.total;
  document
    .getElementById('stats-summary')
    .replaceChildren(
      stat(String(tot.alarms), t('t.stats.alarms'), 'stat-paging'),
      stat(String(tot.trueFires), t('t.stats.trueFires'), 'stat-active'),
      stat(pct(tot.falseAlarmRate), t('t.stats.falseRate'), 'stat-hazard'),
      stat(secs(tot.toAccept.avgMs), t('t.stats.accept')),
      stat(secs(tot.toArrive.avgMs), t('t.stats.arrive')),
    );
  const causes = el('ul', { class: 'causes' });
  for (const [code, n] of Object.entries(tot.byDisposition)) {
    if (n > 0) causes.append(el('li', { text: `${label(DISPOSITION, code)}：${n}` }));
  }
  document
    .getElementById('stats-tables')
    .replaceChildren(
      el('h2', { text: t('t.stats.causes') }),
      causes,
      ...table(t('t.stats.byStation'), s.byStation),
      ...table(t('t.stats.byGrid'), s.byGrid),
      ...table(t('t.stats.byMonth'), s.byMonth),
    );
}
