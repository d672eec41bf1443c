// Station duty console (/station/:stationId): live incidents of this station, a red
// banner with sound for every incident still waiting for an answer, and the buttons
// that move an incident along (接警 → 出发 → 到场 → 结案).
import { ApiFailure, api } from './api.js';
import { el, formatCountdown, formatDistance, formatFloor, formatTime } from './format.js';
import { ACTION, DISPOSITION, errorText, LANE, label, OCCUPANCY, STATE, VERIFICATION } from './labels.js';
import { connectLive } from './live.js';
import { Siren } from './siren.js';

const stationId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? '');
const $ = (id) => document.getElementById(id);

/** id → { incident, page, pending, error, declined } */
const items = new Map();
const stationNames = new Map();
const siren = new Siren();
let live = null;
/** Closed incidents stay on screen this long, then leave. */
const KEEP_CLOSED_MS = 10 * 60 * 1000;

function now() {
  return live ? live.serverNow() : Date.now();
}

function item(id) {
  let it = items.get(id);
  if (it === undefined) {
    it = { incident: null, page: null, pending: null, pendingAt: 0, error: null, declined: false };
    items.set(id, it);
  }
  return it;
}

/** Waiting for an answer from this station: red banner and siren. */
function isAlerting(it) {
  const inc = it.incident;
  if (it.declined) return false;
  if (inc === null) return it.page !== null;
  return inc.state === 'paging' && inc.stationId === null && inc.pagedStations.includes(stationId);
}

/** Next steps this station may take, by state. */
function actionsFor(it) {
  const inc = it.incident;
  if (inc === null) return it.page ? ['accept', 'decline'] : [];
  if (inc.state === 'closed') return [];
  if (inc.state === 'paging') return it.declined ? [] : ['accept', 'decline'];
  if (inc.stationId !== stationId) return [];
  if (inc.state === 'accepted') return ['en_route'];
  if (inc.state === 'en_route') return ['on_scene'];
  if (inc.state === 'on_scene') return ['close'];
  return [];
}

async function act(id, type, extra = {}) {
  const it = item(id);
  it.pending = type;
  it.pendingAt = Date.now();
  it.error = null;
  render();
  try {
    await api.action(id, { type, ...extra });
    if (type === 'decline') it.declined = true;
    // The alerts service applies the action and the new state arrives on the stream.
  } catch (err) {
    it.pending = null;
    it.error = err instanceof ApiFailure ? errorText(err.code, err.message) : String(err);
  }
  render();
}

function fact(name, value, cls) {
  return el('div', { class: `fact ${cls ?? ''}` }, el('dt', { text: name }), el('dd', { text: value }));
}

function renderCard(it, alerting) {
  const inc = it.incident;
  const page = it.page;
  const b = inc?.building ?? page?.building ?? null;
  const lane = inc?.lane ?? page?.lane ?? 'fire';
  const state = inc?.state ?? 'paging';
  const verification = inc?.verification ?? page?.verification ?? 'unverified';
  const floor = inc?.firstFloor ?? page?.floor;
  const room = inc?.firstRoom ?? page?.room ?? '';
  const distance = inc?.distanceM ?? page?.distanceM ?? null;
  const acceptBy = inc?.acceptBy ?? page?.acceptBy ?? null;
  const id = inc?.id ?? page?.incidentId;

  const card = el('article', {
    class: `card lane-${lane === 'fire' ? 'fire' : 'hazard'} state-${state}${alerting ? ' alerting' : ''}`,
    dataset: { incidentId: id },
  });
  card.append(
    el(
      'header',
      { class: 'card-head' },
      el('span', { class: 'lane-tag', text: label(LANE, lane) }),
      el('span', { class: `state-tag state-${state}`, text: label(STATE, state) }),
      el('span', { class: `verify-tag verify-${verification}`, text: label(VERIFICATION, verification) }),
    ),
    el('h3', { class: 'building-name', text: b?.name ?? `楼栋 ${inc?.buildingId ?? ''}` }),
    el('p', { class: 'address', text: b?.address ?? '地址未知' }),
  );
  const facts = el(
    'dl',
    { class: 'facts' },
    fact('楼层', formatFloor(floor)),
    fact('房间', room || '—'),
    fact('场所类型', b ? label(OCCUPANCY, b.occupancy) : '—', b?.occupancy === 'elderly_home' ? 'warn' : ''),
    fact('距离', formatDistance(distance)),
    fact('报警时间', formatTime(inc?.receivedAt ?? page?.receivedAt)),
  );
  card.append(facts);

  if (state === 'paging' && acceptBy !== null && alerting) {
    card.append(el('p', { class: 'countdown', dataset: { acceptBy: String(acceptBy) } }));
  }
  if (inc !== null && inc.stationId !== null && inc.stationId !== stationId) {
    card.append(
      el('p', {
        class: 'other-station',
        text: `已由 ${stationNames.get(inc.stationId) ?? inc.stationId} 接警`,
      }),
    );
  }
  if (inc?.state === 'closed' && inc.disposition) {
    card.append(el('p', { class: 'disposition', text: `处置结果：${label(DISPOSITION, inc.disposition)}` }));
  }
  if (it.declined && state === 'paging') {
    card.append(el('p', { class: 'note', text: '本站已回复无法出警' }));
  }

  const actions = actionsFor(it);
  if (actions.length > 0) {
    const bar = el('div', { class: 'actions' });
    for (const type of actions) {
      if (type === 'close') {
        const select = el('select', { class: 'disposition-select', 'aria-label': '处置结果' });
        select.append(el('option', { value: '', text: '选择处置结果…' }));
        for (const [code, text] of Object.entries(DISPOSITION))
          select.append(el('option', { value: code, text }));
        const btn = el('button', {
          type: 'button',
          class: 'btn btn-close',
          text: ACTION.close,
          disabled: it.pending !== null,
          onclick: () => {
            if (select.value === '') {
              it.error = '请先选择处置结果';
              render();
              return;
            }
            void act(id, 'close', { disposition: select.value });
          },
        });
        bar.append(select, btn);
      } else {
        bar.append(
          el('button', {
            type: 'button',
            class: `btn btn-${type}`,
            text: ACTION[type],
            disabled: it.pending !== null,
            onclick: () => void act(id, type),
          }),
        );
      }
    }
    card.append(bar);
  }
  if (it.pending !== null)
    card.append(el('p', { class: 'pending', text: `已提交“${ACTION[it.pending]}”，等待确认…` }));
  if (it.error !== null) card.append(el('p', { class: 'error', role: 'alert', text: it.error }));
  return card;
}

function openedAt(it) {
  return it.incident?.openedAt ?? it.page?.receivedAt ?? 0;
}

function render() {
  const alerts = $('alerts');
  const list = $('incidents');
  const alerting = [];
  const rest = [];
  const cutoff = now() - KEEP_CLOSED_MS;
  for (const [id, it] of items) {
    if (it.incident?.state === 'closed' && (it.incident.closedAt ?? 0) < cutoff) {
      items.delete(id);
      continue;
    }
    (isAlerting(it) ? alerting : rest).push(it);
  }
  alerting.sort((a, b) => openedAt(b) - openedAt(a));
  rest.sort((a, b) => openedAt(b) - openedAt(a));
  alerts.replaceChildren(...alerting.map((it) => renderCard(it, true)));
  list.replaceChildren(...rest.map((it) => renderCard(it, false)));
  $('empty').hidden = alerting.length + rest.length > 0;
  $('active-count').textContent = rest.length > 0 ? `（${rest.length}）` : '';
  document.body.classList.toggle('has-alert', alerting.length > 0);
  siren.set(alerting.length > 0);
  updateSoundBar();
  tick();
}

/** An action the alerts service has not confirmed within this time is shown as such. */
const PENDING_TIMEOUT_MS = 15_000;

/** Countdowns and the clock, once a second (no re-render unless an action timed out). */
function tick() {
  const t = now();
  let expired = false;
  for (const it of items.values()) {
    if (it.pending !== null && Date.now() - it.pendingAt > PENDING_TIMEOUT_MS) {
      it.error = `“${ACTION[it.pending]}”未得到确认，请重试或电话联系消防所`;
      it.pending = null;
      expired = true;
    }
  }
  if (expired) {
    render();
    return;
  }
  $('clock').textContent = formatTime(t, t);
  for (const node of document.querySelectorAll('.countdown')) {
    const left = Number(node.dataset.acceptBy) - t;
    node.textContent =
      left >= 0 ? `请在 ${formatCountdown(left)} 内接警` : `接警已超时 ${formatCountdown(left)}`;
    node.classList.toggle('overdue', left < 0);
  }
}

function updateSoundBar() {
  const bar = $('duty-bar');
  const on = siren.enabled;
  bar.classList.toggle('sound-off', !on);
  bar.classList.toggle('sound-on', on);
  $('sound-notice').replaceChildren(
    on
      ? el('span', { text: '值班中 · 声音已开启' })
      : el('span', {}, el('strong', { text: '声音未开启！' }), '新警情不会响铃。请点击“开始值班”。'),
  );
  $('start-duty').hidden = on;
  $('test-siren').hidden = !on;
}

async function reload() {
  try {
    const data = await api.stationIncidents(stationId, 'open', 100);
    $('station-name').textContent = `${data.station.name} · 值班台`;
    document.title = `${data.station.name} · 值班台`;
    const seen = new Set();
    for (const inc of data.incidents) {
      seen.add(inc.id);
      const it = item(inc.id);
      it.incident = inc;
      if (it.pending !== null) it.pending = null;
    }
    // Open incidents that left the open list while we were away were closed elsewhere.
    for (const [id, it] of items) {
      if (!seen.has(id) && it.incident !== null && it.incident.state !== 'closed') items.delete(id);
    }
    $('load-error').hidden = true;
  } catch (err) {
    $('load-error').hidden = false;
    $('load-error').textContent =
      `加载警情失败：${err instanceof ApiFailure ? errorText(err.code, err.message) : err}`;
  }
  render();
}

async function loadStations() {
  try {
    const { stations } = await api.stations();
    for (const s of stations) stationNames.set(s.id, s.name);
  } catch {
    // Names are a nicety: ids are shown instead.
  }
}

function setConn(ok) {
  const c = $('conn');
  c.textContent = ok ? '实时连接正常' : '连接断开，正在重连…';
  c.classList.toggle('conn-up', ok);
  c.classList.toggle('conn-down', !ok);
}

$('start-duty').addEventListener('click', async () => {
  await siren.unlock();
  siren.test();
  try {
    // Keep a duty screen awake where the browser allows it.
    await navigator.wakeLock?.request('screen');
  } catch {
    // Not available (no HTTPS, battery saver): the duty officer keeps the screen on.
  }
  updateSoundBar();
});
$('test-siren').addEventListener('click', () => siren.test());
siren.onChange(() => updateSoundBar());

await loadStations();
live = connectLive(`/api/stations/${encodeURIComponent(stationId)}/live`, {
  onOpen: () => {
    setConn(true);
    void reload();
  },
  onDown: () => setConn(false),
  onPage: (page) => {
    if (page.stationId !== stationId) return;
    const it = item(page.incidentId);
    it.page = page;
    it.declined = false;
    render();
  },
  onIncident: (inc) => {
    const it = item(inc.id);
    // The stream's incident has no distance (it is per station): keep the one we have.
    const distanceM = inc.distanceM ?? it.incident?.distanceM ?? it.page?.distanceM ?? null;
    it.incident = { ...inc, distanceM };
    it.pending = null;
    render();
  },
});
setInterval(tick, 1000);
render();
