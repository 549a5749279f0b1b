// Sluice event inspector: plain browser JavaScript, no build step.
// Event content is untrusted input: everything is rendered with textContent, never innerHTML.
/* global document, location, history, sessionStorage, fetch, URL, URLSearchParams, EventSource, TextDecoder, atob, clearTimeout */
'use strict';

(() => {
  const TOKEN_KEY = 'sluice.adminToken';
  const POLL_MS = 2000;
  const TAIL_KEEP = 500;
  const TAIL_SHOW = 200;
  const DATA_SHOW = 4000;

  const $ = (id) => document.getElementById(id);

  // --- admin token: `?token=` (or `?access_token=`) once, then sessionStorage, out of the address bar ---
  function initToken() {
    const url = new URL(location.href);
    const name = url.searchParams.has('token') ? 'token' : 'access_token';
    const given = url.searchParams.get(name);
    if (given !== null) {
      if (given) sessionStorage.setItem(TOKEN_KEY, given);
      else sessionStorage.removeItem(TOKEN_KEY);
      url.searchParams.delete(name);
      history.replaceState(null, '', url.pathname + url.search + url.hash);
    }
    return sessionStorage.getItem(TOKEN_KEY) || '';
  }
  const token = initToken();

  async function api(path) {
    const headers = { accept: 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    const res = await fetch(path, { headers, cache: 'no-store' });
    if (!res.ok) {
      let message = res.status + ' ' + res.statusText;
      try {
        const body = await res.json();
        if (body && body.error) message = body.error + ' (' + res.status + ')';
      } catch {
        // Not JSON: keep the status line.
      }
      if (res.status === 401) message += ' - open this page with ?token=<admin token>';
      throw new Error(message);
    }
    return res.json();
  }

  async function apiPost(path, body) {
    const headers = { accept: 'application/json', 'content-type': 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body), cache: 'no-store' });
    let json = null;
    try {
      json = await res.json();
    } catch {
      // Not JSON: reported below by status.
    }
    if (!res.ok) throw new Error(((json && json.error) || res.status + ' ' + res.statusText) + (res.status === 401 ? ' - open this page with ?token=<admin token>' : ''));
    return json;
  }

  // --- DOM helpers: text only ---
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === 'className') node.className = v;
        else if (k === 'text') node.textContent = String(v);
        else if (k === 'title') node.title = String(v);
        else node.setAttribute(k, String(v));
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      node.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return node;
  }
  const td = (text, className, title) => el('td', { className, title, text: text ?? '' });
  function badge(text, tone) {
    return el('span', { className: 'badge ' + tone, text });
  }
  function fillTable(id, rows) {
    $(id).querySelector('tbody').replaceChildren(...rows);
    $(id + '-empty').hidden = rows.length > 0;
  }
  function timeOf(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }

  // --- resources and rates ---
  function category(kind) {
    if (kind === 'Broker') return 'broker';
    if (kind === 'Trigger') return 'trigger';
    if (kind === 'Subscription') return 'subscription';
    if (/Channel$/.test(kind)) return 'channel';
    return undefined;
  }
  const rateKey = (kind, ns, name) => kind + '/' + ns + '/' + name;

  function readyOf(status) {
    const c = status && Array.isArray(status.conditions) ? status.conditions.find((x) => x.type === 'Ready') : undefined;
    return c || { status: 'Unknown', reason: '', message: '' };
  }

  function renderResources(items, rates) {
    const byKey = new Map(rates.map((r) => [rateKey(r.kind, r.namespace, r.name), r]));
    const sorted = [...items].sort((a, b) => (a.kind + a.metadata.namespace + a.metadata.name).localeCompare(b.kind + b.metadata.namespace + b.metadata.name));
    fillTable(
      'resources',
      sorted.map((r) => {
        const ready = readyOf(r.status);
        const tone = ready.status === 'True' ? 'ok' : ready.status === 'False' ? 'bad' : 'warn';
        const cat = category(r.kind);
        const rate = cat ? byKey.get(rateKey(cat, r.metadata.namespace, r.metadata.name)) : undefined;
        const address = r.status && r.status.address && r.status.address.url;
        const row = el(
          'tr',
          { 'data-kind': r.kind, 'data-namespace': r.metadata.namespace, 'data-name': r.metadata.name, 'data-ready': ready.status },
          td(r.kind),
          td(r.metadata.namespace),
          td(r.metadata.name, 'mono'),
          el('td', null, badge(ready.status, tone)),
          td(ready.reason || '', undefined, ready.message || undefined),
          td(address || '', 'mono wrap'),
          td(rate ? rate.eventsPerSecond.toFixed(2) : '', 'num'),
        );
        return row;
      }),
    );
  }

  function renderRates(body) {
    $('rates-window').textContent = 'over the last ' + body.windowSeconds + ' s';
    const order = { channel: 0, broker: 1, subscription: 2, trigger: 3 };
    const items = [...body.items].sort((a, b) => order[a.kind] - order[b.kind] || (a.namespace + a.name).localeCompare(b.namespace + b.name));
    fillTable(
      'rates',
      items.map((r) =>
        el('tr', { 'data-kind': r.kind, 'data-name': r.name }, td(r.kind), td(r.namespace), td(r.name, 'mono'), td(r.resource || '', 'mono'), td(r.eventsPerSecond.toFixed(2), 'num'), td(String(r.total), 'num')),
      ),
    );
  }

  // --- deliveries and dead letters ---
  const OUTCOME_TONE = { delivered: 'ok', retrying: 'warn', 'dead-lettered': 'bad', failed: 'bad' };

  function eventCell(d) {
    return el('td', { className: 'mono wrap' }, el('div', { text: d.eventType }), el('div', { className: 'muted', text: d.eventId + ' · ' + d.eventSource }));
  }
  const subscriptionOf = (d) => d.namespace + '/' + d.resource + ' → ' + d.subscription;

  function renderDeliveries(items) {
    fillTable(
      'deliveries',
      items.map((d) =>
        el(
          'tr',
          { 'data-outcome': d.outcome, 'data-event-id': d.eventId },
          td(timeOf(d.time), 'mono'),
          td(subscriptionOf(d), 'mono'),
          eventCell(d),
          el('td', null, badge(d.outcome, OUTCOME_TONE[d.outcome] || 'warn')),
          td(String(d.attempts), 'num'),
          td(d.statusCode === null ? '—' : String(d.statusCode), 'num', d.statusCode === null ? 'no response' : undefined),
          td(d.durationMs === null ? '' : String(Math.round(d.durationMs)), 'num'),
        ),
      ),
    );
  }

  /** knativeerrordata is standard base64 of the failing response's body (up to 1 KiB). */
  function decodeBase64Text(b64) {
    if (!b64) return '';
    try {
      const bin = atob(b64);
      const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
      return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    } catch {
      return b64 + ' (not valid base64)';
    }
  }

  function attributesList(attrs) {
    const dl = el('dl', { className: 'attrs mono' });
    for (const k of Object.keys(attrs).sort()) dl.append(el('dt', { text: k }), el('dd', { text: attrs[k] }));
    return dl;
  }

  function renderDeadLetters(items) {
    fillTable(
      'deadletters',
      items.map((d) => {
        const a = d.attributes || {};
        const data = d.data !== undefined ? el('pre', { text: truncate(d.dataEncoding === 'base64' ? '(base64) ' + d.data : d.data) }) : null;
        return el(
          'tr',
          { 'data-event-id': d.eventId },
          td(timeOf(d.time), 'mono'),
          td(subscriptionOf(d), 'mono'),
          eventCell(d),
          td(a.knativeerrorcode || '', 'num knativeerrorcode'),
          td(a.knativeerrordest || '', 'mono wrap knativeerrordest'),
          el('td', { className: 'knativeerrordata' }, el('pre', { text: decodeBase64Text(a.knativeerrordata) || '(empty)' })),
          el('td', null, el('details', null, el('summary', { text: Object.keys(a).length + ' attributes' }), attributesList(a), data)),
          redriveCell(d),
        );
      }),
    );
    shownDeadLetters = items;
  }

  // --- redrive: POST /api/v1/deadletters/redrive, one request per subscription ---
  let shownDeadLetters = [];

  function redriveCell(d) {
    if (d.redriven) return td(d.redriven.outcome + (d.redriven.statusCode ? ' (' + d.redriven.statusCode + ')' : ''), 'redriven');
    if (!d.ref || !d.entryId) return td('');
    if (!d.redrivable) return td('too large', 'muted');
    return el('td', null, el('button', { type: 'button', className: 'redrive', 'data-ref': d.ref, 'data-entry-id': d.entryId, text: 'Redrive' }));
  }

  async function redrive(groups) {
    const status = $('redrive-status');
    const refs = Object.keys(groups);
    if (refs.length === 0) {
      status.textContent = 'nothing to redrive';
      return;
    }
    status.textContent = 'redriving…';
    const totals = { delivered: 0, failed: 0, skipped: 0 };
    try {
      for (const ref of refs) {
        const r = await apiPost('/api/v1/deadletters/redrive', { subscription: ref, ids: groups[ref] });
        totals.delivered += r.delivered;
        totals.failed += r.failed;
        totals.skipped += r.skipped;
      }
      status.textContent = 'redriven: ' + totals.delivered + ' delivered, ' + totals.failed + ' failed again, ' + totals.skipped + ' skipped';
    } catch (err) {
      status.textContent = 'redrive failed: ' + String(err.message || err);
    }
  }

  $('deadletters').addEventListener('click', (ev) => {
    const button = ev.target.closest && ev.target.closest('button.redrive');
    if (!button) return;
    button.disabled = true;
    redrive({ [button.getAttribute('data-ref')]: [button.getAttribute('data-entry-id')] });
  });

  $('deadletters-redrive-all').addEventListener('click', () => {
    const groups = {};
    for (const d of shownDeadLetters) {
      if (!d.ref || !d.entryId || d.redriven || !d.redrivable) continue;
      (groups[d.ref] = groups[d.ref] || []).push(d.entryId);
    }
    redrive(groups);
  });

  function truncate(s) {
    return s.length > DATA_SHOW ? s.slice(0, DATA_SHOW) + '… (' + s.length + ' characters)' : s;
  }


  // --- JobSinks: counts from the resources list, jobs from GET /api/v1/jobsinks/<ns>/<name>/jobs ---
  const JOBSINK_KEY = 'sluice.jobsink';
  const JOBS_SHOW = 100;
  const STATE_TONE = { succeeded: 'ok', failed: 'bad', running: 'info', queued: 'warn', cancelled: 'off' };
  let selectedJobSink = sessionStorage.getItem(JOBSINK_KEY) || '';
  let jobSinkKeys = [];

  const jobSinkKey = (ns, name) => ns + '/' + name;
  function stateBadge(state) {
    return el('span', { className: 'badge state ' + state + ' ' + (STATE_TONE[state] || 'warn'), text: state });
  }
  function formatDuration(ms) {
    if (ms === undefined || ms === null || !Number.isFinite(ms)) return '';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
    const s = Math.round(ms / 1000);
    return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
  }
  function countCell(n, tone) {
    if (!n) return td(String(n || 0), 'num');
    return el('td', { className: 'num' }, tone ? badge(String(n), tone) : String(n));
  }

  function renderJobSinks(items) {
    const sinks = items.filter((r) => r.kind === 'JobSink').sort((a, b) => jobSinkKey(a.metadata.namespace, a.metadata.name).localeCompare(jobSinkKey(b.metadata.namespace, b.metadata.name)));
    jobSinkKeys = sinks.map((r) => jobSinkKey(r.metadata.namespace, r.metadata.name));
    if (!jobSinkKeys.includes(selectedJobSink)) selectedJobSink = jobSinkKeys[0] || '';
    fillTable(
      'jobsinks',
      sinks.map((r) => {
        const st = r.status || {};
        const jobs = st.jobs || {};
        const last = Array.isArray(st.recentJobs) ? st.recentJobs[0] : undefined;
        const ready = readyOf(st);
        const key = jobSinkKey(r.metadata.namespace, r.metadata.name);
        const selected = key === selectedJobSink;
        return el(
          'tr',
          { className: selected ? 'selected' : undefined, 'data-namespace': r.metadata.namespace, 'data-name': r.metadata.name, 'aria-selected': selected ? 'true' : 'false' },
          td(key, 'mono'),
          td(st.runner || ''),
          el('td', { title: ready.message || undefined }, badge(ready.status, ready.status === 'True' ? 'ok' : ready.status === 'False' ? 'bad' : 'warn')),
          countCell(jobs.running, 'info'),
          countCell(jobs.queued, 'warn'),
          countCell(jobs.succeeded, 'ok'),
          countCell(jobs.failed, 'bad'),
          last ? el('td', { className: 'mono', title: last.id }, stateBadge(last.state), ' ', timeOf(last.finishedAt || last.startedAt || last.createdAt)) : td('—', 'muted'),
          el('td', null, el('button', { type: 'button', className: 'show-jobs', 'data-key': key, text: selected ? 'Shown' : 'Show jobs' })),
        );
      }),
    );
  }

  function jobRow(j) {
    const running = j.state === 'running';
    const duration = j.durationMs !== undefined && j.durationMs !== null ? formatDuration(j.durationMs) : running && j.startedAt ? formatDuration(Date.now() - new Date(j.startedAt).getTime()) + ' so far' : '';
    const exit = j.exitCode !== undefined && j.exitCode !== null ? String(j.exitCode) + (j.signal ? ' (' + j.signal + ')' : '') : j.signal || '—';
    return el(
      'tr',
      { className: j.state, 'data-job-id': j.id, 'data-state': j.state, 'data-event-id': j.eventId, 'data-exit-code': j.exitCode ?? '' },
      td(timeOf(j.createdAt), 'mono', j.finishedAt ? 'finished ' + j.finishedAt : undefined),
      el('td', { className: 'state' }, stateBadge(j.state)),
      td(exit, 'num exit-code', j.signal ? 'signal ' + j.signal : undefined),
      td(duration, 'num duration', j.startedAt ? 'started ' + j.startedAt : undefined),
      td(String(j.attempts ?? ''), 'num attempts'),
      td(j.reason || '', 'reason'),
      td(j.message || '', 'mono stderr'),
      el('td', { className: 'mono wrap event' }, el('div', { text: j.eventType }), el('div', { className: 'muted', text: j.eventId + ' · ' + j.eventSource })),
      td(j.id, 'mono muted job-id'),
    );
  }

  let jobsRequest = 0;
  async function pollJobs() {
    const key = selectedJobSink;
    const request = ++jobsRequest;
    $('jobs-selected').textContent = key;
    if (!key) {
      $('jobs').hidden = true;
      $('jobs-empty').hidden = true;
      $('jobs-status').textContent = '';
      return;
    }
    const [ns, name] = key.split('/');
    try {
      const body = await api('/api/v1/jobsinks/' + encodeURIComponent(ns) + '/' + encodeURIComponent(name) + '/jobs');
      if (request !== jobsRequest) return; // another JobSink was chosen meanwhile
      const c = body.counts || {};
      const items = (body.items || []).slice(0, JOBS_SHOW);
      fillTable('jobs', items.map(jobRow));
      $('jobs').hidden = items.length === 0;
      $('jobs-status').textContent =
        (c.running || 0) + ' running, ' + (c.queued || 0) + ' queued, ' + (c.succeeded || 0) + ' succeeded, ' + (c.failed || 0) + ' failed' + ((body.items || []).length > JOBS_SHOW ? ' (newest ' + JOBS_SHOW + ' shown)' : '');
    } catch (err) {
      if (request === jobsRequest) $('jobs-status').textContent = 'jobs: ' + String(err.message || err);
    }
  }

  $('jobsinks').addEventListener('click', (ev) => {
    const row = ev.target.closest && ev.target.closest('tr[data-name]');
    if (!row) return;
    const key = jobSinkKey(row.getAttribute('data-namespace'), row.getAttribute('data-name'));
    selectedJobSink = key;
    sessionStorage.setItem(JOBSINK_KEY, key);
    for (const tr of $('jobsinks').querySelectorAll('tbody tr')) {
      const on = tr === row;
      tr.className = on ? 'selected' : '';
      tr.setAttribute('aria-selected', on ? 'true' : 'false');
      const b = tr.querySelector('button.show-jobs');
      if (b) b.textContent = on ? 'Shown' : 'Show jobs';
    }
    fillTable('jobs', []);
    $('jobs').hidden = true;
    $('jobs-empty').hidden = true;
    $('jobs-status').textContent = 'loading…';
    pollJobs();
  });

  // --- polling ---
  let tailTargets = '';
  async function poll() {
    try {
      const [resources, rates, deliveries, deadletters] = await Promise.all([
        api('/api/v1/resources'),
        api('/api/v1/rates'),
        api('/api/v1/deliveries?limit=50'),
        api('/api/v1/deadletters?limit=20'),
      ]);
      renderResources(resources.items, rates.items);
      renderRates(rates);
      renderDeliveries(deliveries.items);
      renderDeadLetters(deadletters.items);
      updateTailTargets(resources.items);
      renderJobSinks(resources.items);
      await pollJobs();
      setStatus($('poll-status'), 'updated ' + timeOf(new Date().toISOString()), 'live');
    } catch (err) {
      setStatus($('poll-status'), String(err.message || err), 'down');
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  function setStatus(node, text, tone) {
    node.textContent = text;
    node.className = 'status ' + (tone || '');
  }

  // --- live tail ---
  const tail = { source: undefined, entries: [], paused: false, received: 0 };

  function updateTailTargets(items) {
    const targets = items
      .filter((r) => category(r.kind) === 'channel' || category(r.kind) === 'broker')
      .map((r) => category(r.kind) + '|' + r.metadata.namespace + '|' + r.metadata.name)
      .sort();
    const key = targets.join('\n');
    if (key === tailTargets) return;
    tailTargets = key;
    const select = $('tail-target');
    const chosen = select.value;
    const options = [el('option', { value: '', text: 'all channels and brokers' })];
    for (const t of targets) {
      const [kind, ns, name] = t.split('|');
      options.push(el('option', { value: t, text: kind + ' ' + ns + '/' + name }));
    }
    select.replaceChildren(...options);
    select.value = targets.includes(chosen) ? chosen : '';
  }

  function streamUrl() {
    const params = new URLSearchParams();
    const chosen = $('tail-target').value;
    if (chosen) {
      const [kind, ns, name] = chosen.split('|');
      params.set('kind', kind);
      params.set('namespace', ns);
      params.set('name', name);
    }
    // EventSource cannot send headers: the token goes in the query (RFC 6750 access_token).
    if (token) params.set('access_token', token);
    const q = params.toString();
    return '/api/v1/stream' + (q ? '?' + q : '');
  }

  let reconnectTimer;
  function connectTail() {
    if (tail.source) tail.source.close();
    clearTimeout(reconnectTimer);
    const source = new EventSource(streamUrl());
    tail.source = source;
    setStatus($('tail-status'), 'connecting', '');
    source.onopen = () => setStatus($('tail-status'), tail.paused ? 'paused' : 'live', tail.paused ? 'paused' : 'live');
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (401, 429) or the server went away: try again a bit later.
        setStatus($('tail-status'), 'disconnected', 'down');
        reconnectTimer = setTimeout(connectTail, 5000);
      } else {
        setStatus($('tail-status'), 'reconnecting', 'down');
      }
    };
    source.onmessage = (msg) => {
      let e;
      try {
        e = JSON.parse(msg.data);
      } catch {
        return;
      }
      tail.received++;
      const entry = { event: e, text: searchable(e) };
      tail.entries.unshift(entry);
      if (tail.entries.length > TAIL_KEEP) tail.entries.length = TAIL_KEEP;
      if (!tail.paused && matches(entry, currentFilter)) {
        const list = $('tail');
        list.prepend(tailItem(e));
        while (list.childElementCount > TAIL_SHOW) list.lastElementChild.remove();
      }
      updateTailCount();
    };
  }

  function searchable(e) {
    return (JSON.stringify(e.attributes) + ' ' + (e.data || '')).toLowerCase();
  }

  /** Filter terms: `name=value` (exact attribute; `value*` for a prefix) or plain text (anywhere, any case). */
  function parseFilter(text) {
    return text
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((term) => {
        const eq = term.indexOf('=');
        if (eq > 0) {
          const name = term.slice(0, eq).toLowerCase();
          const value = term.slice(eq + 1);
          return value.endsWith('*')
            ? (en) => typeof en.event.attributes[name] === 'string' && en.event.attributes[name].startsWith(value.slice(0, -1))
            : (en) => en.event.attributes[name] === value;
        }
        const needle = term.toLowerCase();
        return (en) => en.text.includes(needle);
      });
  }
  let currentFilter = [];
  const matches = (entry, filter) => filter.every((f) => f(entry));

  function tailItem(e) {
    const a = e.attributes || {};
    let data = '';
    if (e.data !== undefined) {
      if (e.dataEncoding === 'base64') data = '(base64) ' + e.data;
      else {
        data = e.data;
        if (/json/.test(a.datacontenttype || '')) {
          try {
            data = JSON.stringify(JSON.parse(e.data), null, 2);
          } catch {
            // Not valid JSON after all: show it as sent.
          }
        }
      }
    }
    return el(
      'li',
      { 'data-event-id': a.id || '', 'data-type': a.type || '' },
      el(
        'div',
        { className: 'meta mono' },
        el('span', { className: 'muted', text: timeOf(e.time) }),
        el('span', { text: e.kind + ' ' + e.namespace + '/' + e.name }),
        el('strong', { text: a.type || '' }),
        el('span', { text: a.source || '' }),
        el('span', { className: 'muted', text: 'id ' + (a.id || '') }),
        a.subject ? el('span', { className: 'muted', text: 'subject ' + a.subject }) : null,
      ),
      el('details', null, el('summary', { text: 'attributes' }), attributesList(a)),
      data ? el('pre', { text: truncate(data) }) : null,
    );
  }

  function renderTail() {
    const shown = [];
    for (const entry of tail.entries) {
      if (shown.length >= TAIL_SHOW) break;
      if (matches(entry, currentFilter)) shown.push(tailItem(entry.event));
    }
    $('tail').replaceChildren(...shown);
    updateTailCount();
  }

  function updateTailCount() {
    $('tail-count').textContent = tail.received + ' received, ' + $('tail').childElementCount + ' shown';
  }

  function initTail() {
    $('tail-controls').addEventListener('submit', (ev) => ev.preventDefault());
    $('tail-filter').addEventListener('input', () => {
      currentFilter = parseFilter($('tail-filter').value);
      renderTail();
    });
    $('tail-target').addEventListener('change', () => {
      tail.entries = [];
      renderTail();
      connectTail();
    });
    $('tail-pause').addEventListener('click', () => {
      tail.paused = !tail.paused;
      $('tail-pause').textContent = tail.paused ? 'Resume' : 'Pause';
      setStatus($('tail-status'), tail.paused ? 'paused' : 'live', tail.paused ? 'paused' : 'live');
      if (!tail.paused) renderTail();
    });
    $('tail-clear').addEventListener('click', () => {
      tail.entries = [];
      tail.received = 0;
      renderTail();
    });
    connectTail();
  }

  initTail();
  poll();
})();
