// Station duty console (/station/:stationId). A new incident takes over the screen:
// red banner (yellow for faults), siren until this station accepts, the building
// card (address, floor, room, occupancy, contacts, distance, alarming devices,
// verification), countdowns to the accept and on-scene deadlines, a small map of
// station and building, and the buttons 接警 / 无法出警 → 出发 → 到场 → 结案.
// The station is the session's: actions carry no station id.
import { ApiFailure, api } from './api.js';
import { el, formatCountdown, formatDistance, formatFloor, formatTime } from './format.js';
import {
  ACTION,
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
import { Siren } from './siren.js';

const stationId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? '');
const $ = (id) => document.getElementById(id);

/** id → { incident, page, pending, pendingAt, error, declined } */
const items = new Map();
const stationNames = new Map();
const siren = new Siren();
let live = null;
let me = null;
let station = null;
/** Incident ids already announced by a system notification. */
const notified = new Set();
/** Closed incidents stay on screen this long, then leave. */
const KEEP_CLOSED_MS = 10 * 60 * 1000;
/** An action the alerts service has not confirmed within this time is shown as such. */
const PENDING_TIMEOUT_MS = 15_000;

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

/** Waiting for an answer from this station: takeover, banner and siren. */
function isAlerting(it) {
  const inc = it.incident;
  if (it.declined) return false;
  if (inc === null) return it.page !== null;
  if (inc.declined?.includes(stationId)) return false;
  return inc.state === 'paging' && inc.stationId === null && inc.pagedStations.includes(stationId);
}

/** Next steps this station may take, by state. */
function actionsFor(it) {
  const inc = it.incident;
  if (me?.role !== 'officer') return []; // operators watch; only a station acts
  if (inc === null) return it.page ? ['accept', 'decline'] : [];
  if (inc.state === 'closed') return [];
  if (inc.state === 'paging') return isAlerting(it) ? ['accept', 'decline'] : [];
  if (inc.stationId !== stationId) return [];
  if (inc.state === 'accepted') return ['en_route', 'on_scene'];
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

function laneClass(lane) {
  return lane === 'fire' ? 'fire' : 'hazard';
}

function devicesText(inc, page) {
  const list =
    inc?.devices ?? (page ? page.deviceIds.map((id) => ({ id, floor: page.floor, room: page.room })) : []);
  if (list.length === 0) return '—';
  const shown = list.slice(0, 6).map((d) => {
    const where = [d.floor !== null && d.floor !== undefined ? formatFloor(d.floor) : '', d.room ?? '']
      .filter(Boolean)
      .join(' ');
    return where ? `${d.id}（${where}）` : d.id;
  });
  const total = inc?.deviceIds?.length ?? list.length;
  return total > shown.length ? `${shown.join('、')} … ${total}` : shown.join('、');
}

function contactsNode(contacts) {
  if (!contacts || contacts.length === 0)
    return el('p', { class: 'contacts-none', text: t('fact.noContacts') });
  const ul = el('ul', { class: 'contacts' });
  for (const c of contacts) {
    ul.append(
      el(
        'li',
        {},
        el('span', { class: 'contact-name', text: `${c.name}${c.role ? `（${c.role}）` : ''}` }),
        ' ',
        el('a', { class: 'contact-phone', href: `tel:${c.phone}`, text: c.phone }),
      ),
    );
  }
  return ul;
}

/** A small offline map: station and building as points, no tiles (nothing external). */
function mapNode(b) {
  const node = el('div', { class: 'mini-map', 'aria-hidden': 'true' });
  if (!window.L || !b || !station) return null;
  requestAnimationFrame(() => {
    if (!node.isConnected) return;
    const map = window.L.map(node, {
      zoomControl: false,
      attributionControl: false,
      dragging: false,
      scrollWheelZoom: false,
      doubleClickZoom: false,
      boxZoom: false,
      keyboard: false,
      touchZoom: false,
    });
    const s = [station.lat, station.lon];
    const p = [b.lat, b.lon];
    window.L.polyline([s, p], { color: '#555', weight: 2, dashArray: '6 6' }).addTo(map);
    window.L.circleMarker(s, { radius: 8, color: '#0d47a1', fillColor: '#1e88e5', fillOpacity: 1 })
      .bindTooltip(station.name, {
        permanent: true,
        direction: 'top',
        offset: [0, -8],
        className: 'map-label',
      })
      .addTo(map);
    window.L.circleMarker(p, { radius: 10, color: '#8e0000', fillColor: '#e53935', fillOpacity: 1 })
      .bindTooltip(b.name, { permanent: true, direction: 'bottom', offset: [0, 10], className: 'map-label' })
      .addTo(map);
    map.fitBounds([s, p], { padding: [40, 40], maxZoom: 17 });
  });
  return node;
}

function renderCard(it, alerting) {
  const inc = it.incident;
  const page = it.page;
  const b = inc?.building ?? page?.building ?? null;
  const contacts = inc?.contacts?.length ? inc.contacts : (page?.building?.contacts ?? inc?.contacts ?? []);
  const lane = inc?.lane ?? page?.lane ?? 'fire';
  const state = inc?.state ?? 'paging';
  const verification = inc?.verification ?? page?.verification ?? 'unverified';
  const floor = inc?.firstFloor ?? page?.floor;
  const room = inc?.firstRoom ?? page?.room ?? '';
  const distance = inc?.distanceM ?? page?.distanceM ?? null;
  const acceptBy = inc?.acceptBy ?? page?.acceptBy ?? null;
  const onSceneBy = inc?.onSceneBy ?? null;
  const id = inc?.id ?? page?.incidentId;

  const card = el('article', {
    class: `card lane-${laneClass(lane)} state-${state}${alerting ? ' alerting' : ''}`,
    dataset: { incidentId: id, state },
  });
  card.append(
    el(
      'header',
      { class: 'card-head' },
      el('span', { class: 'lane-tag', text: label(LANE, lane) }),
      el('span', { class: `state-tag state-${state}`, text: label(STATE, state) }),
      el('span', { class: `verify-tag verify-${verification}`, text: label(VERIFICATION, verification) }),
    ),
    el('h3', { class: 'building-name', text: b?.name ?? `${t('building')} ${inc?.buildingId ?? ''}` }),
    el('p', { class: 'address', text: b?.address ?? t('addressUnknown') }),
  );
  if (state === 'paging' && acceptBy !== null && alerting) {
    card.append(
      el('p', {
        class: 'countdown countdown-accept',
        dataset: { deadline: String(acceptBy), kind: 'accept' },
      }),
    );
  }
  if (onSceneBy !== null && (state === 'accepted' || state === 'en_route')) {
    card.append(
      el('p', {
        class: 'countdown countdown-onscene',
        dataset: { deadline: String(onSceneBy), kind: 'onScene' },
      }),
    );
  }
  const body = el('div', { class: 'card-body' });
  const facts = el(
    'dl',
    { class: 'facts' },
    fact(t('fact.floor'), formatFloor(floor)),
    fact(t('fact.room'), room || '—'),
    fact(
      t('fact.occupancy'),
      b ? label(OCCUPANCY, b.occupancy) : '—',
      b?.occupancy === 'elderly_home' ? 'warn' : '',
    ),
    fact(t('fact.floors'), b ? String(b.floors) : '—'),
    fact(t('fact.distance'), formatDistance(distance)),
    fact(t('fact.alarmAt'), formatTime(inc?.receivedAt ?? page?.receivedAt)),
    fact(
      t('fact.verification'),
      label(VERIFICATION, verification),
      verification === 'confirmed' ? 'warn' : '',
    ),
    fact(t('fact.devices'), devicesText(inc, page), 'wide devices'),
  );
  const side = el(
    'div',
    { class: 'card-side' },
    el('h4', { text: t('fact.contacts') }),
    contactsNode(contacts),
  );
  const map = mapNode(b);
  if (map !== null) side.append(map);
  body.append(facts, side);
  card.append(body);

  if (inc !== null && inc.stationId !== null && inc.stationId !== stationId) {
    card.append(
      el('p', {
        class: 'other-station',
        text: t('acceptedBy', { s: stationNames.get(inc.stationId) ?? inc.stationId }),
      }),
    );
  }
  if (inc?.state === 'closed' && inc.disposition) {
    card.append(
      el('p', { class: 'disposition', text: t('dispositionIs', { d: label(DISPOSITION, inc.disposition) }) }),
    );
  }
  if ((it.declined || inc?.declined?.includes(stationId)) && state === 'paging') {
    card.append(el('p', { class: 'note', text: t('declinedNote') }));
  }

  const actions = actionsFor(it);
  if (actions.length > 0) {
    const bar = el('div', { class: 'actions' });
    for (const type of actions) {
      if (type === 'close') {
        const select = el('select', { class: 'disposition-select', 'aria-label': t('chooseDisposition') });
        select.append(el('option', { value: '', text: t('chooseDisposition') }));
        for (const [code, text] of Object.entries(DISPOSITION))
          select.append(el('option', { value: code, text }));
        const btn = el('button', {
          type: 'button',
          class: 'btn btn-close',
          text: ACTION.close,
          disabled: it.pending !== null,
          onclick: () => {
            if (select.value === '') {
              it.error = t('chooseDispositionFirst');
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
    card.append(el('p', { class: 'pending', text: t('pending', { a: ACTION[it.pending] }) }));
  if (it.error !== null) card.append(el('p', { class: 'error', role: 'alert', text: it.error }));
  return card;
}

function openedAt(it) {
  return it.incident?.openedAt ?? it.page?.receivedAt ?? 0;
}

function notify(it) {
  const id = it.incident?.id ?? it.page?.incidentId;
  if (notified.has(id)) return;
  notified.add(id);
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const b = it.incident?.building ?? it.page?.building;
  try {
    const n = new Notification(t('notification.title', { b: b?.name ?? id }), {
      body: b?.address ?? '',
      tag: id,
      requireInteraction: true,
    });
    n.onclick = () => window.focus();
  } catch {
    // Some browsers only allow notifications from a service worker: the takeover still shows.
  }
}

function render() {
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
  for (const it of alerting) notify(it);
  $('alerts').replaceChildren(...alerting.map((it) => renderCard(it, true)));
  $('incidents').replaceChildren(...rest.map((it) => renderCard(it, false)));
  const takeover = $('takeover');
  takeover.hidden = alerting.length === 0;
  const fire = alerting.some((it) => (it.incident?.lane ?? it.page?.lane ?? 'fire') === 'fire');
  takeover.classList.toggle('takeover-fire', fire);
  takeover.classList.toggle('takeover-hazard', !fire);
  $('takeover-banner').textContent =
    alerting.length === 0
      ? ''
      : `${t('newIncident')} ${alerting.map((it) => label(LANE, it.incident?.lane ?? it.page?.lane ?? 'fire')).join(' · ')}`;
  $('empty').hidden = alerting.length + rest.length > 0;
  $('active-count').textContent = rest.length > 0 ? `（${rest.length}）` : '';
  document.body.classList.toggle('has-alert', alerting.length > 0);
  document.body.dataset.alerting = String(alerting.length > 0);
  siren.set(alerting.length > 0);
  updateSoundBar();
  tick();
}

/** Countdowns and the clock, once a second (no re-render unless an action timed out). */
function tick() {
  const tNow = now();
  let expired = false;
  for (const it of items.values()) {
    if (it.pending !== null && Date.now() - it.pendingAt > PENDING_TIMEOUT_MS) {
      it.error = t('notConfirmed', { a: ACTION[it.pending] });
      it.pending = null;
      expired = true;
    }
  }
  if (expired) {
    render();
    return;
  }
  $('clock').textContent = formatTime(tNow, tNow);
  for (const node of document.querySelectorAll('.countdown')) {
    const left = Number(node.dataset.deadline) - tNow;
    const kind = node.dataset.kind;
    node.textContent =
      left >= 0
        ? t(kind === 'accept' ? 'acceptIn' : 'onSceneIn', { t: formatCountdown(left) })
        : t(kind === 'accept' ? 'acceptOverdue' : 'onSceneOverdue', { t: formatCountdown(left) });
    node.classList.toggle('overdue', left < 0);
  }
}

function updateSoundBar() {
  const bar = $('duty-bar');
  const on = siren.enabled;
  bar.classList.toggle('sound-off', !on);
  bar.classList.toggle('sound-on', on);
  document.body.dataset.sound = on ? 'on' : 'off';
  document.body.dataset.siren = siren.playing && on ? 'playing' : siren.playing ? 'blocked' : 'silent';
  const notifyOff = 'Notification' in window && Notification.permission !== 'granted';
  $('sound-notice').replaceChildren(
    on
      ? el(
          'span',
          {},
          t('duty.on'),
          notifyOff ? el('span', { class: 'notify-off', text: ` ${t('duty.notifyOff')}` }) : '',
        )
      : el('span', {}, el('strong', { text: t('duty.soundOff') }), t('duty.soundOffMore')),
  );
  $('start-duty').hidden = on;
  $('test-siren').hidden = !on;
}

async function reload() {
  try {
    const data = await api.stationIncidents(stationId, 'open', 100);
    $('station-name').textContent = `${data.station.name} · ${t('console.station')}`;
    document.title = `${data.station.name} · ${t('console.station')}`;
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
      `${t('console.loadFailed')}${err instanceof ApiFailure ? errorText(err.code, err.message) : err}`;
  }
  render();
}

async function loadStations() {
  try {
    const { stations } = await api.stations();
    for (const s of stations) {
      stationNames.set(s.id, s.name);
      if (s.id === stationId) station = s;
    }
  } catch {
    // Names are a nicety: ids are shown instead.
  }
}

function setConn(ok) {
  const c = $('conn');
  c.textContent = ok ? t('conn.up') : t('conn.down');
  c.classList.toggle('conn-up', ok);
  c.classList.toggle('conn-down', !ok);
}

applyI18n(document);
$('start-duty').textContent = t('duty.start');
$('test-siren').textContent = t('duty.test');
$('lang').textContent = getLang() === 'zh' ? 'English' : '中文';
$('end-shift').title = t('endShift.title');
$('lang').addEventListener('click', () => {
  setLang(getLang() === 'zh' ? 'en' : 'zh');
  location.reload();
});
$('start-duty').addEventListener('click', async () => {
  await siren.unlock();
  siren.test();
  try {
    if ('Notification' in window && Notification.permission === 'default')
      await Notification.requestPermission();
  } catch {
    // Denied or unsupported: the takeover and siren still work.
  }
  try {
    // Keep a duty screen awake where the browser allows it.
    await navigator.wakeLock?.request('screen');
  } catch {
    // Not available (no HTTPS, battery saver): the duty officer keeps the screen on.
  }
  updateSoundBar();
});
$('test-siren').addEventListener('click', () => siren.test());
$('logout').addEventListener('click', async () => {
  await api.logout().catch(() => undefined);
  location.assign('/login');
});
$('end-shift').addEventListener('click', async () => {
  if (!confirm(t('endShift.confirm'))) return;
  await api.revokeStation(stationId).catch(() => undefined);
  location.assign('/login');
});
siren.onChange(() => updateSoundBar());

try {
  ({ user: me } = await api.me());
  $('user-name').textContent = me.displayName;
  $('end-shift').hidden = me.role === 'officer' && me.stationId !== stationId;
} catch {
  // 401 sends the browser to the login page (api.js).
}
await loadStations();
live = connectLive(`/api/stations/${encodeURIComponent(stationId)}/live`, {
  onOpen: () => {
    setConn(true);
    void reload();
  },
  onDown: () => {
    setConn(false);
    // A revoked session (shift change) ends the stream: /me answers 401 and api.js
    // sends the browser to the login page.
    void api.me().catch(() => undefined);
  },
  onPage: (page) => {
    if (page.stationId !== stationId) return;
    const it = item(page.incidentId);
    it.page = page;
    it.declined = false;
    render();
  },
  onIncident: (inc) => {
    const it = item(inc.id);
    // The stream's incident has no distance and no contacts (both are per station): keep
    // ours, or fetch this station's view once when the incident arrives before its page.
    const known = it.incident?.contacts !== undefined || it.page !== null;
    const distanceM = inc.distanceM ?? it.incident?.distanceM ?? it.page?.distanceM ?? null;
    const contacts = inc.contacts ?? it.incident?.contacts ?? it.page?.building?.contacts;
    it.incident = { ...inc, distanceM, contacts };
    it.pending = null;
    render();
    if (!known) {
      api
        .incident(inc.id)
        .then(({ incident }) => {
          const cur = item(inc.id);
          if (cur.incident === null) return;
          cur.incident = {
            ...cur.incident,
            distanceM: incident.distanceM ?? cur.incident.distanceM,
            contacts: incident.contacts ?? [],
          };
          render();
        })
        .catch(() => undefined); // the page message brings the same facts
    }
  },
});
setInterval(tick, 1000);
render();
