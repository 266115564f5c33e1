// The webhook test bed: plain DOM and fetch, no framework, no build step. Every value from the
// registry or a consumer is put in with textContent (a response body is untrusted text).
'use strict';

const ACTIONS = ['push', 'pull', 'delete', 'mount', 'ping'];
const MAX_EVENTS = 300;
const state = { endpoints: [], selected: null, events: [], inboxSeq: new Map(), open: new Set(), delivered: new Map() };

const $ = (sel) => document.querySelector(sel);

/** Builds an element: el('td', {class: 'x'}, 'text', child). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

async function api(path, init = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...init });
  const text = await res.text();
  const body = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(body?.errors?.[0] ? `${body.errors[0].code}: ${body.errors[0].message}` : `${res.status} ${res.statusText}`);
  return body;
}

const postJson = (path, body) => api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });

function say(id, text, error = false) {
  const p = $(id);
  p.textContent = text;
  p.classList.toggle('error', error);
}

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');
const enc = encodeURIComponent;

// ---- endpoints -------------------------------------------------------------------------------

async function refreshEndpoints() {
  try {
    state.endpoints = (await api('/notifications/endpoints')).endpoints;
  } catch (err) {
    return say('#endpoint-message', err.message, true);
  }
  const body = $('#endpoints tbody');
  body.replaceChildren(...state.endpoints.map((e) => el('tr', {
    'data-endpoint': e.name,
    class: e.name === state.selected ? 'selected' : null,
    onclick: () => select(e.name),
  },
    el('td', {}, el('strong', {}, e.name)),
    el('td', {}, e.inbox ? 'inbox' : (e.source ?? 'config')),
    el('td', { class: 'target', title: e.url ?? '' }, e.url ?? '(removed)'),
    el('td', {}, el('span', { class: `state ${e.disabled ? 'bad' : 'up'}` }, e.disabled ? `disabled${e.disabledReason ? `: ${e.disabledReason}` : ''}` : e.failingSince ? 'failing' : 'healthy')),
    el('td', { class: 'pending' }, e.pending),
    el('td', { class: 'delivered' }, e.delivered),
    el('td', {}, e.deadLetters),
    el('td', {}, e.lastStatus ?? '–'),
    el('td', {}, el('button', { class: 'quiet', type: 'button', onclick: () => select(e.name) }, 'Deliveries')),
  )));
  renderInboxes();
}

function select(name) {
  state.selected = name;
  $('#endpoint-detail').hidden = false;
  $('#detail-name').textContent = name;
  say('#detail-message', '');
  void refreshEndpoints();
  void refreshDeliveries();
}

async function refreshDeliveries() {
  const name = state.selected;
  if (!name) return;
  let list;
  try {
    list = (await api(`/notifications/endpoints/${enc(name)}/deliveries?limit=20`)).deliveries;
  } catch (err) {
    return say('#detail-message', err.message, true);
  }
  if (name !== state.selected) return;
  $('#deliveries tbody').replaceChildren(...list.map((d) => el('tr', { class: 'delivery', 'data-status': d.status ?? 'none' },
    el('td', {}, time(d.at)),
    el('td', {}, el('code', {}, d.eventIds.map((id) => id.slice(0, 8)).join(' '))),
    el('td', { class: d.status >= 200 && d.status < 300 ? 'ok' : 'bad' }, d.status ?? d.error ?? 'no answer'),
    el('td', {}, `${Math.round(d.latencyMs)} ms`),
    el('td', { class: 'response', title: d.response ?? '' }, d.response ?? ''),
    el('td', {}, d.eventIds.length && d.eventIds[0] !== 'ping' ? el('button', { class: 'quiet redeliver', type: 'button', onclick: () => redeliver(name, d.eventIds) }, 'Redeliver') : null),
  )));
}

async function redeliver(name, ids) {
  try {
    for (const id of ids) await api(`/notifications/endpoints/${enc(name)}/deliveries/${enc(id)}/redeliver`, { method: 'POST' });
    say('#detail-message', `queued ${ids.length} event(s) again for ${name}`);
  } catch (err) {
    say('#detail-message', err.message, true);
  }
}

$('#ping').addEventListener('click', async () => {
  try {
    const r = await api(`/notifications/endpoints/${enc(state.selected)}/ping`, { method: 'POST' });
    say('#detail-message', `test event ${r.event}: ${r.status ?? r.error} in ${Math.round(r.latencyMs)} ms`, r.status === null || r.status >= 300);
    void refreshDeliveries();
  } catch (err) {
    say('#detail-message', err.message, true);
  }
});

$('#replay-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const iso = (v) => (v ? new Date(v).toISOString() : undefined);
  try {
    const r = await postJson(`/notifications/endpoints/${enc(state.selected)}/replay`, { since: iso(f.get('since')), until: iso(f.get('until')) });
    say('#detail-message', `replaying ${r.queued} event(s) from ${time(r.since)} to ${time(r.until)}`);
  } catch (err) {
    say('#detail-message', err.message, true);
  }
});

$('#create-inbox').addEventListener('click', async () => {
  const name = `inbox-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await postJson('/notifications/endpoints', { name, inbox: true });
    say('#endpoint-message', `created ${name}: every event now goes to it too`);
    await refreshEndpoints();
  } catch (err) {
    say('#endpoint-message', err.message, true);
  }
});

$('#endpoint-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  let extra = {};
  try {
    extra = f.get('extra') ? JSON.parse(String(f.get('extra'))) : {};
    await postJson('/notifications/endpoints', { ...extra, name: f.get('name'), url: f.get('url') });
    say('#endpoint-message', `added ${f.get('name')}`);
    e.target.reset();
    await refreshEndpoints();
  } catch (err) {
    say('#endpoint-message', err.message, true);
  }
});

// ---- live events -----------------------------------------------------------------------------

function addEvents(events) {
  const known = new Set(state.events.map((e) => e.id));
  for (const e of events) if (!known.has(e.id)) state.events.unshift(e);
  state.events.sort((a, b) => b.timestamp.localeCompare(a.timestamp));
  state.events.length = Math.min(state.events.length, MAX_EVENTS);
  renderEvents();
}

function renderEvents() {
  const f = new FormData($('#filter'));
  const repo = String(f.get('repository') ?? '').trim();
  const action = String(f.get('action') ?? '');
  const shown = state.events.filter((e) => (!repo || e.target.repository.includes(repo)) && (!action || e.action === action));
  $('#events').replaceChildren(...shown.map((e) => {
    const detail = el('div', { class: 'detail', hidden: !state.open.has(e.id) }, el('pre', {}, JSON.stringify(e, null, 2)), asReceived(e.id));
    const ref = e.target.tag ? `:${e.target.tag}` : e.target.digest ? `@${e.target.digest.slice(0, 19)}` : '';
    const toggle = () => {
      detail.hidden = !detail.hidden;
      if (detail.hidden) state.open.delete(e.id);
      else state.open.add(e.id);
    };
    return el('li', { class: 'event', 'data-action': e.action, 'data-id': e.id },
      el('div', { class: 'summary', onclick: toggle },
        el('span', { class: 'muted' }, time(e.timestamp)),
        el('span', { class: `action ${e.action}` }, e.action),
        el('span', {}, `${e.target.repository}${ref}`),
        el('span', { class: 'muted' }, e.target.mediaType ?? ''),
        el('span', { class: 'muted' }, e.actor.name ? `by ${e.actor.name}` : e.actor.internal ? `by the registry (${e.actor.internal})` : '')),
      detail);
  }));
}

/** The request an inbox got with this event in it: the headers and signature an endpoint receives. */
function asReceived(eventId) {
  const got = state.delivered.get(eventId);
  if (!got) return el('p', { class: 'muted' }, 'As an endpoint receives it: create an inbox, and the next events show here with the exact request, headers and signature.');
  const headers = Object.entries(got.request.headers).map(([k, v]) => `${k}: ${v}`).join('\n');
  return el('div', { class: 'received' },
    el('p', { class: 'muted' }, `As ${got.inbox} received it (#${got.request.seq}), `, el('span', { class: `signature ${got.request.signature.valid ? 'ok' : 'bad'}` }, got.request.signature.valid ? '✓ signature verified' : `✗ ${got.request.signature.detail}`)),
    el('pre', {}, headers));
}

/** The event ids a delivery carried: an envelope's events, or a CloudEvent's id. */
function eventIdsOf(request) {
  if (request.headers['ce-id']) return [request.headers['ce-id']];
  try {
    const body = JSON.parse(request.body);
    return Array.isArray(body.events) ? body.events.map((e) => e.id) : body.id ? [body.id] : [];
  } catch {
    return [];
  }
}

$('#filter').addEventListener('input', renderEvents);

async function startLive() {
  try {
    const since = new Date(Date.now() - 3600_000).toISOString();
    addEvents((await api(`/notifications/events?since=${enc(since)}&limit=${MAX_EVENTS}`)).events);
  } catch (err) {
    $('#live-state').textContent = err.message;
  }
  const source = new EventSource('/ui/events/stream');
  source.addEventListener('open', () => { $('#live-state').textContent = 'live'; $('#live-state').className = 'state up'; });
  source.addEventListener('error', () => { $('#live-state').textContent = 'reconnecting'; $('#live-state').className = 'state bad'; });
  source.addEventListener('registry-event', (m) => addEvents([JSON.parse(m.data)]));
}

// ---- inboxes ---------------------------------------------------------------------------------

function renderInboxes() {
  const box = $('#inboxes');
  const names = state.endpoints.filter((e) => e.inbox).map((e) => e.name);
  for (const node of [...box.children]) if (!names.includes(node.dataset.inbox)) node.remove();
  for (const name of names) {
    if (box.querySelector(`[data-inbox="${CSS.escape(name)}"]`)) continue;
    box.append(el('div', { class: 'inbox', 'data-inbox': name }, el('h3', {}, name, ' ', el('code', {}, `/ui/inbox/${name}`)), el('ul')));
  }
}

async function refreshInboxes() {
  for (const node of document.querySelectorAll('.inbox')) {
    const name = node.dataset.inbox;
    const after = state.inboxSeq.get(name) ?? 0;
    let requests;
    try {
      requests = (await api(`/ui/inbox/${enc(name)}/requests?after=${after}`)).requests;
    } catch {
      continue;
    }
    for (const r of requests) {
      state.inboxSeq.set(name, r.seq);
      for (const id of eventIdsOf(r)) state.delivered.set(id, { inbox: name, request: r });
      const headers = Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join('\n');
      const detail = el('pre', { hidden: true }, `${r.method} /ui/inbox/${name}\n${headers}\n\n${r.body}`);
      node.querySelector('ul').prepend(el('li', { class: 'request', 'data-seq': r.seq },
        el('div', { class: 'summary', onclick: () => { detail.hidden = !detail.hidden; } },
          el('span', { class: 'muted' }, `#${r.seq} ${time(r.at)}`),
          el('span', {}, `${r.method} ${r.bytes} bytes ${r.headers['content-type'] ?? ''}`),
          el('span', { class: `signature ${r.signature.valid ? 'ok' : 'bad'}`, title: r.signature.detail }, r.signature.valid ? '✓ signature verified' : `✗ ${r.signature.detail}`)),
        detail));
    }
    if (requests.length > 0) renderEvents();
  }
}

// ---- import ----------------------------------------------------------------------------------

$('#import-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  say('#import-message', 'uploading…');
  try {
    const r = await api('/ui/import', { method: 'POST', body: new FormData(e.target) });
    say('#import-message', `imported ${r.repository}:${r.tag} (${r.digest})`);
  } catch (err) {
    say('#import-message', err.message, true);
  }
});

// ---- start -----------------------------------------------------------------------------------

$('#examples').append(...ACTIONS.map((a) => el('a', { href: `/notifications/schema/examples/${a}.json`, download: `${a}.json` }, a)));
void refreshEndpoints();
void startLive();
setInterval(() => void refreshEndpoints(), 2000);
setInterval(() => void refreshDeliveries(), 1500);
setInterval(() => void refreshInboxes(), 1000);
