// The chat page: sign-in/registration, the online sidebar, the conversation and
// the composer. User data only ever reaches the DOM through textContent or
// attribute setters, never as markup.

import { api, ApiError, randomId } from './api.js';
import { Stream } from './stream.js';

const HEARTBEAT_MS = 25000;
const PAGE_SIZE = 50;
const USERCODE_RE = /^[A-Z0-9]{6}$/;

const $ = (id) => document.getElementById(id);

/** h builds an element; children that are strings become text nodes. */
function h(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

// compareIds orders time-sortable ids (UUIDv7, ULID); numeric ids by value.
function compareIds(a, b) {
  a = String(a); b = String(b);
  if (/^\d+$/.test(a) && /^\d+$/.test(b) && a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

const state = {
  me: null,
  messages: new Map(), // id -> message
  ids: [], // sorted ascending
  nodes: new Map(), // id -> <li>
  // recipientChosen: the person picked the recipient themself, so new
  // messages must not move it; otherwise it follows whoever wrote last.
  recipientChosen: false,
  // broadcastConfirmed: the first broadcast of a session needs a yes.
  broadcastConfirmed: false,
  lastId: '', // resume cursor: the last message the stream or catch-up delivered (else the newest in history)
  nextBefore: null,
  historyDone: false,
  loadingOlder: false,
  unreadOlder: 0, // unread messages older than the loaded history
  readsSent: new Set(),
  readBy: new Map(), // my message id -> Set(reader usercode)
  online: new Map(), // usercode -> {usercode, username, since}
  names: new Map(), // usercode -> username
  view: '', // '' all, or the usercode of a conversation
  stream: null,
  heartbeat: 0,
  session: 0, // bumps on sign-out so late responses of an old session are dropped
};

// ---------------------------------------------------------------- views

function showView(name) {
  $('app').dataset.view = name;
  $('loading-view').hidden = name !== 'loading';
  $('auth-view').hidden = name !== 'auth';
  $('chat-view').hidden = name !== 'chat';
}

// ---------------------------------------------------------------- auth

function clearErrors(form) {
  for (const p of form.querySelectorAll('.field-error, .form-error')) {
    p.textContent = '';
    p.hidden = true;
  }
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

function setFieldError(prefix, field, msg) {
  const p = $(`${prefix}-${field}-error`);
  const input = $(`${prefix}-${field}`);
  if (!p || !input) return false;
  p.textContent = msg;
  p.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  return true;
}

function setFormError(prefix, msg) {
  const p = $(`${prefix}-form-error`);
  p.textContent = msg;
  p.hidden = false;
}

function describe(err) {
  if (!(err instanceof ApiError)) return 'Something went wrong. Please try again.';
  if (err.status === 0) return 'Cannot reach the server. Check your connection and try again.';
  if (err.status === 429) {
    const s = parseInt(err.retryAfter, 10);
    return `${err.message}${s > 0 ? ` Try again in ${s} s.` : ''}`;
  }
  return err.message;
}

// showApiErrors puts each field error next to its field; what has no field
// goes to the form. A 409 on registration is about the username.
function showApiErrors(prefix, form, err) {
  let placed = 0;
  if (err instanceof ApiError) {
    for (const [field, msg] of err.fields) {
      if (setFieldError(prefix, field, msg)) placed++;
      else setFormError(prefix, msg);
    }
    if (err.status === 409 && prefix === 'register' && !err.fields.size) {
      setFieldError(prefix, 'username', err.problem.detail || err.problem.title || 'That username is taken.');
      placed++;
    }
  }
  if (!placed && (!(err instanceof ApiError) || !err.fields.size)) setFormError(prefix, describe(err));
  const first = form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
}

async function withBusy(form, fn) {
  const btn = form.querySelector('button[type=submit]');
  btn.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try { await fn(); } finally {
    btn.disabled = false;
    form.removeAttribute('aria-busy');
  }
}

async function onLogin(e) {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  let missing = false;
  if (!username) { setFieldError('login', 'username', 'Enter your username.'); missing = true; }
  if (!password) { setFieldError('login', 'password', 'Enter your password.'); missing = true; }
  if (missing) { form.querySelector('[aria-invalid="true"]').focus(); return; }
  await withBusy(form, async () => {
    try {
      const res = await api('POST', '/api/v1/auth/login', { username, password });
      form.reset();
      if (followNext(res.user)) return;
      await enterChat(res.user, false);
    } catch (err) {
      showApiErrors('login', form, err);
    }
  });
}

async function onRegister(e) {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const username = $('register-username').value.trim();
  const email = $('register-email').value.trim();
  const password = $('register-password').value;
  await withBusy(form, async () => {
    try {
      await api('POST', '/api/v1/auth/register', { username, email, password });
    } catch (err) {
      showApiErrors('register', form, err);
      return;
    }
    try {
      const res = await api('POST', '/api/v1/auth/login', { username, password });
      form.reset();
      if (followNext(res.user)) return;
      await enterChat(res.user, true);
    } catch (err) {
      setFormError('register', `Your account was created, but signing in failed: ${describe(err)}`);
    }
  });
}

function showAuth(notice) {
  const n = $('auth-notice');
  n.textContent = notice || '';
  n.hidden = !notice;
  showView('auth');
  $('login-username').focus();
}

// ---------------------------------------------------------------- sign-in redirect and admin link (issue 13, item 6)

// nextPath is where ?next= asks to go after signing in, if that is a path of
// this site under /monitoring/ (where the server sends a signed-out browser);
// anything else, an absolute or scheme-relative URL above all, is ignored.
function nextPath() {
  const raw = new URLSearchParams(location.search).get('next') || '';
  if (!raw.startsWith('/monitoring/') || raw.includes('\\')) return '';
  let u;
  try { u = new URL(raw, location.origin); } catch { return ''; }
  if (u.origin !== location.origin || !u.pathname.startsWith('/monitoring/')) return '';
  return u.pathname + u.search + u.hash;
}

// followNext goes to ?next= after a sign-in and says whether it did. A user
// the server says is not an admin stays in the chat with a note instead of
// landing on a "forbidden" page.
function followNext(user) {
  const next = nextPath();
  if (!next) return false;
  history.replaceState(null, '', '/');
  if (user && user.admin === false) {
    pendingNotice = 'Monitoring is only for admins, and your account is not one.';
    return false;
  }
  location.assign(next);
  return true;
}
let pendingNotice = '';

// renderAdminLink shows the header's Monitoring link to admins only.
function renderAdminLink(user) {
  $('monitoring-link').hidden = !(user && user.admin === true);
}

// ---------------------------------------------------------------- chat lifecycle

async function enterChat(user, welcome) {
  resetChat();
  const session = state.session;
  state.me = user;
  renderAdminLink(user);
  if (pendingNotice) { alertComposer(pendingNotice); pendingNotice = ''; }
  state.names.set(user.usercode, user.username);
  $('me-name').textContent = user.username;
  $('me-usercode').textContent = user.usercode;
  enterChatAdditions();
  $('welcome').hidden = !welcome;
  if (welcome) {
    $('welcome-name').textContent = user.username;
    $('welcome-usercode').textContent = user.usercode;
  }
  showView('chat');
  renderPresence();
  renderView();

  await Promise.all([loadHistory(session), loadPresence(session)]);
  if (session !== state.session) return;
  await loadUnread(session);

  state.stream = new Stream({
    lastId: () => state.lastId,
    onEvent: (ev) => { observeEvent(ev); onEvent(ev); },
    onState: onStreamState,
    beforeConnect: async () => {
      try {
        await api('GET', '/api/v1/auth/me');
        return session === state.session;
      } catch (err) {
        if (err.status === 401) { sessionEnded(); return false; }
        throw err;
      }
    },
  });
  state.stream.start();
  state.heartbeat = setInterval(tick, HEARTBEAT_MS);
  heartbeat();
  $('composer-input').focus();
  attributeUnread(session);
}

function resetChat() {
  if (state.stream) state.stream.stop();
  clearInterval(state.heartbeat);
  resetChatAdditions();
  state.session++;
  state.stream = null;
  state.me = null;
  state.messages.clear();
  state.ids = [];
  state.nodes.clear();
  state.lastId = '';
  state.nextBefore = null;
  state.historyDone = false;
  state.loadingOlder = false;
  state.unreadOlder = 0;
  state.readsSent.clear();
  state.readBy.clear();
  state.online.clear();
  state.names.clear();
  state.view = '';
  stopReadTracking();
  renderAdminLink(null);
  $('message-items').replaceChildren();
  $('composer-input').value = '';
  $('recipient').value = '';
  $('recipient-code').value = '';
  $('recipient-code').hidden = true;
  state.recipientChosen = false;
  state.broadcastConfirmed = false;
  renderComposerMode();
  hideError('composer-error');
  hideError('recipient-error');
  updateCounter();
  closeSidebar();
}

function sessionEnded() {
  resetChat();
  showAuth('Your session has ended. Please sign in again.');
}

async function signOut() {
  const btn = $('sign-out');
  btn.disabled = true;
  try {
    await api('POST', '/api/v1/auth/logout');
  } catch (err) {
    if (err.status === 0) {
      btn.disabled = false;
      alertComposer('Cannot reach the server to sign out. Try again.');
      return;
    }
    // 401: the session was already gone; either way we are signed out.
  }
  btn.disabled = false;
  resetChat();
  showAuth('You have signed out.');
}

// handleAuthFailure sends a 401 from any chat call back to the sign-in page.
function handleAuthFailure(err) {
  if (err instanceof ApiError && err.status === 401 && state.me) {
    sessionEnded();
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- heartbeat and fallback polling

async function heartbeat() {
  try {
    await api('POST', '/api/v1/presence/heartbeat');
  } catch (err) {
    handleAuthFailure(err);
  }
}

// tick runs every HEARTBEAT_MS: the heartbeat always (it keeps presence alive),
// and, only while the stream is down, a poll of presence and new messages.
async function tick() {
  const session = state.session;
  await heartbeat();
  if (!state.stream || state.stream.live || session !== state.session) return;
  await loadPresence(session);
  await catchUp(session);
}

async function catchUp(session) {
  if (!state.lastId) { await loadHistory(session); return; }
  try {
    const res = await api('GET', `/api/v1/messages?after=${encodeURIComponent(state.lastId)}&limit=200`);
    if (session !== state.session) return;
    for (const m of res.messages || []) {
      addMessage(m, { seen: true });
      state.lastId = m.id; // catch-up is in the same order as the stream
    }
    afterNewMessages(true);
  } catch (err) {
    handleAuthFailure(err);
  }
}

// ---------------------------------------------------------------- stream

function onStreamState(s, info) {
  const el = $('conn-status');
  el.dataset.state = s;
  el.dataset.reconnects = String(info.reconnects);
  const label = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', stopped: 'Offline' }[s] || s;
  el.querySelector('.conn-label').textContent = label;
  el.title = s === 'live' ? 'Connected: messages arrive as they are sent' : 'Not connected: retrying by itself';
  if (s === 'live') {
    // Presence may have changed while we were away; resync once (no polling).
    loadPresence(state.session);
    if (!state.lastId) loadHistory(state.session);
  }
}

function onEvent(ev) {
  switch (ev.type) {
    case 'message':
      if (ev.message && ev.message.id) {
        addMessage(ev.message, { seen: true, live: true });
        // The stream delivers in the order messages became visible to us,
        // so the last one is the cursor to resume after (not the greatest id).
        state.lastId = ev.message.id;
        afterNewMessages(true);
      }
      break;
    case 'presence':
      if (!ev.user || !ev.user.usercode || (state.me && ev.user.usercode === state.me.usercode)) break;
      state.names.set(ev.user.usercode, ev.user.username);
      if (ev.online) {
        const prev = state.online.get(ev.user.usercode);
        state.online.set(ev.user.usercode, { ...ev.user, since: prev ? prev.since : new Date().toISOString() });
      } else {
        state.online.delete(ev.user.usercode);
      }
      renderPresence();
      break;
    case 'read': {
      const id = ev.message_id;
      if (!id || !ev.reader) break;
      if (!state.readBy.has(id)) state.readBy.set(id, new Set());
      state.readBy.get(id).add(ev.reader.usercode);
      if (ev.reader.username) state.names.set(ev.reader.usercode, ev.reader.username);
      const m = state.messages.get(id);
      if (m) renderTick(m);
      if (state.me && ev.reader.usercode === state.me.usercode) readElsewhere(id);
      break;
    }
    default:
      break; // unknown events are ignored so the server can add new ones
  }
}

// ---------------------------------------------------------------- data loading

async function loadHistory(session) {
  try {
    const res = await api('GET', `/api/v1/messages?limit=${PAGE_SIZE}`);
    if (session !== state.session) return;
    for (const m of res.messages || []) addMessage(m, { seen: true });
    if (state.nextBefore === null && !state.historyDone) {
      state.nextBefore = res.next_before || null;
      state.historyDone = !res.next_before;
    }
    afterNewMessages(false);
    scrollToBottom();
  } catch (err) {
    if (!handleAuthFailure(err)) alertComposer(`Could not load history: ${describe(err)}`);
  }
}

async function loadOlder() {
  if (state.loadingOlder || state.historyDone || !state.nextBefore) return;
  const session = state.session;
  state.loadingOlder = true;
  const list = $('messages');
  const before = list.scrollHeight;
  const beforeUnread = countUnread();
  try {
    const res = await api('GET', `/api/v1/messages?limit=${PAGE_SIZE}&before=${encodeURIComponent(state.nextBefore)}`);
    if (session !== state.session) return;
    for (const m of res.messages || []) addMessage(m, { seen: true });
    state.nextBefore = res.next_before || null;
    state.historyDone = !res.next_before;
    state.unreadOlder = Math.max(0, state.unreadOlder - (countUnread() - beforeUnread));
    renderHistoryEdge();
    renderBadges();
    // Keep the message the reader was looking at in place.
    list.scrollTop += list.scrollHeight - before;
  } catch (err) {
    if (!handleAuthFailure(err)) alertComposer(`Could not load older messages: ${describe(err)}`);
  } finally {
    state.loadingOlder = false;
  }
}

async function loadPresence(session) {
  try {
    const res = await api('GET', '/api/v1/presence');
    if (session !== state.session) return;
    state.online.clear();
    for (const u of res.online || []) {
      if (state.me && u.usercode === state.me.usercode) continue;
      state.online.set(u.usercode, u);
      state.names.set(u.usercode, u.username);
    }
    renderPresence();
  } catch (err) {
    handleAuthFailure(err);
  }
}

async function loadUnread(session) {
  try {
    const res = await api('GET', '/api/v1/messages/unread');
    if (session !== state.session) return;
    state.unreadOlder = Math.max(0, (Number(res.unread) || 0) - countUnread());
    renderBadges();
  } catch (err) {
    handleAuthFailure(err);
  }
}

// attributeUnread loads older history while the server counts unread
// messages that the loaded pages do not hold, so each one shows under its
// person in the sidebar; past ATTRIBUTE_PAGES pages the rest is "earlier".
const ATTRIBUTE_PAGES = 40;
async function attributeUnread(session) {
  for (let pages = 0; pages < ATTRIBUTE_PAGES;) {
    if (session !== state.session || state.unreadOlder <= 0 || state.historyDone || !state.nextBefore) return;
    if (state.loadingOlder) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    await loadOlder();
    pages++;
  }
}

// readElsewhere: one of my other tabs or devices read message id.
function readElsewhere(id) {
  const m = state.messages.get(id);
  if (m && !isMine(m)) {
    if (!m.read_at && !state.readsSent.has(id)) {
      m.read_at = new Date().toISOString();
      renderUnreadMark(m);
      renderBadges();
    }
  } else if (!m && state.unreadOlder > 0) {
    state.unreadOlder--;
    renderBadges();
  }
}

// ---------------------------------------------------------------- messages

const isMine = (m) => state.me && m.sender && m.sender.usercode === state.me.usercode;
const isUnread = (m) => !isMine(m) && !m.read_at && !state.readsSent.has(m.id);

// peerOf is the other person of a direct message ('' for broadcasts).
function peerOf(m) {
  if (m.broadcast) return '';
  return isMine(m) ? (m.to || '') : m.sender.usercode;
}

function countUnread(filter) {
  let n = 0;
  for (const m of state.messages.values()) if (isUnread(m) && (!filter || filter(m))) n++;
  return n;
}

/**
 * addMessage stores a message once per id (the server may deliver twice) and
 * renders it in id order. A second copy only updates status and read_at.
 */
function addMessage(m, { seen }) {
  if (!m || !m.id || !m.sender) return;
  if (m.sender.username) state.names.set(m.sender.usercode, m.sender.username);
  if (seen && compareIds(m.id, state.lastId || '') > 0) state.lastId = m.id;
  const old = state.messages.get(m.id);
  if (old) {
    if (m.status && old.status !== 'delivered') old.status = m.status;
    if (m.read_at && !old.read_at) old.read_at = m.read_at;
    renderTick(old);
    renderUnreadMark(old);
    return;
  }
  const msg = { ...m };
  state.messages.set(msg.id, msg);
  // Binary search for the insertion point; new messages are usually last.
  let lo = 0;
  let hi = state.ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareIds(state.ids[mid], msg.id) < 0) lo = mid + 1; else hi = mid;
  }
  state.ids.splice(lo, 0, msg.id);
  const li = renderMessage(msg);
  state.nodes.set(msg.id, li);
  const next = state.ids[lo + 1];
  $('message-items').insertBefore(li, next ? state.nodes.get(next) : null);
  trackRead(li, msg);
}

function displayName(code) {
  return state.names.get(code) || code;
}

function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

function renderMessage(m) {
  const mine = isMine(m);
  const kind = m.broadcast ? 'broadcast' : 'direct';
  let kindText;
  if (m.broadcast) kindText = 'Broadcast';
  else if (mine) kindText = `Direct to ${displayName(m.to)} (${m.to})`;
  else kindText = 'Direct to you';
  const li = h('li', {
    class: `msg ${mine ? 'mine' : 'theirs'} ${kind}`,
    dataset: { testid: 'message', id: m.id, kind, sender: m.sender.usercode, peer: peerOf(m) },
  },
  h('div', { class: 'meta' },
    h('span', { class: 'sender', dir: 'auto', dataset: { testid: 'message-sender' }, text: mine ? `${m.sender.username} (you)` : m.sender.username }),
    h('code', { class: 'usercode', dataset: { testid: 'message-usercode' }, text: m.sender.usercode }),
    h('span', { class: `kind kind-${kind}`, dataset: { testid: 'message-kind' }, text: kindText }),
    h('time', { datetime: m.created_at, title: new Date(m.created_at).toLocaleString(), dataset: { testid: 'message-time' }, text: formatTime(m.created_at) }),
  ),
  h('p', { class: 'body', dir: 'auto', dataset: { testid: 'message-body' }, text: m.body }),
  );
  if (mine) li.append(h('span', { class: 'tick', dataset: { testid: 'read-tick' } }));
  else li.append(h('span', { class: 'unread-mark', dataset: { testid: 'unread-mark' }, text: 'New' }));
  decorateMessage(li, m);
  applyFilter(li, m);
  queueMicrotask(() => { renderTick(m); renderUnreadMark(m); });
  return li;
}

function renderTick(m) {
  const li = state.nodes.get(m.id);
  if (!li || !isMine(m)) return;
  const tick = li.querySelector('.tick');
  const readers = state.readBy.get(m.id);
  let s = 'sent';
  let text = '✓';
  let label = 'Sent';
  if (m.status === 'delivered') { s = 'delivered'; label = 'Delivered'; }
  if (readers && readers.size) {
    s = 'read';
    text = '✓✓';
    label = m.broadcast ? `Read by ${readers.size}` : 'Read';
  }
  tick.dataset.state = s;
  tick.textContent = `${text} ${label}`;
}

function renderUnreadMark(m) {
  const li = state.nodes.get(m.id);
  if (!li || isMine(m)) return;
  li.classList.toggle('unread', isUnread(m));
}

function inView(m) {
  if (!state.view) return true;
  if (state.view === EVERYONE) return !!m.broadcast;
  return peerOf(m) === state.view;
}

function applyFilter(li, m) {
  li.hidden = !inView(m);
}

// afterNewMessages refreshes everything that depends on the message set.
function afterNewMessages(live) {
  const list = $('messages');
  // Measured before this batch was drawn (pinnedToBottom), since a tall new
  // message alone would put the reader "far" from the bottom.
  const nearBottom = pinnedToBottom || list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  renderHistoryEdge();
  renderBadges();
  renderRecent();
  $('messages-empty').hidden = visibleCount() > 0;
  followLatest();
  if (!live || nearBottom) scrollToBottom();
  else $('jump-new').hidden = false;
  markVisibleRead();
}

function visibleCount() {
  let n = 0;
  for (const m of state.messages.values()) if (inView(m)) n++;
  return n;
}

function renderHistoryEdge() {
  $('load-older').hidden = state.historyDone || !state.nextBefore;
  $('history-start').hidden = !state.historyDone || state.messages.size === 0;
}

// pinnedToBottom: the reader was at the end of the list at their last
// scroll, so new messages keep it there.
let pinnedToBottom = true;

function scrollToBottom() {
  const list = $('messages');
  list.scrollTop = list.scrollHeight;
  pinnedToBottom = true;
  $('jump-new').hidden = true;
  markVisibleRead();
}

// ---------------------------------------------------------------- read receipts

// Read tracking (issue 13, item 3): an IntersectionObserver on each unread
// received message keeps onScreen, the ids that are really on screen now; a
// message counts as read only after it stayed there READ_DWELL_MS while the
// tab was visible and focused. Rendering a message never marks it read.
const READ_DWELL_MS = 700;
const onScreen = new Set();
let readObserver = null;
let readTimer = 0;

// pageActive: the person can see the page: tab shown and window focused.
function pageActive() {
  return document.visibilityState === 'visible' && document.hasFocus() && !$('chat-view').hidden;
}

function readTracker() {
  if (!readObserver) {
    readObserver = new IntersectionObserver(onReadIntersect, {
      root: $('messages'), threshold: [0, 0.25, 0.5, 0.6, 0.75, 1],
    });
  }
  return readObserver;
}

// trackRead starts watching a received, unread message's element.
function trackRead(li, m) {
  if (isUnread(m)) readTracker().observe(li);
}

function stopReadTracking() {
  if (readObserver) readObserver.disconnect();
  readObserver = null;
  onScreen.clear();
  clearTimeout(readTimer);
  readTimer = 0;
}

function onReadIntersect(entries) {
  for (const e of entries) {
    const root = e.rootBounds;
    // Most of the message, or for a tall one, half the list's height.
    const enough = e.isIntersecting && (e.intersectionRatio >= 0.6
      || (root && e.intersectionRect.height >= root.height * 0.5));
    if (enough) onScreen.add(e.target.dataset.id); else onScreen.delete(e.target.dataset.id);
  }
  markVisibleRead();
}

/**
 * markVisibleRead marks as read, after the dwell time, each received message
 * that is on screen while the page is shown and focused: that is what "read"
 * means to the sender. Called on scroll, focus and visibility changes.
 */
function markVisibleRead() {
  if (!state.me || !onScreen.size || !pageActive()) {
    clearTimeout(readTimer);
    readTimer = 0;
    return;
  }
  if (readTimer) return;
  readTimer = setTimeout(() => {
    readTimer = 0;
    if (!state.me || !pageActive()) return;
    for (const id of [...onScreen]) {
      const m = state.messages.get(id);
      const li = state.nodes.get(id);
      if (m && li && !li.hidden && isUnread(m)) markRead(m);
    }
  }, READ_DWELL_MS);
}

async function markRead(m) {
  const session = state.session;
  state.readsSent.add(m.id);
  onScreen.delete(m.id);
  const li = state.nodes.get(m.id);
  if (li && readObserver) readObserver.unobserve(li);
  renderUnreadMark(m);
  renderBadges();
  try {
    await api('POST', `/api/v1/messages/${encodeURIComponent(m.id)}/read`);
    if (session === state.session) m.read_at = m.read_at || new Date().toISOString();
  } catch (err) {
    if (handleAuthFailure(err) || session !== state.session) return;
    if (err.status === 0 || err.status >= 500) {
      // Not recorded: try again next time it is seen.
      state.readsSent.delete(m.id);
      if (li) trackRead(li, m);
      renderUnreadMark(m);
      renderBadges();
    }
  }
}

// ---------------------------------------------------------------- sidebar

/**
 * unreadCounts is the one place unread numbers come from (issue 13, item 3):
 * the server's count at sign-in, of which unreadOlder is the part beyond the
 * loaded history, plus the loaded messages, which live events add to and
 * reads take from. total is always the sum of the parts the sidebar shows.
 */
function unreadCounts() {
  const byPeer = new Map();
  let direct = 0;
  let broadcast = 0;
  for (const m of state.messages.values()) {
    if (!isUnread(m)) continue;
    if (m.broadcast) {
      broadcast++;
    } else {
      direct++;
      byPeer.set(m.sender.usercode, (byPeer.get(m.sender.usercode) || 0) + 1);
    }
  }
  const earlier = state.unreadOlder;
  return { byPeer, broadcast, earlier, total: direct + broadcast + earlier };
}

function setBadge(b, n) {
  b.textContent = String(n);
  b.hidden = n === 0;
  b.setAttribute('aria-label', `${n} unread`);
}

function renderBadges() {
  const c = unreadCounts();
  setBadge($('unread-total'), c.total);
  // The phone's sidebar button carries the same total: it opens the sidebar
  // where every one of those messages has its badge.
  setBadge(document.querySelector('[data-testid="toggle-unread"]'), c.total);
  setBadge($('everyone-unread'), c.broadcast);
  for (const b of document.querySelectorAll('.people [data-testid=user-unread]')) {
    setBadge(b, c.byPeer.get(b.closest('[data-usercode]').dataset.usercode) || 0);
  }
  const e = $('unread-earlier');
  e.hidden = c.earlier === 0;
  e.textContent = c.earlier ? `${c.earlier} more unread in older history` : '';
}

function personItem(u, online) {
  const code = u.usercode;
  const selected = state.view === code;
  const btn = h('button', {
    type: 'button',
    class: `person${selected ? ' selected' : ''}`,
    'aria-pressed': selected ? 'true' : 'false',
    dataset: { testid: 'user', usercode: code },
    onclick: () => openConversation(code),
  },
  h('span', { class: `presence-dot ${online ? 'on' : 'off'}`, 'aria-hidden': 'true' }),
  h('span', { class: 'person-name', dataset: { testid: 'user-name' }, text: u.username || code }),
  h('code', { class: 'usercode', dataset: { testid: 'user-usercode' }, text: code }),
  h('span', { class: 'visually-hidden', text: online ? ', online' : ', offline' }),
  h('span', { class: 'badge', dataset: { testid: 'user-unread' }, hidden: true }),
  );
  return h('li', { dataset: { usercode: code } }, btn);
}

function renderPresence() {
  const users = [...state.online.values()].sort((a, b) => (a.username || '').localeCompare(b.username || ''));
  $('online-list').replaceChildren(...users.map((u) => personItem(u, true)));
  $('online-count').textContent = String(users.length);
  $('online-empty').hidden = users.length > 0;
  renderRecent();
  renderRecipientOptions();
}

// renderRecent lists offline people we have direct messages with, so their
// conversations and unread badges stay reachable.
function renderRecent() {
  const codes = new Set();
  for (const m of state.messages.values()) {
    const p = peerOf(m);
    if (p && !state.online.has(p)) codes.add(p);
  }
  if (state.view && state.view !== EVERYONE && !state.online.has(state.view)) codes.add(state.view);
  const items = [...codes].sort().map((c) => personItem({ usercode: c, username: displayName(c) }, false));
  $('recent-list').replaceChildren(...items);
  $('recent-title').hidden = items.length === 0;
  renderLastSeen();
  renderBadges();
}

function renderRecipientOptions() {
  const sel = $('recipient');
  const current = sel.value;
  for (const o of [...sel.querySelectorAll('option[data-user]')]) o.remove();
  const codes = [...state.online.keys()];
  if (current && current !== '@code' && !state.online.has(current)) codes.push(current);
  for (const code of codes) {
    const online = state.online.has(code);
    sel.append(h('option', { value: code, 'data-user': '1', text: `${displayName(code)} (${code})${online ? '' : ' — offline'}` }));
  }
  sel.value = current;
  if (sel.value !== current) sel.value = '';
}

function setRecipient(code) {
  const sel = $('recipient');
  if (code && ![...sel.options].some((o) => o.value === code)) {
    sel.append(h('option', { value: code, 'data-user': '1', text: `${displayName(code)} (${code})` }));
  }
  sel.value = code;
  $('recipient-code').hidden = true;
  hideError('recipient-error');
  renderComposerMode();
}

// followLatest points the recipient at whoever wrote to us last, so a reply
// from "All messages" goes back to them, never to everyone. It leaves the
// recipient alone once the person picked one, inside a conversation, and
// while they are typing (the recipient must not move under their text).
function followLatest() {
  if (state.recipientChosen || state.view || $('composer-input').value) return;
  for (let i = state.ids.length - 1; i >= 0; i--) {
    const m = state.messages.get(state.ids[i]);
    if (m && !isMine(m)) {
      if ($('recipient').value !== m.sender.usercode) setRecipient(m.sender.usercode);
      return;
    }
  }
}

// renderComposerMode makes sending to everyone a visible state of its own.
function renderComposerMode() {
  const all = $('recipient').value === '@all';
  $('composer').classList.toggle('to-everyone', all);
  $('broadcast-note').hidden = !all;
  if (!all) $('broadcast-confirm').hidden = true;
}

function openConversation(code) {
  state.recipientChosen = true;
  setView(code);
  setRecipient(code);
  closeSidebar();
  $('composer-input').focus();
}

// EVERYONE is the view of broadcasts only (the sidebar's "Everyone" row).
const EVERYONE = '@all';

function setView(code) {
  state.view = code || '';
  renderConvTitle();
  $('show-all').hidden = !state.view;
  renderView();
}

// renderConvTitle names the conversation by the person's name, the usercode
// after it, so a narrow screen cuts the code before it cuts the name.
function renderConvTitle() {
  const t = $('conv-title');
  if (!state.view) { t.textContent = 'All messages'; return; }
  if (state.view === EVERYONE) { t.textContent = 'Everyone (broadcasts)'; return; }
  t.replaceChildren(
    h('span', { class: 'visually-hidden' }, 'Conversation with '),
    h('span', { class: 'conv-name', dataset: { testid: 'conv-name' } }, displayName(state.view)),
    ' ',
    h('code', { class: 'usercode conv-code' }, state.view),
  );
}

function renderView() {
  for (const [id, li] of state.nodes) applyFilter(li, state.messages.get(id));
  for (const b of document.querySelectorAll('.person')) {
    const sel = b.dataset.usercode === state.view;
    b.classList.toggle('selected', sel);
    b.setAttribute('aria-pressed', sel ? 'true' : 'false');
  }
  $('messages-empty').hidden = visibleCount() > 0;
  renderRecent();
  scrollToBottom();
}

function openSidebar() {
  $('layout').classList.add('sidebar-open');
  $('scrim').hidden = false;
  $('sidebar-toggle').setAttribute('aria-expanded', 'true');
  const first = $('sidebar').querySelector('button');
  if (first) first.focus();
}

function closeSidebar() {
  const wasOpen = $('layout').classList.contains('sidebar-open');
  $('layout').classList.remove('sidebar-open');
  $('scrim').hidden = true;
  $('sidebar-toggle').setAttribute('aria-expanded', 'false');
  return wasOpen;
}

// ---------------------------------------------------------------- composer

function hideError(id) {
  const p = $(id);
  p.textContent = '';
  p.hidden = true;
}

function alertComposer(msg) {
  const p = $('composer-error');
  p.textContent = msg;
  p.hidden = false;
}

// bodyLimit is the server's limit in characters (code points, as it counts).
function bodyLimit() {
  return Number($('composer-input').dataset.maxLength) || 1000;
}

// bodyLength counts code points, as the server does, not UTF-16 units.
function bodyLength(s) {
  return [...s].length;
}

// updateCounter shows the length against the limit. Nothing cuts the text:
// a paste over the limit stays whole, the counter and an error say by how
// much it is over, and send() refuses it until it is shortened.
function updateCounter() {
  const ta = $('composer-input');
  const max = bodyLimit();
  const n = bodyLength(ta.value);
  const c = $('char-counter');
  c.textContent = `${n}/${max}`;
  c.classList.toggle('near', n >= max * 0.9 && n <= max);
  c.classList.toggle('full', n > max);
  const err = $('composer-length-error');
  const over = n > max;
  if (over) {
    err.textContent = `Too long to send: ${n} characters, the limit is ${max}. Remove ${n - max} to send it.`;
    ta.setAttribute('aria-invalid', 'true');
  } else if (!err.hidden) {
    err.textContent = '';
    ta.removeAttribute('aria-invalid');
  }
  err.hidden = !over;
}

// recipient returns the usercode to send to ('' for everyone), or null after
// showing why there is no usable recipient.
function recipient() {
  const v = $('recipient').value;
  if (v === '') {
    const p = $('recipient-error');
    p.textContent = 'Choose who gets this message: a person, or Everyone online.';
    p.hidden = false;
    $('recipient').focus();
    return null;
  }
  if (v === '@all') return '';
  if (v !== '@code') return v;
  const input = $('recipient-code');
  const code = input.value.trim().toUpperCase();
  if (!USERCODE_RE.test(code)) {
    const p = $('recipient-error');
    p.textContent = 'A usercode is 6 letters or digits, like ABC123.';
    p.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return null;
  }
  return code;
}

let sending = false;

async function send() {
  if (sending) return;
  const ta = $('composer-input');
  hideError('composer-error');
  hideError('recipient-error');
  $('recipient-code').removeAttribute('aria-invalid');
  const body = ta.value;
  if (!body.trim()) {
    alertComposer('Write something first.');
    ta.focus();
    return;
  }
  if (bodyLength(body) > bodyLimit()) {
    updateCounter(); // the length error next to the text says what to do
    ta.focus();
    return;
  }
  const to = recipient();
  if (to === null) return;
  if (to === '' && !state.broadcastConfirmed) {
    // The first broadcast of a session asks first (see the confirm buttons).
    $('broadcast-confirm').hidden = false;
    $('broadcast-confirm-send').focus();
    return;
  }
  $('broadcast-confirm').hidden = true;
  const session = state.session;
  const req = { body, client_id: randomId() };
  if (to) req.to = to;
  sending = true;
  const btn = $('composer').querySelector('button[type=submit]');
  btn.disabled = true;
  try {
    let res;
    // The same client_id on a retry makes the server return the same message,
    // so a retry after a lost response never sends twice.
    for (let attempt = 0; ; attempt++) {
      try {
        res = await api('POST', '/api/v1/messages', req);
        break;
      } catch (err) {
        if (err.status === 0 && attempt < 3) {
          await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
          continue;
        }
        throw err;
      }
    }
    if (session !== state.session) return;
    if (ta.value === body) ta.value = '';
    updateCounter();
    if (!to) {
      // A broadcast does not stick: the next message needs a recipient again.
      $('recipient').value = '';
      state.recipientChosen = false;
      renderComposerMode();
    }
    if (res && res.message) {
      addMessage(res.message, { seen: false });
      if (!inView(res.message)) setView('');
      afterNewMessages(false);
    }
  } catch (err) {
    if (handleAuthFailure(err)) return;
    if (err.status === 404 && to) {
      const p = $('recipient-error');
      p.textContent = err.problem.detail || `Nobody has the usercode ${to}.`;
      p.hidden = false;
    } else if (err.fields && err.fields.size) {
      alertComposer([...err.fields.values()].join(' '));
    } else {
      alertComposer(describe(err));
    }
  } finally {
    sending = false;
    btn.disabled = false;
    ta.focus();
  }
}

// ---------------------------------------------------------------- message body: links, quotes, Reply (issue 13)

// LINK_RE finds http(s) URLs in plain text; safeHref decides what becomes a link.
const LINK_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const QUOTE_MAX = 120;

// safeHref returns the normalized URL when raw is an absolute http or https
// URL, else ''. Anything else (javascript:, data:, relative) stays text.
function safeHref(raw) {
  let u;
  try { u = new URL(raw); } catch { return ''; }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname) return '';
  return u.href;
}

// trimUrl drops punctuation that ends the sentence rather than the URL; a
// closing bracket stays when the URL opened it, as in Wikipedia links.
function trimUrl(url) {
  const pairs = { ')': '(', ']': '[', '}': '{' };
  for (;;) {
    const c = url.slice(-1);
    if (pairs[c]) {
      const opens = url.split(pairs[c]).length - 1;
      const closes = url.split(c).length - 1;
      if (closes <= opens) return url;
    } else if (!/[.,;:!?*'"]/.test(c)) {
      return url;
    }
    url = url.slice(0, -1);
  }
}

/**
 * appendLinkified appends text to parent as text nodes, turning each http(s)
 * URL into a link that opens in a new tab without access to this page. The
 * link's text is a text node too: nothing from a message is parsed as markup.
 */
function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(LINK_RE)) {
    const url = trimUrl(match[0]);
    const href = safeHref(url);
    if (!href) continue;
    if (match.index > last) parent.append(document.createTextNode(text.slice(last, match.index)));
    parent.append(h('a', {
      href, target: '_blank', rel: 'noopener noreferrer', class: 'msg-link', dataset: { testid: 'message-link' },
    }, url));
    last = match.index + url.length;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

// fillBody renders a message body: leading "> " lines (a reply's quote) as a
// quote block, the rest as text with links. The element's textContent stays
// exactly the body: the quote marker and line breaks are kept, visually hidden.
function fillBody(el, body) {
  el.replaceChildren();
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length - 1 && lines[i].startsWith('> ')) {
    const q = h('span', { class: 'quote', dataset: { testid: 'message-quote' } },
      h('span', { class: 'visually-hidden' }, '> '));
    appendLinkified(q, lines[i].slice(2));
    el.append(q, h('span', { class: 'visually-hidden' }, '\n'));
    i++;
  }
  appendLinkified(el, lines.slice(i).join('\n'));
}

// firstLine is what a reply quotes: the first line of the message's own text
// (not of a quote it carries), shortened.
function firstLine(body) {
  const lines = String(body).split('\n');
  let i = 0;
  while (i < lines.length - 1 && lines[i].startsWith('> ')) i++;
  const line = (lines.slice(i).find((l) => l.trim()) || '').trim();
  return line.length > QUOTE_MAX ? `${line.slice(0, QUOTE_MAX - 1)}…` : line;
}

// decorateMessage adds what renderMessage leaves out: the body's links and
// quote, and a Reply button on messages from other people.
function decorateMessage(li, m) {
  fillBody(li.querySelector('.body'), m.body);
  if (isMine(m)) return;
  li.append(h('button', {
    type: 'button', class: 'link reply', dataset: { testid: 'reply' }, onclick: () => replyTo(m),
  }, 'Reply', h('span', { class: 'visually-hidden' }, ` to ${m.sender.username || m.sender.usercode}`)));
}

/**
 * replyTo answers m privately (a broadcast too): its sender becomes the
 * recipient through the same path as picking them, and the composer starts
 * with a quote of the message's first line, replacing an earlier quote.
 */
function replyTo(m) {
  state.recipientChosen = true;
  setRecipient(m.sender.usercode);
  const ta = $('composer-input');
  const quote = `> ${firstLine(m.body)}\n`;
  ta.value = quote + ta.value.replace(/^(> [^\n]*\n)+/, '');
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);
  ta.dispatchEvent(new Event('input'));
}

// ---------------------------------------------------------------- issue 13 additions: hooks

// The additions below hook into the chat at four places only: enterChat,
// resetChat, every stream event (before the chat handles it) and boot.

function enterChatAdditions() {
  startLastSeen();
  loadNotifyPref();
  renderNotifyToggle();
}

function resetChatAdditions() {
  resetFind();
  resetTyping();
  closeNotifications();
  notifyPref.on = false;
  document.title = BASE_TITLE;
}

// observeEvent sees each stream event before onEvent does, so it can tell a
// new message from one already shown.
function observeEvent(ev) {
  if (ev.type === 'message' && ev.message && ev.message.id && ev.message.sender) {
    notifyIncoming(ev.message);
    stopTyping(ev.message.sender.usercode);
  }
  if (ev.type === 'typing') onTypingEvent(ev);
  if (ev.type === 'presence') onPresenceForLastSeen(ev);
}

function wireAdditions() {
  wireFind();
  wireHiddenTab();
  wireTyping();
}

// ---------------------------------------------------------------- hidden tab: title count and notifications (issue 13)

const BASE_TITLE = 'messager';
// notifyPref.on: the person opted in (remembered per user in this browser).
const notifyPref = { on: false };
const openNotifications = new Set();

const notifySupported = () => typeof window.Notification === 'function';
const notifyKey = () => `messager.notify.${state.me ? state.me.usercode : ''}`;

function loadNotifyPref() {
  try { notifyPref.on = localStorage.getItem(notifyKey()) === 'on'; } catch { notifyPref.on = false; }
}

function saveNotifyPref() {
  try { localStorage.setItem(notifyKey(), notifyPref.on ? 'on' : 'off'); } catch { /* private mode: this session only */ }
}

function renderNotifyToggle() {
  const box = $('notify-toggle');
  const note = $('notify-note');
  let msg = '';
  if (!notifySupported()) {
    box.checked = false;
    box.disabled = true;
    msg = 'This browser cannot show notifications.';
  } else {
    box.disabled = false;
    box.checked = notifyPref.on && Notification.permission === 'granted';
    if (Notification.permission === 'denied') msg = 'Notifications are blocked for this site: allow them in the browser’s site settings.';
  }
  note.textContent = msg;
  note.hidden = !msg;
}

// onNotifyToggle runs on the person's click: the only moment the browser's
// permission prompt may be shown.
async function onNotifyToggle() {
  if (!$('notify-toggle').checked) {
    notifyPref.on = false;
  } else {
    let perm = Notification.permission;
    if (perm === 'default') {
      try { perm = await Notification.requestPermission(); } catch { perm = 'denied'; }
    }
    notifyPref.on = perm === 'granted';
  }
  saveNotifyPref();
  renderNotifyToggle();
}

/**
 * notifyIncoming shows a notification for a new message from someone else,
 * only when the person opted in and the tab is hidden: the sender, whether it
 * went to everyone, and the first line. Called before the message is added.
 */
function notifyIncoming(m) {
  if (!notifyPref.on || !notifySupported() || Notification.permission !== 'granted') return;
  if (document.visibilityState !== 'hidden' || !state.me || isMine(m) || state.messages.has(m.id)) return;
  const who = m.sender.username || m.sender.usercode;
  let n;
  try {
    n = new Notification(m.broadcast ? `${who} (to everyone)` : who, { body: firstLine(m.body), tag: m.id, icon: '/static/icon.svg' });
  } catch {
    return; // e.g. Chrome on Android only notifies through a service worker
  }
  openNotifications.add(n);
  n.onclose = () => openNotifications.delete(n);
  n.onclick = () => {
    window.focus();
    if (!m.broadcast && state.me) openConversation(m.sender.usercode);
    n.close();
  };
}

function closeNotifications() {
  for (const n of openNotifications) {
    try { n.close(); } catch { /* already gone */ }
  }
  openNotifications.clear();
}

// renderTitle shows the unread count in the tab title while the tab is
// hidden. The count is read from the header badge, so the two never differ.
function renderTitle() {
  const b = $('unread-total');
  const n = state.me && b && !b.hidden ? parseInt(b.textContent, 10) || 0 : 0;
  const title = document.visibilityState === 'hidden' && n > 0 ? `(${n}) ${BASE_TITLE}` : BASE_TITLE;
  if (document.title !== title) document.title = title;
}

function wireHiddenTab() {
  new MutationObserver(renderTitle).observe($('unread-total'), {
    childList: true, characterData: true, subtree: true, attributes: true, attributeFilter: ['hidden'],
  });
  document.addEventListener('visibilitychange', () => {
    renderTitle();
    if (document.visibilityState === 'visible') closeNotifications();
  });
  $('notify-toggle').addEventListener('change', onNotifyToggle);
}

// ---------------------------------------------------------------- typing indicators (issue 13)

// The server coalesces typing events to one per 2 s and never stores them;
// the page sends at most one per TYPING_SEND_MS while the person types a
// direct message, and shows "X is typing…" until TYPING_SHOW_MS after X's
// last event or X's message arrives.
const TYPING_SEND_MS = 2500;
const TYPING_SHOW_MS = 5000;
const typing = { sentTo: '', sentAt: 0, timers: new Map() }; // timers: usercode -> timeout

// typingTarget is the person a typing event may go to: a person picked in the
// To select, never everyone and never a usercode still being typed.
function typingTarget() {
  const v = $('recipient').value;
  if (!v || v.startsWith('@') || !state.me || v === state.me.usercode) return '';
  return v;
}

function sendTyping() {
  const to = typingTarget();
  if (!to || !$('composer-input').value.trim()) return;
  const now = Date.now();
  if (to === typing.sentTo && now - typing.sentAt < TYPING_SEND_MS) return;
  typing.sentTo = to;
  typing.sentAt = now;
  api('POST', '/api/v1/typing', { to }).catch((err) => { handleAuthFailure(err); });
}

function onTypingEvent(ev) {
  const u = ev.user;
  if (!u || !u.usercode || !state.me || u.usercode === state.me.usercode) return;
  if (u.username) state.names.set(u.usercode, u.username);
  clearTimeout(typing.timers.get(u.usercode));
  typing.timers.set(u.usercode, setTimeout(() => stopTyping(u.usercode), TYPING_SHOW_MS));
  renderTyping();
}

function stopTyping(code) {
  clearTimeout(typing.timers.get(code));
  if (typing.timers.delete(code)) renderTyping();
}

function resetTyping() {
  for (const t of typing.timers.values()) clearTimeout(t);
  typing.timers.clear();
  typing.sentTo = '';
  typing.sentAt = 0;
  renderTyping();
}

// renderTyping names who is typing to me: in a conversation only its person,
// on All messages everyone.
function renderTyping() {
  const names = [...typing.timers.keys()]
    .filter((c) => !state.view || c === state.view)
    .map(displayName)
    .sort();
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  const el = $('typing');
  if (el.textContent !== text) el.textContent = text;
  el.hidden = !text;
}

function wireTyping() {
  $('composer-input').addEventListener('input', (e) => { if (e.isTrusted) sendTyping(); });
  // The conversation title changes with the view: show that view's typers.
  new MutationObserver(renderTyping).observe($('conv-title'), { childList: true, characterData: true, subtree: true });
}

// ---------------------------------------------------------------- finding people and "last seen" (issue 13)

const SEARCH_DEBOUNCE_MS = 250;
const LAST_SEEN_REFRESH_MS = 60000;
const search = { timer: 0, seq: 0 };
// lastSeen: usercode -> RFC 3339 time they were last online ('' when unknown
// or never); lastSeenAsked: usercodes already looked up this session.
const lastSeen = new Map();
const lastSeenAsked = new Set();
let lastSeenTimer = 0;

// agoText says how long ago iso was, as "5 min ago"; '' when unknown.
function agoText(iso) {
  const t = Date.parse(iso || '');
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)} d ago`;
  return `on ${new Date(t).toLocaleDateString([], { month: 'short', day: 'numeric', year: 'numeric' })}`;
}

function lastSeenText(code) {
  if (state.online.has(code)) return 'online';
  const ago = agoText(lastSeen.get(code));
  return ago ? `last seen ${ago}` : 'offline';
}

// noteUser keeps what a search or lookup said about a person.
function noteUser(u) {
  if (u.username) state.names.set(u.usercode, u.username);
  if (!u.online && u.last_seen) lastSeen.set(u.usercode, u.last_seen);
}

// setPersonDetail puts a second line (online / last seen) under a person in
// the sidebar.
function setPersonDetail(li, text) {
  const btn = li.querySelector('.person');
  if (!btn) return;
  let span = btn.querySelector('.last-seen');
  if (!span) {
    span = h('span', { class: 'last-seen', dataset: { testid: 'last-seen' } });
    btn.classList.add('with-detail');
    btn.append(span);
  }
  if (span.textContent !== text) span.textContent = text;
}

// renderLastSeen labels each offline person in Recent with when they were
// last online, looking each one up once (presence events keep it current).
function renderLastSeen() {
  for (const li of $('recent-list').children) {
    const code = li.dataset.usercode;
    if (!code) continue;
    if (!lastSeen.has(code) && !lastSeenAsked.has(code)) lookUpLastSeen(code);
    setPersonDetail(li, lastSeenText(code));
  }
  for (const li of $('find-results').children) {
    if (li.dataset.usercode) setPersonDetail(li, lastSeenText(li.dataset.usercode));
  }
}

async function lookUpLastSeen(code) {
  const session = state.session;
  lastSeenAsked.add(code);
  try {
    const u = await api('GET', `/api/v1/users/${encodeURIComponent(code)}`);
    if (session !== state.session || !u || u.usercode !== code) return;
    noteUser(u);
    renderLastSeen();
  } catch (err) {
    handleAuthFailure(err);
  }
}

function onPresenceForLastSeen(ev) {
  if (!ev.user || !ev.user.usercode) return;
  if (!ev.online) lastSeen.set(ev.user.usercode, new Date().toISOString());
}

function setFindStatus(text) {
  const p = $('find-status');
  p.textContent = text;
  p.hidden = !text;
}

function onFindInput() {
  clearTimeout(search.timer);
  const q = $('find-input').value.trim();
  if (!q) {
    search.seq++;
    $('find-results').replaceChildren();
    setFindStatus('');
    return;
  }
  search.timer = setTimeout(() => runSearch(q), SEARCH_DEBOUNCE_MS);
}

// runSearch asks the server for people whose username starts with q or whose
// usercode is q, online or not; only the newest answer is shown.
async function runSearch(q) {
  const seq = ++search.seq;
  const session = state.session;
  try {
    const res = await api('GET', `/api/v1/users?q=${encodeURIComponent(q)}`);
    if (seq !== search.seq || session !== state.session) return;
    const users = ((res && res.users) || []).filter((u) => u && u.usercode && u.usercode !== state.me.usercode);
    for (const u of users) noteUser(u);
    $('find-results').replaceChildren(...users.map((u) => {
      const online = !!u.online || state.online.has(u.usercode);
      const li = personItem(u, online);
      setPersonDetail(li, online ? 'online' : lastSeenText(u.usercode));
      return li;
    }));
    renderBadges();
    setFindStatus(users.length ? `${users.length === 1 ? '1 person' : `${users.length} people`} found` : `Nobody found for “${q}”.`);
  } catch (err) {
    if (seq !== search.seq || handleAuthFailure(err)) return;
    $('find-results').replaceChildren();
    if (err.status === 429) {
      const s = parseInt(err.retryAfter, 10);
      setFindStatus(`Too many searches. Try again${s > 0 ? ` in ${s} s` : ' in a moment'}.`);
    } else {
      setFindStatus(err.fields && err.fields.get('q') ? err.fields.get('q') : describe(err));
    }
  }
}

function resetFind() {
  clearTimeout(search.timer);
  search.seq++;
  $('find-input').value = '';
  $('find-results').replaceChildren();
  setFindStatus('');
  lastSeen.clear();
  lastSeenAsked.clear();
  clearInterval(lastSeenTimer);
  lastSeenTimer = 0;
}

function startLastSeen() {
  clearInterval(lastSeenTimer);
  lastSeenTimer = setInterval(renderLastSeen, LAST_SEEN_REFRESH_MS);
}

function wireFind() {
  $('find-input').addEventListener('input', onFindInput);
  $('find-input').addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && $('find-input').value) {
      e.stopPropagation();
      $('find-input').value = '';
      onFindInput();
    }
  });
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('login-form').addEventListener('submit', onLogin);
  $('register-form').addEventListener('submit', onRegister);
  $('sign-out').addEventListener('click', signOut);
  $('welcome-close').addEventListener('click', () => { $('welcome').hidden = true; $('composer-input').focus(); });
  $('show-all').addEventListener('click', () => setView(''));
  $('everyone-view').addEventListener('click', () => { setView(EVERYONE); closeSidebar(); });
  $('sidebar-toggle').addEventListener('click', () => {
    if (!closeSidebar()) openSidebar();
  });
  $('scrim').addEventListener('click', closeSidebar);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && closeSidebar()) $('sidebar-toggle').focus();
  });

  const ta = $('composer-input');
  ta.addEventListener('input', () => { updateCounter(); hideError('composer-error'); });
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      send();
    }
  });
  $('composer').addEventListener('submit', (e) => { e.preventDefault(); send(); });

  $('recipient').addEventListener('change', () => {
    const v = $('recipient').value;
    const code = $('recipient-code');
    code.hidden = v !== '@code';
    state.recipientChosen = v !== '';
    hideError('recipient-error');
    renderComposerMode();
    if (v === '@code') code.focus();
  });
  $('broadcast-confirm-send').addEventListener('click', () => {
    state.broadcastConfirmed = true;
    send();
  });
  $('broadcast-confirm-cancel').addEventListener('click', () => {
    $('broadcast-confirm').hidden = true;
    $('recipient').focus();
  });
  // Selecting a message makes its person the recipient.
  $('message-items').addEventListener('click', (e) => {
    const li = e.target.closest('[data-testid=message]');
    if (!li || e.target.closest('a, button') || window.getSelection().toString()) return;
    const m = state.messages.get(li.dataset.id);
    // A received broadcast is answered privately, to its sender.
    const peer = m && (m.broadcast && !isMine(m) ? m.sender.usercode : peerOf(m));
    if (peer && peer !== state.me.usercode) {
      state.recipientChosen = true;
      setRecipient(peer);
    }
  });
  $('recipient-code').addEventListener('input', (e) => {
    e.target.value = e.target.value.toUpperCase();
    e.target.removeAttribute('aria-invalid');
    hideError('recipient-error');
  });

  const list = $('messages');
  let scheduled = false;
  list.addEventListener('scroll', () => {
    // At once, not in the frame below: a message arriving before that frame
    // must see where the reader is now.
    pinnedToBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      if (list.scrollTop < 80) loadOlder();
      if (pinnedToBottom) $('jump-new').hidden = true;
      markVisibleRead();
    });
  });
  $('load-older').addEventListener('click', loadOlder);
  $('jump-new').addEventListener('click', scrollToBottom);
  window.addEventListener('resize', () => markVisibleRead());
  // Reading waits for the tab to be shown and focused (see markVisibleRead).
  window.addEventListener('focus', () => markVisibleRead());
  window.addEventListener('blur', () => markVisibleRead());
  document.addEventListener('visibilitychange', () => {
    markVisibleRead();
    if (document.visibilityState !== 'visible' || !state.stream) return;
    state.stream.retryNow();
  });
  window.addEventListener('online', () => { if (state.stream) state.stream.retryNow(); });
}

async function boot() {
  wire();
  wireAdditions();
  updateCounter();
  try {
    const res = await api('GET', '/api/v1/auth/me');
    await enterChat(res.user, false);
  } catch (err) {
    showAuth(err instanceof ApiError && err.status !== 401 ? describe(err) : '');
  }
}

boot();
