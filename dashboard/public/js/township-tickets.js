// Hazard tickets (隐患工单): owner, deadline, evidence, closed-loop states, listed
// supervision (挂牌督办). Actions are queued for alerts, which publishes the new
// ticket on the live stream.
import { ApiFailure, api } from './api.js';
import { el, formatSpan, formatTime } from './format.js';
import { errorText, getLang, LANE, label, t } from './labels.js';
import { EVENT_CAUSE, TICKET_STATE } from './township-labels.js';

const tickets = new Map();
const pending = new Map();
let mode = 'open';

export function setTicketMode(m) {
  mode = m;
}

export function ticketMode() {
  return mode;
}

export function replaceTickets(list) {
  tickets.clear();
  for (const tk of list) tickets.set(tk.id, tk);
}

export function upsertTicket(tk) {
  const old = tickets.get(tk.id);
  tickets.set(tk.id, { ...tk, building: tk.building ?? old?.building ?? null });
  pending.delete(tk.id);
}

export function openTicketCount() {
  let n = 0;
  for (const tk of tickets.values()) if (tk.state !== 'closed') n++;
  return n;
}

async function act(tk, body, render) {
  pending.set(tk.id, { text: t('t.ticket.sent'), error: false });
  render();
  try {
    await api.ticketAction(tk.id, body);
  } catch (err) {
    pending.set(tk.id, {
      text: err instanceof ApiFailure ? errorText(err.code, err.message) : String(err),
      error: true,
    });
  }
  render();
}

function card(tk, now, render) {
  const states = TICKET_STATE[getLang()] ?? TICKET_STATE.zh;
  const left = tk.deadline - now;
  const overdue = tk.state !== 'closed' && (left < 0 || tk.overdueAt !== null);
  const node = el('article', {
    class: `card ticket lane-hazard ticket-${tk.state}${overdue ? ' overdue' : ''}${tk.supervised ? ' supervised' : ''}`,
    dataset: { ticketId: tk.id, state: tk.state },
  });
  node.append(
    el(
      'header',
      { class: 'card-head' },
      el('span', { class: 'lane-tag', text: label(LANE, tk.lane) }),
      el('span', { class: `state-tag ticket-state-${tk.state}`, text: states[tk.state] ?? tk.state }),
      tk.supervised ? el('span', { class: 'supervised-tag', text: t('t.ticket.supervised') }) : null,
      el('span', { class: 'ticket-id', text: tk.id }),
    ),
    el('h3', { class: 'building-name', text: tk.building?.name ?? tk.buildingId }),
    el('p', { class: 'address', text: tk.building?.address ?? '' }),
  );
  const facts = el(
    'dl',
    { class: 'facts' },
    el(
      'div',
      { class: 'fact' },
      el('dt', { text: t('t.ticket.cause') }),
      el('dd', {
        text: (Object.keys(tk.causes).length > 0 ? Object.keys(tk.causes) : [tk.cause])
          .map((c) => label(EVENT_CAUSE[getLang()] ?? EVENT_CAUSE.zh, c))
          .join('、'),
      }),
    ),
    el(
      'div',
      { class: 'fact' },
      el('dt', { text: t('t.ticket.owner') }),
      el('dd', { class: 'owner', text: tk.ownerId ?? t('t.ticket.noOwner') }),
    ),
    el(
      'div',
      { class: `fact ${overdue ? 'warn' : ''}` },
      el('dt', { text: t('t.ticket.deadline') }),
      el('dd', {
        text:
          tk.state === 'closed'
            ? formatTime(tk.deadline, now)
            : `${formatTime(tk.deadline, now)} · ${overdue ? t('t.ticket.overdue') : t('t.ticket.left', { t: formatSpan(left, getLang()) })}`,
      }),
    ),
    el(
      'div',
      { class: 'fact' },
      el('dt', { text: '' }),
      el('dd', {
        text: `${t('t.ticket.events', { n: tk.eventCount })} · ${t('t.ticket.repeat', { n: tk.repeatCount })}`,
      }),
    ),
  );
  node.append(facts);
  if (tk.evidence)
    node.append(el('p', { class: 'evidence', text: `${t('t.ticket.evidence')}：${tk.evidence.text}` }));
  if (tk.state !== 'closed') {
    const bar = el('div', { class: 'actions ticket-actions' });
    const owner = el('input', {
      class: 'owner-input',
      placeholder: t('t.ticket.ownerPlaceholder'),
      'aria-label': t('t.ticket.owner'),
    });
    bar.append(
      owner,
      el('button', {
        type: 'button',
        class: 'btn btn-plain btn-assign',
        text: t('t.ticket.assign'),
        onclick: () =>
          owner.value.trim() && void act(tk, { type: 'assign', ownerId: owner.value.trim() }, render),
      }),
    );
    if (tk.state === 'open' || tk.state === 'assigned') {
      bar.append(
        el('button', {
          type: 'button',
          class: 'btn btn-plain btn-rectify',
          text: t('t.ticket.start'),
          onclick: () => void act(tk, { type: 'start_rectifying' }, render),
        }),
      );
    }
    if (!tk.supervised) {
      bar.append(
        el('button', {
          type: 'button',
          class: 'btn btn-plain btn-supervise',
          text: t('t.ticket.supervise'),
          onclick: () => void act(tk, { type: 'supervise' }, render),
        }),
      );
    }
    const evidence = el('input', {
      class: 'evidence-input',
      placeholder: t('t.ticket.evidencePlaceholder'),
      'aria-label': t('t.ticket.evidence'),
    });
    bar.append(
      evidence,
      el('button', {
        type: 'button',
        class: 'btn btn-close btn-ticket-close',
        text: t('t.ticket.close'),
        onclick: () =>
          evidence.value.trim() &&
          void act(tk, { type: 'close', evidence: { text: evidence.value.trim() } }, render),
      }),
    );
    node.append(bar);
  }
  const p = pending.get(tk.id);
  if (p) node.append(el('p', { class: p.error ? 'error' : 'pending', text: p.text }));
  return node;
}

export function renderTickets(render) {
  const now = Date.now();
  const list = [...tickets.values()].filter((tk) => mode === 'all' || tk.state !== 'closed');
  // Supervised and overdue first, then by deadline.
  list.sort((a, b) => Number(b.supervised) - Number(a.supervised) || a.deadline - b.deadline);
  document.getElementById('ticket-list').replaceChildren(...list.map((tk) => card(tk, now, render)));
  document.getElementById('tickets-empty').hidden = list.length > 0;
}
