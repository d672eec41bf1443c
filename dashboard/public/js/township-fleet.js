// Fleet health (online rate, silent devices per grid, low batteries) and the
// device history charts (uPlot, readings from InfluxDB through the API).
import { ApiFailure, api } from './api.js';
import { el, formatFloor, formatTime } from './format.js';
import { errorText, t } from './labels.js';

function pct(x) {
  return x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`;
}

function stat(n, labelText, cls) {
  return el(
    'div',
    { class: `stat ${cls}` },
    el('span', { class: 'stat-n', text: n }),
    el('span', { class: 'stat-label', text: labelText }),
  );
}

export function renderFleet(f, onDevice) {
  document
    .getElementById('fleet-summary')
    .replaceChildren(
      stat(String(f.devices), t('t.fleet.devices'), 'stat-closed'),
      stat(
        pct(f.onlineRate),
        t('t.fleet.online'),
        f.onlineRate !== null && f.onlineRate < 0.95 ? 'stat-hazard' : 'stat-ok',
      ),
      stat(String(f.silent), t('t.fleet.silent'), f.silent > 0 ? 'stat-hazard' : 'stat-ok'),
      stat(
        f.lowBattery === null ? '—' : String(f.lowBattery),
        t('t.fleet.lowBattery'),
        f.lowBattery ? 'stat-hazard' : 'stat-ok',
      ),
      stat(String(f.maintenance), t('t.fleet.maintenance'), 'stat-closed'),
    );
  const todayText =
    f.today.grids.length === 0
      ? ''
      : ` ${t('t.fleet.today', { d: f.today.date, list: f.today.grids.map((g) => `${g.grid}: ${g.devices}`).join('，') })}`;
  document.getElementById('fleet-source').textContent =
    t('t.fleet.source') +
    (f.batterySource === 'influxdb' ? t('t.fleet.batteryInflux') : t('t.fleet.batteryNone')) +
    todayText;
  const rows = [
    el(
      'tr',
      {},
      el('th', { text: t('t.fleet.grid') }),
      el('th', { text: t('t.fleet.gridDevices') }),
      el('th', { text: t('t.fleet.gridSilent') }),
      el('th', { text: t('t.fleet.gridOnline') }),
      el('th', { text: t('t.fleet.worklist') }),
    ),
  ];
  const now = Date.now();
  for (const g of f.grids) {
    const work = el('ul', { class: 'worklist' });
    for (const w of g.worklist) {
      work.append(
        el(
          'li',
          {},
          el('button', {
            type: 'button',
            class: 'linkish',
            text: w.deviceId,
            onclick: () => onDevice(w.deviceId),
          }),
          ` ${w.buildingName ?? ''} ${w.floor === null ? '' : formatFloor(w.floor)} ${w.room ?? ''} · `,
          el('span', { class: 'since', text: t('t.fleet.since', { t: formatTime(w.silentSince, now) }) }),
        ),
      );
    }
    if (g.worklist.length === 0) work.append(el('li', { class: 'muted', text: t('t.fleet.noSilent') }));
    rows.push(
      el(
        'tr',
        { class: g.silent > 0 ? 'lane-hazard' : '', dataset: { grid: g.grid } },
        el('td', { text: g.grid }),
        el('td', { text: String(g.devices) }),
        el('td', { class: 'n-silent', text: String(g.silent) }),
        el('td', { text: pct(g.onlineRate) }),
        el('td', {}, work),
      ),
    );
  }
  document.getElementById('grid-rows').replaceChildren(...rows);
}

let charts = [];

export async function showHistory(deviceId, spanMs) {
  const note = document.getElementById('history-note');
  const box = document.getElementById('history-charts');
  for (const c of charts) c.destroy();
  charts = [];
  box.replaceChildren();
  note.textContent = '';
  const to = Date.now();
  let data;
  try {
    data = await api.history(deviceId, to - spanMs, to + 1);
  } catch (err) {
    note.textContent =
      t('t.history.failed') + (err instanceof ApiFailure ? errorText(err.code, err.message) : String(err));
    return;
  }
  note.textContent = `${data.device.id} · ${data.building.name} · ${formatFloor(data.device.floor)} ${data.device.room}`;
  if (data.series.length === 0) {
    note.textContent += ` · ${t('t.history.none')}`;
    return;
  }
  const { default: uPlot } = await import('/vendor/uplot/uPlot.esm.js');
  const palette = ['#c62828', '#1565c0', '#2e7d32', '#ef6c00', '#6a1b9a', '#00838f'];
  for (const s of data.series) {
    const names = Object.keys(s.fields);
    const holder = el('div', { class: 'chart', dataset: { measurement: s.measurement } });
    box.append(el('h3', { text: `${s.measurement}${s.channel ? ` #${s.channel}` : ''}` }), holder);
    const opts = {
      width: Math.min(1100, box.clientWidth || 900),
      height: 220,
      series: [
        {},
        ...names.map((n, i) => ({
          label: n,
          stroke: palette[i % palette.length],
          width: 2,
          spanGaps: false,
        })),
      ],
      axes: [{}, { size: 50 }],
    };
    charts.push(new uPlot(opts, [s.time.map((ms) => ms / 1000), ...names.map((n) => s.fields[n])], holder));
  }
}
