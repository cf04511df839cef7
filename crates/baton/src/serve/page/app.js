// The page of `baton serve`: reads /api/state when /api/events says the store changed,
// draws it (plots as inline SVG), and posts actions to /api/action. No framework, no build.
'use strict';

// The token comes in the URL baton serve printed: it is kept in this tab's sessionStorage and
// taken out of the address bar (a screenshot or a shared link does not carry it); a reload in
// the tab finds it there. Without storage it stays in the URL (a reload must still work).
const token = (() => {
  const q = new URLSearchParams(location.search);
  const given = q.get('token');
  let kept = null;
  try {
    if (given) sessionStorage.setItem('baton-token', given);
    kept = sessionStorage.getItem('baton-token');
  } catch (e) { kept = null; }
  if (given && kept === given) {
    q.delete('token');
    const rest = q.toString();
    history.replaceState(history.state, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }
  return given || kept;
})();
const $ = (id) => document.getElementById(id);
let state = null;
let clockSkew = 0; // server now_ms minus local time
let filter = 'all';
const PAGE = 200; // tasks asked for at a time
let shown = PAGE;
let screenAgent = null;
let screenTimer = null;

// ---- HTTP ----------------------------------------------------------------------------

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token) h['X-Baton-Token'] = token;
  return h;
}

// A read that gets no answer within 8 s is given up (and said), never left hanging.
async function getJson(path) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 8000);
  let r;
  try {
    r = await fetch(path, { headers: headers(), cache: 'no-store', signal: ctl.signal });
  } catch (e) {
    throw new Error(path + ': ' + (e.name === 'AbortError' ? 'no answer in 8 s' : e.message));
  } finally {
    clearTimeout(timer);
  }
  if (r.status === 401) throw new Error('refused: open the URL baton serve printed (it carries the token)');
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return r.json();
}

async function act(body) {
  say('…');
  try {
    const r = await fetch('/api/action', {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify(body),
    });
    let v = {};
    try { v = await r.json(); } catch (e) { v = {}; }
    if (r.ok && v.ok !== false) say(v.message || 'done');
    else say(v.error || ('refused: ' + r.status), true);
    refresh();
    return v;
  } catch (e) {
    say('could not reach baton serve: ' + e.message, true);
    refresh();
    return {};
  }
}

// `kind` 'state' marks a failed read of the state: the next good read clears it (an
// action's answer stays until the next one).
function say(text, bad, kind) {
  const m = $('message');
  m.textContent = text;
  m.classList.toggle('bad', !!bad);
  m.dataset.kind = kind || '';
}

// ---- Small DOM helpers ---------------------------------------------------------------

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, v);
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

// A value as text: '' for null or undefined, never the words.
function txt(v) { return v === null || v === undefined ? '' : String(v); }

function button(label, onclick, attrs) {
  return el('button', Object.assign({ type: 'button', onclick }, attrs || {}), label);
}

// The element with this data-key, else the one its data-near names (a task's ID when its
// action button is gone with the status that offered it).
function byKey(key, near, within) {
  const find = (k) => (k ? (within || document).querySelector('[data-key="' + CSS.escape(k) + '"]') : null);
  return find(key) || find(near);
}

// Replaces a list's children, keeping keyboard focus on the element with the same data-key.
function replace(parent, kids) {
  const a = document.activeElement;
  const inside = a && parent.contains(a);
  const key = inside ? a.dataset.key : null;
  const near = inside ? a.dataset.near : null;
  // (replaceChildren would write a null as the text "null")
  parent.replaceChildren(...kids.filter((k) => k !== null && k !== undefined));
  if (key) {
    const again = byKey(key, near, parent);
    if (again) again.focus();
  }
}

function now() { return Date.now() + clockSkew; }

function ago(ms) {
  if (ms === null || ms === undefined) return '';
  let s = Math.max(0, Math.round((now() - ms) / 1000));
  if (s < 60) return s + 's';
  let m = Math.floor(s / 60);
  if (m < 60) return m + 'm';
  const h = Math.floor(m / 60);
  m %= 60;
  if (h < 48) return h + 'h' + (m ? ' ' + m + 'm' : '');
  return Math.floor(h / 24) + 'd';
}

function clock(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

function hm(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
}

// ---- Dialogs -------------------------------------------------------------------------

// Asks for one value: text (a reason, a message) or a choice; resolves null on cancel.
function ask(title, about, label, opts) {
  opts = opts || {};
  // Focus goes back to what opened the dialog (found again by its data-key if a redraw
  // replaced it), whichever way the dialog ends.
  const opener = document.activeElement;
  const key = opener && opener.dataset ? opener.dataset.key : null;
  const near = opener && opener.dataset ? opener.dataset.near : null;
  const back = () => {
    const b = opener && opener.isConnected && opener !== document.body ? opener : byKey(key, near);
    if (b) b.focus();
  };
  return new Promise((resolve) => {
    const d = $('ask');
    $('ask-h').textContent = title;
    $('ask-about').textContent = about || '';
    $('ask-label').textContent = label;
    const text = $('ask-text');
    const sel = $('ask-select');
    text.value = opts.value || '';
    text.hidden = !!opts.choices;
    $('ask-hint').hidden = !!opts.choices;
    sel.hidden = !opts.choices;
    $('ask-label').htmlFor = opts.choices ? 'ask-select' : 'ask-text';
    if (opts.choices) sel.replaceChildren(...opts.choices.map((c) => el('option', { value: c }, c)));
    $('ask-ok').textContent = opts.ok || 'OK';
    const done = (v) => {
      d.removeEventListener('close', onClose);
      $('ask-cancel').onclick = null;
      $('ask-form').onsubmit = null;
      if (d.open) d.close();
      back();
      resolve(v);
    };
    const onClose = () => done(null);
    d.addEventListener('close', onClose);
    $('ask-cancel').onclick = () => done(null);
    $('ask-form').onsubmit = (ev) => {
      ev.preventDefault();
      const v = opts.choices ? sel.value : text.value.trim();
      if (!opts.choices && !v && !opts.optional) { text.focus(); return; }
      done(v);
    };
    d.showModal();
    (opts.choices ? sel : text).focus();
  });
}

async function taskAction(action, t) {
  const body = { action, task: t.id };
  // `done` confirms a task that ended UNREPORTED (its work is there; the agent did not say).
  if (action === 'done') { act(body); return; }
  if (action === 'block') {
    const r = await ask('Block ' + t.id, t.title, 'Why is it blocked?', { ok: 'Block' });
    if (r === null) return;
    body.reason = r;
  } else if (action === 'reopen') {
    const r = await ask('Reopen ' + t.id, t.title, 'What is still wrong?', { ok: 'Reopen' });
    if (r === null) return;
    body.reason = r;
  } else if (action === 'reassign') {
    const names = (state.agents || []).map((a) => a.name).filter((n) => n !== t.assignee);
    const r = await ask('Reassign ' + t.id, t.title, 'To agent', { choices: names, ok: 'Reassign' });
    if (r === null) return;
    body.to = r;
    body.agent = r;
  } else if (action === 'cancel') {
    const r = await ask('Cancel ' + t.id, t.title, 'Reason (optional)', { ok: 'Cancel task', optional: true });
    if (r === null) return;
    if (r) body.reason = r;
  }
  act(body);
}

async function sendTo(agent) {
  const r = await ask('Message ' + agent, 'Typed into its pane and checked, like baton send.', 'Message', { ok: 'Send' });
  if (r === null) return;
  const v = await act({ action: 'send', agent, text: r });
  // Refused because the agent is busy: the person may have it typed in anyway.
  if (!v.forceable) return;
  const again = await ask('Send anyway?', v.error, 'Type it into ' + agent + "'s pane now", { choices: ['yes, while it works'], ok: 'Send anyway' });
  if (again === null) return;
  act({ action: 'send', agent, text: r, force: true });
}

// ---- Rendering -----------------------------------------------------------------------

// baton-core's bands (the words `baton watch` shows, readable without colour).
const BAND_LABEL = { ok: 'ok', attention: 'attn', high: 'high', critical: 'CRIT', alert: 'ALERT', reset: 'reset' };

function quotaBar(q, label) {
  if (!q) return el('div', { class: 'quota none' }, el('span', { class: 'ql' }, label), el('span', { class: 'qv' }, 'no reading'));
  // A window whose reset time has passed shows as reset, not its old percentage.
  const pct = q.reset ? 0 : Math.max(0, Math.min(100, Number(q.used_percent) || 0));
  const band = q.reset ? 'reset' : (q.band || 'ok');
  const fill = el('span', { class: 'fill band-' + band });
  fill.style.width = pct + '%';
  const reset = q.resets_at_ms && !q.reset ? el('span', { class: 'qr' }, 'resets ' + hm(q.resets_at_ms)) : null;
  return el('div', { class: 'quota' },
    el('span', { class: 'ql' }, label),
    el('span', { class: 'track', role: 'img', 'aria-label': label + ' ' + Math.round(pct) + ' percent, ' + band }, fill),
    el('span', { class: 'qv' }, Math.round(pct) + '% ', el('b', { class: 'bandname band-t-' + band }, BAND_LABEL[band] || band)), reset);
}

// How long an agent is in its state; with the daemon off, the state is only as last seen.
function sinceText(ms, stale) {
  if (stale) return ' (last seen' + (ms ? ' ' + ago(ms) + ' ago' : '') + '; daemon off)';
  return ms ? ' for ' + ago(ms) : '';
}

function renderAgents() {
  const lead = state.lead && state.lead.current;
  const stale = state.daemon === false;
  const items = (state.agents || []).map((a) => {
    const q = (w) => (a.quota || []).find((x) => x.window === w);
    return el('li', { class: 'agent state-' + a.state + (stale ? ' stale' : ''), 'data-agent': a.name },
      el('div', { class: 'ahead' },
        el('h3', {}, (a.name === lead ? '★ ' : '') + a.name,
          el('span', { class: 'cli' }, ' ' + a.cli + ' · ' + (a.host || 'local'))),
        el('div', { class: 'buttons' },
          button('Screen', () => openScreen(a.name), { 'data-key': 'screen-' + a.name, 'aria-label': 'Screen of ' + a.name }),
          button('Message', () => sendTo(a.name), { 'data-key': 'send-' + a.name, 'aria-label': 'Message ' + a.name }))),
      el('p', { class: 'st' }, el('span', { class: 'state' }, a.state),
        el('span', { class: 'since', 'data-since': a.state_since_ms || '', 'data-stale': stale }, sinceText(a.state_since_ms, stale)),
        el('span', { class: 'cur' }, ' · ' + (a.task ? a.task + ' ' + (a.task_title || '') : 'no task'))),
      quotaBar(q('session-5h'), '5h'),
      quotaBar(q('weekly'), 'week'));
  });
  if (!items.length) items.push(el('li', { class: 'empty' }, 'No agents in baton.toml.'));
  replace($('agent-list'), items);
}

function isOpen(s) { return s !== 'COMPLETED' && s !== 'CANCELLED'; }

function taskButtons(t) {
  const b = [];
  const add = (a, label) => b.push(button(label, () => taskAction(a, t), { 'data-act': a, 'data-task': t.id, 'data-key': a + '-' + t.id, 'data-near': 'open-' + t.id, 'aria-label': label + ' ' + t.id }));
  if (t.status === 'PENDING' || t.status === 'IN_PROGRESS') { add('block', 'Block'); add('reassign', 'Reassign'); }
  if (t.status === 'IN_PROGRESS' || t.status === 'BLOCKED') add('requeue', 'Requeue');
  if (t.status === 'UNREPORTED') add('done', 'Confirm done');
  if (t.status === 'COMPLETED' || t.status === 'UNREPORTED') add('reopen', 'Reopen');
  if (isOpen(t.status)) add('cancel', 'Cancel');
  return b;
}

function renderTasks() {
  // The server filters (the queue may hold thousands): the page shows what it was given.
  const tasks = state.tasks || [];
  const items = tasks.map((t) => el('li', { class: 'task', id: 'task-' + t.id, 'data-status': t.status },
    el('div', { class: 'tmain' },
      button(t.id, () => openTask(t.id), { class: 'tid link', 'data-key': 'open-' + t.id, 'aria-label': 'Details of ' + t.id }),
      el('span', { class: 'ttitle' }, t.title)),
    el('div', { class: 'tmeta' },
      el('span', { class: 'status status-' + t.status }, t.status),
      t.priority ? el('span', { class: 'prio' }, t.priority) : null,
      t.assignee ? el('span', { class: 'who' }, '→ ' + t.assignee) : null,
      t.deps && t.deps.length ? el('span', { class: 'deps' }, 'after ' + t.deps.join(', ')) : null,
      t.blocked_reason ? el('span', { class: 'why' }, '“' + t.blocked_reason + '”') : null),
    el('div', { class: 'buttons' }, ...taskButtons(t))));
  if (!items.length) items.push(el('li', { class: 'empty' }, 'No task' + (filter === 'all' ? ' yet.' : ' with this status.')));
  const total = state.tasks_total || 0;
  if (total > tasks.length) {
    items.push(el('li', { class: 'more' }, tasks.length + ' of ' + total + ' shown ',
      button('Show ' + Math.min(PAGE, total - tasks.length) + ' more', () => { shown += PAGE; refresh(); }, { 'data-key': 'more-tasks' })));
  }
  replace($('task-list'), items);
}

function entryLine(e) {
  return el('li', {},
    el('time', {}, clock(e.at_ms)), ' ',
    el('b', {}, txt(e.actor)), ' ', txt(e.action),
    e.task ? ' ' + e.task : '', e.target ? ' → ' + e.target : '',
    e.result ? el('span', { class: 'res' }, ' ' + e.result) : null);
}

function renderLead() {
  const l = state.lead || { chain: [], handoffs: [] };
  const chain = (l.chain || []).map((n) => el('li', { class: n === l.current ? 'current' : '' }, n === l.current ? n + ' (leads)' : n));
  if (!chain.length) chain.push(el('li', {}, 'no lead chain configured'));
  if (l.handoff) chain.push(el('li', { class: 'current' }, 'handoff under way: ' + txt(l.handoff.from) + ' → ' + txt(l.handoff.to) + (l.handoff.step ? ' (' + l.handoff.step + ')' : '')));
  replace($('chain'), chain);
  const hs = (l.handoffs || []).slice().reverse().map((h) => el('li', {}, el('time', {}, clock(h.at_ms)), ' ' + txt(h.from) + ' → ' + txt(h.to) + (h.reason ? ': ' + h.reason : '')));
  if (!hs.length) hs.push(el('li', {}, 'none yet'));
  replace($('handoffs'), hs);
}

function renderMerges() {
  const ms = state.merges || [];
  $('merges').hidden = !ms.length;
  replace($('merge-list'), ms.map((m) => el('li', {}, el('b', {}, txt(m.state)), ' ' + (m.task || '') + ' ' + (m.agent || '') + (m.detail ? ' — ' + m.detail : ''))));
}

function renderJournal() {
  const j = (state.journal || []).slice().reverse().slice(0, 60);
  replace($('journal-list'), j.map(entryLine));
}

function renderTop() {
  $('project').textContent = state.project ? '· ' + state.project : '';
  document.title = 'baton · ' + (state.project || '');
  const c = state.counts || {};
  const total = c.total !== undefined ? c.total
    : ['PENDING', 'IN_PROGRESS', 'COMPLETED', 'BLOCKED', 'CANCELLED', 'UNREPORTED'].reduce((a, k) => a + (c[k] || 0), 0);
  const bits = ['done ' + (c.COMPLETED || 0) + '/' + total];
  if (c.IN_PROGRESS) bits.push(c.IN_PROGRESS + ' in progress');
  if (c.BLOCKED) bits.push(c.BLOCKED + ' blocked');
  if (c.UNREPORTED) bits.push(c.UNREPORTED + ' unreported');
  if (state.lead && state.lead.current) bits.push('lead ' + state.lead.current);
  if (state.paused) bits.push('dispatch PAUSED');
  if (state.daemon === false) bits.push('daemon off');
  $('summary').textContent = bits.join(' · ');
  $('pause').textContent = state.paused ? 'Resume dispatch' : 'Pause dispatch';
  $('pause').setAttribute('aria-pressed', state.paused ? 'true' : 'false');
  $('handoff').hidden = !(state.lead && state.lead.chain && state.lead.chain.length > 1);
}

function render() {
  if (!state) return;
  renderTop();
  renderAgents();
  renderTasks();
  renderLead();
  renderMerges();
  renderJournal();
}

// ---- Plots ---------------------------------------------------------------------------

const W = 320, H = 150, L = 34, R = 8, T = 10, B = 22;

function frame(x0, x1, ymax, ylabel) {
  const g = svg('g', { class: 'axes' });
  const y = (v) => T + (H - T - B) * (1 - v / ymax);
  for (const v of [0, ymax / 2, ymax]) {
    g.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
    g.append(svg('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end' }, String(Math.round(v)) + ylabel));
  }
  g.append(svg('text', { x: L, y: H - 6 }, hm(x0)));
  g.append(svg('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, hm(x1)));
  return { g, y, x: (t) => L + (W - L - R) * ((t - x0) / Math.max(1, x1 - x0)) };
}

function path(points, x, y) {
  return points.map((p, i) => (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ' ' + y(p[1]).toFixed(1)).join(' ');
}

function quotaPlot(agent, q) {
  const pts = q.points || [];
  if (!pts.length) return null; // listed under the plots instead
  const t = now();
  const windows = ['session-5h', 'weekly'];
  let x0 = pts.length ? Math.min(...pts.map((p) => p.at_ms)) : t - 3600e3;
  let x1 = t;
  for (const p of q.projection || []) if (p.limit_at_ms && p.limit_at_ms > x1) x1 = Math.min(p.limit_at_ms, t + 6 * 3600e3);
  if (x1 - x0 < 60e3) x0 = x1 - 60e3;
  const f = frame(x0, x1, 100, '%');
  const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'plot', role: 'img', 'aria-labelledby': 'pt-' + agent });
  s.append(svg('title', { id: 'pt-' + agent }, agent + ': quota used over time'));
  s.append(f.g);
  if (q.handoff_percent !== null && q.handoff_percent !== undefined) {
    const yy = f.y(q.handoff_percent);
    s.append(svg('line', { x1: L, x2: W - R, y1: yy, y2: yy, class: 'handoff' }));
    s.append(svg('text', { x: W - R, y: yy - 3, 'text-anchor': 'end', class: 'handoff-t' }, 'handoff ' + Math.round(q.handoff_percent) + '%'));
  }
  for (const h of q.handoffs || []) {
    if (h.at_ms < x0 || h.at_ms > x1) continue;
    s.append(svg('line', { x1: f.x(h.at_ms), x2: f.x(h.at_ms), y1: T, y2: H - B, class: 'handoff-at' }));
  }
  const last = [];
  windows.forEach((w, i) => {
    const ps = pts.filter((p) => p.window === w).map((p) => [p.at_ms, p.used_percent]);
    if (!ps.length) return;
    s.append(svg('path', { d: path(ps, f.x, f.y), class: 'line w' + i }));
    const end = ps[ps.length - 1];
    last.push((i ? 'week ' : '5h ') + Math.round(end[1]) + '%');
    const pr = (q.projection || []).find((p) => p.window === w);
    if (pr && pr.limit_at_ms && end[1] < 100 && pr.limit_at_ms > end[0]) {
      const lim = pr.limit_at_ms;
      const xe = Math.min(lim, x1);
      const ye = end[1] + (100 - end[1]) * ((xe - end[0]) / Math.max(1, lim - end[0]));
      s.append(svg('path', { d: path([end, [xe, ye]], f.x, f.y), class: 'proj w' + i }));
      last.push('limit ~' + hm(lim));
    }
  });
  const legend = el('p', { class: 'legend' },
    el('span', { class: 'key w0' }, '5h'), ' ', el('span', { class: 'key w1' }, 'week'), ' ',
    el('span', { class: 'key proj' }, 'projection'), ' ', el('span', { class: 'key handoff' }, 'handoff line'), ' ', el('span', { class: 'key handoff-at' }, 'handoff made'));
  return el('figure', { class: 'fig' }, s, el('figcaption', {}, el('b', {}, agent), ' ' + (last.join(' · ') || 'no quota readings yet')), legend);
}

function donePlot(d) {
  const pts = (d.points || []).map((p) => [p.at_ms, p.done]);
  const t = now();
  if (pts.length) pts.push([t, pts[pts.length - 1][1]]);
  const x0 = pts.length ? pts[0][0] : t - 3600e3;
  const ymax = Math.max(4, ...pts.map((p) => p[1]));
  const f = frame(x0, Math.max(t, x0 + 60e3), ymax, '');
  const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'plot', role: 'img', 'aria-labelledby': 'pt-done' });
  s.append(svg('title', { id: 'pt-done' }, 'tasks done over time'));
  s.append(f.g);
  const steps = [];
  pts.forEach((p, i) => { if (i) steps.push([p[0], pts[i - 1][1]]); steps.push(p); });
  if (steps.length) s.append(svg('path', { d: path(steps, f.x, f.y), class: 'line done' }));
  const n = pts.length ? pts[pts.length - 1][1] : 0;
  return el('figure', { class: 'fig' }, s, el('figcaption', {}, el('b', {}, 'Tasks done'), ' ' + n));
}

let plotBusy = false, plotAgain = false, plotLast = 0;
async function refreshPlots() {
  if (plotBusy) { plotAgain = true; return; }
  const wait = 3000 - (Date.now() - plotLast);
  if (wait > 0) { plotBusy = true; setTimeout(() => { plotBusy = false; refreshPlots(); }, wait); return; }
  plotBusy = true;
  plotLast = Date.now();
  try {
    const names = (state && state.agents || []).map((a) => a.name);
    // One plot that cannot be drawn says so in its place; the others are drawn.
    let failed = false;
    const draw = (what, get, plot) => getJson(get).then(plot).catch((e) => {
      console.error(e);
      failed = true;
      return el('p', { class: 'fig' }, what + ': no plot (' + e.message + ')');
    });
    // Two requests, however many agents: the tasks done, and every agent's quota.
    const [done, quotas] = await Promise.all([
      draw('Tasks done', '/api/done', donePlot),
      draw('Quota', '/api/quota', (all) => all.agents),
    ]);
    const figs = [done];
    let none = [];
    if (Array.isArray(quotas)) {
      const byName = new Map(quotas.map((q) => [q.agent, q]));
      const plots = names.map((n) => (byName.has(n) ? quotaPlot(n, byName.get(n)) : null));
      none = names.filter((n, i) => plots[i] === null);
      figs.push(...plots);
    } else {
      figs.push(quotas); // what could not be drawn, said in its place
    }
    if (none.length) figs.push(el('p', { class: 'fig legend' }, 'No quota readings yet: ' + none.join(', ')));
    $('plot-list').replaceChildren(...figs.filter(Boolean));
    // A plot that failed is tried again once in a while (only while one is missing).
    if (failed) setTimeout(refreshPlots, 5000);
  } finally {
    plotBusy = false;
    if (plotAgain) { plotAgain = false; refreshPlots(); }
  }
}

// ---- Screen and task detail ----------------------------------------------------------

async function loadScreen() {
  if (!screenAgent) return;
  try {
    const s = await getJson('/api/screen?agent=' + encodeURIComponent(screenAgent));
    $('screen-text').textContent = s.text;
  } catch (e) {
    $('screen-text').textContent = '(no screen: ' + e.message + ')';
  }
}

function openScreen(name) {
  screenAgent = name;
  $('screen-h').textContent = 'Screen of ' + name;
  $('screen').hidden = false;
  $('screen-text').textContent = 'reading…';
  loadScreen();
  clearInterval(screenTimer);
  screenTimer = setInterval(() => { if (!document.hidden) loadScreen(); }, 1000);
  $('screen').scrollIntoView({ block: 'nearest' });
  $('screen-close').focus();
}

function closeScreen() {
  const name = screenAgent;
  screenAgent = null;
  clearInterval(screenTimer);
  $('screen').hidden = true;
  const b = document.querySelector('[data-key="screen-' + CSS.escape(name || '') + '"]');
  if (b) b.focus();
}

// A task's time, cost and tokens, as `baton task show` says them; unknown is '—', never 0.
const DASH = '—';
function tookText(ms) {
  if (ms === null || ms === undefined) return DASH;
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s >= 3600) return Math.floor(s / 3600) + 'h ' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm';
  if (s >= 60) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
  return s + 's';
}
function costText(usd) {
  if (usd === null || usd === undefined) return DASH;
  return '$' + usd.toFixed(usd < 1 ? 4 : 2);
}
function tokensText(n) {
  if (n === null || n === undefined) return DASH;
  if (n < 1000) return String(n);
  if (n < 1e6) return (n / 1e3).toFixed(1) + 'k';
  return (n / 1e6).toFixed(2) + 'M';
}
function spent(t) {
  const pair = (name, value) => [el('dt', {}, name), el('dd', {}, value)];
  return el('dl', { class: 'spent' },
    ...pair('Time', tookText(t.duration_ms)),
    ...pair('Cost', costText(t.cost_usd)),
    ...pair('Tokens', tokensText(t.input_tokens) + ' in / ' + tokensText(t.output_tokens) + ' out'));
}

let detailOf = null; // the task the detail dialog shows: focus goes back to its ID on close
async function openTask(id) {
  const d = $('detail');
  detailOf = id;
  $('detail-h').textContent = id;
  $('detail-body').replaceChildren(el('p', {}, 'loading…'));
  if (!d.open) d.showModal();
  $('detail-close').focus();
  try {
    const t = await getJson('/api/task?id=' + encodeURIComponent(id));
    $('detail-h').textContent = txt(t.id) + (t.title ? ' · ' + t.title : '');
    const notes = (t.notes || []).map((n) => el('li', {}, typeof n === 'string' ? n : txt(n && n.text)));
    const hist = (t.history || []).map(entryLine);
    const about = [txt(t.priority), t.assignee ? '→ ' + t.assignee : '', t.attempts ? 'attempts ' + t.attempts : '',
      t.deps && t.deps.length ? 'after ' + t.deps.join(', ') : '', t.review_of ? 'reviews ' + t.review_of : '']
      .filter(Boolean).join(' · ');
    replace($('detail-body'), [
      el('p', {}, el('span', { class: 'status status-' + txt(t.status) }, txt(t.status)), about ? ' ' + about : ''),
      t.status === 'BLOCKED' && t.blocked_reason ? el('p', { class: 'why' }, 'Blocked: ' + t.blocked_reason) : null,
      // The description, as text: whatever it holds is shown, never run as HTML.
      t.body ? el('div', { class: 'tbody', tabindex: '0', 'aria-label': 'Description' }, t.body) : el('p', { class: 'empty' }, 'No description.'),
      spent(t),
      el('h3', {}, 'Notes'), notes.length ? el('ul', {}, ...notes) : el('p', {}, 'none'),
      el('h3', {}, 'History'), hist.length ? el('ol', { class: 'log' }, ...hist) : el('p', {}, 'none')]);
  } catch (e) {
    $('detail-body').replaceChildren(el('p', {}, 'Could not read ' + id + ': ' + e.message));
  }
}

// ---- Live updates --------------------------------------------------------------------

let busy = false, again = false;
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    const s = await getJson('/api/state?filter=' + encodeURIComponent(filter) + '&limit=' + shown);
    if (s.now_ms) clockSkew = s.now_ms - Date.now();
    state = s;
    if ($('message').dataset.kind === 'state') say('');
    refreshPlots();
    if (screenAgent) loadScreen();
    render();
  } catch (e) {
    say('could not read the state: ' + e.message, true, 'state');
    console.error(e);
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}

// The event stream. The browser reconnects by itself after a dropped stream; when it gives
// up (the server refused the stream, 503 at its cap, or stayed down) the stream is CLOSED and
// a new one is made after 2 s, 4 s, … up to 30 s. Each opening reads the state afresh.
let stream = null, streamDelay = 0, streamTimer = null;
function live() {
  clearTimeout(streamTimer);
  // EventSource cannot set headers: the token goes in its URL.
  const es = new EventSource('/api/events' + (token ? '?token=' + encodeURIComponent(token) : ''));
  stream = es;
  const mark = (text, ok) => { $('live').textContent = text; $('live').classList.toggle('off', !ok); };
  es.addEventListener('open', () => { streamDelay = 0; mark('live', true); refresh(); });
  es.addEventListener('change', () => refresh());
  es.addEventListener('error', () => {
    if (es !== stream) return;
    if (es.readyState !== EventSource.CLOSED) { mark('reconnecting', false); return; }
    es.close();
    streamDelay = Math.min(30000, streamDelay ? streamDelay * 2 : 2000);
    mark('offline: retry in ' + Math.round(streamDelay / 1000) + ' s', false);
    streamTimer = setTimeout(live, streamDelay);
  });
}

function tick() {
  // Durations move with the clock; nothing is fetched for this.
  for (const s of document.querySelectorAll('[data-since]')) {
    const ms = Number(s.dataset.since);
    if (ms) s.textContent = sinceText(ms, s.dataset.stale !== undefined);
  }
}

function init() {
  $('filter').addEventListener('change', (e) => { filter = e.target.value; shown = PAGE; refresh(); });
  $('add-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const title = $('add-title').value.trim();
    if (!title) return;
    $('add-title').value = '';
    act({ action: 'add', text: title });
  });
  $('pause').addEventListener('click', () => act({ action: state && state.paused ? 'resume' : 'pause' }));
  $('handoff').addEventListener('click', async () => {
    const l = (state && state.lead) || {};
    const others = (l.chain || []).filter((n) => n !== l.current);
    const r = await ask('Hand the lead role on', 'From ' + (l.current || 'nobody') + '; baton writes the handoff file and checks the new lead starts.', 'To', { choices: ['next in the chain', ...others], ok: 'Hand off' });
    if (r === null) return;
    const body = { action: 'handoff' };
    if (r !== 'next in the chain') body.to = r;
    act(body);
  });
  $('screen-close').addEventListener('click', closeScreen);
  $('detail-close').addEventListener('click', () => $('detail').close());
  $('detail').addEventListener('close', () => {
    const b = byKey('open-' + detailOf);
    if (b) b.focus();
  });
  // Enter in the one-line answer sends it; Shift+Enter makes a new line.
  $('ask-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('ask-form').requestSubmit();
    }
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && screenAgent && !document.querySelector('dialog[open]')) closeScreen();
  });
  setInterval(tick, 15000);
  refresh();
  live();
}

init();
