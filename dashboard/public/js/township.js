// Township overview (/township): every incident and its state, live.
import { ApiFailure, api } from './api.js';
import { el, formatFloor, formatTime } from './format.js';
import { DISPOSITION, errorText, LANE, label, OCCUPANCY, STATE, VERIFICATION } from './labels.js';
import { connectLive } from './live.js';

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 200;

/** id → incident view */
const incidents = new Map();
const stationNames = new Map();
let mode = 'open';
let live = null;

function stationName(id) {
  return stationNames.get(id) ?? id;
}

function row(inc) {
  const hazard = inc.lane !== 'fire';
  const b = inc.building;
  return el(
    'tr',
    { class: `lane-${hazard ? 'hazard' : 'fire'} state-${inc.state}`, dataset: { incidentId: inc.id } },
    el('td', { text: formatTime(inc.receivedAt, live ? live.serverNow() : Date.now()) }),
    el('td', {}, el('span', { class: 'lane-tag', text: label(LANE, inc.lane) })),
    el('td', { text: b?.name ?? inc.buildingId }),
    el('td', { text: b?.address ?? '—' }),
    el('td', { text: b ? label(OCCUPANCY, b.occupancy) : '—' }),
    el('td', { text: `${formatFloor(inc.firstFloor)} ${inc.firstRoom}` }),
    el('td', {}, el('span', { class: `state-tag state-${inc.state}`, text: label(STATE, inc.state) })),
    el('td', { text: label(VERIFICATION, inc.verification) }),
    el('td', { text: inc.pagedStations.map(stationName).join('、') || '—' }),
    el('td', { text: inc.stationId ? stationName(inc.stationId) : '—' }),
    el('td', {
      text: inc.disposition ? label(DISPOSITION, inc.disposition) : inc.forwarded119At ? '已转 119' : '—',
    }),
  );
}

function render() {
  const list = [...incidents.values()].filter((i) => mode === 'all' || i.state !== 'closed');
  list.sort((a, b) => b.openedAt - a.openedAt);
  const shown = list.slice(0, MAX_ROWS);
  $('incident-rows').replaceChildren(...shown.map(row));
  $('empty').hidden = shown.length > 0;
  let paging = 0;
  let active = 0;
  let hazard = 0;
  let closed = 0;
  for (const i of incidents.values()) {
    if (i.state === 'closed') closed++;
    else if (i.lane !== 'fire') hazard++;
    else if (i.state === 'paging') paging++;
    else active++;
  }
  $('n-paging').textContent = String(paging);
  $('n-active').textContent = String(active);
  $('n-hazard').textContent = String(hazard);
  $('n-closed').textContent = String(closed);
  document.body.classList.toggle('has-alert', paging > 0);
}

async function reload() {
  try {
    const data = await api.incidents(mode, MAX_ROWS);
    incidents.clear();
    for (const inc of data.incidents) incidents.set(inc.id, inc);
    $('load-error').hidden = true;
  } catch (err) {
    $('load-error').hidden = false;
    $('load-error').textContent =
      `加载警情失败：${err instanceof ApiFailure ? errorText(err.code, err.message) : err}`;
  }
  render();
}

function setMode(next) {
  mode = next;
  for (const [id, m] of [
    ['show-open', 'open'],
    ['show-all', 'all'],
  ]) {
    $(id).classList.toggle('active', m === mode);
    $(id).setAttribute('aria-pressed', String(m === mode));
  }
  void reload();
}

function setConn(ok) {
  const c = $('conn');
  c.textContent = ok ? '实时连接正常' : '连接断开，正在重连…';
  c.classList.toggle('conn-up', ok);
  c.classList.toggle('conn-down', !ok);
}

$('show-open').addEventListener('click', () => setMode('open'));
$('show-all').addEventListener('click', () => setMode('all'));

try {
  const { stations } = await api.stations();
  for (const s of stations) stationNames.set(s.id, s.name);
} catch {
  // Station ids are shown instead of names.
}

live = connectLive('/api/live', {
  onOpen: () => {
    setConn(true);
    void reload();
  },
  onDown: () => setConn(false),
  onIncident: (inc) => {
    incidents.set(inc.id, inc);
    if (incidents.size > MAX_ROWS * 2) {
      // Bound the table's memory: forget the oldest closed ones.
      const closed = [...incidents.values()]
        .filter((i) => i.state === 'closed')
        .sort((a, b) => a.openedAt - b.openedAt);
      for (const i of closed.slice(0, incidents.size - MAX_ROWS)) incidents.delete(i.id);
    }
    render();
  },
});
setInterval(() => {
  const t = live.serverNow();
  $('clock').textContent = formatTime(t, t);
}, 1000);
render();
