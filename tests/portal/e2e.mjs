// The portal end to end in real headless Chromium, driven by playwright-core.
// tests/portal.rs starts `wharf serve` and runs this with:
//   WHARF_URL, WHARF_HOST, ADMIN_PW, GUEST_PW, WHARF_BIN, PYAPP_IMAGE (skopeo source),
//   EXPECTED (JSON: the findings `wharf scan` reports for that image), SHOTS (folder),
//   WORKDIR (for keys and SBOM files).
// Every check throws on failure; the process exits non-zero with the reason.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const URL = env('WHARF_URL');
const HOST = env('WHARF_HOST');
const ADMIN_PW = env('ADMIN_PW');
const GUEST_PW = env('GUEST_PW');
const WHARF = env('WHARF_BIN');
const SHOTS = env('SHOTS');
const WORKDIR = env('WORKDIR');
const EXPECTED = JSON.parse(env('EXPECTED'));
const PROJECT = 'portal-demo';
mkdirSync(SHOTS, { recursive: true });

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const step = (s) => console.log(`[e2e] ${s}`);
const run = (cmd, args, extraEnv = {}) =>
  execFileSync(cmd, args, { cwd: WORKDIR, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const api = async (method, path, body, user = ['admin', ADMIN_PW]) => {
  const resp = await fetch(`${URL}/api/v2.0${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: 'Basic ' + Buffer.from(user.join(':')).toString('base64') },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return resp;
};

const cspViolations = [];
function watch(page) {
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => { throw new Error(`script error on ${page.url()}: ${e.message}`); });
}

/// axe-core in the page (evaluated through the DevTools protocol: the page's CSP
/// forbids injected script tags, as it should); serious or critical violations fail.
async function accessible(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    [],
    `axe on ${name}`,
  );
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  await accessible(page, name);
}

async function login(page, user, pw) {
  await page.goto(`${URL}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(pw);
  await Promise.all([page.waitForURL(`${URL}/projects`), page.getByRole('button', { name: 'Log in' }).click()]);
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await admin.newPage();
  watch(page);

  step('login page; a wrong password is refused');
  await page.goto(`${URL}/`);
  assert.equal(page.url(), `${URL}/login`);
  await shot(page, 'login');
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong user name or password' }).waitFor();

  step('log in as admin');
  await login(page, 'admin', ADMIN_PW);

  step('create a private project');
  await page.getByLabel('Name', { exact: true }).fill(PROJECT);
  await Promise.all([page.waitForURL(`${URL}/projects/${PROJECT}`), page.getByRole('button', { name: 'Create project' }).click()]);
  const empty = await page.locator('section.empty').innerText();
  assert.match(empty, new RegExp(`docker login ${HOST.replace(/\./g, '\\.')}`));
  assert.match(empty, new RegExp(`docker push ${HOST.replace(/\./g, '\\.')}/${PROJECT}/my-image:latest`));
  await shot(page, 'project-empty');
  await page.goto(`${URL}/projects?q=portal`);
  assert.equal(await page.locator('table.list tbody tr').count(), 1);
  await page.goto(`${URL}/projects?q=nothing-like-this`);
  assert.equal(await page.locator('table.list').count(), 0);
  await page.goto(`${URL}/projects`);
  await shot(page, 'projects');

  step('turn on scan on push');
  await page.goto(`${URL}/projects/${PROJECT}/settings`);
  await page.getByLabel('Scan for vulnerabilities on push').check();
  await Promise.all([page.waitForURL(`${URL}/projects/${PROJECT}/settings`), page.getByRole('button', { name: 'Save settings' }).click()]);
  assert.ok(await page.getByLabel('Scan for vulnerabilities on push').isChecked());

  step('push an image with skopeo');
  run('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', `admin:${ADMIN_PW}`, env('PYAPP_IMAGE'), `docker://${HOST}/${PROJECT}/pyapp:v1`]);

  step('repository page');
  await page.goto(`${URL}/projects/${PROJECT}`);
  await page.getByRole('link', { name: `${PROJECT}/pyapp` }).click();
  await page.waitForURL(`${URL}/projects/${PROJECT}/repos/pyapp`);
  const row = page.locator('table.list tbody tr').first();
  assert.match(await row.innerText(), /v1/);
  await row.locator('a').first().click();
  await page.waitForURL(new RegExp(`/projects/${PROJECT}/repos/pyapp/-/sha256:[0-9a-f]{64}$`));
  const artifactUrl = page.url();
  const digest = artifactUrl.split('/-/')[1];

  step('findings appear without a reload');
  await page.evaluate(() => { window.__stayed = true; });
  await page.locator('#findings').waitFor({ timeout: 120000 });
  assert.equal(await page.evaluate(() => window.__stayed), true, 'the page was reloaded');
  const ids = async () => (await page.locator('#findings tbody tr td:first-child').allInnerTexts()).map((s) => s.trim());
  const expectedIds = [...new Set(EXPECTED.map((f) => f.id))].sort();
  assert.deepEqual([...new Set(await ids())].sort(), expectedIds);
  // Every advisory is a link.
  assert.equal(await page.locator('#findings tbody tr td:first-child a[href^="http"]').count(), await page.locator('#findings tbody tr').count());
  assert.equal(await page.getByRole('textbox', { name: 'Pull by digest' }).inputValue(), `docker pull ${HOST}/${PROJECT}/pyapp@${digest}`);

  step('a rescan started from the page ends in the page');
  // The section now on the page is marked; the findings must come back in a new one,
  // swapped in by the page's script (the marker on window shows nothing reloaded).
  await page.evaluate(() => { document.getElementById('scan').dataset.old = '1'; });
  await page.getByRole('button', { name: 'Scan now' }).click();
  await page.locator('#scan:not([data-old]) #findings').waitFor({ timeout: 120000 });
  assert.equal(await page.evaluate(() => window.__stayed), true, 'the page was reloaded');
  assert.equal(page.url(), artifactUrl);
  await shot(page, 'artifact');

  step('filter the findings');
  const rank = { UNKNOWN: 1, LOW: 2, MEDIUM: 3, HIGH: 4, CRITICAL: 5 };
  await Promise.all([page.waitForURL(/severity=high/), page.getByLabel('Severity at least').selectOption('high')]);
  const high = [...new Set(EXPECTED.filter((f) => rank[f.severity] >= rank.HIGH).map((f) => f.id))].sort();
  assert.deepEqual([...new Set(await ids())].sort(), high);
  await page.goto(artifactUrl);
  await Promise.all([page.waitForURL(/fixable=1/), page.getByLabel('fixable only').check()]);
  const fixable = [...new Set(EXPECTED.filter((f) => f.fixed).map((f) => f.id))].sort();
  assert.deepEqual([...new Set(await ids())].sort(), fixable);
  const pkg = EXPECTED[0].package;
  await page.goto(`${artifactUrl}?package=${encodeURIComponent(pkg)}`);
  const forPkg = [...new Set(EXPECTED.filter((f) => f.package.toLowerCase().includes(pkg.toLowerCase())).map((f) => f.id))].sort();
  assert.deepEqual([...new Set(await ids())].sort(), forPkg);

  step('sign with wharf sign; the signature shows, verified once the key is trusted');
  const ref = `${HOST}/${PROJECT}/pyapp@${digest}`;
  run(WHARF, ['key', 'generate', '--output-key-prefix', 'portal'], { COSIGN_PASSWORD: 'pw' });
  run(WHARF, ['sign', '--insecure', '--key', 'portal.key', '--username', 'admin', '--password', ADMIN_PW, ref], { COSIGN_PASSWORD: 'pw' });
  await page.goto(artifactUrl);
  const sigs = page.locator('#signatures tbody tr');
  assert.ok((await sigs.count()) >= 1, 'no signature shown');
  assert.match(await sigs.first().innerText(), /not verified/);
  const pub = readFileSync(`${WORKDIR}/portal.pub`, 'utf8');
  assert.equal((await api('PUT', `/projects/${PROJECT}`, { metadata: { wharf_trusted_keys: pub } })).status, 200);
  await page.goto(artifactUrl);
  assert.match(await page.locator('#signatures tbody tr').first().innerText(), /verified/);
  assert.doesNotMatch(await page.locator('#signatures tbody tr').first().innerText(), /not verified/);

  step('attach an SBOM with wharf sbom --attach; it shows');
  run(WHARF, ['sbom', '--insecure', '--username', 'admin', '--password', ADMIN_PW, ref, '--format', 'spdx-json', '--attach', '-o', 'sbom.json']);
  await page.goto(artifactUrl);
  await page.locator('span.badge', { hasText: 'SBOM' }).first().waitFor();
  assert.match(await page.locator('#referrers').innerText(), /spdx/);
  await page.goto(`${URL}/projects/${PROJECT}/repos/pyapp`);
  assert.match(await page.locator('table.list tbody tr').first().innerText(), /signed[\s\S]*SBOM/);
  await shot(page, 'repository');

  step('set a CVE allow-list with an expiry');
  const allowed = expectedIds[0];
  await page.goto(`${URL}/projects/${PROJECT}/settings`);
  await page.getByLabel('Use the system CVE allow-list instead of the project\'s').uncheck();
  await Promise.all([page.waitForURL(`${URL}/projects/${PROJECT}/settings`), page.getByRole('button', { name: 'Save settings' }).click()]);
  await page.getByLabel('CVE IDs, one per line').fill(allowed);
  await page.getByLabel('Expires on (empty: never)').fill('2099-12-31');
  await Promise.all([page.waitForURL(`${URL}/projects/${PROJECT}/settings`), page.getByRole('button', { name: 'Save allow-list' }).click()]);
  assert.equal((await page.getByLabel('CVE IDs, one per line').inputValue()).trim(), allowed);
  await shot(page, 'settings');

  step('a retention policy and its dry run');
  await page.goto(`${URL}/projects/${PROJECT}/retention`);
  await page.getByLabel('N (artifacts or days').fill('1');
  await Promise.all([page.waitForURL(`${URL}/projects/${PROJECT}/retention`), page.getByRole('button', { name: 'Save policy' }).click()]);
  await Promise.all([page.waitForURL(`${URL}/projects/${PROJECT}/retention`), page.getByRole('button', { name: 'Dry run' }).click()]);
  await page.locator('#retention-runs:not([data-poll]) .status[data-status="Success"]').waitFor({ timeout: 120000 });
  assert.match(await page.locator('#retention-runs').innerText(), /dry run/);
  await page.locator('details.task summary').first().click();
  assert.match(await page.locator('details.task').first().innerText(), /pyapp/);
  await shot(page, 'retention');

  step('dark mode');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(artifactUrl);
  await shot(page, 'artifact-dark');
  await page.emulateMedia({ colorScheme: 'light' });

  step('a robot account: its secret shown once, and it works');
  await page.goto(`${URL}/projects/${PROJECT}/robots`);
  await page.getByLabel('Name', { exact: true }).fill('e2e');
  await page.getByRole('button', { name: 'Create robot account' }).click();
  await page.locator('#robot-secret').waitFor();
  const secret = await page.getByRole('textbox', { name: 'Secret' }).inputValue();
  const robotName = `robot$${PROJECT}+e2e`;
  assert.match(await page.locator('#robot-secret').innerText(), new RegExp(robotName.replace(/[$+]/g, '\\$&')));
  const tags = await fetch(`${URL}/v2/${PROJECT}/pyapp/tags/list`, {
    headers: { Authorization: 'Basic ' + Buffer.from(`${robotName}:${secret}`).toString('base64') },
  });
  assert.equal(tags.status, 200);
  await shot(page, 'robots');
  await page.goto(`${URL}/projects/${PROJECT}/robots`);
  assert.equal(await page.locator('#robot-secret').count(), 0, 'the secret is shown again');
  assert.match(await page.locator('table.list').innerText(), /e2e/);

  step('the other project pages');
  for (const [path, name] of [['members', 'members'], ['logs', 'logs']]) {
    await page.goto(`${URL}/projects/${PROJECT}/${path}`);
    await shot(page, name);
  }
  await page.goto(`${URL}/projects/${PROJECT}`);
  await shot(page, 'project');
  await page.goto(`${URL}/search?q=${encodeURIComponent(allowed)}`);
  assert.match(await page.locator('main').innerText(), new RegExp(`${PROJECT}/pyapp`));
  await shot(page, 'search');

  step('a POST without the CSRF token is refused');
  const noToken = await page.evaluate(async (p) => {
    const r = await fetch(`/projects/${p}/settings`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'severity=low' });
    return r.status;
  }, PROJECT);
  assert.equal(noToken, 403);
  const wrongToken = await page.evaluate(async (p) => {
    const r = await fetch(`/projects/${p}/settings`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'severity=low&csrf=forged' });
    return r.status;
  }, PROJECT);
  assert.equal(wrongToken, 403);

  step('a Guest sees no push, delete or settings controls, and is refused when forcing them');
  assert.equal((await api('POST', '/users', { username: 'guest', password: GUEST_PW, email: 'guest@example.com' })).status, 201);
  assert.equal((await api('POST', `/projects/${PROJECT}/members`, { role_id: 3, member_user: { username: 'guest' } })).status, 201);
  const guestCtx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const guest = await guestCtx.newPage();
  watch(guest);
  await login(guest, 'guest', GUEST_PW);
  await guest.goto(`${URL}/projects/${PROJECT}/settings`);
  assert.equal(await guest.getByRole('button', { name: 'Save settings' }).count(), 0);
  assert.equal(await guest.getByRole('button', { name: 'Save allow-list' }).count(), 0);
  assert.ok(await guest.getByLabel('Scan for vulnerabilities on push').isDisabled());
  await guest.goto(artifactUrl);
  for (const name of ['Scan now', 'Generate SBOM', 'Delete artifact']) {
    assert.equal(await guest.getByRole('button', { name }).count(), 0, `${name} shown to a guest`);
  }
  await guest.goto(`${URL}/projects/${PROJECT}/retention`);
  assert.equal(await guest.getByRole('button', { name: 'Dry run' }).count(), 0);
  assert.equal(await guest.getByRole('button', { name: 'Save policy' }).count(), 0);
  await guest.screenshot({ path: `${SHOTS}/guest-retention-phone.png`, fullPage: true });
  const forced = await guest.evaluate(async ([p, artifact]) => {
    const csrf = document.body.dataset.csrf;
    const post = async (url, body) => (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `${body}&csrf=${encodeURIComponent(csrf)}`, redirect: 'manual' })).status;
    return {
      settings: await post(`/projects/${p}/settings`, 'severity=none'),
      allowlist: await post(`/projects/${p}/allowlist`, 'cves=CVE-2000-0001'),
      del: await post(new URL(artifact).pathname, 'action=delete'),
      scan: await post(new URL(artifact).pathname, 'action=scan'),
      retention: await post(`/projects/${p}/retention`, 'action=dry_run'),
    };
  }, [PROJECT, artifactUrl]);
  assert.deepEqual(forced, { settings: 403, allowlist: 403, del: 403, scan: 403, retention: 403 });
  assert.equal((await api('PUT', `/projects/${PROJECT}`, { metadata: { auto_scan: 'false' } }, ['guest', GUEST_PW])).status, 403);
  assert.equal((await api('DELETE', `/projects/${PROJECT}/repositories/pyapp/artifacts/${digest}`, undefined, ['guest', GUEST_PW])).status, 403);

  step('log out: the session ends server-side');
  const cookie = (await admin.cookies()).find((c) => c.name === 'wharf_session');
  assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Lax', JSON.stringify(cookie));
  await Promise.all([page.waitForURL(`${URL}/login`), page.getByRole('button', { name: 'Log out' }).click()]);
  await page.goto(`${URL}/projects`);
  assert.equal(page.url(), `${URL}/login`);
  const replay = await fetch(`${URL}/projects`, { headers: { Cookie: `wharf_session=${cookie.value}` }, redirect: 'manual' });
  assert.equal(replay.status, 303);
  assert.equal(replay.headers.get('location'), '/login');

  assert.deepEqual(cspViolations, [], 'Content-Security-Policy violations');
  step('all checks passed');
} finally {
  await browser.close();
}
