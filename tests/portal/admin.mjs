// The administration pages in real headless Chromium (playwright-core + axe-core).
// tests/portal.rs (portal_administration_in_chromium) starts two `wharf serve`
// processes and runs this with:
//   WHARF_URL, ADMIN_PW, DEST_URL (the second server, as the endpoint's URL),
//   IMAGE_REPO (library/<name>, pushed to the first server), ADVISORIES (what
//   `wharf db info --json` counts in the server's database), SHOTS (folder).
// Expected values come from the API or from what this script did, never from the page.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const URL = env('WHARF_URL');
const ADMIN_PW = env('ADMIN_PW');
const DEST_URL = env('DEST_URL');
const IMAGE_REPO = env('IMAGE_REPO');
const ADVISORIES = env('ADVISORIES');
const SHOTS = env('SHOTS');
const USER = 'portal-user';
const USER_PW = 'User-Passw0rd';
const ADMIN_PAGES = ['users', 'registries', 'replication', 'gc', 'vulndb', 'allowlist', 'audit', 'settings'];
mkdirSync(SHOTS, { recursive: true });

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const step = (s) => console.log(`[admin] ${s}`);
const api = async (method, path, body) => {
  const resp = await fetch(`${URL}/api/v2.0${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: 'Basic ' + Buffer.from(`admin:${ADMIN_PW}`).toString('base64') },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(resp.ok, `${method} ${path}: ${resp.status}`);
  return resp.json();
};

const cspViolations = [];
function watch(page) {
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  page.on('pageerror', (e) => { throw new Error(`script error on ${page.url()}: ${e.message}`); });
}

// The same check as e2e.mjs: serious or critical axe violations fail.
async function accessible(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `axe on ${name}`);
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/admin-${name}.png`, fullPage: true });
  await accessible(page, `admin ${name}`);
}

async function login(page, user, pw) {
  await page.goto(`${URL}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(pw);
  await Promise.all([page.waitForURL(`${URL}/projects`), page.getByRole('button', { name: 'Log in' }).click()]);
}

const submit = async (page, button, url) =>
  Promise.all([page.waitForURL(url ?? ((u) => true)), page.getByRole('button', { name: button, exact: true }).first().click()]);

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watch(page);
  await login(page, 'admin', ADMIN_PW);

  step('the Administration link leads to the users page; the auth mode is shown');
  await Promise.all([page.waitForURL(`${URL}/admin/users`), page.getByRole('link', { name: 'Administration' }).click()]);
  assert.equal(await page.locator('#auth-mode').innerText(), 'db_auth');

  step('create a user, make them admin and back');
  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('E-mail (optional)').fill('user@example.com');
  await page.getByLabel(/^Password/).fill(USER_PW);
  await submit(page, 'Create user', /\/admin\/users/);
  const users = await api('GET', '/users?page_size=100');
  const created = users.find((u) => u.username === USER);
  assert.ok(created, 'the API lists the new user');
  assert.equal(created.sysadmin_flag, false);
  await page.goto(`${URL}/admin/users?q=portal-u`);
  assert.equal(await page.locator('#users tbody tr').count(), 1, 'the search finds the one user');
  const row = page.locator(`tr[data-user="${USER}"]`);
  await Promise.all([page.waitForURL(/\/admin\/users/), row.getByRole('button', { name: 'Make admin' }).click()]);
  assert.equal((await api('GET', `/users/${created.user_id}`)).sysadmin_flag, true);
  await page.goto(`${URL}/admin/users?q=${USER}`);
  await Promise.all([page.waitForURL(/\/admin\/users/), page.locator(`tr[data-user="${USER}"]`).getByRole('button', { name: 'Revoke admin' }).click()]);
  assert.equal((await api('GET', `/users/${created.user_id}`)).sysadmin_flag, false);
  await page.goto(`${URL}/admin/users?q=no-such-user`);
  assert.match(await page.locator('p.empty').innerText(), /No user name contains/);
  await page.goto(`${URL}/admin/users`);
  await shot(page, 'users');

  step('add a registry endpoint (the second server) and test it');
  await page.goto(`${URL}/admin/registries`);
  assert.match(await page.locator('p.empty').innerText(), /Add one below/);
  await page.getByLabel('Name', { exact: true }).fill('dest');
  await page.getByLabel('URL').fill(DEST_URL);
  await page.getByLabel(/^Access ID/).fill('admin');
  await page.getByLabel(/^Access secret/).fill(ADMIN_PW);
  await submit(page, 'Add endpoint', `${URL}/admin/registries`);
  const endpoints = await api('GET', '/registries');
  assert.equal(endpoints.length, 1);
  assert.equal(endpoints[0].url, DEST_URL);
  assert.equal(endpoints[0].credential.access_secret, '*****', 'the API never shows the secret');
  assert.ok(!(await page.content()).includes(ADMIN_PW), 'the page never shows the secret');
  await Promise.all([page.waitForURL(/tested=/), page.getByRole('button', { name: 'Test dest' }).click()]);
  assert.match(await page.locator('#ping-result').innerText(), /answered and accepted the credentials/);
  await shot(page, 'registries');

  step('create a replication policy, run it, watch the execution end without a reload');
  await page.goto(`${URL}/admin/replication`);
  await page.getByLabel('Name', { exact: true }).fill('to-dest');
  await page.getByLabel(/^Repositories matching/).fill('library/**');
  await submit(page, 'Create policy', /\/admin\/replication\/\d+$/);
  const policies = await api('GET', '/replication/policies');
  assert.equal(policies.length, 1);
  assert.equal(policies[0].dest_registry.id, endpoints[0].id);
  assert.deepEqual(policies[0].filters.map((f) => [f.type, f.value]), [['name', 'library/**']]);
  assert.equal(policies[0].trigger.type, 'manual');
  assert.match(await page.locator('#executions p.empty').innerText(), /Replicate now/);
  await page.evaluate(() => { window.__noReload = true; });
  await page.getByRole('button', { name: 'Replicate now' }).click();
  // The executions section is swapped in place, then polled until the run ends.
  await page.locator('#executions span.status[data-status="Succeed"]').waitFor({ timeout: 60000 });
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
  const executions = await api('GET', `/replication/executions?policy_id=${policies[0].id}`);
  assert.equal(executions.length, 1);
  assert.equal(executions[0].status, 'Succeed');
  await shot(page, 'replication-policy');
  await page.goto(`${URL}/admin/replication`);
  await shot(page, 'replication');

  step('the execution page: per-artifact tasks and a task log');
  const tasks = await api('GET', `/replication/executions/${executions[0].id}/tasks`);
  assert.ok(tasks.length >= 1);
  await page.goto(`${URL}/admin/replication/executions/${executions[0].id}`);
  assert.equal(await page.locator('#execution-status').innerText(), 'Succeed');
  assert.equal(await page.locator('#tasks tbody tr').count(), tasks.length);
  const taskText = await page.locator('#tasks').innerText();
  assert.ok(taskText.includes(IMAGE_REPO), `the task names ${IMAGE_REPO}`);
  await shot(page, 'replication-execution');
  await page.locator('#tasks tbody tr').first().getByRole('link', { name: /^log of/ }).click();
  await page.waitForURL(/\/tasks\/\d+$/);
  assert.ok((await page.locator('#task-log').innerText()).trim().length > 0, 'the task log has lines');
  await shot(page, 'replication-task-log');

  step('GC: a dry run and a real run, seen in the history without a reload');
  await page.goto(`${URL}/admin/gc`);
  assert.match(await page.locator('#gc-runs p.empty').innerText(), /dry run/);
  await page.evaluate(() => { window.__noReload = true; });
  await page.getByRole('button', { name: 'Dry run' }).click();
  await page.locator('#gc-runs tbody tr').first().locator('span.status[data-status="Success"]').waitFor({ timeout: 60000 });
  await page.getByRole('button', { name: 'Run GC now' }).click();
  await page.locator('#gc-runs tbody tr').nth(1).waitFor({ timeout: 30000 });
  await page.locator('#gc-runs tbody tr').first().locator('span.status[data-status="Success"]').waitFor({ timeout: 60000 });
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
  const history = await api('GET', '/system/gc');
  assert.equal(history.length, 2);
  const rows = page.locator('#gc-runs tbody tr');
  assert.match(await rows.nth(0).innerText(), /\brun\b/);
  assert.match(await rows.nth(1).innerText(), /dry run/);
  assert.equal(await rows.nth(0).getAttribute('data-run'), String(history[0].id));
  await page.getByLabel('Run GC').selectOption('Daily');
  await submit(page, 'Save schedule', `${URL}/admin/gc`);
  assert.equal((await api('GET', '/system/gc/schedule')).schedule.type, 'Daily');
  assert.match(await page.locator('#gc-schedule').innerText(), /Daily/);
  await shot(page, 'gc');
  await rows.first().getByRole('link', { name: /^log of run/ }).click();
  await page.waitForURL(/\/admin\/gc\/\d+$/);
  assert.ok((await page.locator('#gc-log').innerText()).includes('upload sessions'), 'the run log is shown');
  await shot(page, 'gc-log');

  step('vulnerability DB status');
  await page.goto(`${URL}/admin/vulndb`);
  assert.equal(await page.locator('#vulndb-advisories').innerText(), ADVISORIES);
  assert.ok((await page.locator('#ecosystems').innerText()).includes('PyPI'));
  await shot(page, 'vulndb');

  step('edit the system CVE allow-list');
  await page.goto(`${URL}/admin/allowlist`);
  assert.match(await page.locator('p.empty').innerText(), /empty/);
  await page.getByLabel(/^CVE IDs/).fill('CVE-2021-44228\nCVE-2022-22965');
  await page.getByLabel(/^Expires on/).fill('2099-12-31');
  await submit(page, 'Save allow-list', `${URL}/admin/allowlist`);
  const allow = await api('GET', '/system/CVEAllowlist');
  assert.deepEqual(allow.items.map((i) => i.cve_id).sort(), ['CVE-2021-44228', 'CVE-2022-22965']);
  assert.equal(allow.expires_at, Date.UTC(2099, 11, 31, 23, 59, 59) / 1000);
  assert.equal(await page.locator('#allowlist-items li').count(), 2);
  await shot(page, 'allowlist');

  step('filter the audit log');
  await page.goto(`${URL}/admin/audit`);
  await page.getByLabel('User contains').fill('adm');
  await page.getByLabel('Operation').selectOption('create');
  await page.getByLabel('Resource contains').fill(USER);
  await submit(page, 'Filter', /\/admin\/audit\?/);
  // This script created the user once, and nothing else of that name.
  const audit = page.locator('#audit tbody tr');
  assert.equal(await audit.count(), 1);
  assert.match(await audit.first().innerText(), new RegExp(`create\\s+user\\s+${USER}`));
  await page.getByLabel('Resource contains').fill('no-such-resource');
  await submit(page, 'Filter', /\/admin\/audit\?/);
  assert.match(await page.locator('p.empty').innerText(), /No entry matches/);
  await page.goto(`${URL}/admin/audit`);
  await shot(page, 'audit');

  step('system settings: read and save');
  await page.goto(`${URL}/admin/settings`);
  assert.equal(await page.getByLabel('Authentication mode').inputValue(), 'db_auth');
  await page.locator('#cfg-ldap_url').fill('ldap://ldap.example.com');
  await submit(page, 'Save settings', `${URL}/admin/settings`);
  const config = await api('GET', '/configurations');
  assert.equal(config.ldap_url.value, 'ldap://ldap.example.com');
  assert.equal(config.auth_mode.value, 'db_auth');
  assert.equal(await page.locator('#cfg-ldap_url').inputValue(), 'ldap://ldap.example.com');
  await shot(page, 'settings');

  step('a state-changing request without the CSRF token is refused');
  const forged = await page.request.post(`${URL}/admin/gc`, { form: { action: 'run' }, maxRedirects: 0 });
  assert.equal(forged.status(), 403);
  assert.equal((await api('GET', '/system/gc')).length, 2, 'no GC run was started');

  step('narrow screen');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${URL}/admin/replication`);
  await page.screenshot({ path: `${SHOTS}/admin-replication-narrow.png`, fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling on a phone (${overflow}px)`);

  step('a non-admin: no Administration link, 403 on every administration page');
  const other = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const upage = await other.newPage();
  watch(upage);
  await login(upage, USER, USER_PW);
  assert.equal(await upage.getByRole('link', { name: 'Administration' }).count(), 0);
  for (const name of ADMIN_PAGES) {
    const resp = await upage.goto(`${URL}/admin/${name}`);
    assert.equal(resp.status(), 403, `/admin/${name}`);
  }
  const resp = await upage.goto(`${URL}/admin`);
  assert.equal(resp.status(), 403);
  await upage.screenshot({ path: `${SHOTS}/admin-forbidden.png`, fullPage: true });

  assert.deepEqual(cspViolations, []);
  step('done');
} finally {
  await browser.close();
}
