"""The instructor dashboard: what the class relay stores, live, and the mode switch.

One static page and one script.  The script polls ``api/server-view`` every
second and draws the table with ``textContent`` only, never ``innerHTML``:
students choose their names and messages, and one of them will try
``<script>``.  The page's Content-Security-Policy (set by the relay) also
forbids inline and foreign scripts, so even a missed escape could not run.

The admin token is read from the address's fragment (``#token=...``), which
browsers never send to a server, so it stays out of access logs.  In hub mode
the hub login is used instead.
"""

from __future__ import annotations

__all__ = ["DASHBOARD_HTML", "DASHBOARD_JS"]

DASHBOARD_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>toychat relay: what the server stores</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1a1a1a; }
  h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
  #banner { padding: .6rem 1rem; border-radius: .4rem; font-weight: 600; margin: .5rem 0 1rem; }
  #banner.e2ee { background: #e3f2e6; border: 2px solid #1b7a36; }
  #banner.plaintext { background: #fdecea; border: 2px solid #b3261e; }
  #banner.error { background: #fff4d6; border: 2px solid #8a6d00; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; }
  th, td { border-bottom: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
  th { background: #f2f2f2; }
  td.content { font-family: ui-monospace, monospace; word-break: break-all; max-width: 40rem; }
  fieldset { display: inline-block; border: 1px solid #999; border-radius: .4rem; }
  .muted { color: #555; font-size: .85rem; }
</style>
</head>
<body>
<h1>What the class relay stores</h1>
<fieldset>
  <legend>Platform mode (class demo)</legend>
  <label><input type="radio" name="mode" value="e2ee" id="mode-e2ee"> End-to-end encrypted</label>
  <label><input type="radio" name="mode" value="plaintext" id="mode-plaintext"> Plaintext platform</label>
</fieldset>
<div id="banner" role="status" aria-live="polite">Loading…</div>
<p class="muted"><span id="counts"></span> Updated every second. Newest message first.</p>
<table>
  <caption class="muted">Every row is something the server keeps: who wrote to whom, when, how much
    — and the content only if it can read it.</caption>
  <thead><tr><th scope="col">received</th><th scope="col">from</th><th scope="col">to</th>
  <th scope="col">bytes</th><th scope="col">what the server can read</th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<h2 style="font-size:1.1rem">Key changes</h2>
<p class="muted">Someone published new keys (a new phone, a restarted notebook). Their contacts'
safety numbers change: this is the moment to compare them again.</p>
<ul id="key-changes"><li class="muted">none yet</li></ul>
<script src="dashboard.js"></script>
</body>
</html>
"""

DASHBOARD_JS = r"""'use strict';
(function () {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  // Hub mode: the hub's login cookie authenticates; POSTs carry its anti-forgery token.
  const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1];
  if (xsrf) headers['X-XSRFToken'] = decodeURIComponent(xsrf);
  const api = (path) => new URL('api/' + path, location.href).toString();
  const banner = document.getElementById('banner');
  const rows = document.getElementById('rows');
  const counts = document.getElementById('counts');

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = String(text);  // never innerHTML: names and messages come from students
    if (cls) td.className = cls;
    tr.appendChild(td);
  }

  function show(view) {
    const e2ee = view.mode === 'e2ee';
    banner.className = e2ee ? 'e2ee' : 'plaintext';
    banner.textContent = e2ee
      ? 'End-to-end encrypted: the server stores ciphertext it cannot read — '
        + 'but it still sees who, to whom, when and how much.'
      : 'Plaintext platform: the server can read every message it relays.';
    document.getElementById('mode-' + view.mode).checked = true;
    const waiting = Object.values(view.queued).reduce((a, b) => a + b, 0);
    counts.textContent = view.users.length + ' users, ' + view.messages_total + ' messages relayed, ' +
      waiting + ' waiting for delivery.';
    const body = document.createDocumentFragment();
    for (const m of view.messages.slice().reverse()) {
      const tr = document.createElement('tr');
      cell(tr, new Date(m.received_at * 1000).toLocaleTimeString());
      cell(tr, m.sender);
      cell(tr, m.recipient);
      cell(tr, m.size_bytes);
      cell(tr, m.content_seen, 'content');
      body.appendChild(tr);
    }
    rows.replaceChildren(body);
    const changes = document.createDocumentFragment();
    for (const k of (view.key_changes || []).slice().reverse()) {
      const li = document.createElement('li');
      li.textContent = new Date(k.at * 1000).toLocaleTimeString() + ' — ' + k.name + ': ' +
        k.old.slice(0, 19) + '… → ' + k.new.slice(0, 19) + '…';
      changes.appendChild(li);
    }
    if (changes.childNodes.length) document.getElementById('key-changes').replaceChildren(changes);
  }

  async function poll() {
    try {
      const response = await fetch(api('server-view'), { headers, cache: 'no-store' });
      const data = await response.json();
      if (response.status === 401 || response.status === 403) {
        banner.className = 'error';
        banner.textContent = data.message + ' ';
        const link = document.createElement('a');
        link.href = 'login';
        link.textContent = 'Log in through JupyterHub (hub mode)';
        banner.appendChild(link);
        return;
      }
      if (!response.ok) throw new Error(data.message || response.statusText);
      show(data);
    } catch (err) {
      banner.className = 'error';
      banner.textContent = 'Cannot read the server view: ' + err.message;
    }
  }

  for (const input of document.querySelectorAll('input[name=mode]')) {
    input.addEventListener('change', async () => {
      const response = await fetch(api('mode'), {
        method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, headers),
        body: JSON.stringify({ mode: input.value }),
      });
      if (!response.ok) {
        banner.className = 'error';
        banner.textContent = 'Mode not changed: ' + (await response.json()).message;
      }
      poll();
    });
  }
  poll();
  setInterval(poll, 1000);
})();
"""
