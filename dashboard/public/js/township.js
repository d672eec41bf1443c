// Township fire office console (/township): every incident live with its state and
// timers, the map, fleet health, hazard tickets, statistics, the key-period switch
// and registry exports. One live stream feeds incidents and tickets.
import { ApiFailure, api } from './api.js';
import { el, formatCountdown, formatFloor, formatTime } from './format.js';
import {
  applyI18n,
  DISPOSITION,
  errorText,
  getLang,
  LANE,
  label,
  OCCUPANCY,
  STATE,
  setLang,
  t,
  VERIFICATION,
} from './labels.js';
import { connectLive } from './live.js';
import './township-labels.js';
import { renderFleet, showHistory } from './township-fleet.js';
import { initMap, mapShown, showIncidents } from './township-map.js';
import { renderStats } from './township-stats.js';
import {
  renderTickets,
  replaceTickets,
  setTicketMode,
  ticketMode,
  upsertTicket,
} from './township-tickets.js';

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 200;
const DAY = 86_400_000;

/** id → incident view */
const incidents = new Map();
const stationNames = new Map();
let mode = 'open';
let live = null;
let mapLoaded = false;

function now() {
  return live ? live.serverNow() : Date.now();
}

function stationName(id) {
  return stationNames.get(id) ?? id;
}

/** The deadline that matters now, by state. */
function timerCell(inc) {
  const td = el('td', { class: 'timer' });
  let deadline = null;
  let kind = null;
  if (inc.state === 'paging' && inc.acceptBy !== null) {
    deadline = inc.acceptBy;
    kind = 'accept';
  } else if ((inc.state === 'accepted' || inc.state === 'en_route') && inc.onSceneBy !== null) {
    deadline = inc.onSceneBy;
    kind = 'onScene';
  } else if (inc.state === 'closed' && inc.closedAt !== null) {
    td.textContent = t('t.timer.took', { t: formatCountdown(inc.closedAt - inc.receivedAt) });
    return td;
  }
  if (deadline !== null) {
    td.dataset.deadline = String(deadline);
    td.dataset.kind = kind;
  } else td.textContent = '—';
  return td;
}

function row(inc) {
  const hazard = inc.lane !== 'fire';
  const b = inc.building;
  return el(
    'tr',
    { class: `lane-${hazard ? 'hazard' : 'fire'} state-${inc.state}`, dataset: { incidentId: inc.id } },
    el('td', { text: formatTime(inc.receivedAt, now()) }),
    el('td', {}, el('span', { class: 'lane-tag', text: label(LANE, inc.lane) })),
    el('td', { text: b?.name ?? inc.buildingId }),
    el('td', { text: b?.address ?? '—' }),
    el('td', { text: b ? label(OCCUPANCY, b.occupancy) : '—' }),
    el('td', { text: `${formatFloor(inc.firstFloor)} ${inc.firstRoom}` }),
    el('td', {}, el('span', { class: `state-tag state-${inc.state}`, text: label(STATE, inc.state) })),
    timerCell(inc),
    el(
      'td',
      {},
      label(VERIFICATION, inc.verification),
      inc.lane === 'fire' && inc.state !== 'closed' && inc.verification !== 'confirmed'
        ? el('button', {
            type: 'button',
            class: 'btn btn-plain btn-confirm',
            text: t('t.confirm'),
            title: t('t.confirm.title'),
            onclick: async (e) => {
              e.currentTarget.disabled = true;
              try {
                await api.confirmIncident(inc.id);
              } catch (err) {
                $('load-error').hidden = false;
                $('load-error').textContent =
                  err instanceof ApiFailure ? errorText(err.code, err.message) : String(err);
              }
            },
          })
        : null,
    ),
    el('td', { text: inc.pagedStations.map(stationName).join('、') || '—' }),
    el('td', { text: inc.stationId ? stationName(inc.stationId) : '—' }),
    el('td', {
      text: inc.disposition
        ? label(DISPOSITION, inc.disposition)
        : inc.forwarded119At
          ? t('t.forwarded119')
          : '—',
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
  showIncidents([...incidents.values()]);
  tick();
}

function tick() {
  const n = now();
  $('clock').textContent = formatTime(n, n);
  for (const td of document.querySelectorAll('td.timer[data-deadline]')) {
    const left = Number(td.dataset.deadline) - n;
    const accept = td.dataset.kind === 'accept';
    td.textContent =
      left >= 0
        ? t(accept ? 't.timer.accept' : 't.timer.onScene', { t: formatCountdown(left) })
        : t(accept ? 't.timer.acceptOver' : 't.timer.onSceneOver', { t: formatCountdown(left) });
    td.classList.toggle('overdue', left < 0);
  }
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
      `${t('console.loadFailed')}${err instanceof ApiFailure ? errorText(err.code, err.message) : err}`;
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
  c.textContent = ok ? t('conn.up') : t('conn.down');
  c.classList.toggle('conn-up', ok);
  c.classList.toggle('conn-down', !ok);
}

// ---- tabs
const TABS = ['incidents', 'map', 'fleet', 'tickets', 'stats', 'settings'];
async function showTab() {
  const tab = TABS.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'incidents';
  for (const name of TABS) {
    $(`tab-${name}`).hidden = name !== tab;
    document.querySelector(`.tab[data-tab="${name}"]`).classList.toggle('active', name === tab);
  }
  document.body.dataset.tab = tab;
  if (tab === 'map') {
    if (!mapLoaded) {
      mapLoaded = true;
      try {
        await initMap($('township-map'), $('map-legend'), await api.map());
      } catch (err) {
        mapLoaded = false;
        $('map-legend').textContent = String(err);
      }
    }
    mapShown();
  } else if (tab === 'fleet') await loadFleet();
  else if (tab === 'tickets') await loadTickets();
  else if (tab === 'stats') await loadStats();
  else if (tab === 'settings') await Promise.all([loadKeyPeriod(), loadDuty()]);
  document.body.dataset.loaded = tab;
}

async function loadFleet() {
  try {
    renderFleet(await api.fleet(), (id) => {
      $('history-device').value = id;
      void showHistory(id, Number($('history-span').value));
    });
  } catch (err) {
    $('fleet-source').textContent =
      err instanceof ApiFailure ? errorText(err.code, err.message) : String(err);
  }
}

function rerenderTickets() {
  renderTickets(rerenderTickets);
}

async function loadTickets() {
  try {
    replaceTickets((await api.tickets(ticketMode(), 200)).tickets);
  } catch {
    // shown as empty; the live stream fills in
  }
  rerenderTickets();
}

function dateInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

async function loadStats() {
  if ($('stats-from').value === '') {
    $('stats-from').value = dateInput(Date.now() - 30 * DAY);
    $('stats-to').value = dateInput(Date.now());
  }
  const from = new Date(`${$('stats-from').value}T00:00:00`).getTime();
  const to = new Date(`${$('stats-to').value}T00:00:00`).getTime() + DAY;
  $('stats-csv').href = `/api/stats.csv?from=${from}&to=${to}`;
  try {
    renderStats(await api.stats(from, to));
  } catch (err) {
    $('stats-tables').textContent =
      err instanceof ApiFailure ? errorText(err.code, err.message) : String(err);
  }
}

function renderKeyPeriod(s) {
  $('kp-state').textContent = s.active
    ? t('t.kp.active') + (s.period ? ` · ${s.period.name}` : '')
    : t('t.kp.inactive');
  $('kp-state').classList.toggle('kp-on', s.active);
  for (const b of document.querySelectorAll('.kp-switch .btn')) {
    b.classList.toggle('active', b.dataset.mode === s.config.mode);
    b.setAttribute('aria-checked', String(b.dataset.mode === s.config.mode));
  }
  const badge = $('key-period-badge');
  badge.hidden = !s.active;
  badge.textContent = t('t.kp.badge');
  const list = $('kp-periods');
  list.replaceChildren(
    ...(s.config.periods.length === 0
      ? [el('li', { class: 'muted', text: t('t.kp.noPeriods') })]
      : s.config.periods.map((p) =>
          el('li', { text: `${p.name}：${formatTime(p.start, 0)} – ${formatTime(p.end, 0)}` }),
        )),
  );
}

async function loadDuty() {
  try {
    const [{ stations }, { accounts }] = await Promise.all([api.stations(), api.accounts()]);
    const officers = new Map();
    for (const a of accounts)
      if (a.role === 'officer' && !a.disabled)
        officers.set(a.stationId, (officers.get(a.stationId) ?? 0) + 1);
    $('duty-rows').replaceChildren(
      el(
        'tr',
        {},
        ...['t.duty.station', 't.duty.onDuty', 't.duty.accounts', ''].map((k) =>
          el('th', { text: k ? t(k) : '' }),
        ),
      ),
      ...stations.map((s) =>
        el(
          'tr',
          { dataset: { stationId: s.id } },
          el('td', { text: s.name }),
          el('td', { text: s.onDuty ? `${s.officersOnDuty}` : t('t.duty.stoodDown') }),
          el('td', { text: String(officers.get(s.id) ?? 0) }),
          el(
            'td',
            {},
            el('button', {
              type: 'button',
              class: 'btn btn-plain btn-end-shift',
              text: t('t.duty.endShift'),
              onclick: async () => {
                try {
                  const r = await api.revokeStation(s.id);
                  $('duty-result').textContent = t('t.duty.ended', { s: s.name, n: r.revoked });
                } catch (err) {
                  $('duty-result').textContent =
                    err instanceof ApiFailure ? errorText(err.code, err.message) : String(err);
                }
              },
            }),
          ),
        ),
      ),
    );
  } catch (err) {
    $('duty-result').textContent = err instanceof ApiFailure ? errorText(err.code, err.message) : String(err);
  }
}

async function loadKeyPeriod() {
  try {
    renderKeyPeriod(await api.keyPeriod());
  } catch {
    // the badge stays as it was
  }
}

applyI18n(document);
$('lang').textContent = getLang() === 'zh' ? 'English' : '中文';
$('lang').addEventListener('click', () => {
  setLang(getLang() === 'zh' ? 'en' : 'zh');
  location.reload();
});
$('logout').addEventListener('click', async () => {
  await api.logout().catch(() => undefined);
  location.assign('/login');
});
$('show-open').addEventListener('click', () => setMode('open'));
$('show-all').addEventListener('click', () => setMode('all'));
$('tickets-open').addEventListener('click', () => {
  setTicketMode('open');
  $('tickets-open').classList.add('active');
  $('tickets-all').classList.remove('active');
  void loadTickets();
});
$('tickets-all').addEventListener('click', () => {
  setTicketMode('all');
  $('tickets-all').classList.add('active');
  $('tickets-open').classList.remove('active');
  void loadTickets();
});
$('history-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void showHistory($('history-device').value.trim(), Number($('history-span').value));
});
$('stats-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void loadStats();
});
for (const b of document.querySelectorAll('.kp-switch .btn')) {
  b.addEventListener('click', async () => {
    try {
      renderKeyPeriod(await api.setKeyPeriod(b.dataset.mode));
    } catch (err) {
      $('kp-state').textContent = err instanceof ApiFailure ? errorText(err.code, err.message) : String(err);
    }
  });
}
/**
 * New devices' secrets arrive once, in the import's answer: shown, and offered as a CSV
 * file (id,secret) for provisioning. The page keeps them nowhere else.
 */
function showSecrets(out, secrets) {
  if (secrets === undefined || secrets.length === 0) return;
  out.textContent += `\n${t('t.import.secrets', { n: secrets.length })}\n${secrets.map((s) => `  ${s.id}: ${s.secret}`).join('\n')}`;
  const csv = `id,secret\r\n${secrets.map((s) => `${s.id},${s.secret}`).join('\r\n')}\r\n`;
  const href = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
  out.after(
    el('a', {
      class: 'btn btn-plain import-secrets',
      href,
      download: 'device-secrets.csv',
      text: t('t.import.secretsSave'),
    }),
  );
}

for (const form of document.querySelectorAll('.import-form')) {
  const kind = form.dataset.kind;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = $(`import-${kind}-file`).files?.[0];
    if (!file) return;
    const out = $(`import-${kind}-result`);
    out.hidden = false;
    for (const old of form.parentElement.querySelectorAll(`#import-${kind}-result + .import-secrets`))
      old.remove();
    try {
      const r = await api.importRegistry(kind, await file.text(), $(`import-${kind}-dry`).checked);
      out.textContent = t('t.import.ok', { n: r.valid, w: r.written });
      if (r.created !== undefined) out.textContent += ` · ${t('t.import.created', { n: r.created })}`;
      showSecrets(out, r.secrets);
    } catch (err) {
      const d = err instanceof ApiFailure ? err.data : null;
      out.textContent =
        d?.problems !== undefined
          ? `${t('t.import.bad', { n: d.problemCount })}\n${d.problems.map((p) => `  ${p.line}: ${p.message}`).join('\n')}`
          : err instanceof ApiFailure
            ? errorText(err.code, err.message)
            : String(err);
    }
  });
}
window.addEventListener('hashchange', () => void showTab());

try {
  const { user } = await api.me();
  $('user-name').textContent = user.displayName;
} catch {
  // 401 → login page (api.js)
}
try {
  const { stations } = await api.stations();
  for (const s of stations) stationNames.set(s.id, s.name);
} catch {
  // Station ids are shown instead of names.
}
void loadKeyPeriod();

live = connectLive('/api/live', {
  onOpen: () => {
    setConn(true);
    void reload();
  },
  onDown: () => {
    setConn(false);
    void api.me().catch(() => undefined); // 401 after a revoked session → login page
  },
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
  onTicket: (ticket) => {
    upsertTicket(ticket);
    if (document.body.dataset.tab === 'tickets') rerenderTickets();
  },
});
setInterval(tick, 1000);
render();
await showTab();
