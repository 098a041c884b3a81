// Lightbox web UI: plain JavaScript, no framework, no HTML strings. Every value from the server
// reaches the page through textContent or non-URL attributes (see h()).
(() => {
  'use strict';

  // ------------------------------------------------------------------ utilities

  window.lightboxErrors = [];
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const enc = encodeURIComponent;

  const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'indeterminate', 'selected', 'title']);

  /** Builds an element. Strings among children become text nodes; never parsed as HTML. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = String(v);
        else if (k === 'testid') el.setAttribute('data-testid', v);
        else if (k === 'style') Object.assign(el.style, v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
        else if (PROPS.has(k)) el[k] = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    appendChildren(el, children);
    return el;
  }
  function appendChildren(el, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) appendChildren(el, c);
      else if (c instanceof Node) el.appendChild(c);
      else el.appendChild(document.createTextNode(String(c)));
    }
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function setChildren(el, ...children) { clear(el); appendChildren(el, children); return el; }

  function recordError(err, context) {
    const message = (err && err.message) || String(err);
    window.lightboxErrors.push({ message, context: context || '', at: new Date().toISOString() });
    if (window.lightboxErrors.length > 1000) window.lightboxErrors.shift();
    return message;
  }
  function reportError(err, context) {
    if (err && err.name === 'AbortError') return;
    const message = recordError(err, context);
    toast(context ? `${context}: ${message}` : message, 'error');
  }
  window.addEventListener('error', (e) => { recordError(e.error || e.message, 'uncaught'); });
  window.addEventListener('unhandledrejection', (e) => { e.preventDefault(); reportError(e.reason, 'Unexpected error'); });

  let toastTimer = 0;
  function toast(message, kind = 'info', ms) {
    const el = $('#toast');
    el.className = 'toast ' + kind;
    setChildren(el,
      h('span', { class: 'toast-text', text: message }),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Dismiss message', onclick: () => { el.hidden = true; } }, '✕'));
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, ms || (kind === 'error' ? 10000 : 4000));
  }

  class ApiError extends Error {
    constructor(message, status, field) { super(message); this.name = 'ApiError'; this.status = status; this.field = field; }
  }
  async function api(path, opts = {}) {
    const init = { method: opts.method || 'GET', headers: { Accept: 'application/json' }, signal: opts.signal };
    if (opts.body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(opts.body); }
    let res;
    try { res = await fetch(path, init); } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError('the server cannot be reached', 0);
    }
    const text = res.status === 204 ? '' : await res.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (_) { data = null; } }
    if (!res.ok) {
      const msg = (data && typeof data.error === 'string' && data.error) || `${res.status} ${res.statusText || 'error'}`;
      const err = new ApiError(msg, res.status, data && data.field);
      err.data = data;
      throw err;
    }
    return data;
  }
  const post = (path, body) => api(path, { method: 'POST', body: body === undefined ? {} : body });

  function limiter(n) {
    let active = 0;
    const q = [];
    const next = () => {
      if (active >= n || !q.length) return;
      active++;
      const { fn, res, rej } = q.shift();
      Promise.resolve().then(fn).then(res, rej).finally(() => { active--; next(); });
    };
    return (fn) => new Promise((res, rej) => { q.push({ fn, res, rej }); next(); });
  }
  const netLimit = limiter(4);
  const jobLimit = limiter(4);

  function debounce(fn, ms) {
    let t = 0;
    return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  }
  const fmtNum = (n) => (n == null || isNaN(n) ? '–' : Number(n).toLocaleString('en-US'));
  function fmtBytes(n) {
    if (n == null || isNaN(n)) return '';
    n = Number(n);
    const u = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + u[i];
  }
  function fmtDA(s) {
    if (!s) return '';
    s = String(s);
    return /^\d{8}$/.test(s) ? `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}` : s;
  }
  /** A person name for display: each component group "Family, Given Middle"; nothing else changes. */
  function fmtPN(s) {
    if (!s) return '';
    return String(s).split('=').map((group) => {
      if (!group.includes('^')) return group;
      const [family = '', given = '', middle = '', prefix = '', suffix = ''] = group.split('^');
      const rest = [prefix, given, middle].filter(Boolean).join(' ');
      let out = [family, rest].filter(Boolean).join(', ');
      if (suffix) out += ' ' + suffix;
      return out;
    }).join('=');
  }
  function ymd(d) {
    return `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}`;
  }
  function relTime(ms) {
    if (!ms) return '';
    const s = Math.round((Date.now() - ms) / 1000);
    const a = Math.abs(s);
    let t;
    if (a < 5) return 'just now';
    if (a < 60) t = `${a} s`;
    else if (a < 3600) t = `${Math.round(a / 60)} min`;
    else if (a < 86400) t = `${Math.round(a / 3600)} h`;
    else t = `${Math.round(a / 86400)} d`;
    return s >= 0 ? `${t} ago` : `in ${t}`;
  }
  const fullTime = (ms) => (ms ? new Date(ms).toLocaleString() : '');
  const plural = (n, one, many) => `${fmtNum(n)} ${n === 1 ? one : (many || one + 's')}`;

  const settings = {
    get(k, d) {
      try { const v = localStorage.getItem('lightbox.' + k); return v == null ? d : JSON.parse(v); } catch (_) { return d; }
    },
    set(k, v) { try { localStorage.setItem('lightbox.' + k, JSON.stringify(v)); } catch (_) { /* private mode */ } },
  };

  // ------------------------------------------------------------------ theme, size, pages

  const mqDark = window.matchMedia('(prefers-color-scheme: dark)');
  const effectiveTheme = () => settings.get('theme', null) || (mqDark.matches ? 'dark' : 'light');
  function applyTheme() {
    const t = settings.get('theme', null);
    if (t) document.documentElement.dataset.theme = t; else delete document.documentElement.dataset.theme;
    const eff = effectiveTheme();
    const btn = $('#theme-toggle');
    btn.setAttribute('aria-label', eff === 'dark' ? 'Switch to light theme' : 'Switch to dark theme');
    btn.dataset.theme = eff;
    $('#theme-icon').textContent = eff === 'dark' ? '☀' : '☾';
  }
  $('#theme-toggle').addEventListener('click', () => {
    settings.set('theme', effectiveTheme() === 'dark' ? 'light' : 'dark');
    applyTheme();
  });
  if (mqDark.addEventListener) mqDark.addEventListener('change', applyTheme);

  const SIZES = { S: 128, M: 192, L: 256 };
  function thumbSize() { const s = settings.get('thumbSize', 'S'); return SIZES[s] ? s : 'S'; }
  function applySize() {
    const s = thumbSize();
    document.documentElement.dataset.size = s;
    for (const b of $$('[data-size]')) b.setAttribute('aria-pressed', String(b.dataset.size === s));
  }
  for (const b of $$('.segmented [data-size]')) {
    b.addEventListener('click', () => {
      settings.set('thumbSize', b.dataset.size);
      applySize();
      for (const s of B.seriesIndex.values()) if (s.els) updateTile(s);
    });
  }

  const PAGES = ['browser', 'jobs', 'nodes', 'import'];
  let currentPage = null;
  function showPage(name, push = true) {
    if (!PAGES.includes(name)) name = 'browser';
    currentPage = name;
    for (const p of PAGES) {
      $('#page-' + p).hidden = p !== name;
      const tab = $('#tab-' + p);
      tab.setAttribute('aria-selected', String(p === name));
      tab.tabIndex = 0;
    }
    if (push && location.hash !== '#/' + name) history.replaceState(null, '', '#/' + name);
    if (name === 'jobs' && !JP.loaded) JP.load();
    if (name === 'nodes') NP.load();
    if (JD.dlg.open && name !== 'jobs') JD.dlg.close();
    if (name === 'browser') maybeLoadMore();
    Menu.close(false);
  }
  for (const p of PAGES) $('#tab-' + p).addEventListener('click', () => showPage(p));
  $('.tabs').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const i = PAGES.indexOf(currentPage);
    const n = PAGES[(i + (e.key === 'ArrowRight' ? 1 : PAGES.length - 1)) % PAGES.length];
    showPage(n);
    $('#tab-' + n).focus();
  });
  window.addEventListener('hashchange', () => showPage(location.hash.replace(/^#\/?/, ''), false));

  // ------------------------------------------------------------------ status

  let statusInfo = null;
  async function loadStatus() {
    try {
      statusInfo = await api('/api/status');
      renderStatus();
    } catch (e) {
      $('#listener-status').textContent = 'status unavailable';
      $('#listener-status').className = 'listener-status down';
      reportError(e, 'Server status');
    }
  }
  function renderStatus() {
    const s = statusInfo;
    if (!s) return;
    const el = $('#listener-status');
    const d = s.dimse || {};
    el.textContent = `${s.ae_title || '?'} @ ${d.address || '?'}`;
    el.className = 'listener-status ' + (d.running ? 'up' : 'down');
    el.title = d.running ? 'DICOM listener running' : 'DICOM listener not running';
    if (s.store) renderTotals(s.store);
    NP.renderThisServer();
  }
  function renderTotals(st) {
    $('#store-totals').textContent =
      `${plural(st.patients, 'patient')} · ${plural(st.studies, 'study', 'studies')} · ${plural(st.series, 'series', 'series')} · ${plural(st.instances, 'instance')} · ${fmtBytes(st.bytes)}`;
  }

  // ------------------------------------------------------------------ jobs store and events

  const ACTIVE = new Set(['queued', 'running', 'waiting_retry']);
  const TERMINAL = new Set(['completed', 'failed', 'canceled']);
  const Jobs = { map: new Map(), bySeries: new Map(), byStudy: new Map() };
  const isPreviewSpec = (sp) => !!(sp && (sp.preview_first || sp.preview_only || sp.sop_instance_uid));

  function indexJob(rec) {
    const sp = rec.spec;
    if (rec.kind !== 'retrieve' || !sp) return;
    const add = (m, k) => { let s = m.get(k); if (!s) m.set(k, (s = new Set())); s.add(rec.id); };
    if (sp.series_uid) add(Jobs.bySeries, sp.series_uid);
    else if (sp.study_uid) add(Jobs.byStudy, sp.study_uid);
  }
  /** Merges what we learnt about a job; `silent` records a job from a listing without side effects. */
  function mergeJob(partial, opts = {}) {
    const id = partial.id;
    let rec = Jobs.map.get(id);
    const prevState = rec ? rec.state : undefined;
    if (!rec) { rec = { id, progress: null, error: null, _handled: false }; Jobs.map.set(id, rec); }
    for (const k of Object.keys(partial)) {
      if (partial[k] === undefined || k === 'log') continue;
      if (opts.fetchedAt && rec._evAt > opts.fetchedAt && (k === 'state' || k === 'progress' || k === 'error')) continue;
      rec[k] = partial[k];
    }
    if (!opts.fetchedAt && opts.event) rec._evAt = performance.now();
    if (ACTIVE.has(rec.state)) rec._handled = false;
    if (opts.silent && TERMINAL.has(rec.state)) rec._handled = true;
    indexJob(rec);
    onJobChanged(rec, prevState);
    return rec;
  }
  const fetching = new Set();
  async function fetchJob(id) {
    if (fetching.has(id)) return;
    fetching.add(id);
    const t = performance.now();
    try {
      const rec = await api(`/api/jobs/${enc(id)}`);
      mergeJob(rec, { fetchedAt: t });
    } catch (e) {
      if (e.status !== 404) recordError(e, `job ${id}`);
    } finally { fetching.delete(id); }
  }
  function onJobEvent(ev) {
    if (!ev || ev.id == null) return;
    const known = Jobs.map.get(ev.id);
    switch (ev.event) {
      case 'queued':
        mergeJob({ id: ev.id, kind: ev.kind, title: ev.title, priority: ev.priority,
          state: known ? known.state : 'queued', created_at: known ? known.created_at : Date.now() }, { event: true });
        if (!known || !known.spec) fetchJob(ev.id);
        break;
      case 'state': {
        if (!known) { fetchJob(ev.id); break; }
        const f = { id: ev.id, state: ev.state, attempts: ev.attempts };
        if ('error' in ev) f.error = ev.error;
        else if (ev.state === 'queued' || ev.state === 'running') f.error = null;
        if ('retry_at' in ev) f.retry_at = ev.retry_at;
        if (ev.state === 'running' && !known.started_at) f.started_at = Date.now();
        if (TERMINAL.has(ev.state)) f.finished_at = Date.now();
        if (ACTIVE.has(ev.state)) f.finished_at = null;
        mergeJob(f, { event: true });
        if (!known.spec || TERMINAL.has(ev.state)) fetchJob(ev.id);
        break;
      }
      case 'progress':
        if (!known) { fetchJob(ev.id); break; }
        mergeJob({ id: ev.id, progress: ev.progress }, { event: true });
        break;
      case 'log':
        JD.onLog(ev);
        break;
      default: break;
    }
  }
  let badgeQueued = false;
  function updateBadge() {
    if (badgeQueued) return;
    badgeQueued = true;
    requestAnimationFrame(() => {
      badgeQueued = false;
      let n = 0;
      for (const j of Jobs.map.values()) if (j.state === 'queued' || j.state === 'running') n++;
      const b = $('#jobs-badge');
      b.textContent = String(n);
      b.hidden = n === 0;
      b.setAttribute('aria-label', `${n} active jobs`);
    });
  }
  function onJobChanged(rec, prevState) {
    updateBadge();
    JP.onJob(rec);
    browserOnJob(rec, prevState);
    IP.onJob(rec);
    JD.onJob(rec);
  }
  async function seedJobs() {
    try {
      const [a, b] = await Promise.all([
        api('/api/jobs?state=queued&state=running&state=waiting_retry&state=failed&kind=retrieve&limit=500'),
        api('/api/jobs?state=queued&state=running&state=waiting_retry&limit=500'),
      ]);
      for (const r of [...(a && a.jobs) || [], ...(b && b.jobs) || []]) mergeJob(r, { silent: true, fetchedAt: performance.now() });
    } catch (e) { reportError(e, 'Loading jobs'); }
  }

  let es = null;
  let esFailures = 0;
  function connectEvents() {
    if (es) es.close();
    es = new EventSource('/api/events');
    es.addEventListener('open', () => {
      if (esFailures) { seedJobs(); loadStatus(); scheduleListRefresh(); }
      esFailures = 0;
    });
    es.addEventListener('job', (e) => {
      try { onJobEvent(JSON.parse(e.data)); } catch (err) { recordError(err, 'job event'); }
    });
    es.addEventListener('store', (e) => {
      try {
        const st = JSON.parse(e.data);
        if (statusInfo) statusInfo.store = st;
        renderTotals(st);
        scheduleListRefresh();
      } catch (err) { recordError(err, 'store event'); }
    });
    es.addEventListener('resync', () => { seedJobs(); if (JP.loaded) JP.load(); });
    es.addEventListener('error', () => {
      esFailures++;
      if (es.readyState === EventSource.CLOSED) setTimeout(connectEvents, Math.min(30000, 2000 * esFailures));
    });
  }

  // ------------------------------------------------------------------ menus

  const Menu = {
    el: $('#row-menu'),
    anchor: null,
    open(anchor, title, items) {
      this.close(false);
      this.anchor = anchor;
      const el = this.el;
      const children = [h('div', { class: 'menu-title', text: title })];
      for (const it of items) {
        let node;
        if (it.href && !it.disabled) {
          node = h('a', { class: 'menu-item', role: 'menuitem', href: it.href, download: '', testid: it.testid, tabindex: '-1',
            onclick: () => this.close(true) }, it.label);
        } else {
          node = h('button', { type: 'button', class: 'menu-item' + (it.danger ? ' danger' : ''), role: 'menuitem', testid: it.testid,
            tabindex: '-1', 'aria-disabled': it.disabled ? 'true' : null, title: it.disabled ? it.why || 'Not available' : null,
            onclick: () => { if (it.disabled) return; this.close(true); Promise.resolve().then(it.run).catch((e) => reportError(e, it.label)); } }, it.label);
        }
        children.push(node);
      }
      setChildren(el, children);
      el.hidden = false;
      const r = anchor.getBoundingClientRect();
      const w = el.offsetWidth, hgt = el.offsetHeight;
      let left = Math.min(r.right - w, window.innerWidth - w - 8);
      left = Math.max(8, left);
      let top = r.bottom + 4;
      if (top + hgt > window.innerHeight - 8) top = Math.max(8, r.top - hgt - 4);
      el.style.left = left + 'px';
      el.style.top = top + 'px';
      anchor.setAttribute('aria-expanded', 'true');
      const first = el.querySelector('.menu-item:not([aria-disabled])') || el.querySelector('.menu-item');
      if (first) first.focus();
    },
    close(refocus) {
      if (this.el.hidden) return;
      this.el.hidden = true;
      clear(this.el);
      if (this.anchor) {
        this.anchor.setAttribute('aria-expanded', 'false');
        if (refocus && this.anchor.isConnected) this.anchor.focus();
      }
      this.anchor = null;
    },
  };
  Menu.el.addEventListener('keydown', (e) => {
    const items = $$('.menu-item', Menu.el);
    const i = items.indexOf(document.activeElement);
    if (e.key === 'ArrowDown') { e.preventDefault(); items[(i + 1) % items.length].focus(); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
    else if (e.key === 'Home') { e.preventDefault(); items[0].focus(); }
    else if (e.key === 'End') { e.preventDefault(); items[items.length - 1].focus(); }
    else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); Menu.close(true); }
    else if (e.key === 'Tab') Menu.close(false);
  });
  document.addEventListener('mousedown', (e) => {
    if (!Menu.el.hidden && !Menu.el.contains(e.target) && e.target !== Menu.anchor) Menu.close(false);
    const dd = $('#modality-dropdown');
    if (!$('#modality-panel').hidden && !dd.contains(e.target)) closeModalities(false);
  });
  window.addEventListener('resize', () => Menu.close(false));
  window.addEventListener('scroll', () => Menu.close(false), { passive: true });

  // ------------------------------------------------------------------ dialogs

  for (const btn of $$('.close-dialog')) btn.addEventListener('click', () => btn.closest('dialog').close());

  function confirmDialog({ title, body, ok = 'Delete', danger = true }) {
    const dlg = $('#confirm-dialog');
    $('#confirm-title').textContent = title;
    setChildren($('#confirm-body'), body);
    const okBtn = $('#confirm-ok');
    okBtn.textContent = ok;
    okBtn.className = danger ? 'danger' : 'primary';
    return new Promise((resolve) => {
      let result = false;
      const onOk = () => { result = true; dlg.close(); };
      const onCancel = () => dlg.close();
      const onClose = () => {
        okBtn.removeEventListener('click', onOk);
        $('#confirm-cancel').removeEventListener('click', onCancel);
        dlg.removeEventListener('close', onClose);
        resolve(result);
      };
      okBtn.addEventListener('click', onOk);
      $('#confirm-cancel').addEventListener('click', onCancel);
      dlg.addEventListener('close', onClose);
      dlg.showModal();
      $('#confirm-cancel').focus();
    });
  }

  function sendDialog(description) {
    const dlg = $('#send-dialog');
    const targets = B.nodes.filter((n) => n.send_target);
    const sel = $('#send-node');
    setChildren(sel, targets.map((n) => h('option', { value: n.name }, n.name)));
    const last = settings.get('lastSendNode', '');
    if (targets.some((n) => n.name === last)) sel.value = last;
    setChildren($('#send-body'), description,
      targets.length ? null : h('p', { class: 'error-text' }, 'No node is configured as a send target. Add one on the Nodes page.'));
    $('#send-ok').disabled = !targets.length;
    return new Promise((resolve) => {
      let result = null;
      const form = $('#send-form');
      const onSubmit = (e) => { e.preventDefault(); result = sel.value || null; dlg.close(); };
      const onCancel = () => dlg.close();
      const onClose = () => {
        form.removeEventListener('submit', onSubmit);
        $('#send-cancel').removeEventListener('click', onCancel);
        dlg.removeEventListener('close', onClose);
        if (result) settings.set('lastSendNode', result);
        resolve(result);
      };
      form.addEventListener('submit', onSubmit);
      $('#send-cancel').addEventListener('click', onCancel);
      dlg.addEventListener('close', onClose);
      dlg.showModal();
      (targets.length ? sel : $('#send-cancel')).focus();
    });
  }

  // ------------------------------------------------------------------ browser: state

  const MODALITIES = ['CR', 'CT', 'DX', 'MG', 'MR', 'NM', 'PT', 'RF', 'SEG', 'SR', 'US', 'XA', 'OT'];
  const NON_IMAGE = new Set(['SR', 'KO', 'PR', 'DOC', 'RTSTRUCT', 'RTPLAN', 'RTRECORD', 'ECG', 'AU', 'REG', 'FID', 'PLAN', 'HD', 'RESP', 'EPS', 'RWV']);
  const PAGE_SIZE = 50;

  const B = {
    nodes: [],
    entries: new Map(),      // StudyInstanceUID → study entry (shown in the local list or the remote block)
    seriesIndex: new Map(),  // SeriesInstanceUID → series entry
    expandState: new Map(),  // StudyInstanceUID → expanded, as the user left it
    remoteIndex: new Map(),  // StudyInstanceUID → Map(node → study row), from the last remote search
    knownLocal: new Set(),   // remote studies found in the local store
    selection: new Map(),
    prefetched: new Set(),
    remoteGen: 0,
    list: null,
  };
  const resultsEl = $('#results');

  function newList(filters) {
    return { gen: (B.list ? B.list.gen : 0) + 1, filters, offset: 0, total: null, loading: false, done: false, error: false,
      groups: [], lastGroup: null, count: 0 };
  }

  const patientKey = (row) => `${row.PatientID || ''}\u0000${row.PatientName || ''}`;
  const sourceLocal = () => $('#source-local').checked;
  function chosenNodes() {
    return $$('#source-nodes input[type=checkbox]').filter((c) => c.checked).map((c) => c.dataset.node);
  }
  const prefetchPolicy = () => $('#prefetch').value;

  // ------------------------------------------------------------------ filters

  const TEXT_FILTERS = [
    ['patient_name', '#f-patient-name'], ['patient_id', '#f-patient-id'], ['study_description', '#f-study-description'],
    ['series_description', '#f-series-description'], ['accession', '#f-accession'],
  ];
  function dateRange() {
    const sel = $('#f-date').value;
    const t = new Date();
    const back = (days) => ymd(new Date(t.getFullYear(), t.getMonth(), t.getDate() - days));
    switch (sel) {
      case 'today': return ymd(t);
      case 'yesterday': return back(1);
      case '7d': return `${back(7)}-${ymd(t)}`;
      case '30d': return `${back(30)}-${ymd(t)}`;
      case '1y': return `${ymd(new Date(t.getFullYear() - 1, t.getMonth(), t.getDate()))}-${ymd(t)}`;
      case 'custom': {
        let a = $('#f-date-from').value.replace(/-/g, '');
        let b = $('#f-date-to').value.replace(/-/g, '');
        if (a && b && a > b) [a, b] = [b, a];
        if (!a && !b) return '';
        if (a && b) return a === b ? a : `${a}-${b}`;
        return a ? `${a}-` : `-${b}`;
      }
      default: return '';
    }
  }
  function selectedModalities() {
    return $$('#modality-panel input[data-modality]').filter((c) => c.checked).map((c) => c.dataset.modality);
  }
  function readFilters() {
    const f = {};
    for (const [k, sel] of TEXT_FILTERS) f[k] = $(sel).value.trim();
    f.date = dateRange();
    f.modality = selectedModalities();
    return f;
  }
  const filtersActive = (f) => !!(TEXT_FILTERS.some(([k]) => f[k]) || f.date || f.modality.length);
  function localQuery(f, offset, limit) {
    const p = new URLSearchParams();
    p.set('order', 'patient');
    p.set('limit', String(limit));
    p.set('offset', String(offset));
    for (const [k] of TEXT_FILTERS) if (f[k]) p.set(k, f[k]);
    if (f.date) p.set('date', f.date);
    for (const m of f.modality) p.append('modality', m);
    return '/api/studies?' + p.toString();
  }
  function remoteFilters(f) {
    return { patient_name: f.patient_name, patient_id: f.patient_id, date: f.date, modality: f.modality,
      study_description: f.study_description, accession: f.accession };
  }
  function seriesFilterMatch(desc) {
    const q = B.list ? B.list.filters.series_description : '';
    if (!q) return true;
    const d = String(desc || '').toLowerCase();
    if (/[*?]/.test(q)) {
      const re = new RegExp('^' + q.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
      return re.test(d);
    }
    return d.includes(q.toLowerCase());
  }

  // Modality dropdown.
  (function buildModalities() {
    const panel = $('#modality-panel');
    const any = h('label', { class: 'check any' },
      h('input', { type: 'checkbox', testid: 'modality-any', 'data-any': '1', checked: true }), ' Any');
    const boxes = MODALITIES.map((m) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', testid: 'modality-' + m, 'data-modality': m }), ' ' + m));
    setChildren(panel, any, boxes);
    panel.addEventListener('change', (e) => {
      const t = e.target;
      const anyBox = panel.querySelector('[data-any]');
      if (t === anyBox) {
        if (anyBox.checked) for (const c of $$('input[data-modality]', panel)) c.checked = false;
        else anyBox.checked = selectedModalities().length === 0;
      } else {
        anyBox.checked = selectedModalities().length === 0;
      }
      updateModalityLabel();
      liveRefresh();
    });
    panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closeModalities(true); }
    });
  })();
  function updateModalityLabel() {
    const m = selectedModalities();
    $('#f-modality').textContent = m.length ? m.join(', ') : 'Any';
  }
  function closeModalities(refocus) {
    $('#modality-panel').hidden = true;
    $('#f-modality').setAttribute('aria-expanded', 'false');
    if (refocus) $('#f-modality').focus();
  }
  $('#f-modality').addEventListener('click', () => {
    const panel = $('#modality-panel');
    const open = panel.hidden;
    panel.hidden = !open;
    $('#f-modality').setAttribute('aria-expanded', String(open));
    if (open) panel.querySelector('input').focus();
  });
  $('#modality-dropdown').addEventListener('focusout', (e) => {
    if (!$('#modality-dropdown').contains(e.relatedTarget) && e.relatedTarget) closeModalities(false);
  });

  $('#f-date').addEventListener('change', () => {
    $('#date-range').hidden = $('#f-date').value !== 'custom';
    liveRefresh();
  });
  for (const id of ['#f-date-from', '#f-date-to']) $(id).addEventListener('change', liveRefresh);
  const FILTER_DELAY = 80;
  window.lightboxFilterDelay = FILTER_DELAY;
  const liveRefreshDebounced = debounce(() => {
    if (B.list && JSON.stringify(readFilters()) === JSON.stringify(B.list.filters) && !B.list.error) return;
    resetList();
  }, FILTER_DELAY);
  function liveRefresh() { liveRefreshDebounced(); }
  for (const [, sel] of TEXT_FILTERS) {
    $(sel).addEventListener('input', liveRefresh);
    $(sel).addEventListener('change', liveRefresh);
  }
  $('#filter-form').addEventListener('submit', (e) => {
    e.preventDefault();
    runSearch();
  });
  $('#reset-filters').addEventListener('click', () => {
    for (const [, sel] of TEXT_FILTERS) $(sel).value = '';
    $('#f-date').value = 'any';
    $('#date-range').hidden = true;
    $('#f-date-from').value = '';
    $('#f-date-to').value = '';
    for (const c of $$('#modality-panel input[data-modality]')) c.checked = false;
    $('#modality-panel [data-any]').checked = true;
    updateModalityLabel();
    clearRemote();
    resetList();
  });
  $('#source-local').addEventListener('change', () => {
    settings.set('sourceLocal', $('#source-local').checked);
    resetList();
  });
  $('#prefetch').value = settings.get('prefetch', 'thumbnails');
  $('#prefetch').addEventListener('change', () => {
    settings.set('prefetch', prefetchPolicy());
    for (const s of B.seriesIndex.values()) if (s.els && s.els.tile.isConnected) prefetchObserver.observe(s.els.tile);
  });

  function renderSources() {
    const on = new Set(settings.get('sourcesOn', []));
    const box = $('#source-nodes');
    const prev = new Map($$('input', box).map((c) => [c.dataset.node, c.checked]));
    setChildren(box, B.nodes.filter((n) => n.query_retrieve).map((n) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', testid: 'source-' + n.name, 'data-node': n.name,
        checked: prev.has(n.name) ? prev.get(n.name) : on.has(n.name),
        onchange: (e) => {
          const s = new Set(settings.get('sourcesOn', []));
          if (e.target.checked) s.add(n.name); else s.delete(n.name);
          settings.set('sourcesOn', [...s]);
        } }), ' ' + n.name)));
    const hint = $('#nodes-hint');
    if (!B.nodes.length) {
      setChildren(hint, 'No remote nodes yet: add a PACS (DIMSE) or a DICOMweb server to search and retrieve remote studies. ',
        h('button', { type: 'button', class: 'small', onclick: () => { showPage('nodes'); NF.open(null); } }, 'Add a node'));
      hint.hidden = false;
    } else hint.hidden = true;
  }

  // ------------------------------------------------------------------ browser: local list

  function resetList() {
    const f = readFilters();
    for (const [uid, e] of B.entries) if (e.where === 'local') { forgetEntry(e); B.entries.delete(uid); }
    B.list = newList(f);
    clear(resultsEl);
    $('#list-status').textContent = '';
    updateResultCount();
    if (!sourceLocal()) {
      resultsEl.appendChild(h('p', { class: 'muted empty' }, 'The local store is not searched (Local is unchecked in Sources).'));
      markReady();
      return;
    }
    loadNextPage();
  }
  function forgetEntry(e) {
    for (const s of e.series.values()) {
      if (B.seriesIndex.get(s.uid) === s) B.seriesIndex.delete(s.uid);
    }
  }

  async function loadNextPage() {
    const L = B.list;
    if (!L || L.loading || L.done || !sourceLocal()) return;
    L.loading = true;
    const gen = L.gen;
    $('#list-status').textContent = L.offset ? 'Loading more…' : 'Loading…';
    try {
      const r = await api(localQuery(L.filters, L.offset, PAGE_SIZE));
      if (gen !== L.gen || B.list !== L) return;
      const rows = (r && r.studies) || [];
      L.total = r.total != null ? r.total : L.offset + rows.length;
      L.offset += rows.length;
      L.done = rows.length === 0 || L.offset >= L.total;
      appendStudies(L, rows);
      if (L.total === 0) renderEmptyList(L);
      updateResultCount();
      $('#list-status').textContent = L.done && L.count > PAGE_SIZE ? 'End of the list.' : '';
      markReady();
      resultsRendered();
    } catch (err) {
      if (gen !== L.gen) return;
      L.done = true;
      L.error = true;
      reportError(err, 'Loading studies');
      setChildren($('#list-status'), `Could not load studies (${err.message}). `,
        h('button', { type: 'button', class: 'small', onclick: () => { L.done = false; L.error = false; loadNextPage(); } }, 'Retry'));
    } finally {
      if (gen === L.gen) {
        L.loading = false;
        markReady();
        maybeLoadMore();
      }
    }
  }
  function markReady() {
    if (document.body.dataset.ready === '1') return;
    document.body.dataset.ready = '1';
    try { performance.mark('lightbox-ready'); } catch (_) { /* old browsers */ }
  }
  /** Tells tests and benchmarks that a page of results is in the DOM. */
  const resultsRendered = () => document.dispatchEvent(new CustomEvent('lightbox:results'));
  function maybeLoadMore() {
    const L = B.list;
    if (!L || L.done || L.loading || currentPage !== 'browser') return;
    const r = $('#sentinel').getBoundingClientRect();
    if (r.top < window.innerHeight + 800) requestAnimationFrame(() => loadNextPage());
  }
  const sentinelObserver = new IntersectionObserver((es) => {
    if (es.some((x) => x.isIntersecting)) loadNextPage();
  }, { rootMargin: '800px 0px' });
  sentinelObserver.observe($('#sentinel'));

  function updateResultCount() {
    const L = B.list;
    const el = $('#result-count');
    const parts = [];
    if (!L || !sourceLocal()) parts.push('Local store not searched');
    else if (L.total == null) parts.push('Searching…');
    else parts.push(`${plural(L.total, 'study', 'studies')}${filtersActive(L.filters) ? ' match' : ''}`
      + (L.total > L.count && L.count ? ` (${fmtNum(L.count)} shown)` : ''));
    const remoteOnly = B.remoteOnlyCount || 0;
    if (remoteOnly) parts.push(`${plural(remoteOnly, 'remote-only study', 'remote-only studies')}`);
    el.textContent = parts.join(' · ');
    el.dataset.total = L && L.total != null ? String(L.total) : '';
  }

  function renderEmptyList(L) {
    const storeEmpty = !filtersActive(L.filters) && (!statusInfo || !statusInfo.store || statusInfo.store.studies === 0 || L.total === 0);
    if (storeEmpty) {
      resultsEl.appendChild(h('div', { class: 'empty-store', testid: 'empty-store' },
        h('h2', null, 'The local store is empty'),
        h('p', null, 'Add DICOM data in any of these ways:'),
        h('ul', null,
          h('li', null, 'Drop files, folders or zip archives on the ',
            h('button', { type: 'button', class: 'small', onclick: () => showPage('import') }, 'Import page'), '.'),
          h('li', null, 'From a terminal: ', h('code', null, 'lightbox import PATH'), ' (add ', h('code', null, '--link'), ' to index files in place).'),
          h('li', null, 'Try it with synthetic data: ', h('code', null, 'lightbox serve --demo'), '.'),
          h('li', null, 'Add a PACS or DICOMweb server on the ',
            h('button', { type: 'button', class: 'small', onclick: () => { showPage('nodes'); } }, 'Nodes page'),
            ', tick it under Sources, then press Search to query and retrieve its studies.'))));
    } else {
      resultsEl.appendChild(h('p', { class: 'muted empty', testid: 'no-results' }, 'No local study matches these filters.'));
    }
  }

  function appendStudies(L, rows) {
    for (const row of rows) {
      const uid = row.StudyInstanceUID;
      if (!uid) continue;
      const existing = B.entries.get(uid);
      if (existing && existing.where === 'local') continue; // shifted page: already shown
      const key = patientKey(row);
      let g = L.lastGroup;
      if (!g || g.key !== key) {
        g = newGroup(row, 'local');
        L.groups.push(g);
        resultsEl.appendChild(g.el);
        L.lastGroup = g;
      }
      const e = entryFor(row, 'local');
      e.local = true;
      addStudyToGroup(g, e);
      L.count++;
    }
  }

  function entryFor(row, where) {
    const uid = row.StudyInstanceUID;
    let e = B.entries.get(uid);
    if (e && e.where !== where) detachEntry(e, true);
    if (!e) {
      e = { uid, data: {}, local: false, remote: new Map(), remoteSeries: new Map(), series: new Map(),
        seriesLoaded: false, seriesLoading: null, seriesGen: 0, els: null, group: null, where };
      B.entries.set(uid, e);
    }
    e.where = where;
    e.data = Object.assign({}, e.data, stripEmpty(row));
    const rem = B.remoteIndex.get(uid);
    if (rem) e.remote = new Map(rem);
    return e;
  }
  function stripEmpty(row) {
    const o = {};
    for (const k of Object.keys(row)) if (row[k] !== null && row[k] !== undefined && row[k] !== '') o[k] = row[k];
    return o;
  }

  // ------------------------------------------------------------------ browser: patients and studies

  function newGroup(row, where) {
    const g = { key: patientKey(row), where, entries: [], patient: {
      PatientName: row.PatientName, PatientID: row.PatientID, PatientBirthDate: row.PatientBirthDate, PatientSex: row.PatientSex } };
    const target = { level: 'patient', group: g };
    g.target = target;
    g.countEl = h('span', { class: 'patient-count' });
    g.check = h('input', { type: 'checkbox', 'aria-label': `Select patient ${fmtPN(row.PatientName) || row.PatientID || ''}`,
      onchange: (e) => toggleSelect(target, e.target.checked) });
    const menuBtn = h('button', { type: 'button', class: 'menu-button', testid: 'menu-button', 'aria-haspopup': 'menu',
      'aria-expanded': 'false', 'aria-label': 'Patient actions' }, '⋮');
    menuBtn.addEventListener('click', () => Menu.open(menuBtn, 'Patient', menuItems(target)));
    g.studiesEl = h('div', { class: 'patient-studies' });
    g.el = h('section', { class: 'patient', testid: 'patient', 'data-patient-id': row.PatientID || '', 'aria-label': `Patient ${fmtPN(row.PatientName)}` },
      h('div', { class: 'patient-head' },
        g.check,
        h('span', { class: 'patient-name' + (row.PatientName ? '' : ' muted') }, fmtPN(row.PatientName) || '(no name)'),
        h('span', { class: 'patient-meta' },
          h('span', null, 'ID: ', h('b', null, row.PatientID || '—')),
          h('span', null, 'Born: ', h('b', null, fmtDA(row.PatientBirthDate) || '—')),
          h('span', null, 'Sex: ', h('b', null, row.PatientSex || '—')),
          g.countEl),
        h('div', { class: 'row-actions' }, menuBtn)),
      g.studiesEl);
    return g;
  }
  function updateGroupCount(g) {
    g.countEl.textContent = plural(g.entries.length, 'study', 'studies');
  }
  function addStudyToGroup(g, e) {
    e.group = g;
    const index = g.entries.length;
    g.entries.push(e);
    if (!B.expandState.has(e.uid)) e.expanded = index < 2; else e.expanded = B.expandState.get(e.uid);
    renderStudy(e);
    g.studiesEl.appendChild(e.els.root);
    updateGroupCount(g);
  }
  /** Removes a study from its group (and the group when it becomes empty). */
  function detachEntry(e, keepEntry) {
    const g = e.group;
    if (e.els) { studyObserver.unobserve(e.els.root); e.els.root.remove(); }
    if (g) {
      g.entries = g.entries.filter((x) => x !== e);
      if (!g.entries.length) {
        g.el.remove();
        if (B.list) {
          B.list.groups = B.list.groups.filter((x) => x !== g);
          if (B.list.lastGroup === g) B.list.lastGroup = null;
        }
      } else updateGroupCount(g);
    }
    e.group = null;
    if (!keepEntry) { forgetEntry(e); B.entries.delete(e.uid); }
  }

  function renderStudy(e) {
    const d = e.data;
    const target = { level: 'study', entry: e };
    e.target = target;
    const toggle = h('button', { type: 'button', class: 'study-toggle', testid: 'study-toggle', 'aria-expanded': String(!!e.expanded),
      'aria-label': 'Show series', onclick: () => setExpanded(e, !e.expanded) });
    const check = h('input', { type: 'checkbox', 'aria-label': `Select study ${d.StudyDescription || fmtDA(d.StudyDate) || ''}`,
      checked: B.selection.has(selKey(target)), onchange: (ev) => toggleSelect(target, ev.target.checked) });
    const menuBtn = h('button', { type: 'button', class: 'menu-button', testid: 'menu-button', 'aria-haspopup': 'menu',
      'aria-expanded': 'false', 'aria-label': 'Study actions' }, '⋮');
    menuBtn.addEventListener('click', () => Menu.open(menuBtn, 'Study', menuItems(target)));
    const els = {
      toggle, check,
      date: h('span', { class: 'study-date' }),
      desc: h('span', { class: 'study-desc' }),
      meta: h('span', { class: 'study-meta' }),
      badges: h('span', { class: 'badges', testid: 'study-sources' }),
      status: h('div', { class: 'series-status', 'aria-live': 'polite' }),
      grid: h('div', { class: 'series-grid' }),
    };
    els.area = h('div', { class: 'series-area' }, els.status, els.grid);
    els.root = h('div', { class: 'study', testid: 'study', 'data-study-uid': e.uid },
      h('div', { class: 'study-row' }, check, toggle, els.date, els.desc, els.meta, els.badges,
        h('div', { class: 'row-actions' }, menuBtn)),
      els.area);
    e.els = els;
    updateStudyRow(e);
    applyExpanded(e);
    if (e.seriesLoaded) renderSeriesGrid(e);
    studyObserver.observe(els.root);
  }
  function updateStudyRow(e) {
    if (!e.els) return;
    const d = e.data;
    const els = e.els;
    els.date.textContent = fmtDA(d.StudyDate) || '—';
    els.date.title = d.StudyTime ? `${fmtDA(d.StudyDate)} ${String(d.StudyTime).slice(0, 2)}:${String(d.StudyTime).slice(2, 4)}` : '';
    els.desc.textContent = d.StudyDescription || '(no description)';
    els.desc.className = 'study-desc' + (d.StudyDescription ? '' : ' none');
    let mods = d.ModalitiesInStudy || [];
    if (typeof mods === 'string') mods = mods.split('\\');
    const nSeries = e.seriesLoaded ? e.series.size : d.NumberOfStudyRelatedSeries;
    setChildren(els.meta,
      d.AccessionNumber ? h('span', { title: 'Accession number' }, 'Acc: ' + d.AccessionNumber) : null,
      h('span', { class: 'badges' }, mods.filter(Boolean).map((m) => h('span', { class: 'badge modality' }, m))),
      nSeries != null ? h('span', { testid: 'study-series-count' }, plural(Number(nSeries), 'series', 'series')) : null,
      d.NumberOfStudyRelatedInstances != null ? h('span', null, plural(Number(d.NumberOfStudyRelatedInstances), 'instance')) : null);
    setChildren(els.badges,
      e.local ? h('span', { class: 'badge local', testid: 'source-badge', 'data-source': 'local' }, 'local') : null,
      [...e.remote.keys()].map((n) => h('span', { class: 'badge node', testid: 'source-badge', 'data-source': n, title: `Found on ${n}` }, '☁ ' + n)));
    els.root.dataset.local = String(!!e.local);
  }
  function applyExpanded(e) {
    e.els.root.classList.toggle('expanded', !!e.expanded);
    e.els.toggle.setAttribute('aria-expanded', String(!!e.expanded));
    e.els.toggle.setAttribute('aria-label', e.expanded ? 'Hide series' : 'Show series');
    e.els.area.hidden = !e.expanded;
  }
  function setExpanded(e, on) {
    e.expanded = on;
    B.expandState.set(e.uid, on);
    applyExpanded(e);
    if (on && !e.seriesLoaded) loadSeries(e);
  }
  const studyObserver = new IntersectionObserver((items) => {
    for (const it of items) {
      if (!it.isIntersecting) continue;
      const e = B.entries.get(it.target.dataset.studyUid);
      if (e && e.expanded && !e.seriesLoaded && !e.seriesLoading) loadSeries(e);
    }
  }, { rootMargin: '300px 0px' });

  // ------------------------------------------------------------------ browser: series

  /** Loads local series (GET /api/studies/{uid}) and remote series of each node the study was found on. */
  function loadSeries(e, opts = {}) {
    if (e.seriesLoading && !opts.force) return e.seriesLoading;
    const gen = ++e.seriesGen;
    if (!e.seriesLoaded) setSeriesStatus(e, 'Loading series…');
    e.seriesLoading = (async () => {
      const errors = [];
      let localRows = null;
      const tasks = [];
      if (e.local) {
        tasks.push(netLimit(() => api(`/api/studies/${enc(e.uid)}`)).then((r) => {
          localRows = (r && r.series) || [];
          if (r && r.study) e.data = Object.assign({}, e.data, stripEmpty(r.study));
        }, (err) => {
          if (err.status === 404) { e.local = false; localRows = []; } else errors.push(`local: ${err.message}`);
        }));
      }
      if (!opts.localOnly) {
        for (const node of e.remote.keys()) {
          if (e.remoteSeries.has(node)) continue;
          tasks.push(netLimit(() => post('/api/remote/series', { node, study: e.uid })).then((r) => {
            e.remoteSeries.set(node, (r && r.series) || []);
          }, (err) => { errors.push(`${node}: ${err.message}`); recordError(err, `series on ${node}`); }));
        }
      }
      await Promise.all(tasks);
      if (gen !== e.seriesGen) return;
      mergeSeries(e, localRows, opts.bust);
      e.seriesLoaded = true;
      if (!e.local && !e.remote.size && e.where === 'local') { detachEntry(e); return; }
      updateStudyRow(e);
      renderSeriesGrid(e);
      const hidden = [...e.series.values()].filter((s) => !seriesFilterMatch(seriesDesc(s))).length;
      const msgs = [];
      if (!e.series.size) msgs.push(errors.length ? '' : 'No series.');
      if (hidden) msgs.push(`${plural(hidden, 'series', 'series')} hidden by the series description filter.`);
      if (errors.length) msgs.push('Could not list series: ' + errors.join('; '));
      setSeriesStatus(e, msgs.filter(Boolean).join(' '), errors.length > 0);
    })().catch((err) => reportError(err, 'Loading series')).finally(() => { if (gen === e.seriesGen) e.seriesLoading = null; });
    return e.seriesLoading;
  }
  function setSeriesStatus(e, text, isErr) {
    if (!e.els) return;
    e.els.status.textContent = text || '';
    e.els.status.hidden = !text;
    e.els.status.classList.toggle('err', !!isErr);
  }
  /** Merges local rows (null: keep the ones we have) and every node's rows by SeriesInstanceUID. */
  function mergeSeries(e, localRows, bust) {
    const next = new Map();
    const get = (uid) => {
      let s = next.get(uid);
      if (!s) {
        s = e.series.get(uid) || { uid, studyUid: e.uid, local: null, remote: new Map(), thumbV: 0, els: null, study: e };
        s.remote = new Map();
        next.set(uid, s);
      }
      return s;
    };
    if (localRows) {
      for (const s of e.series.values()) s._newLocal = null;
      for (const row of localRows) {
        if (!row.SeriesInstanceUID) continue;
        const s = get(row.SeriesInstanceUID);
        s._newLocal = row;
      }
      for (const s of next.values()) {
        const before = s.local ? Number(s.local.NumberOfSeriesRelatedInstances || 0) : 0;
        s.local = s._newLocal;
        const after = s.local ? Number(s.local.NumberOfSeriesRelatedInstances || 0) : 0;
        if ((bust && before !== after) || bust === s.uid) { s.thumbV = Date.now(); s.thumbFailed = null; }
      }
      for (const s of e.series.values()) if (!next.has(s.uid)) s.local = null;
    } else {
      for (const s of e.series.values()) if (s.local) get(s.uid);
    }
    for (const [node, rows] of e.remoteSeries) {
      for (const row of rows) {
        if (!row.SeriesInstanceUID) continue;
        get(row.SeriesInstanceUID).remote.set(node, row);
      }
    }
    for (const s of e.series.values()) {
      if (!next.has(s.uid)) {
        if (s.els) { prefetchObserver.unobserve(s.els.tile); s.els.tile.remove(); }
        if (B.seriesIndex.get(s.uid) === s) B.seriesIndex.delete(s.uid);
      }
    }
    for (const s of next.values()) { s.study = e; B.seriesIndex.set(s.uid, s); }
    e.series = next;
  }
  const seriesDesc = (s) => (s.local && s.local.SeriesDescription) || [...s.remote.values()].map((r) => r.SeriesDescription).find(Boolean) || '';
  function seriesField(s, k) {
    if (s.local && s.local[k] != null && s.local[k] !== '') return s.local[k];
    for (const r of s.remote.values()) if (r[k] != null && r[k] !== '') return r[k];
    return null;
  }
  function renderSeriesGrid(e) {
    if (!e.els) return;
    const list = [...e.series.values()].filter((s) => seriesFilterMatch(seriesDesc(s)));
    list.sort((a, b) => {
      const na = Number(seriesField(a, 'SeriesNumber')), nb = Number(seriesField(b, 'SeriesNumber'));
      const fa = Number.isFinite(na) && seriesField(a, 'SeriesNumber') != null, fb = Number.isFinite(nb) && seriesField(b, 'SeriesNumber') != null;
      if (fa && fb && na !== nb) return na - nb;
      if (fa !== fb) return fa ? -1 : 1;
      return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
    });
    const grid = e.els.grid;
    const want = new Set(list.map((s) => s.uid));
    for (const t of $$('.tile', grid)) if (!want.has(t.dataset.seriesUid)) { prefetchObserver.unobserve(t); t.remove(); }
    let prev = null;
    for (const s of list) {
      if (!s.els) createTile(s);
      updateTile(s);
      const t = s.els.tile;
      const expectedNext = prev ? prev.nextSibling : grid.firstChild;
      if (expectedNext !== t) grid.insertBefore(t, expectedNext);
      prev = t;
      prefetchObserver.observe(t);
    }
  }

  function seriesState(s) {
    const localCount = s.local ? Number(s.local.NumberOfSeriesRelatedInstances || 0) : 0;
    let remoteCount = null;
    for (const r of s.remote.values()) {
      const n = Number(r.NumberOfSeriesRelatedInstances);
      if (Number.isFinite(n) && n > 0) remoteCount = Math.max(remoteCount || 0, n);
    }
    const jobs = retrieveJobsFor(s.uid, s.studyUid);
    const active = jobs.find((j) => ACTIVE.has(j.state) && !isPreviewSpec(j.spec));
    const previewActive = jobs.some((j) => ACTIVE.has(j.state) && isPreviewSpec(j.spec));
    const latest = jobs[0];
    // Known to be complete only against a remote count: without one, a failed retrieval stays shown.
    const complete = localCount > 0 && remoteCount != null && localCount >= remoteCount;
    let state;
    if (active) state = 'retrieving';
    else if (latest && latest.state === 'failed' && !complete) state = 'failed';
    else if (localCount === 0) state = 'remote';
    else if (remoteCount != null && localCount < remoteCount) state = 'partial';
    else state = 'local';
    return { state, localCount, remoteCount, active, previewActive, failed: state === 'failed' ? latest : null };
  }
  function retrieveJobsFor(seriesUid, studyUid) {
    const ids = new Set([...(Jobs.bySeries.get(seriesUid) || []), ...(Jobs.byStudy.get(studyUid) || [])]);
    const out = [];
    for (const id of ids) { const j = Jobs.map.get(id); if (j) out.push(j); }
    out.sort((a, b) => b.id - a.id);
    return out;
  }
  const thumbUrl = (s) => `/api/series/${enc(s.uid)}/thumbnail?size=${SIZES[thumbSize()]}${s.thumbV ? '&v=' + s.thumbV : ''}`;
  function canThumb(s) {
    if (!s.local || !(Number(s.local.NumberOfSeriesRelatedInstances) > 0)) return false;
    const mod = seriesField(s, 'Modality');
    if (mod && NON_IMAGE.has(String(mod).toUpperCase())) return false;
    if ('Rows' in s.local && !s.local.Rows) return false;
    return true;
  }

  function createTile(s) {
    const target = { level: 'series', series: s };
    s.target = target;
    const menuBtn = h('button', { type: 'button', class: 'menu-button', testid: 'menu-button', 'aria-haspopup': 'menu',
      'aria-expanded': 'false', 'aria-label': 'Series actions' }, '⋮');
    menuBtn.addEventListener('click', () => Menu.open(menuBtn, 'Series', menuItems(target)));
    const els = {
      check: h('input', { type: 'checkbox', onchange: (ev) => toggleSelect(target, ev.target.checked) }),
      thumb: h('button', { type: 'button', class: 'thumb', onclick: () => { if (s.local) PV.open(s.uid, seriesTitle(s)); } }),
      icon: h('span', { class: 'state-icon', 'aria-hidden': 'true' }),
      modality: h('span', { class: 'badge modality' }),
      title: h('div', { class: 'tile-title' }),
      counts: h('div', { class: 'tile-line' }),
      stateLine: h('div', { class: 'tile-line state-line' }),
      menuBtn,
      img: null,
      imgUrl: null,
    };
    els.tile = h('div', { class: 'tile', testid: 'series', 'data-series-uid': s.uid },
      h('label', { class: 'tile-select' }, els.check),
      h('div', { class: 'thumb-wrap' }, els.thumb),
      h('div', { class: 'tile-info' }, els.title, els.counts,
        h('div', { class: 'tile-actions' }, els.stateLine, menuBtn)));
    els.thumb.appendChild(els.icon);
    s.els = els;
  }
  const seriesTitle = (s) => {
    const n = seriesField(s, 'SeriesNumber');
    return `${n != null ? '#' + n + ' ' : ''}${seriesDesc(s) || 'Unknown series'}`;
  };
  function updateTile(s) {
    const els = s.els;
    if (!els) return;
    const st = seriesState(s);
    const tile = els.tile;
    tile.dataset.state = st.state;
    tile.classList.toggle('selected', B.selection.has(selKey(s.target)));
    els.check.checked = B.selection.has(selKey(s.target));
    els.check.setAttribute('aria-label', 'Select series ' + seriesTitle(s));
    const mod = seriesField(s, 'Modality') || '?';
    els.modality.textContent = mod;
    els.title.textContent = seriesTitle(s);
    els.title.title = seriesTitle(s);
    const total = st.remoteCount != null ? Math.max(st.remoteCount, st.localCount) : st.localCount;
    const size = s.local && s.local.SeriesSize ? fmtBytes(s.local.SeriesSize) : '';
    const dims = s.local && s.local.Rows && s.local.Columns ? `${s.local.Columns}×${s.local.Rows}` : '';
    setChildren(els.counts, els.modality, h('span', { testid: 'series-count' }, plural(total, 'image')),
      size ? h('span', null, size) : null, dims ? h('span', { title: 'Columns × Rows' }, dims) : null);

    // Thumbnail: only for series with local instances that have pixels; otherwise the modality text.
    const url = canThumb(s) ? thumbUrl(s) : null;
    if (url && s.thumbFailed !== url) {
      if (els.imgUrl !== url) {
        const img = h('img', { testid: 'series-thumbnail', alt: `Thumbnail of ${seriesTitle(s)}`, loading: 'lazy', decoding: 'async' });
        img.addEventListener('error', () => { s.thumbFailed = url; els.imgUrl = null; updateTile(s); });
        img.src = url;
        setChildren(els.thumb, img, els.icon);
        els.img = img;
        els.imgUrl = url;
      }
    } else if (els.imgUrl !== '' || !els.thumb.querySelector('.placeholder')) {
      setChildren(els.thumb, h('span', { class: 'placeholder', testid: 'series-placeholder' }, mod), els.icon);
      els.img = null;
      els.imgUrl = '';
    }
    els.thumb.disabled = !s.local;
    els.thumb.setAttribute('aria-label', s.local ? `Open preview of ${seriesTitle(s)}` : `${seriesTitle(s)} (not in the local store)`);

    const icons = { local: '✓', remote: '☁', partial: '◐', retrieving: '⇣', failed: '!' };
    els.icon.textContent = icons[st.state] + (st.previewActive && st.state !== 'retrieving' ? ' …' : '');
    els.icon.title = st.state;

    let line;
    switch (st.state) {
      case 'local': line = [h('span', { class: 'state' }, 'local')]; break;
      case 'remote': line = [h('span', { class: 'state', title: `On ${[...s.remote.keys()].join(', ')}` }, '☁ remote'),
        st.previewActive ? h('span', { class: 'muted' }, 'preview…') : null]; break;
      case 'partial': line = [h('span', { class: 'state', title: 'Instances in the local store, of those on the node' }, `partial ${st.localCount} of ${st.remoteCount}`)]; break;
      case 'retrieving': {
        const p = (st.active && st.active.progress) || {};
        const done = Number(p.items_done || 0);
        const tot = Number(p.items_total || 0) || (st.active.spec && st.active.spec.series_uid ? st.remoteCount || 0 : 0);
        const bar = h('div', { class: 'bar' });
        const prog = h('div', { class: 'progress' + (tot ? '' : ' indeterminate'), role: 'progressbar', testid: 'series-progress',
          'aria-label': 'Retrieving', 'aria-valuemin': '0', 'aria-valuemax': String(tot || 0), 'aria-valuenow': String(done),
          'data-done': String(done), 'data-total': String(tot) }, bar);
        bar.style.width = tot ? `${Math.min(100, (100 * done) / tot)}%` : '30%';
        line = [h('span', { class: 'state' }, st.active.state === 'queued' ? 'queued' : st.active.state === 'waiting_retry' ? 'retrying' : ''),
          prog, h('span', { class: 'mono' }, tot ? `${done}/${tot}` : String(done || ''))];
        break;
      }
      case 'failed': {
        const err = st.failed.error || {};
        const reason = err.message ? `${err.category ? err.category + ': ' : ''}${err.message}` : 'Retrieval failed';
        line = [h('span', { class: 'state', title: reason, testid: 'series-error' }, '✗ failed'),
          h('button', { type: 'button', class: 'small', testid: 'series-retry', title: reason, 'aria-label': `Retry: ${reason}`,
            onclick: () => retryJob(st.failed.id).catch((e2) => reportError(e2, 'Retry')) }, 'Retry')];
        break;
      }
      default: line = [];
    }
    const stateBox = h('div', { class: 'tile-line' }, line);
    stateBox.title = st.state === 'failed' ? line[0].title : '';
    setChildren(els.stateLine, stateBox);
  }
  const pendingTiles = new Set();
  let tilesQueued = false;
  function updateTileSoon(s) {
    pendingTiles.add(s);
    if (tilesQueued) return;
    tilesQueued = true;
    requestAnimationFrame(() => {
      tilesQueued = false;
      const list = [...pendingTiles];
      pendingTiles.clear();
      for (const x of list) if (x.els && x.els.tile.isConnected) updateTile(x);
    });
  }

  const prefetchObserver = new IntersectionObserver((items) => {
    for (const it of items) {
      if (!it.isIntersecting) continue;
      const s = B.seriesIndex.get(it.target.dataset.seriesUid);
      if (!s) { prefetchObserver.unobserve(it.target); continue; }
      maybePrefetch(s);
    }
  }, { rootMargin: '100px 0px' });
  function maybePrefetch(s) {
    const policy = prefetchPolicy();
    if (policy === 'none') return;
    if (!s.study || !s.study.expanded) return;
    if (B.prefetched.has(s.uid)) return;
    if (s.local && Number(s.local.NumberOfSeriesRelatedInstances) > 0) { prefetchObserver.unobserve(s.els.tile); return; }
    if (!s.remote.size) return;
    if (retrieveJobsFor(s.uid, s.studyUid).length) { B.prefetched.add(s.uid); return; }
    const node = [...s.remote.keys()][0];
    B.prefetched.add(s.uid);
    const spec = { kind: 'retrieve', node, study_uid: s.studyUid, series_uid: s.uid, preview_first: true };
    if (policy === 'thumbnails') spec.preview_only = true;
    jobLimit(() => post('/api/jobs', { spec })).then((r) => {
      if (r && r.id != null && !Jobs.map.has(r.id)) mergeJob({ id: r.id, kind: 'retrieve', spec, state: 'queued', created_at: Date.now() });
    }).catch((e) => { B.prefetched.delete(s.uid); recordError(e, 'prefetch'); });
  }

  async function retryJob(id) {
    const r = await post(`/api/jobs/${enc(id)}/retry`);
    if (r && r.ok === false) toast(`Job ${id}: nothing to retry`);
  }
  async function cancelJob(id) {
    const r = await post(`/api/jobs/${enc(id)}/cancel`);
    if (r && r.ok === false) toast(`Job ${id}: nothing to cancel`);
  }

  // Reactions to job changes.
  function browserOnJob(rec) {
    const sp = rec.spec;
    if (rec.kind === 'retrieve' && sp) {
      if (sp.series_uid) { const s = B.seriesIndex.get(sp.series_uid); if (s) updateTileSoon(s); }
      else if (sp.study_uid) { const e = B.entries.get(sp.study_uid); if (e) for (const s of e.series.values()) updateTileSoon(s); }
    }
    if (!TERMINAL.has(rec.state) || rec._handled || !sp) return;
    rec._handled = true;
    switch (rec.kind) {
      case 'retrieve':
        refreshStudySoon(sp.study_uid, sp.series_uid || true);
        break;
      case 'thumbnail': {
        const s = B.seriesIndex.get(sp.series_uid);
        if (s) { s.thumbV = Date.now(); s.thumbFailed = null; refreshStudySoon(s.studyUid, s.uid); }
        break;
      }
      case 'delete': {
        const t = sp.target || {};
        if (t.level === 'study') refreshStudySoon(t.uid, true);
        else if (t.level === 'series') { const s = B.seriesIndex.get(t.uid); if (s) refreshStudySoon(s.studyUid, true); }
        else scheduleListRefresh(true);
        break;
      }
      case 'import':
        scheduleListRefresh(true);
        break;
      default: break;
    }
  }
  const refreshTimers = new Map();
  function refreshStudySoon(uid, bust) {
    if (!uid || !B.entries.has(uid)) return;
    const prev = refreshTimers.get(uid);
    if (prev) { clearTimeout(prev.t); if (prev.bust && bust !== prev.bust) bust = true; }
    refreshTimers.set(uid, { bust, t: setTimeout(() => { refreshTimers.delete(uid); refreshStudy(uid, bust); }, 250) });
  }
  /** Re-reads a study after a job: its fields, local series and tile thumbnails. */
  async function refreshStudy(uid, bust) {
    const e = B.entries.get(uid);
    if (!e) return;
    let r;
    try {
      B.knownLocal.delete(uid);
      const checked = await checkLocal([uid]);
      if (checked && !B.knownLocal.has(uid)) throw new ApiError('gone', 404);
      r = await api(`/api/studies/${enc(uid)}`);
    } catch (err) {
      if (err.status !== 404) { recordError(err, 'refreshing a study'); return; }
      e.local = false;
      for (const s of e.series.values()) s.local = null;
      if (!e.remote.size) { detachEntry(e); if (B.list) { B.list.count = Math.max(0, B.list.count - 1); if (B.list.total) B.list.total--; } updateResultCount(); return; }
      updateStudyRow(e);
      if (e.seriesLoaded) renderSeriesGrid(e);
      return;
    }
    e.local = true;
    e.data = Object.assign({}, e.data, stripEmpty(r.study || {}));
    if (e.seriesLoaded) {
      mergeSeries(e, r.series || [], bust);
      renderSeriesGrid(e);
    }
    updateStudyRow(e);
  }

  // Store changes: refresh counts in place, keep scroll position and expansion.
  let listRefreshTimer = 0;
  let listRefreshForce = false;
  function scheduleListRefresh(force) {
    if (force) listRefreshForce = true;
    if (listRefreshTimer) return;
    listRefreshTimer = setTimeout(() => {
      listRefreshTimer = 0;
      const f = listRefreshForce;
      listRefreshForce = false;
      refreshList(f).catch((e) => recordError(e, 'refreshing the list'));
    }, 1000);
  }
  async function refreshList() {
    const L = B.list;
    if (!L || !sourceLocal() || L.loading) return;
    const gen = L.gen;
    const showing = Math.max(L.offset, PAGE_SIZE);
    const r = await api(localQuery(L.filters, 0, Math.min(500, showing)));
    if (B.list !== L || gen !== L.gen) return;
    const rows = (r && r.studies) || [];
    const known = rows.filter((row) => B.entries.has(row.StudyInstanceUID) && B.entries.get(row.StudyInstanceUID).where === 'local');
    const unknown = rows.length - known.length;
    const focusInside = resultsEl.contains(document.activeElement);
    // A small list with new studies (an import into an empty or short list): rebuild it in one go.
    if ((unknown > 0 || L.count === 0) && L.offset <= 100 && !focusInside) {
      const y = window.scrollY;
      resetListWithRows(r);
      window.scrollTo(0, y);
      // Remote results that are local now (previews, retrievals) move to the local list.
      if (B.remoteIndex.size) await renderRemote(B.remoteGen);
      return;
    }
    for (const row of known) {
      const e = B.entries.get(row.StudyInstanceUID);
      const before = e.data.NumberOfStudyRelatedInstances;
      e.data = Object.assign({}, e.data, stripEmpty(row));
      updateStudyRow(e);
      if (e.seriesLoaded && before !== row.NumberOfStudyRelatedInstances) refreshStudySoon(e.uid, true);
    }
    if (r.total != null && r.total !== L.total) {
      L.total = r.total;
      if (L.offset < L.total) L.done = false;
      updateResultCount();
      maybeLoadMore();
    }
  }
  function resetListWithRows(r) {
    const f = B.list.filters;
    for (const [uid, e] of B.entries) if (e.where === 'local') { forgetEntry(e); B.entries.delete(uid); }
    const L = newList(f);
    B.list = L;
    const rows = (r && r.studies) || [];
    L.total = r.total != null ? r.total : rows.length;
    L.offset = rows.length;
    L.done = rows.length === 0 || L.offset >= L.total;
    const frag = document.createDocumentFragment();
    const realResults = resultsEl;
    clear(realResults);
    appendStudies(L, rows);
    if (L.total === 0) renderEmptyList(L);
    realResults.appendChild(frag);
    updateResultCount();
    resultsRendered();
    maybeLoadMore();
  }

  // ------------------------------------------------------------------ browser: remote search

  function runSearch() {
    resetList();
    const nodes = chosenNodes();
    if (nodes.length) runRemote(nodes, B.list.filters);
    else clearRemote();
  }
  function clearRemote() {
    B.remoteGen++;
    B.remoteIndex = new Map();
    B.remoteOnlyCount = 0;
    for (const e of [...B.entries.values()]) {
      if (e.where === 'remote') { detachEntry(e); continue; }
      if (e.remote.size) { e.remote = new Map(); e.remoteSeries = new Map(); mergeSeries(e, null); updateStudyRow(e); if (e.seriesLoaded) renderSeriesGrid(e); }
    }
    clear($('#remote-list'));
    $('#remote-block').hidden = true;
    clear($('#remote-status'));
    updateResultCount();
  }
  async function runRemote(nodes, f) {
    clearRemote();
    const gen = B.remoteGen;
    const statusEl = $('#remote-status');
    const spans = new Map();
    for (const n of nodes) {
      const sp = h('span', { testid: 'remote-status-' + n }, `${n}: searching…`);
      spans.set(n, sp);
      statusEl.appendChild(sp);
    }
    await Promise.all(nodes.map(async (node) => {
      try {
        const r = await post('/api/remote/studies', { node, filters: remoteFilters(f) });
        if (gen !== B.remoteGen) return;
        const rows = (r && r.studies) || [];
        for (const row of rows) {
          if (!row.StudyInstanceUID) continue;
          let m = B.remoteIndex.get(row.StudyInstanceUID);
          if (!m) B.remoteIndex.set(row.StudyInstanceUID, (m = new Map()));
          m.set(node, row);
        }
        spans.get(node).textContent = `${node}: ${plural(rows.length, 'study', 'studies')}`;
        spans.get(node).className = '';
      } catch (err) {
        if (gen !== B.remoteGen) return;
        recordError(err, `search on ${node}`);
        spans.get(node).textContent = `${node}: ✗ ${err.message}`;
        spans.get(node).className = 'err';
        toast(`Search on ${node} failed: ${err.message}`, 'error');
      }
      await renderRemote(gen);
    }));
  }
  /** Which of these studies are in the local store (the API's exact UID list filter). */
  async function checkLocal(uids) {
    const todo = uids.filter((u) => !B.knownLocal.has(u));
    let ok = true;
    for (let i = 0; i < todo.length; i += 40) {
      const chunk = todo.slice(i, i + 40);
      try {
        const query = chunk.map((u) => `study_uid=${enc(u)}`).join('&');
        const res = await fetch(`/api/studies?${query}&limit=${chunk.length}`);
        if (!res.ok) { ok = false; continue; }
        const page = await res.json();
        for (const s of page.studies || []) {
          if (s && s.StudyInstanceUID) B.knownLocal.add(s.StudyInstanceUID);
        }
      } catch (_) { ok = false; /* unknown: treated as not local */ }
    }
    return ok;
  }
  async function renderRemote(gen) {
    const uids = [...B.remoteIndex.keys()];
    await checkLocal(uids);
    if (gen !== B.remoteGen) return;
    const showAll = !sourceLocal();
    const rows = [];
    for (const uid of uids) {
      const m = B.remoteIndex.get(uid);
      const e = B.entries.get(uid);
      if (e && e.where === 'local') {
        // Found locally and remotely: one row with both badges.
        const added = [...m.keys()].some((n) => !e.remote.has(n));
        e.remote = new Map(m);
        if (added) {
          updateStudyRow(e);
          // A load under way started before this node was known: start again, with it.
          if (e.seriesLoaded || e.seriesLoading) { e.seriesLoaded = false; if (e.expanded) loadSeries(e, { force: true }); }
        }
        continue;
      }
      const local = B.knownLocal.has(uid);
      if (local && !showAll) continue; // in the local list (on a page not scrolled to yet)
      const merged = {};
      for (const row of m.values()) for (const k of Object.keys(row)) if (merged[k] == null || merged[k] === '') merged[k] = row[k];
      rows.push({ row: merged, local });
    }
    rows.sort((a, b) => String(a.row.PatientName || '').localeCompare(String(b.row.PatientName || ''))
      || String(a.row.PatientID || '').localeCompare(String(b.row.PatientID || ''))
      || String(b.row.StudyDate || '').localeCompare(String(a.row.StudyDate || '')));
    const list = $('#remote-list');
    for (const e of [...B.entries.values()]) if (e.where === 'remote') detachEntry(e, true);
    clear(list);
    let g = null;
    for (const { row, local } of rows) {
      const key = patientKey(row);
      if (!g || g.key !== key) { g = newGroup(row, 'remote'); list.appendChild(g.el); }
      const e = entryFor(row, 'remote');
      e.local = local;
      if (e.seriesLoaded && [...e.remote.keys()].some((n) => !e.remoteSeries.has(n))) e.seriesLoaded = false;
      addStudyToGroup(g, e);
    }
    for (const e of [...B.entries.values()]) if (e.where === 'remote' && !e.group) { forgetEntry(e); B.entries.delete(e.uid); }
    B.remoteOnlyCount = rows.filter((x) => !x.local).length;
    $('#remote-block').hidden = rows.length === 0;
    $('#remote-block-count').textContent = `(${plural(rows.length, 'study', 'studies')} not shown in the local list)`;
    updateResultCount();
  }

  // ------------------------------------------------------------------ selection and actions

  function selKey(t) {
    if (t.level === 'patient') return 'p:' + t.group.key;
    if (t.level === 'study') return 's:' + t.entry.uid;
    return 'r:' + t.series.uid;
  }
  function toggleSelect(t, on) {
    const k = selKey(t);
    if (on) B.selection.set(k, t); else B.selection.delete(k);
    if (t.level === 'series') updateTile(t.series);
    updateSelectionBar();
  }
  function updateSelectionBar() {
    const n = B.selection.size;
    $('#selection-bar').hidden = n === 0;
    $('#selection-count').textContent = `${n} selected`;
  }
  function clearSelection() {
    B.selection.clear();
    for (const c of $$('#results input[type=checkbox], #remote-list input[type=checkbox]')) c.checked = false;
    for (const s of B.seriesIndex.values()) if (s.els) s.els.tile.classList.remove('selected');
    updateSelectionBar();
  }
  $('#selection-bar').addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-sel-action]');
    if (!b) return;
    const targets = [...B.selection.values()];
    const run = { retrieve: actRetrieve, send: actSend, delete: actDelete, download: actDownload, clear: clearSelection }[b.dataset.selAction];
    Promise.resolve().then(() => run(targets)).catch((e) => reportError(e, b.textContent));
  });

  function describe(t) {
    if (t.level === 'patient') { const p = t.group.patient; return `patient ${fmtPN(p.PatientName) || '(no name)'} (ID ${p.PatientID || '—'})`; }
    if (t.level === 'study') {
      const d = t.entry.data;
      return `study ${fmtDA(d.StudyDate) || ''} ${d.StudyDescription || '(no description)'} of ${fmtPN(d.PatientName) || d.PatientID || 'unknown patient'}`.replace(/\s+/g, ' ');
    }
    const s = t.series;
    return `series ${seriesTitle(s)} (${plural(seriesState(s).localCount, 'local image')})`;
  }
  function isLocalTarget(t) {
    if (t.level === 'patient') return t.group.entries.some((e) => e.local);
    if (t.level === 'study') return !!t.entry.local;
    return !!(t.series.local && Number(t.series.local.NumberOfSeriesRelatedInstances) > 0);
  }
  function isRetrievable(t) {
    if (t.level === 'patient') return t.group.entries.some((e) => isRetrievable({ level: 'study', entry: e }));
    if (t.level === 'study') {
      const e = t.entry;
      if (!e.remote.size) return false;
      if (!e.seriesLoaded) return true;
      return [...e.series.values()].some((s) => isRetrievable({ level: 'series', series: s }));
    }
    const st = seriesState(t.series);
    return t.series.remote.size > 0 && ['remote', 'partial', 'failed'].includes(st.state);
  }
  function downloadUrl(t) {
    if (t.level === 'patient') return `/api/download?patient=${enc(t.group.patient.PatientID || '')}`;
    if (t.level === 'study') return `/api/download?study=${enc(t.entry.uid)}`;
    return `/api/download?series=${enc(t.series.uid)}`;
  }
  function menuItems(t) {
    const local = isLocalTarget(t);
    const why = 'Not in the local store';
    return [
      { label: 'Retrieve', testid: 'action-retrieve', disabled: !isRetrievable(t), why: 'Nothing to retrieve (already local, or not found on a node)', run: () => actRetrieve([t]) },
      { label: 'Open preview', testid: 'action-preview', disabled: !local, why, run: () => actPreview(t) },
      { label: 'View metadata', testid: 'action-metadata', disabled: !local, why, run: () => actMetadata(t) },
      { label: 'Send to node…', testid: 'action-send', disabled: !local, why, run: () => actSend([t]) },
      { label: 'Download as zip', testid: 'action-download', disabled: !local, why, href: downloadUrl(t) },
      { label: 'Delete from local store…', testid: 'action-delete', disabled: !local, why, danger: true, run: () => actDelete([t]) },
    ];
  }

  function recordQueued(r, spec) {
    if (r && r.id != null && !Jobs.map.has(r.id)) mergeJob({ id: r.id, kind: spec.kind, spec, state: 'queued', created_at: Date.now() });
    else if (r && r.id != null) { const j = Jobs.map.get(r.id); if (!j.spec) { j.spec = spec; indexJob(j); onJobChanged(j, j.state); } }
  }
  async function submitJobs(specs) {
    const results = await Promise.allSettled(specs.map((spec) => jobLimit(() => post('/api/jobs', { spec }).then((r) => { recordQueued(r, spec); return r; }))));
    const failed = results.filter((x) => x.status === 'rejected');
    for (const f of failed) recordError(f.reason, 'queueing a job');
    return { ok: results.length - failed.length, failed };
  }
  function retrieveSpecsForStudy(e, specs) {
    if (!e.remote.size) return;
    const node = [...e.remote.keys()][0];
    if (e.seriesLoaded && e.local) {
      for (const s of e.series.values()) retrieveSpecsForSeries(s, specs);
    } else specs.push({ kind: 'retrieve', node, study_uid: e.uid });
  }
  function retrieveSpecsForSeries(s, specs) {
    if (!isRetrievable({ level: 'series', series: s })) return;
    specs.push({ kind: 'retrieve', node: [...s.remote.keys()][0], study_uid: s.studyUid, series_uid: s.uid });
  }
  async function actRetrieve(targets) {
    const specs = [];
    for (const t of targets) {
      if (t.level === 'series') retrieveSpecsForSeries(t.series, specs);
      else if (t.level === 'study') retrieveSpecsForStudy(t.entry, specs);
      else for (const e of t.group.entries) retrieveSpecsForStudy(e, specs);
    }
    const uniq = [...new Map(specs.map((s) => [JSON.stringify(s), s])).values()];
    if (!uniq.length) { toast('Nothing to retrieve: already local, or not found on a searched node.'); return; }
    const { ok, failed } = await submitJobs(uniq);
    if (failed.length) toast(`Queued ${ok} retrieve job(s); ${failed.length} failed: ${failed[0].reason.message}`, 'error');
    else toast(`Queued ${plural(ok, 'retrieve job')}.`, 'ok');
  }
  async function patientStudies(p) {
    const r = await api(`/api/studies?order=patient&limit=500&patient_id=${enc(p.PatientID || '')}`);
    return ((r && r.studies) || []).filter((s) => (s.PatientID || '') === (p.PatientID || ''));
  }
  async function actSend(targets) {
    const local = targets.filter(isLocalTarget);
    if (!local.length) { toast('Only local data can be sent.'); return; }
    const node = await sendDialog(h('div', null, h('p', null, 'Send to a node:'), h('ul', null, local.map((t) => h('li', null, describe(t))))));
    if (!node) return;
    const specs = [];
    for (const t of local) {
      if (t.level === 'series') specs.push({ kind: 'send', node, study_uid: t.series.studyUid, series_uid: t.series.uid });
      else if (t.level === 'study') specs.push({ kind: 'send', node, study_uid: t.entry.uid });
      else for (const s of await patientStudies(t.group.patient)) specs.push({ kind: 'send', node, study_uid: s.StudyInstanceUID });
    }
    const { ok, failed } = await submitJobs(specs);
    if (failed.length) toast(`Queued ${ok} send job(s); ${failed.length} failed: ${failed[0].reason.message}`, 'error');
    else toast(`Queued ${plural(ok, 'send job')} to ${node}.`, 'ok');
  }
  async function actDelete(targets) {
    const local = targets.filter(isLocalTarget);
    if (!local.length) { toast('Nothing local to delete.'); return; }
    const body = h('div', null,
      h('p', null, local.length === 1 ? 'This will delete from the local store:' : `This will delete ${local.length} items from the local store:`),
      h('ul', null, local.map((t) => h('li', null, describe(t) + (t.level === 'patient' ? ': all of this patient\'s local studies' : '')))),
      h('p', { class: 'muted' }, 'Files linked in place are only removed from the index. Remote copies are not affected.'));
    const ok = await confirmDialog({ title: 'Delete from local store', body, ok: 'Delete' });
    if (!ok) return;
    const specs = local.map((t) => ({ kind: 'delete', target: t.level === 'patient' ? { level: 'patient', uid: t.group.patient.PatientID || '' }
      : t.level === 'study' ? { level: 'study', uid: t.entry.uid } : { level: 'series', uid: t.series.uid } }));
    const r = await submitJobs(specs);
    for (const t of local) B.selection.delete(selKey(t));
    updateSelectionBar();
    if (r.failed.length) toast(`Delete failed: ${r.failed[0].reason.message}`, 'error');
    else toast(`Deleting ${plural(r.ok, 'item')}…`, 'ok');
  }
  function actDownload(targets) {
    const local = targets.filter(isLocalTarget);
    if (!local.length) { toast('Only local data can be downloaded.'); return; }
    local.forEach((t, i) => setTimeout(() => {
      const a = h('a', { href: downloadUrl(t), download: '' });
      a.hidden = true;
      document.body.appendChild(a);
      a.click();
      a.remove();
    }, i * 400));
  }
  /** The first local series of a target (loading the study when needed). */
  async function firstLocalSeries(t) {
    if (t.level === 'series') return t.series;
    const entries = t.level === 'study' ? [t.entry] : t.group.entries.filter((e) => e.local);
    for (const e of entries) {
      if (!e.seriesLoaded) await loadSeries(e);
      const list = [...e.series.values()].filter((s) => s.local && Number(s.local.NumberOfSeriesRelatedInstances) > 0);
      list.sort((a, b) => Number(seriesField(a, 'SeriesNumber') || 0) - Number(seriesField(b, 'SeriesNumber') || 0));
      if (list.length) return list[0];
    }
    return null;
  }
  async function actMetadata(t) {
    const s = await firstLocalSeries(t);
    if (!s) { toast('No local series to show.'); return; }
    MD.open(s.uid, seriesTitle(s));
  }
  async function actPreview(t) {
    const s = await firstLocalSeries(t);
    if (!s) { toast('No local series to preview.'); return; }
    PV.open(s.uid, seriesTitle(s));
  }

  // ------------------------------------------------------------------ metadata explorer

  const MD = {
    dlg: $('#metadata-dialog'),
    seriesUid: null, instances: [], index: 0, nodes: [], gen: 0, title: '',
    async open(seriesUid, title) {
      this.seriesUid = seriesUid;
      this.title = title;
      this.instances = [];
      this.index = 0;
      $('#metadata-title').textContent = `Metadata: ${title}`;
      setChildren($('#metadata-tree'), h('div', { class: 'muted empty' }, 'Loading…'));
      if (!this.dlg.open) this.dlg.showModal();
      $('#metadata-search').focus();
      try {
        const list = await api(`/api/series/${enc(seriesUid)}/instances`);
        this.instances = Array.isArray(list) ? list : (list && list.instances) || [];
        if (!this.instances.length) { setChildren($('#metadata-tree'), h('div', { class: 'muted empty' }, 'This series has no local instance.')); this.nav(); return; }
        await this.show(0);
      } catch (e) {
        reportError(e, 'Metadata');
        setChildren($('#metadata-tree'), h('div', { class: 'error-text empty' }, 'Could not load: ' + e.message));
      }
    },
    nav() {
      const n = this.instances.length;
      $('#metadata-prev').disabled = this.index <= 0;
      $('#metadata-next').disabled = this.index >= n - 1;
      const idx = $('#metadata-index');
      idx.max = String(Math.max(1, n));
      idx.value = String(this.index + 1);
      $('#metadata-of').textContent = `/ ${n}`;
    },
    async show(i) {
      const n = this.instances.length;
      if (!n) return;
      i = Math.max(0, Math.min(n - 1, i));
      this.index = i;
      this.nav();
      const inst = this.instances[i];
      const gen = ++this.gen;
      $('#metadata-sop').textContent = `SOP Instance UID ${inst.SOPInstanceUID}${inst.InstanceNumber != null ? ` · Instance Number ${inst.InstanceNumber}` : ''}`;
      try {
        const md = await api(`/api/instances/${enc(inst.SOPInstanceUID)}/metadata`);
        if (gen !== this.gen) return;
        this.render((md && md.elements) || []);
      } catch (e) {
        if (gen !== this.gen) return;
        reportError(e, 'Metadata');
        setChildren($('#metadata-tree'), h('div', { class: 'error-text empty' }, 'Could not load: ' + e.message));
      }
    },
    render(elements) {
      const nodes = [];
      const build = (els, level, parent) => {
        for (const el of els) {
          const isSeq = Array.isArray(el.items);
          const node = { el, level, parent, isSeq, expanded: level < 1, row: null,
            hay: [el.keyword, el.name, isSeq ? '' : el.value].map((x) => String(x || '').toLowerCase()).join('\u0000'),
            tag: String(el.tag || '').toUpperCase() };
          nodes.push(node);
          this.makeRow(node);
          if (isSeq) {
            el.items.forEach((item, i) => {
              const itemNode = { item: i + 1, level, parent: node, isItem: true, row: null };
              nodes.push(itemNode);
              this.makeRow(itemNode);
              build(Array.isArray(item) ? item : [], level + 1, itemNode);
            });
          }
        }
      };
      build(elements, 0, null);
      this.nodes = nodes;
      this.apply();
    },
    /** Puts the rows to show (and only those) in the tree. */
    place(visible) {
      const tree = $('#metadata-tree');
      const keepScroll = tree.scrollTop;
      const frag = document.createDocumentFragment();
      frag.appendChild(h('div', { class: 'md-row md-head', 'aria-hidden': 'true' },
        h('span', null, 'Tag'), h('span', null, 'Keyword'), h('span', null, 'VR'), h('span', null, 'Value')));
      let n = 0;
      for (const nd of this.nodes) if (visible(nd)) { frag.appendChild(nd.row); n++; }
      if (!n) frag.appendChild(h('div', { class: 'muted empty' }, this.nodes.length ? 'No element matches.' : 'No elements.'));
      clear(tree);
      tree.appendChild(frag);
      tree.scrollTop = keepScroll;
    },
    makeRow(node) {
      const indent = (node.level * 2 + (node.isItem ? 1 : 0)) * 14;
      if (node.isItem) {
        const c = h('div', { class: 'md-tag' }, h('span', { class: 'md-fold-space' }), `Item #${node.item}`);
        c.style.paddingLeft = indent + 'px';
        node.row = h('div', { class: 'md-row md-item', role: 'treeitem', testid: 'metadata-item', 'aria-level': String(node.level * 2 + 2) }, c, h('span'), h('span'), h('span'));
        return;
      }
      const el = node.el;
      const t = node.tag;
      const tagText = t.length === 8 ? `(${t.slice(0, 4)},${t.slice(4)})` : t;
      let fold = h('span', { class: 'md-fold-space' });
      if (node.isSeq) {
        fold = h('button', { type: 'button', class: 'md-fold', 'aria-label': `Expand ${el.keyword || tagText}`,
          onclick: () => { node.expanded = !node.expanded; this.apply(); } });
        node.fold = fold;
      }
      const tagCell = h('div', { class: 'md-tag' }, fold, tagText);
      tagCell.style.paddingLeft = indent + 'px';
      node.row = h('div', { class: 'md-row', role: 'treeitem', testid: 'metadata-row', 'data-tag': t, 'aria-level': String(node.level * 2 + 1) },
        tagCell,
        h('div', { class: 'md-kw', title: el.name || '' }, el.keyword || (el.name ? el.name : '(private)')),
        h('div', { class: 'md-vr' }, el.vr || ''),
        h('div', { class: 'md-val' }, node.isSeq ? plural(el.items.length, 'item') : (el.value == null ? '' : String(el.value))));
    },
    apply() {
      const raw = $('#metadata-search').value.trim();
      const q = raw.toLowerCase();
      const tagQ = raw.replace(/[\s(),]/g, '').toUpperCase();
      const tagLike = /^[0-9A-F]{2,8}$/.test(tagQ) && /^[\s(),0-9a-fA-F]+$/.test(raw);
      if (!q) {
        for (const nd of this.nodes) {
          nd.row.classList.remove('match');
          if (nd.fold) {
            nd.fold.textContent = nd.expanded ? '▾' : '▸';
            nd.fold.disabled = false;
            nd.fold.setAttribute('aria-expanded', String(nd.expanded));
            nd.fold.setAttribute('aria-label', `${nd.expanded ? 'Collapse' : 'Expand'} ${nd.el.keyword || nd.tag}`);
            nd.row.setAttribute('aria-expanded', String(nd.expanded));
          }
        }
        this.place((nd) => {
          for (let p = nd.parent; p; p = p.parent) if (p.isSeq && !p.expanded) return false;
          return true;
        });
        delete $('#metadata-sop').dataset.matches;
        return;
      }
      const show = new Set();
      let matches = 0;
      for (const nd of this.nodes) {
        if (nd.isItem) continue;
        const m = (tagLike && nd.tag.includes(tagQ)) || nd.hay.includes(q);
        nd.row.classList.toggle('match', m);
        if (m) { matches++; for (let p = nd; p; p = p.parent) show.add(p); }
      }
      for (const nd of this.nodes) {
        if (nd.fold) { nd.fold.textContent = '▾'; nd.fold.disabled = true; nd.fold.setAttribute('aria-expanded', 'true'); }
      }
      this.place((nd) => show.has(nd));
      $('#metadata-sop').dataset.matches = String(matches);
    },
    setAll(on) {
      for (const nd of this.nodes) if (nd.isSeq) nd.expanded = on;
      this.apply();
    },
  };
  $('#metadata-search').addEventListener('input', debounce(() => MD.apply(), 80));
  // Escape closes the explorer even from the search box (where it would only clear the text).
  $('#metadata-search').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); MD.dlg.close(); }
  });
  $('#metadata-prev').addEventListener('click', () => MD.show(MD.index - 1));
  $('#metadata-next').addEventListener('click', () => MD.show(MD.index + 1));
  $('#metadata-index').addEventListener('change', () => MD.show(Number($('#metadata-index').value || 1) - 1));
  $('#metadata-expand').addEventListener('click', () => MD.setAll(true));
  $('#metadata-collapse').addEventListener('click', () => MD.setAll(false));

  // ------------------------------------------------------------------ preview

  const PV = {
    dlg: $('#preview-dialog'),
    steps: [], i: 0, gen: 0, cache: new Map(),
    async open(seriesUid, title) {
      const gen = ++this.gen;
      this.steps = [];
      this.i = 0;
      $('#preview-title').textContent = title || 'Preview';
      $('#preview-image').removeAttribute('src');
      this.message('Loading…');
      $('#preview-pos').textContent = '';
      if (!this.dlg.open) this.dlg.showModal();
      $('#preview-stage').focus();
      try {
        const list = await api(`/api/series/${enc(seriesUid)}/instances`);
        if (gen !== this.gen) return;
        const inst = Array.isArray(list) ? list : (list && list.instances) || [];
        for (const x of inst) {
          const frames = Math.max(1, Math.min(2000, Number(x.NumberOfFrames) || 1));
          for (let f = 1; f <= frames && this.steps.length < 20000; f++) this.steps.push({ sop: x.SOPInstanceUID, frame: frames > 1 ? f : null });
        }
        if (!this.steps.length) { this.message('This series has no local instance.'); return; }
        const slider = $('#preview-slider');
        slider.min = '1';
        slider.max = String(this.steps.length);
        this.show(0);
      } catch (e) {
        reportError(e, 'Preview');
        this.message('Could not load: ' + e.message);
      }
    },
    url(st) { return `/api/instances/${enc(st.sop)}/rendered?size=768${st.frame ? '&frame=' + st.frame : ''}`; },
    message(t) { const m = $('#preview-message'); m.textContent = t || ''; m.hidden = !t; },
    show(i) {
      const n = this.steps.length;
      if (!n) return;
      i = Math.max(0, Math.min(n - 1, i));
      this.i = i;
      const img = $('#preview-image');
      img.src = this.url(this.steps[i]);
      img.alt = `Image ${i + 1} of ${n}`;
      $('#preview-slider').value = String(i + 1);
      $('#preview-pos').textContent = `${i + 1} / ${n}`;
      for (const d of [1, -1, 2, 3, -2]) {
        const j = i + d;
        if (j < 0 || j >= n) continue;
        const u = this.url(this.steps[j]);
        if (this.cache.has(u)) continue;
        const pre = new Image();
        pre.src = u;
        this.cache.set(u, pre);
        if (this.cache.size > 40) this.cache.delete(this.cache.keys().next().value);
      }
    },
  };
  $('#preview-image').addEventListener('load', () => PV.message(''));
  $('#preview-image').addEventListener('error', () => { if ($('#preview-image').getAttribute('src')) PV.message('This image cannot be rendered.'); });
  $('#preview-slider').addEventListener('input', () => PV.show(Number($('#preview-slider').value) - 1));
  $('#preview-prev').addEventListener('click', () => PV.show(PV.i - 1));
  $('#preview-next').addEventListener('click', () => PV.show(PV.i + 1));
  let wheelAcc = 0;
  $('#preview-stage').addEventListener('wheel', (e) => {
    e.preventDefault();
    wheelAcc += e.deltaY;
    if (Math.abs(wheelAcc) >= 40 || e.deltaMode !== 0) { PV.show(PV.i + (wheelAcc > 0 || (e.deltaMode !== 0 && e.deltaY > 0) ? 1 : -1)); wheelAcc = 0; }
  }, { passive: false });
  PV.dlg.addEventListener('keydown', (e) => {
    if (e.target === $('#preview-slider') && ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown'].includes(e.key)) return;
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[e.key];
    if (step) { e.preventDefault(); PV.show(PV.i + step); }
    else if (e.key === 'Home') { e.preventDefault(); PV.show(0); }
    else if (e.key === 'End') { e.preventDefault(); PV.show(PV.steps.length - 1); }
  });
  PV.dlg.addEventListener('close', () => { PV.gen++; $('#preview-image').removeAttribute('src'); PV.cache.clear(); });

  // ------------------------------------------------------------------ jobs page

  const JOB_TEXT = (j) => [j.id, j.kind, j.state, j.node, j.title, j.error && j.error.message].join(' ').toLowerCase();
  const JP = {
    loaded: false, loading: false, rows: new Map(), body: $('#jobs-body'),
    async load() {
      if (this.loading) return;
      this.loading = true;
      const p = new URLSearchParams();
      p.set('limit', '100');
      const st = $('#jobs-state').value, kd = $('#jobs-kind').value;
      if (st) p.append('state', st);
      if (kd) p.append('kind', kd);
      try {
        const r = await api('/api/jobs?' + p.toString());
        this.rows.clear();
        clear(this.body);
        this.loaded = true;
        for (const rec of (r && r.jobs) || []) {
          const full = mergeJob(rec, { silent: true, fetchedAt: performance.now() });
          if (!this.rows.has(full.id)) this.insert(full);
        }
        $('#jobs-count').textContent = r && r.total != null ? plural(r.total, 'job') : '';
        this.filterText();
      } catch (e) {
        reportError(e, 'Loading jobs');
      } finally { this.loading = false; }
    },
    matches(j) {
      const st = $('#jobs-state').value, kd = $('#jobs-kind').value;
      return (!st || j.state === st) && (!kd || j.kind === kd);
    },
    insert(j) {
      const old = this.rows.get(j.id);
      if (old) old.remove();
      const tr = this.renderRow(j);
      let before = null;
      for (const row of this.body.children) if (Number(row.dataset.jobId) < j.id) { before = row; break; }
      this.body.insertBefore(tr, before);
      this.rows.set(j.id, tr);
      while (this.body.children.length > 300) { const last = this.body.lastElementChild; this.rows.delete(Number(last.dataset.jobId)); last.remove(); }
    },
    onJob(j) {
      if (!this.loaded) return;
      const tr = this.rows.get(j.id);
      if (tr) {
        const focused = document.activeElement && tr.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
        const nt = this.renderRow(j);
        tr.replaceWith(nt);
        this.rows.set(j.id, nt);
        if (focused) { const f = nt.querySelector(`[data-testid="${focused}"]`); if (f) f.focus(); }
        this.filterText();
      } else if (this.matches(j) && j.kind) {
        this.insert(j);
        this.filterText();
      }
      $('#jobs-empty').hidden = this.rows.size > 0;
    },
    renderRow(j) {
      const p = j.progress || {};
      const done = Number(p.items_done || 0), tot = Number(p.items_total || 0);
      const pct = j.state === 'completed' ? 100 : tot ? Math.min(100, (100 * done) / tot) : 0;
      const bar = h('div', { class: 'bar' });
      bar.style.width = pct + '%';
      const bytes = p.bytes_done ? fmtBytes(p.bytes_done) + (p.bytes_total ? ' / ' + fmtBytes(p.bytes_total) : '') : '';
      const active = ACTIVE.has(j.state);
      const time = (ms, label) => h('td', { class: 'time', title: ms ? fullTime(ms) : '', 'data-ms': ms || '', 'aria-label': ms ? `${label} ${fullTime(ms)}` : '' }, relTime(ms));
      const err = j.error && j.error.message ? `${j.error.category ? j.error.category + ': ' : ''}${j.error.message}` : '';
      return h('tr', { testid: 'job-row', 'data-job-id': String(j.id), 'data-state': j.state || '', 'data-kind': j.kind || '', 'data-text': JOB_TEXT(j) },
        h('td', { class: 'mono' }, String(j.id)),
        h('td', null, j.kind || ''),
        h('td', null, h('span', { class: 'state-pill state-' + (j.state || 'queued'), testid: 'job-state' }, (j.state || '').replace('_', ' ')),
          j.state === 'waiting_retry' && j.retry_at ? h('div', { class: 'muted small-text' }, 'retry ' + relTime(j.retry_at)) : null),
        h('td', null, h('div', { class: 'job-progress' },
          (tot || done || active) ? h('div', { class: 'progress' + (active && !tot && j.state === 'running' ? ' indeterminate' : ''), role: 'progressbar',
            'aria-label': 'Progress', 'aria-valuemin': '0', 'aria-valuemax': String(tot || 100), 'aria-valuenow': String(tot ? done : pct) }, bar) : null,
          (tot || done) ? h('span', null, `${fmtNum(done)}${tot ? ' / ' + fmtNum(tot) : ''} items${bytes ? ' · ' + bytes : ''}`) : (bytes ? h('span', null, bytes) : null))),
        h('td', null, j.node || (j.spec && j.spec.node) || ''),
        h('td', null, h('div', { class: 'job-title', title: j.title || '' }, j.title || ''), err ? h('div', { class: 'error-text small-text', title: err }, err) : null),
        time(j.created_at, 'Created'), time(j.started_at, 'Started'), time(j.finished_at, 'Finished'),
        h('td', { class: 'actions' },
          active ? h('button', { type: 'button', class: 'small', testid: 'job-cancel', 'aria-label': `Cancel job ${j.id}`,
            onclick: () => cancelJob(j.id).catch((e) => reportError(e, 'Cancel')) }, 'Cancel') : null,
          j.state === 'failed' || j.state === 'canceled' ? h('button', { type: 'button', class: 'small', testid: 'job-retry', 'aria-label': `Retry job ${j.id}`,
            onclick: () => retryJob(j.id).catch((e) => reportError(e, 'Retry')) }, 'Retry') : null,
          h('button', { type: 'button', class: 'small', testid: 'job-details', 'aria-label': `Details of job ${j.id}`, onclick: () => JD.open(j.id) }, 'Details')));
    },
    filterText() {
      const q = $('#jobs-text').value.trim().toLowerCase();
      for (const tr of this.body.children) tr.hidden = !!q && !tr.dataset.text.includes(q);
      $('#jobs-empty').hidden = this.rows.size > 0;
    },
    refreshTimes() {
      for (const td of $$('td.time', this.body)) { const ms = Number(td.dataset.ms); if (ms) td.textContent = relTime(ms); }
    },
  };
  $('#jobs-state').addEventListener('change', () => JP.load());
  $('#jobs-kind').addEventListener('change', () => JP.load());
  $('#jobs-text').addEventListener('input', debounce(() => JP.filterText(), 100));
  $('#jobs-clear').addEventListener('click', async () => {
    try {
      const r = await post('/api/jobs/clear');
      for (const [id, j] of Jobs.map) if (TERMINAL.has(j.state) && j.state !== 'failed') Jobs.map.delete(id);
      toast(`Cleared ${plural((r && r.cleared) || 0, 'finished job')}.`, 'ok');
      await JP.load();
      for (const [id, j] of Jobs.map) if (TERMINAL.has(j.state) && !JP.rows.has(id)) Jobs.map.delete(id);
      for (const s of B.seriesIndex.values()) if (s.els) updateTileSoon(s);
      updateBadge();
    } catch (e) { reportError(e, 'Clear finished'); }
  });
  setInterval(() => JP.refreshTimes(), 15000);

  // Job details.
  const JD = {
    dlg: $('#job-dialog'), id: null, timer: 0, logEl: null,
    async open(id) {
      this.id = id;
      $('#job-dialog-title').textContent = `Job ${id}`;
      setChildren($('#job-dialog-body'), h('p', { class: 'muted' }, 'Loading…'));
      if (!this.dlg.open) this.dlg.show();
      $('.close-dialog', this.dlg).focus();
      await this.load();
    },
    async load() {
      const id = this.id;
      try {
        const j = await api(`/api/jobs/${enc(id)}`);
        if (id !== this.id || !this.dlg.open) return;
        this.render(j);
      } catch (e) {
        reportError(e, 'Job details');
        setChildren($('#job-dialog-body'), h('p', { class: 'error-text' }, 'Could not load: ' + e.message));
      }
    },
    render(j) {
      const p = j.progress || {};
      const dl = (pairs) => h('dl', null, pairs.filter((x) => x[1] !== '' && x[1] != null).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
      const err = j.error;
      const active = ACTIVE.has(j.state);
      this.logEl = h('div', { class: 'log', testid: 'job-log' }, (j.log || []).map((l) => this.logLine(l)));
      $('#job-dialog-title').textContent = `Job ${j.id}: ${j.kind}`;
      setChildren($('#job-dialog-body'),
        h('div', { class: 'toolbar' },
          h('span', { class: 'state-pill state-' + j.state }, String(j.state || '').replace('_', ' ')),
          active ? h('button', { type: 'button', class: 'small', testid: 'job-cancel', onclick: () => cancelJob(j.id).catch((e) => reportError(e, 'Cancel')) }, 'Cancel') : null,
          j.state === 'failed' || j.state === 'canceled' ? h('button', { type: 'button', class: 'small', testid: 'job-retry', onclick: () => retryJob(j.id).catch((e) => reportError(e, 'Retry')) }, 'Retry') : null),
        dl([
          ['Title', j.title || ''], ['Node', j.node || ''], ['Priority', j.priority || ''],
          ['Attempts', j.attempts != null ? `${j.attempts}${j.max_retries != null ? ' (up to ' + (j.max_retries + 1) + ')' : ''}` : ''],
          ['Progress', p.items_total || p.items_done ? `${fmtNum(p.items_done || 0)} / ${fmtNum(p.items_total || 0)} items, ${fmtBytes(p.bytes_done || 0)}` : ''],
          ['Created', fullTime(j.created_at)], ['Started', fullTime(j.started_at)], ['Finished', fullTime(j.finished_at)],
          ['Retry at', fullTime(j.retry_at)], ['Depends on', (j.depends_on || []).join(', ')],
        ]),
        err ? [h('h3', null, 'Error'), h('p', { class: 'error-text', testid: 'job-error' }, `${err.category ? err.category + ': ' : ''}${err.message || ''}`)] : null,
        h('h3', null, 'Specification'), h('pre', { testid: 'job-spec' }, JSON.stringify(j.spec, null, 2)),
        j.output != null ? [h('h3', null, 'Output'), h('pre', { testid: 'job-output' }, JSON.stringify(j.output, null, 2))] : null,
        h('h3', null, 'Log'), this.logEl);
    },
    logLine(l) {
      return h('div', { class: 'mono small-text' }, h('span', { class: 'muted' }, l.at ? new Date(l.at).toLocaleTimeString() + '  ' : ''), l.message || '');
    },
    onLog(ev) {
      if (!this.dlg.open || ev.id !== this.id || !this.logEl) return;
      this.logEl.appendChild(this.logLine({ at: Date.now(), message: ev.message }));
    },
    onJob(j) {
      if (!this.dlg.open || j.id !== this.id || this.timer) return;
      this.timer = setTimeout(() => { this.timer = 0; this.load(); }, 700);
    },
  };

  JD.dlg.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); JD.dlg.close(); } });

  // ------------------------------------------------------------------ nodes page

  const NP = {
    verify: new Map(),
    async load() {
      try {
        const list = await api('/api/nodes');
        B.nodes = (Array.isArray(list) ? list : (list && list.nodes) || []).slice().sort((a, b) => a.name.localeCompare(b.name));
      } catch (e) { reportError(e, 'Loading nodes'); }
      renderSources();
      this.render();
    },
    address(n) {
      if (n.dicomweb) return n.dicomweb.url;
      return `${n.ae_title}@${n.host}:${n.port}`;
    },
    render() {
      const body = $('#nodes-body');
      setChildren(body, B.nodes.map((n) => {
        const v = this.verify.get(n.name);
        const cell = h('td', { testid: 'node-verify-result', 'data-node': n.name, 'aria-live': 'polite' });
        if (!v) cell.appendChild(h('span', { class: 'muted' }, 'unknown'));
        else if (v.pending) cell.appendChild(h('span', { class: 'muted' }, 'verifying…'));
        else if (v.ok) cell.appendChild(h('span', { class: 'verify-ok' }, `✓ ${v.ms < 10 ? Number(v.ms).toFixed(1).replace(/\.0$/, '') : Math.round(v.ms)} ms`));
        else cell.appendChild(h('span', { class: 'verify-fail', title: v.error }, `✗ ${v.error}`));
        const web = !!n.dicomweb;
        return h('tr', { testid: 'node-row', 'data-node': n.name },
          h('td', null, h('b', null, n.name)),
          h('td', null, h('span', { class: 'badge' }, web ? 'DICOMweb' : 'DIMSE'), ' ', h('span', { class: 'mono' }, this.address(n))),
          h('td', null, web ? 'WADO-RS' : (n.retrieve_method === 'c-move' ? `C-MOVE → ${n.move_destination || (statusInfo && statusInfo.ae_title) || 'us'}` : 'C-GET')),
          h('td', null, n.query_retrieve ? '✓' : '—'),
          h('td', null, n.send_target ? '✓' : '—'),
          cell,
          h('td', { class: 'actions' },
            h('button', { type: 'button', class: 'small', testid: 'node-verify', 'aria-label': `Verify ${n.name}`, onclick: () => this.doVerify(n.name) }, 'Verify'),
            h('button', { type: 'button', class: 'small', testid: 'node-edit', 'aria-label': `Edit ${n.name}`, onclick: () => NF.open(n) }, 'Edit'),
            h('button', { type: 'button', class: 'small danger', testid: 'node-remove', 'aria-label': `Remove ${n.name}`, onclick: () => this.remove(n) }, 'Remove')));
      }));
      $('#nodes-empty').hidden = B.nodes.length > 0;
    },
    async doVerify(name) {
      this.verify.set(name, { pending: true });
      this.render();
      try {
        const r = await post(`/api/nodes/${enc(name)}/verify`);
        this.verify.set(name, r && r.ok ? { ok: true, ms: Number(r.round_trip_ms || 0) } : { ok: false, error: (r && r.error) || 'failed' });
      } catch (e) {
        this.verify.set(name, { ok: false, error: e.message });
      }
      this.render();
    },
    async remove(n) {
      const ok = await confirmDialog({ title: 'Remove node', ok: 'Remove',
        body: h('p', null, `Remove the node ${n.name} (${this.address(n)})? Its jobs stay in the history.`) });
      if (!ok) return;
      try {
        await api(`/api/nodes/${enc(n.name)}`, { method: 'DELETE' });
        this.verify.delete(n.name);
        toast(`Removed ${n.name}.`, 'ok');
      } catch (e) { reportError(e, 'Remove node'); }
      await this.load();
    },
    renderThisServer() {
      const s = statusInfo;
      const box = $('#this-server');
      if (!s) { setChildren(box, h('h2', null, 'This server'), h('span', { class: 'muted' }, 'Status unavailable.')); return; }
      const d = s.dimse || {};
      const kv = (k, v, testid) => h('div', { class: 'kv' }, h('span', { class: 'k' }, k), h('span', { class: 'mono', testid }, v));
      setChildren(box, h('h2', null, 'This server'),
        kv('AE title', s.ae_title || '', 'server-ae-title'),
        kv('DIMSE address', d.address || '', 'server-dimse-address'),
        kv('DIMSE listener', d.running ? 'running' : 'not running', 'server-dimse-status'),
        kv('HTTP', s.http || location.origin, 'server-http'),
        kv('Version', s.version || '', 'server-version'));
    },
  };

  // Node form.
  const NF = {
    dlg: $('#node-dialog'), form: $('#node-form'), editing: null,
    fieldInputs: {
      name: '#node-name', ae_title: '#node-ae-title', host: '#node-host', port: '#node-port', calling_ae_title: '#node-calling',
      retrieve_method: '#node-retrieve', move_destination: '#node-move-dest', url: '#node-url', auth: '#node-auth',
      user: '#node-user', password: '#node-password', token: '#node-token', timeout_seconds: '#node-timeout', type: '#node-type',
    },
    open(n) {
      this.editing = n;
      $('#node-dialog-title').textContent = n ? `Edit node ${n.name}` : 'Add node';
      const web = !!(n && n.dicomweb);
      const auth = (n && n.dicomweb && n.dicomweb.auth) || { kind: 'none' };
      $('#node-name').value = n ? n.name : '';
      $('#node-type').value = web ? 'dicomweb' : 'dimse';
      $('#node-ae-title').value = n && !web ? n.ae_title || '' : '';
      $('#node-host').value = n && !web ? n.host || '' : '';
      $('#node-port').value = n && !web ? String(n.port || '') : '104';
      $('#node-calling').value = (n && n.calling_ae_title) || '';
      $('#node-retrieve').value = (n && n.retrieve_method) || 'c-get';
      $('#node-move-dest').value = (n && n.move_destination) || '';
      $('#node-url').value = web ? n.dicomweb.url || '' : '';
      $('#node-auth').value = auth.kind || 'none';
      $('#node-user').value = auth.user || '';
      $('#node-password').value = '';
      $('#node-token').value = '';
      $('#node-timeout').value = String((n && n.timeout_seconds) || 30);
      $('#node-qr').checked = n ? !!n.query_retrieve : true;
      $('#node-send').checked = n ? !!n.send_target : true;
      this.clearErrors();
      this.sync();
      this.dlg.showModal();
      $('#node-name').focus();
    },
    sync() {
      const web = $('#node-type').value === 'dicomweb';
      this.form.classList.toggle('web', web);
      this.form.classList.toggle('auth-basic', web && $('#node-auth').value === 'basic');
      this.form.classList.toggle('auth-bearer', web && $('#node-auth').value === 'bearer');
      $('#node-move-dest').disabled = $('#node-retrieve').value !== 'c-move';
    },
    clearErrors() {
      for (const e of $$('.field-error', this.form)) e.remove();
      for (const i of $$('[aria-invalid]', this.form)) { i.removeAttribute('aria-invalid'); i.removeAttribute('aria-describedby'); }
      $('#node-form-error').textContent = '';
    },
    showError(field, msg) {
      const sel = this.fieldInputs[field];
      const input = sel && $(sel);
      if (!input || input.closest('[hidden]') || getComputedStyle(input.closest('.field') || input).display === 'none') {
        $('#node-form-error').textContent = field ? `${field}: ${msg}` : msg;
        return null;
      }
      const id = 'err-' + field;
      const old = document.getElementById(id);
      if (old) old.remove();
      const err = h('div', { class: 'field-error', testid: 'field-error', 'data-field': field, id, role: 'alert' }, msg);
      input.closest('.field').appendChild(err);
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', id);
      return input;
    },
    validate() {
      const errs = {};
      const aeOk = (v) => v.length >= 1 && v.length <= 16 && /^[\x20-\x7e]+$/.test(v) && !v.includes('\\') && v.trim().length > 0;
      const name = $('#node-name').value.trim();
      if (!name) errs.name = 'Enter a name.';
      else if (/[/\\]/.test(name) || name.length > 64) errs.name = 'Use at most 64 characters, without slashes.';
      const web = $('#node-type').value === 'dicomweb';
      if (!web) {
        const ae = $('#node-ae-title').value;
        if (!aeOk(ae)) errs.ae_title = 'AE title: 1 to 16 printable ASCII characters, no backslash.';
        if (!$('#node-host').value.trim()) errs.host = 'Enter a host name or IP address.';
        const port = $('#node-port').value.trim();
        if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) errs.port = 'Port: a number from 1 to 65535.';
        const calling = $('#node-calling').value;
        if (calling && !aeOk(calling)) errs.calling_ae_title = 'AE title: 1 to 16 printable ASCII characters, no backslash.';
        const dest = $('#node-move-dest').value;
        if ($('#node-retrieve').value === 'c-move' && dest && !aeOk(dest)) errs.move_destination = 'AE title: 1 to 16 printable ASCII characters, no backslash.';
      } else {
        const url = $('#node-url').value.trim();
        if (!/^https?:\/\/[^\s/]+/i.test(url)) errs.url = 'The URL must start with http:// or https://.';
        const auth = $('#node-auth').value;
        if (auth === 'basic' && !$('#node-user').value.trim()) errs.user = 'Enter the user name.';
        const hadSecret = this.editing && this.editing.dicomweb && this.editing.dicomweb.auth && this.editing.dicomweb.auth.kind === auth;
        if (auth === 'basic' && !$('#node-password').value && !hadSecret) errs.password = 'Enter the password.';
        if (auth === 'bearer' && !$('#node-token').value && !hadSecret) errs.token = 'Enter the token.';
      }
      const t = $('#node-timeout').value.trim();
      if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 86400) errs.timeout_seconds = 'Timeout: a whole number of seconds, at least 1.';
      return errs;
    },
    build() {
      const web = $('#node-type').value === 'dicomweb';
      const prev = this.editing || {};
      const n = {
        name: $('#node-name').value.trim(),
        ae_title: web ? (prev.dicomweb ? prev.ae_title : 'DICOMWEB') || 'DICOMWEB' : $('#node-ae-title').value,
        host: web ? (prev.dicomweb ? prev.host : '-') || '-' : $('#node-host').value.trim(),
        port: web ? (prev.dicomweb ? prev.port : 1) || 1 : Number($('#node-port').value),
        calling_ae_title: !web && $('#node-calling').value ? $('#node-calling').value : null,
        retrieve_method: web ? prev.retrieve_method || 'c-get' : $('#node-retrieve').value,
        move_destination: !web && $('#node-retrieve').value === 'c-move' && $('#node-move-dest').value ? $('#node-move-dest').value : null,
        query_retrieve: $('#node-qr').checked,
        send_target: $('#node-send').checked,
        timeout_seconds: Number($('#node-timeout').value),
      };
      if (web) {
        const kind = $('#node-auth').value;
        const auth = kind === 'basic' ? { kind, user: $('#node-user').value.trim(), password: $('#node-password').value }
          : kind === 'bearer' ? { kind, token: $('#node-token').value } : { kind: 'none' };
        n.dicomweb = { url: $('#node-url').value.trim(), auth };
      }
      return n;
    },
    async submit() {
      this.clearErrors();
      const errs = this.validate();
      const keys = Object.keys(errs);
      if (keys.length) {
        let first = null;
        for (const k of keys) { const i = this.showError(k, errs[k]); if (!first && i) first = i; }
        if (first) first.focus();
        return;
      }
      const node = this.build();
      const save = $('#node-save');
      save.disabled = true;
      try {
        await api(`/api/nodes/${enc(node.name)}`, { method: 'PUT', body: node });
        if (this.editing && this.editing.name !== node.name) {
          await api(`/api/nodes/${enc(this.editing.name)}`, { method: 'DELETE' });
          this.verify.delete && this.verify.delete(this.editing.name);
        }
        this.dlg.close();
        toast(`Saved node ${node.name}.`, 'ok');
        NP.verify.delete(node.name);
        await NP.load();
      } catch (e) {
        if (e.status === 400 || e.status === 422) {
          recordError(e, 'node form');
          const field = e.field ? String(e.field).split('.').pop() : null;
          const mapped = field === 'timeout' ? 'timeout_seconds' : field;
          const input = mapped ? this.showError(mapped, e.message) : null;
          if (input) input.focus(); else if (!mapped) $('#node-form-error').textContent = e.message;
        } else {
          reportError(e, 'Save node');
          $('#node-form-error').textContent = e.message;
        }
      } finally { save.disabled = false; }
    },
  };
  NF.verify = NP.verify;
  $('#node-type').addEventListener('change', () => NF.sync());
  $('#node-auth').addEventListener('change', () => NF.sync());
  $('#node-retrieve').addEventListener('change', () => NF.sync());
  $('#node-form').addEventListener('submit', (e) => { e.preventDefault(); NF.submit(); });
  $('#node-cancel').addEventListener('click', () => NF.dlg.close());
  $('#node-add').addEventListener('click', () => NF.open(null));

  // ------------------------------------------------------------------ import page

  const IP = {
    queue: [], active: 0, xhrs: new Set(), batches: [], seq: 0, pathJobs: new Map(),
    totals: { files: 0, bytes: 0, doneFiles: 0, doneBytes: 0 },
    add(items) {
      if (!items.length) { toast('No files found.'); return; }
      const batch = { id: ++this.seq, files: items.length, bytes: items.reduce((a, x) => a + (x.file.size || 0), 0), done: 0,
        stored: 0, duplicates: 0, skipped: [], failed: [], card: null };
      batch.card = h('div', { class: 'summary-card', testid: 'import-batch' });
      $('#import-summary').prepend(batch.card);
      this.batches.push(batch);
      for (const it of items) this.queue.push({ ...it, batch, loaded: 0 });
      this.totals.files += items.length;
      this.totals.bytes += batch.bytes;
      this.renderBatch(batch);
      this.pump();
      this.renderProgress();
    },
    pump() {
      while (this.active < 3 && this.queue.length) {
        const it = this.queue.shift();
        this.active++;
        this.upload(it).finally(() => {
          this.active--;
          this.totals.doneFiles++;
          this.totals.doneBytes += it.file.size || 0;
          it.loaded = 0;
          it.batch.done++;
          this.renderBatch(it.batch);
          this.renderProgress();
          this.pump();
        });
      }
    },
    upload(it) {
      return new Promise((resolve) => {
        const xhr = new XMLHttpRequest();
        this.xhrs.add(xhr);
        it.xhr = xhr;
        xhr.open('POST', `/api/upload?name=${enc(it.name)}`);
        xhr.setRequestHeader('Content-Type', 'application/octet-stream');
        xhr.upload.addEventListener('progress', (e) => { it.loaded = e.loaded; this.inflight.add(it); this.renderProgressSoon(); });
        xhr.addEventListener('load', () => {
          let data = null;
          try { data = JSON.parse(xhr.responseText); } catch (_) { data = null; }
          if (xhr.status >= 200 && xhr.status < 300 && data) {
            it.batch.stored += Number(data.stored || 0);
            it.batch.duplicates += Number(data.duplicates || 0);
            for (const s of data.skipped || []) it.batch.skipped.push({ name: s.name || it.name, reason: s.reason || 'skipped' });
          } else {
            const msg = xhr.status === 413 ? 'too large (the limit is 2 GiB)' : (data && data.error) || `HTTP ${xhr.status}`;
            it.batch.failed.push({ name: it.name, reason: msg });
            recordError(new Error(`${it.name}: ${msg}`), 'upload');
          }
          done();
        });
        xhr.addEventListener('error', () => { it.batch.failed.push({ name: it.name, reason: 'network error' }); recordError(new Error(`${it.name}: network error`), 'upload'); done(); });
        xhr.addEventListener('abort', () => { it.batch.failed.push({ name: it.name, reason: 'canceled' }); done(); });
        const done = () => { this.xhrs.delete(xhr); this.inflight.delete(it); resolve(); };
        xhr.send(it.file);
      });
    },
    inflight: new Set(),
    progressQueued: false,
    renderProgressSoon() {
      if (this.progressQueued) return;
      this.progressQueued = true;
      requestAnimationFrame(() => { this.progressQueued = false; this.renderProgress(); });
    },
    renderProgress() {
      const t = this.totals;
      const busy = t.doneFiles < t.files;
      const box = $('#upload-progress');
      box.hidden = t.files === 0;
      let bytes = t.doneBytes;
      for (const it of this.inflight) bytes += it.loaded || 0;
      const pct = t.bytes ? (100 * bytes) / t.bytes : (t.files ? (100 * t.doneFiles) / t.files : 0);
      $('#upload-bar').style.width = Math.min(100, pct) + '%';
      $('#upload-text').textContent = `${busy ? 'Uploading' : 'Uploaded'} ${fmtNum(t.doneFiles)} / ${plural(t.files, 'file')} · ${fmtBytes(bytes)} / ${fmtBytes(t.bytes)}`;
      $('#upload-cancel').hidden = !busy;
      if (!busy) { /* keep the last totals visible until the next batch */ this.totals = { files: t.files, bytes: t.bytes, doneFiles: t.doneFiles, doneBytes: t.doneBytes, finished: true }; }
    },
    renderBatch(b) {
      const finished = b.done >= b.files;
      b.card.dataset.done = String(finished);
      if (!finished) {
        // Counts appear once the batch is done (the overall bar above shows the progress).
        setChildren(b.card, h('div', null, h('b', null, 'Uploading…'), ' ', h('span', { class: 'muted' }, 'results appear when every file is stored')));
        return;
      }
      setChildren(b.card,
        h('div', null, h('b', null, 'Upload finished'), ` — ${plural(b.files, 'file')} (${fmtBytes(b.bytes)}), ${new Date().toLocaleTimeString()}`),
        h('div', { class: 'counts' },
          h('span', { testid: 'import-stored' }, `${fmtNum(b.stored)} stored`),
          h('span', { testid: 'import-duplicates' }, `${fmtNum(b.duplicates)} duplicates`),
          h('span', { testid: 'import-skipped' }, `${fmtNum(b.skipped.length)} skipped`),
          b.failed.length ? h('span', { class: 'error-text', testid: 'import-failed' }, `${fmtNum(b.failed.length)} failed`) : null),
        b.skipped.length ? h('details', { open: b.skipped.length <= 10 ? true : null }, h('summary', null, 'Skipped files'),
          h('ul', null, b.skipped.slice(0, 500).map((s) => h('li', null, h('span', { class: 'mono' }, s.name), ': ', s.reason)))) : null,
        b.failed.length ? h('details', { open: true }, h('summary', null, 'Failed uploads'),
          h('ul', null, b.failed.slice(0, 500).map((s) => h('li', null, h('span', { class: 'mono' }, s.name), ': ', s.reason)))) : null);
    },
    cancel() {
      const n = this.queue.length;
      for (const it of this.queue) { it.batch.failed.push({ name: it.name, reason: 'canceled' }); }
      const dropped = this.queue.splice(0);
      this.totals.doneFiles += dropped.length;
      this.totals.doneBytes += dropped.reduce((a, x) => a + (x.file.size || 0), 0);
      for (const it of dropped) { it.batch.done++; this.renderBatch(it.batch); }
      for (const x of this.xhrs) x.abort();
      if (n || this.xhrs.size) toast('Upload canceled.');
      this.renderProgress();
    },
    onJob(j) {
      const el = this.pathJobs.get(j.id);
      if (!el) return;
      const p = j.progress || {};
      const prog = p.items_total ? `${fmtNum(p.items_done || 0)} / ${plural(p.items_total, 'file')}` : p.items_done ? `${plural(p.items_done, 'file')}` : '';
      const err = j.error && j.error.message ? ` — ${j.error.message}` : '';
      const out = j.output && typeof j.output === 'object' ? Object.entries(j.output)
        .map(([k, v]) => (Array.isArray(v) ? `${v.length} ${k}` : typeof v === 'object' && v ? null : `${v} ${k}`)).filter(Boolean).join(', ') : '';
      const bar = h('div', { class: 'bar' });
      bar.style.width = (j.state === 'completed' ? 100 : p.items_total ? Math.min(100, (100 * (p.items_done || 0)) / p.items_total) : 0) + '%';
      setChildren(el, h('div', null, h('b', null, `Import job ${j.id}`), ': ', h('span', { class: 'state-pill state-' + j.state, testid: 'import-job-state' }, j.state),
        prog ? ` ${prog}` : '', out ? ` — ${out}` : '', err ? h('span', { class: 'error-text' }, err) : null),
        ACTIVE.has(j.state) ? h('div', { class: 'progress' + (p.items_total ? '' : ' indeterminate') }, bar) : null);
      el.dataset.state = j.state;
      if (j.state === 'completed' && j.output == null && !el.dataset.fetched) { el.dataset.fetched = '1'; fetchJob(j.id); }
    },
  };
  $('#upload-cancel').addEventListener('click', () => IP.cancel());
  async function walkEntries(entries) {
    const out = [];
    const readAll = (reader) => new Promise((res, rej) => reader.readEntries(res, rej));
    const walk = async (entry, prefix) => {
      if (entry.isFile) {
        const file = await new Promise((res, rej) => entry.file(res, rej));
        out.push({ file, name: prefix + entry.name });
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        for (;;) {
          const batch = await readAll(reader);
          if (!batch.length) break;
          for (const c of batch) await walk(c, prefix + entry.name + '/');
        }
      }
    };
    for (const e of entries) await walk(e, '');
    return out;
  }
  async function handleDrop(dt) {
    const items = dt.items ? Array.from(dt.items) : [];
    const entries = items.map((i) => (i.kind === 'file' && i.webkitGetAsEntry ? i.webkitGetAsEntry() : null)).filter(Boolean);
    const files = entries.length ? await walkEntries(entries) : Array.from(dt.files || []).map((f) => ({ file: f, name: f.name }));
    IP.add(files);
  }
  const dz = $('#drop-zone');
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
  dz.addEventListener('dragover', (e) => { if (hasFiles(e)) { e.preventDefault(); dz.classList.add('over'); } });
  dz.addEventListener('dragleave', () => dz.classList.remove('over'));
  dz.addEventListener('drop', (e) => {
    e.preventDefault();
    e.stopPropagation();
    dz.classList.remove('over');
    handleDrop(e.dataTransfer).catch((err) => reportError(err, 'Reading dropped files'));
  });
  dz.addEventListener('keydown', (e) => { if (e.target === dz && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); $('#import-files').click(); } });
  // Files dropped anywhere else: go to the Import page and import them there.
  window.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    showPage('import');
    handleDrop(e.dataTransfer).catch((err) => reportError(err, 'Reading dropped files'));
  });
  for (const id of ['#import-files', '#import-folder']) {
    $(id).addEventListener('change', (e) => {
      const files = Array.from(e.target.files || []).map((f) => ({ file: f, name: f.webkitRelativePath || f.name }));
      e.target.value = '';
      IP.add(files);
    });
  }
  $('#import-path-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const path = $('#import-path').value.trim();
    const statusBox = $('#import-path-status');
    if (!path) { $('#import-path').focus(); return; }
    const btn = $('#import-path-go');
    btn.disabled = true;
    try {
      const link = $('#import-link').checked;
      const r = await post('/api/import', { paths: [path], link });
      const line = h('div', { class: 'import-job', testid: 'import-job', 'data-job-id': String(r.id) }, `Import job ${r.id} queued.`);
      statusBox.prepend(line);
      IP.pathJobs.set(r.id, line);
      const known = Jobs.map.get(r.id);
      if (known) IP.onJob(known);
      else mergeJob({ id: r.id, kind: 'import', spec: { kind: 'import', paths: [path], link }, state: 'queued', created_at: Date.now() });
    } catch (err) {
      reportError(err, 'Import');
      statusBox.prepend(h('div', { class: 'error-text', testid: 'import-error' }, `${path}: ${err.message}`));
    } finally { btn.disabled = false; }
  });

  // ------------------------------------------------------------------ global keys

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      if (!Menu.el.hidden) { e.preventDefault(); Menu.close(true); }
      else if (!$('#modality-panel').hidden) { e.preventDefault(); closeModalities(true); }
    }
  });

  // ------------------------------------------------------------------ start

  function init() {
    applyTheme();
    applySize();
    $('#source-local').checked = settings.get('sourceLocal', true) !== false;
    updateModalityLabel();
    showPage(location.hash.replace(/^#\/?/, '') || 'browser', false);
    loadStatus();
    NP.load();
    seedJobs();
    connectEvents();
    resetList();
  }
  init();

  // For tests and debugging.
  window.lightbox = { B, Jobs, reload: resetList };
})();
