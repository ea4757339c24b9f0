// The test UI: plain fetch calls against the documented API, state kept in this page only.
'use strict';

const state = { token: null, apiKey: null, sandboxId: null };
const $ = (id) => document.getElementById(id);

function show(status, body) {
  $('status').textContent = String(status);
  $('status').className = status >= 400 ? 'error' : '';
  $('log').textContent = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
}

/**
 * One API call; `auth` is 'key', 'bearer' or 'none'. Errors are shown, and thrown to stop the
 * action; a `quiet` call shows nothing else (the action shows its outcome itself).
 */
async function call(method, path, { auth = 'key', json, body, headers = {}, quiet = false } = {}) {
  const h = { ...headers };
  if (auth === 'key' && state.apiKey) h['x-api-key'] = state.apiKey;
  if (auth === 'bearer' && state.token) h.authorization = `Bearer ${state.token}`;
  if (json !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers: h, body: json !== undefined ? JSON.stringify(json) : body });
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json() : await res.text();
  if (!quiet || !res.ok) show(res.status, data);
  if (!res.ok) throw new Error(data && data.error ? `${data.error.code}: ${data.error.message}` : `HTTP ${res.status}`);
  return data;
}

function action(id, run) {
  $(id).addEventListener('click', () => run().catch((e) => console.warn(e.message)));
}

function credentials() {
  return { email: $('email').value, password: $('password').value };
}

function showSandbox(sb) {
  state.sandboxId = sb.id;
  $('sandbox-id').textContent = sb.id;
  $('sandbox-state').textContent = sb.state;
  $('sandbox-template').textContent = sb.template;
  // Set while paused: where the snapshot lives and the disk it takes.
  $('sandbox-snapshot').textContent = sb.snapshot_ref ? `${sb.snapshot_size_bytes} bytes` : '–';
}

/** A template as one line: name, state and the size every sandbox made from it gets. */
function describeTemplate(t) {
  const size = t.size_bytes === null ? '' : `, ${t.size_bytes} bytes`;
  return `${t.state}, ${t.vcpus} vCPU, ${t.memory_mb} MB${size}`;
}

function needSandbox() {
  if (!state.sandboxId) {
    show(0, 'create a sandbox first');
    throw new Error('no sandbox');
  }
  return encodeURIComponent(state.sandboxId);
}

action('signup', async () => {
  await call('POST', '/v1/auth/signup', { auth: 'none', json: credentials() });
});

action('login', async () => {
  const r = await call('POST', '/v1/auth/login', { auth: 'none', json: credentials() });
  state.token = r.token;
  $('token-state').textContent = `valid for ${r.expires_in} s (team ${r.team_id})`;
});

action('create-key', async () => {
  const r = await call('POST', '/v1/api-keys', { auth: 'bearer', json: { name: $('key-name').value } });
  state.apiKey = r.key;
  $('key-state').textContent = `${r.prefix}… (${r.name})`;
});

action('list-keys', async () => {
  const r = await call('GET', '/v1/api-keys', { auth: 'bearer' });
  $('key-list').replaceChildren(
    ...r.api_keys.map((k) => {
      const li = document.createElement('li');
      li.textContent = `${k.prefix}… ${k.name} (${k.id})`;
      return li;
    }),
  );
});

action('create-sandbox', async () => {
  showSandbox(await call('POST', '/v1/sandboxes', { json: { template: $('template').value, memory_mb: Number($('memory').value) } }));
});

action('refresh-sandbox', async () => {
  showSandbox(await call('GET', `/v1/sandboxes/${needSandbox()}`));
});

action('use-sandbox', async () => {
  showSandbox(await call('GET', `/v1/sandboxes/${encodeURIComponent($('use-sandbox-id').value.trim())}`));
});

action('pause-sandbox', async () => {
  showSandbox(await call('POST', `/v1/sandboxes/${needSandbox()}/pause`));
});

action('resume-sandbox', async () => {
  showSandbox(await call('POST', `/v1/sandboxes/${needSandbox()}/resume`));
});

action('destroy-sandbox', async () => {
  const id = needSandbox();
  // The delete answers `deleting` and the host finishes it in the background: the page shows
  // the outcome once the sandbox is deleted (or, after 30 s, whatever it is then).
  let sandbox = await call('DELETE', `/v1/sandboxes/${id}`, { quiet: true });
  for (let i = 0; sandbox.state === 'deleting' && i < 150; i++) {
    await new Promise((r) => setTimeout(r, 200));
    sandbox = await call('GET', `/v1/sandboxes/${id}`, { quiet: true });
  }
  show(200, sandbox);
  showSandbox(sandbox);
});

action('run', async () => {
  const r = await call('POST', `/v1/sandboxes/${needSandbox()}/exec`, { json: { cmd: 'sh', args: ['-c', $('command').value] } });
  $('exit-code').textContent = String(r.exit_code);
  $('stdout').textContent = r.stdout;
  $('stderr').textContent = r.stderr;
});

function fileUrl() {
  return `/v1/sandboxes/${needSandbox()}/files?path=${encodeURIComponent($('file-path').value)}`;
}

action('upload', async () => {
  await call('PUT', fileUrl(), { body: $('file-content').value, headers: { 'content-type': 'application/octet-stream' } });
});

action('download', async () => {
  $('downloaded').textContent = await call('GET', fileUrl());
});

action('create-template', async () => {
  needSandbox();
  const t = await call('POST', '/v1/templates', { json: { sandbox_id: state.sandboxId, name: $('template-name').value } });
  $('template-state').textContent = `${t.name}: ${describeTemplate(t)}`;
});

action('list-templates', async () => {
  const r = await call('GET', '/v1/templates');
  $('template-list').replaceChildren(
    ...r.templates.map((t) => {
      const li = document.createElement('li');
      li.dataset.name = t.name;
      li.textContent = `${t.name} — ${describeTemplate(t)}`;
      return li;
    }),
  );
});

action('delete-template', async () => {
  const t = await call('DELETE', `/v1/templates/${encodeURIComponent($('template-name').value)}`);
  $('template-state').textContent = `${t.name}: ${t.state}`;
});
