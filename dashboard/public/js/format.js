// Formatting helpers shared by the consoles (Chinese conventions).

/** Metres → "850 米" or "1.2 公里". */
export function formatDistance(m) {
  if (m === null || m === undefined || Number.isNaN(m)) return '—';
  if (m < 1000) return `${Math.round(m)} 米`;
  return `${(m / 1000).toFixed(1)} 公里`;
}

const two = (n) => String(n).padStart(2, '0');

/** Epoch ms → "14:05:09" (today) or "11-22 14:05" (other days). */
export function formatTime(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const today = new Date(now);
  const hms = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  if (d.toDateString() === today.toDateString()) return hms;
  return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** Milliseconds left → "0:23"; negative → overdue by the same format. */
export function formatCountdown(msLeft) {
  const s = Math.ceil(Math.abs(msLeft) / 1000);
  return `${Math.floor(s / 60)}:${two(s % 60)}`;
}

/** Floor number → "3 层" / "地下 1 层". */
export function formatFloor(floor) {
  if (floor === null || floor === undefined) return '—';
  return floor < 0 ? `地下 ${-floor} 层` : `${floor} 层`;
}

/** Tiny DOM builder: el('div', { class: 'x', text: 'y' }, child...). Text only, never HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** Long spans: "2 天 3 小时", "5 小时 12 分", else the m:ss countdown. */
export function formatSpan(msLeft, lang = 'zh') {
  const s = Math.ceil(Math.abs(msLeft) / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (lang === 'en') {
    if (d > 0) return `${d} d ${h} h`;
    if (h > 0) return `${h} h ${m} min`;
  } else {
    if (d > 0) return `${d} 天 ${h} 小时`;
    if (h > 0) return `${h} 小时 ${m} 分`;
  }
  return formatCountdown(msLeft);
}
