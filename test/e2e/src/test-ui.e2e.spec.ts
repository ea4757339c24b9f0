import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BrowserContext, chromium, Page } from 'playwright-core';
import { Platform, startPlatform } from './platform';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Clicks through the test UI at /test in a real browser (Debian's chromium) and reads the results
 * off the page: account and key, a sandbox's exec and files, pause and resume, a template made
 * from the sandbox and a sandbox made from the template.
 */
describe('the test UI', { timeout: 600_000 }, () => {
  let p: Platform;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  let sandboxId = '';
  /** The sandbox made from the template. */
  let fromTemplateId = '';
  let templateName = '';

  const text = async (id: string) => (await page.locator(`#${id}`).textContent()) ?? '';
  /** The key the page created and uses (kept in the page's own state). */
  const uiKey = () => page.evaluate('state.apiKey') as Promise<string>;
  /** Clicks a button and waits for the call it makes to be shown. */
  async function click(id: string): Promise<{ status: number; log: string }> {
    await page.evaluate("document.getElementById('status').textContent = 'pending'");
    await page.click(`#${id}`);
    await page.waitForFunction("document.getElementById('status').textContent !== 'pending'", undefined, { timeout: 60_000 });
    return { status: Number(await text('status')), log: await text('log') };
  }
  const templateNames = async () => page.locator('#template-list li').evaluateAll((items) => items.map((li) => li.getAttribute('data-name')));
  /** Empties an output, so what is read next was written by the next click. */
  const clear = (id: string) => page.evaluate(`document.getElementById('${id}').textContent = ''`);

  before(async () => {
    p = await startPlatform('testui');
    profile = await mkdtemp(join(tmpdir(), 'wrenn-chromium-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(`${p.url}/test`);
  });

  after(async () => {
    // A test that failed half-way leaves its sandboxes and template: remove them with the page's own key.
    const auth = { apiKey: await uiKey().catch(() => '') };
    for (const id of [fromTemplateId, sandboxId].filter(Boolean)) await p.api('DELETE', `/v1/sandboxes/${id}`, undefined, { auth }).catch(() => undefined);
    if (templateName) await p.api('DELETE', `/v1/templates/${templateName}`, undefined, { auth }).catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (profile) await rm(profile, { recursive: true, force: true });
    await p?.stop();
  });

  it('serves the page and Swagger UI from the gateway', async () => {
    assert.equal(await page.title(), 'Wrenn test UI');
    const docs = await browser.newPage();
    await docs.goto(`${p.url}/docs`);
    await docs.waitForSelector('.swagger-ui .info .title', { timeout: 30_000 });
    assert.match(await docs.locator('.swagger-ui .info .title').innerText(), /Wrenn API/);
    await docs.close();
  });

  it('signs up, logs in and creates an API key', async () => {
    await page.fill('#email', `ui-${randomBytes(3).toString('hex')}@example.test`);
    await page.fill('#password', `pw-${randomBytes(9).toString('hex')}`);
    assert.equal((await click('signup')).status, 202);
    assert.equal((await click('login')).status, 200);
    assert.match(await text('token-state'), /^valid for 3600 s \(team team_/);
    assert.equal((await click('create-key')).status, 201);
    assert.match(await text('key-state'), /^wrn_\S{8}… \(test-ui\)$/);
    assert.equal((await click('list-keys')).status, 200);
    assert.equal(await page.locator('#key-list li').count(), 1);
  });

  it('creates a sandbox, runs a command in it, uploads and downloads a file', async () => {
    const created = await click('create-sandbox');
    assert.equal(created.status, 201, created.log);
    sandboxId = await text('sandbox-id');
    assert.match(sandboxId, /^sb_/);
    assert.equal(await text('sandbox-state'), 'running');

    await page.fill('#command', 'echo "hello from $(hostname)"; echo oops >&2; exit 3');
    assert.equal((await click('run')).status, 200);
    assert.equal(await text('stdout'), `hello from ${sandboxId}\n`);
    assert.equal(await text('stderr'), 'oops\n');
    assert.equal(await text('exit-code'), '3');

    await page.fill('#file-path', '/home/user/from-the-browser.txt');
    await page.fill('#file-content', 'written by the test UI');
    assert.equal((await click('upload')).status, 200);
    assert.equal((await click('download')).status, 200);
    assert.equal(await text('downloaded'), 'written by the test UI');
    // The file really is in the sandbox, which belongs to the UI user's team.
    const cat = await p.api('POST', `/v1/sandboxes/${sandboxId}/exec`, { cmd: 'cat', args: ['/home/user/from-the-browser.txt'] }, { auth: { apiKey: await uiKey() } });
    assert.equal(cat.body.stdout, 'written by the test UI');
    assert.equal((await p.api('GET', `/v1/sandboxes/${sandboxId}`)).status, 404, "another team's key does not see it");
  });

  it('pauses and resumes the sandbox, its files kept', async () => {
    const paused = await click('pause-sandbox');
    assert.equal(paused.status, 200, paused.log);
    assert.equal(await text('sandbox-state'), 'paused');
    assert.match(await text('sandbox-snapshot'), /^\d+ bytes$/, 'the page shows the snapshot while paused');
    // While paused nothing runs: the page shows the refusal.
    const refused = await click('run');
    assert.equal(refused.status, 409, refused.log);
    assert.equal(await page.locator('#status.error').count(), 1);

    const resumed = await click('resume-sandbox');
    assert.equal(resumed.status, 200, resumed.log);
    assert.equal(await text('sandbox-state'), 'running');
    assert.equal(await text('sandbox-snapshot'), '–');
    assert.equal(await text('sandbox-id'), sandboxId, 'the same sandbox came back');
    await clear('downloaded');
    assert.equal((await click('download')).status, 200);
    assert.equal(await text('downloaded'), 'written by the test UI');
    await page.fill('#command', 'echo back');
    assert.equal((await click('run')).status, 200);
    assert.equal(await text('stdout'), 'back\n');
  });

  it('makes a template from the sandbox, a sandbox from the template, and deletes the template once that sandbox is gone', async () => {
    templateName = `ui-${randomBytes(3).toString('hex')}`;
    await page.fill('#template-name', templateName);
    const created = await click('create-template');
    assert.equal(created.status, 201, created.log);
    assert.match(await text('template-state'), new RegExp(`^${templateName}: ready, 1 vCPU, 256 MB`));
    assert.equal((await click('list-templates')).status, 200);
    assert.deepEqual(await templateNames(), [templateName]);

    // A sandbox from the template: it starts with the files the source sandbox had.
    await page.fill('#template', templateName);
    const fromTemplate = await click('create-sandbox');
    assert.equal(fromTemplate.status, 201, fromTemplate.log);
    fromTemplateId = await text('sandbox-id');
    assert.notEqual(fromTemplateId, sandboxId);
    assert.equal(await text('sandbox-state'), 'running');
    assert.equal(await text('sandbox-template'), templateName);
    await clear('downloaded');
    assert.equal((await click('download')).status, 200);
    assert.equal(await text('downloaded'), 'written by the test UI');

    // In use: the page shows the refusal, and the template stays.
    const inUse = await click('delete-template');
    assert.equal(inUse.status, 409, inUse.log);
    assert.match(inUse.log, /"code": "template_in_use"/);
    assert.match(inUse.log, new RegExp(fromTemplateId));

    const destroyed = await click('destroy-sandbox');
    assert.equal(destroyed.status, 200, destroyed.log);
    assert.equal(await text('sandbox-state'), 'deleted');
    fromTemplateId = '';
    const deleted = await click('delete-template');
    assert.equal(deleted.status, 200, deleted.log);
    assert.equal(await text('template-state'), `${templateName}: deleted`);
    templateName = '';
    assert.equal((await click('list-templates')).status, 200);
    assert.deepEqual(await templateNames(), []);
    const listed = await p.api('GET', '/v1/templates', undefined, { auth: { apiKey: await uiKey() } });
    assert.deepEqual(listed.body.templates, [], 'the API agrees with the page');
  });

  it('destroys the sandbox', async () => {
    // Back to the first sandbox, by its id.
    await page.fill('#use-sandbox-id', sandboxId);
    assert.equal((await click('use-sandbox')).status, 200);
    assert.equal(await text('sandbox-id'), sandboxId);
    assert.equal(await text('sandbox-state'), 'running');
    const destroyed = await click('destroy-sandbox');
    assert.equal(destroyed.status, 200, destroyed.log);
    assert.equal(await text('sandbox-state'), 'deleted');
    sandboxId = '';
  });

  it('shows refusals as errors on the page', async () => {
    await page.fill('#password', 'wrong password');
    const refused = await click('login');
    assert.equal(refused.status, 401);
    assert.match(refused.log, /"code": "unauthorized"/);
    assert.equal(await page.locator('#status.error').count(), 1);
  });
});
