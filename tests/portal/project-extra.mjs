// The portal's project and artifact pages beyond the first tour (tests/portal.rs,
// `portal_project_pages_in_chromium`): members edited, a webhook delivered to a
// receiver this script runs, trusted keys and immutability rules set in the page,
// a retention dry run with another template, the SBOM packages, the build history
// and the pull gate's rules of an artifact, and CVE search by a non-admin.
// Env: WHARF_URL, WHARF_HOST, ADMIN_PW, DEV_PW, WHARF_BIN, PYAPP_IMAGE, PYAPP_LAYOUT
// (the OCI layout directory of PYAPP_IMAGE), MULTI_LAYOUT (an OCI layout whose `v1` is an
// index), SMALL_IMAGE, EXPECTED (findings JSON),
// SHOTS, WORKDIR. Every check throws on failure.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const URL = env('WHARF_URL');
const HOST = env('WHARF_HOST');
const ADMIN_PW = env('ADMIN_PW');
const DEV_PW = env('DEV_PW');
const WHARF = env('WHARF_BIN');
const SHOTS = env('SHOTS');
const WORKDIR = env('WORKDIR');
const LAYOUT = env('PYAPP_LAYOUT');
const EXPECTED = JSON.parse(env('EXPECTED'));
const PROJECT = 'extra';
const HIDDEN = 'hidden';
mkdirSync(SHOTS, { recursive: true });

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const step = (s) => console.log(`[extra] ${s}`);
const run = (cmd, args, extraEnv = {}) =>
  execFileSync(cmd, args, { cwd: WORKDIR, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const basic = (user, pw) => 'Basic ' + Buffer.from(`${user}:${pw}`).toString('base64');
const api = async (method, path, body, user = ['admin', ADMIN_PW]) => fetch(`${URL}/api/v2.0${path}`, {
  method,
  headers: { 'Content-Type': 'application/json', Authorization: basic(...user) },
  body: body === undefined ? undefined : JSON.stringify(body),
});
const ok = async (resp, what) => {
  if (!resp.ok) { assert.fail(`${what}: ${resp.status} ${await resp.text()}`); }
  return resp;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const skopeo = (src, dest) => run('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', `admin:${ADMIN_PW}`, src, `docker://${HOST}/${dest}`]);

const cspViolations = [];
function watch(page) {
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  page.on('pageerror', (e) => { throw new Error(`script error on ${page.url()}: ${e.message}`); });
}

async function accessible(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `axe on ${name}`);
}

async function shot(page, name, section) {
  if (section) {
    await page.locator(section).screenshot({ path: `${SHOTS}/${name}.png` });
  } else {
    await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  }
  await accessible(page, name);
}

async function login(page, user, pw) {
  await page.goto(`${URL}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(pw);
  await Promise.all([page.waitForURL(`${URL}/projects`), page.getByRole('button', { name: 'Log in' }).click()]);
}

// Submits the form holding `button` and waits for the page it lands on.
async function submit(page, button, url) {
  await Promise.all([page.waitForURL(url), button.click()]);
}

// The webhook receiver: every request's method, headers and body.
const received = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => { received.push({ method: req.method, headers: req.headers, body }); res.writeHead(200); res.end('ok'); });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
const HOOK = `http://127.0.0.1:${receiver.address().port}/hook`;

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  step('projects and a developer, through the API');
  await ok(await api('POST', '/projects', { project_name: PROJECT, metadata: { public: 'false', auto_scan: 'true' } }), 'create project');
  await ok(await api('POST', '/projects', { project_name: HIDDEN, metadata: { public: 'false', auto_scan: 'true' } }), 'create hidden');
  await ok(await api('POST', '/users', { username: 'dev', password: DEV_PW, email: 'dev@example.com' }), 'create dev');

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watch(page);
  await login(page, 'admin', ADMIN_PW);
  const base = `${URL}/projects/${PROJECT}`;

  step('members: add the developer, then change the role');
  await page.goto(`${base}/members`);
  await page.locator('#member-user').fill('dev');
  await page.locator('#member-user-role').selectOption('2');
  await submit(page, page.getByRole('button', { name: 'Add user' }), `${base}/members`);
  const devRow = page.locator('#members tr[data-member="dev"]');
  assert.equal(await devRow.locator('select').inputValue(), '2');
  await devRow.locator('select').selectOption('4');
  await submit(page, page.getByRole('button', { name: 'Change the role of dev' }), `${base}/members`);
  const members = await (await ok(await api('GET', `/projects/${PROJECT}/members`), 'members')).json();
  assert.equal(members.find((m) => m.entity_name === 'dev').role_id, 4, JSON.stringify(members));
  await shot(page, 'members');
  // A custom role is offered like the built-in ones.
  const role = await ok(await api('POST', '/roles', { name: 'auditor', description: 'reads scans', actions: ['pull', 'read-scan'] }), 'create role');
  const roleId = role.headers.get('location').split('/').pop();
  await ok(await api('POST', '/users', { username: 'aud', password: DEV_PW, email: 'aud@example.com' }), 'create aud');
  await page.goto(`${base}/members`);
  await page.locator('#member-user').fill('aud');
  await page.locator('#member-user-role').selectOption({ label: 'auditor (custom)' });
  await submit(page, page.getByRole('button', { name: 'Add user' }), `${base}/members`);
  const withAud = await (await ok(await api('GET', `/projects/${PROJECT}/members`), 'members')).json();
  assert.equal(String(withAud.find((m) => m.entity_name === 'aud').role_id), roleId, JSON.stringify(withAud));
  // Removed again from the page.
  await submit(page, page.getByRole('button', { name: 'Remove aud' }), `${base}/members`);
  assert.equal(await page.locator('#members tr[data-member="aud"]').count(), 0);
  const afterRemove = await (await ok(await api('GET', `/projects/${PROJECT}/members`), 'members')).json();
  assert.equal(afterRemove.find((m) => m.entity_name === 'aud'), undefined);

  step('webhooks: a policy for pushes, with a secret');
  await page.goto(`${base}/webhooks`);
  await page.locator('#wh-name').fill('ci-hook');
  await page.locator('#wh-address').fill(HOOK);
  await page.locator('#wh-secret').fill('hmac-secret');
  await page.locator('#wh-auth').fill('Bearer hook-token');
  await submit(page, page.getByRole('button', { name: 'Add webhook' }), `${base}/webhooks`);
  const hookRow = page.locator('#webhooks tr[data-webhook="ci-hook"]');
  assert.match(await hookRow.innerText(), /PUSH_ARTIFACT[\s\S]*enabled/);
  // Write-only fields never come back into a page.
  assert.doesNotMatch(await page.content(), /hmac-secret|hook-token/);
  const policies = await (await ok(await api('GET', `/projects/${PROJECT}/webhook/policies`), 'policies')).json();
  assert.equal(policies[0].targets[0].address, HOOK);
  assert.equal(policies[0].secret, undefined);
  // Disabled, then enabled again.
  await submit(page, page.getByRole('button', { name: 'Disable ci-hook' }), `${base}/webhooks`);
  assert.match(await hookRow.innerText(), /disabled/);
  await submit(page, page.getByRole('button', { name: 'Enable ci-hook' }), `${base}/webhooks`);
  assert.match(await hookRow.innerText(), /enabled/);

  step('push pyapp to the project (and to a private project the developer is not in)');
  skopeo(env('PYAPP_IMAGE'), `${HIDDEN}/pyapp:v1`);
  skopeo(env('PYAPP_IMAGE'), `${PROJECT}/pyapp:v1`);

  step('the push is delivered and shows in the delivery log');
  await page.goto(`${base}/webhooks`);
  await hookRow.getByRole('link', { name: 'ci-hook', exact: true }).click();
  await page.waitForURL(new RegExp(`/projects/${PROJECT}/webhooks/\\d+$`));
  await page.locator('#deliveries:not([data-poll]) .status[data-status="Success"]').waitFor({ timeout: 60000 });
  const delivery = await page.locator('#deliveries tbody tr').first().innerText();
  assert.match(delivery, /PUSH_ARTIFACT/);
  assert.match(delivery, /200/);
  const push = received.find((r) => r.body.includes('PUSH_ARTIFACT'));
  assert.ok(push, `the receiver got no push event: ${JSON.stringify(received)}`);
  assert.equal(push.headers.authorization, 'Bearer hook-token');
  assert.match(JSON.parse(push.body).event_data.repository.repo_full_name, new RegExp(`${PROJECT}/pyapp`));
  await shot(page, 'webhook-deliveries');
  await page.goto(`${base}/webhooks`);
  await shot(page, 'webhooks');
  // Edited with the write-only fields left empty: they keep their values.
  await page.goto(`${base}/webhooks`);
  await hookRow.getByRole('link', { name: 'Edit ci-hook' }).click();
  await page.locator('#wh-description').fill('edited in the portal');
  await submit(page, page.getByRole('button', { name: 'Save webhook' }), `${base}/webhooks`);
  const edited = (await (await ok(await api('GET', `/projects/${PROJECT}/webhook/policies`), 'policies')).json())[0];
  assert.equal(edited.description, 'edited in the portal');
  assert.equal(edited.targets[0].auth_header, 'Bearer hook-token');

  step('the artifact, once scanned');
  const manifest = await (await ok(await fetch(`${URL}/v2/${PROJECT}/pyapp/manifests/v1`, {
    headers: { Authorization: basic('admin', ADMIN_PW), Accept: 'application/vnd.oci.image.manifest.v1+json' },
  }), 'manifest')).text();
  const v1 = 'sha256:' + (await import('node:crypto')).createHash('sha256').update(manifest).digest('hex');
  const artifactUrl = `${base}/repos/pyapp/-/${v1}`;
  await page.goto(artifactUrl);
  await page.locator('#findings').waitFor({ timeout: 120000 });

  step('layer history equals the image config read from the OCI layout');
  const blob = (d) => readFileSync(`${LAYOUT}/blobs/${d.replace(':', '/')}`, 'utf8');
  const layoutManifest = JSON.parse(blob(JSON.parse(readFileSync(`${LAYOUT}/index.json`, 'utf8')).manifests[0].digest));
  const history = JSON.parse(blob(layoutManifest.config.digest)).history;
  const rows = page.locator('#history-steps tbody tr');
  assert.equal(await rows.count(), history.length);
  let layer = 0;
  for (let i = 0; i < history.length; i++) {
    const cells = await rows.nth(i).locator('td').allInnerTexts();
    assert.equal(cells[1].trim(), history[i].created);
    assert.equal(cells[2].trim(), history[i].created_by);
    if (history[i].empty_layer) {
      assert.match(cells[3], /empty layer/);
    } else {
      assert.match(cells[3], new RegExp(layoutManifest.layers[layer].digest));
      layer += 1;
    }
  }

  step('a trusted key added in the page; wharf sign; the signature verifies');
  run(WHARF, ['key', 'generate', '--output-key-prefix', 'extra'], { COSIGN_PASSWORD: 'pw' });
  const pub = readFileSync(`${WORKDIR}/extra.pub`, 'utf8');
  await page.goto(`${base}/settings`);
  await page.locator('#trust-key').fill(pub);
  await submit(page, page.getByRole('button', { name: 'Add key' }), new RegExp(`/projects/${PROJECT}/settings`));
  assert.equal(await page.locator('#trusted-keys tbody tr').count(), 1);
  const project = await (await ok(await api('GET', `/projects/${PROJECT}`), 'project')).json();
  assert.equal(project.metadata.wharf_trusted_keys.trim(), pub.trim());
  await page.getByLabel('Only serve signed images (content trust)').check();
  await submit(page, page.getByRole('button', { name: 'Save content trust' }), new RegExp(`/projects/${PROJECT}/settings`));
  run(WHARF, ['sign', '--insecure', '--key', 'extra.key', '--username', 'admin', '--password', ADMIN_PW, `${HOST}/${PROJECT}/pyapp@${v1}`], { COSIGN_PASSWORD: 'pw' });
  await page.goto(artifactUrl);
  const sig = await page.locator('#signatures tbody tr').first().innerText();
  assert.match(sig, /verified/);
  assert.doesNotMatch(sig, /not verified/);

  step('an immutability rule added in the page refuses a re-push of the tag');
  await page.goto(`${base}/settings`);
  await page.locator('#imm-tags').fill('v1');
  await submit(page, page.getByRole('button', { name: 'Add rule' }), new RegExp(`/projects/${PROJECT}/settings`));
  assert.match(await page.locator('#immutability tbody').innerText(), /v1/);
  await shot(page, 'settings-trust');
  assert.throws(() => skopeo(env('SMALL_IMAGE'), `${PROJECT}/pyapp:v1`));
  const still = await fetch(`${URL}/v2/${PROJECT}/pyapp/manifests/v1`, {
    method: 'HEAD', headers: { Authorization: basic('admin', ADMIN_PW), Accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(still.headers.get('docker-content-digest'), v1);

  step('SBOM packages equal the SPDX document wharf sbom attached');
  run(WHARF, ['sbom', '--insecure', '--username', 'admin', '--password', ADMIN_PW, `${HOST}/${PROJECT}/pyapp@${v1}`, '--format', 'spdx-json', '--attach', '-o', 'extra-sbom.json']);
  const spdx = JSON.parse(readFileSync(`${WORKDIR}/extra-sbom.json`, 'utf8'));
  const purlOf = (p) => (p.externalRefs || []).find((r) => r.referenceType === 'purl')?.referenceLocator;
  const expectedPurls = [...new Set(spdx.packages
    .filter((p) => p.primaryPackagePurpose !== 'OPERATING-SYSTEM' && p.primaryPackagePurpose !== 'OPERATING_SYSTEM')
    .map(purlOf).filter((u) => u && !u.startsWith('pkg:oci/')))].sort();
  assert.ok(expectedPurls.length > 10, `few packages in the SBOM: ${expectedPurls.length}`);
  await page.goto(artifactUrl);
  const purls = async () => [...new Set((await page.locator('#sbom-packages tbody tr td:nth-child(4)').allInnerTexts()).map((s) => s.trim()))].sort();
  assert.deepEqual(await purls(), expectedPurls);
  // Licences as the document declares them, for one package that declares one.
  const licensed = spdx.packages.find((p) => purlOf(p) && p.licenseDeclared && !['NOASSERTION', 'NONE'].includes(p.licenseDeclared));
  if (licensed) {
    await page.locator('#sbom-q').fill(licensed.name);
    await submit(page, page.getByRole('button', { name: 'Search packages' }), /sbom=/);
    const hit = page.locator('#sbom-packages tbody tr', { hasText: purlOf(licensed) });
    assert.match(await hit.innerText(), new RegExp(licensed.licenseDeclared.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.ok((await page.locator('#sbom-packages tbody tr').count()) < expectedPurls.length);
  }
  await page.goto(artifactUrl);
  await shot(page, 'artifact-sbom', '#sbom');

  step('the pull gate: vulnerabilities fail, the signature passes; a developer is refused');
  await ok(await api('PUT', `/projects/${PROJECT}`, { metadata: { prevent_vul: 'true', severity: 'low' } }), 'gate on');
  await sleep(2500); // the settings cache of the pull path
  await page.goto(artifactUrl);
  const ruleResult = async (rule) => (await page.locator(`#gate-rules tr[data-rule="${rule}"] td:nth-child(2)`).innerText()).trim();
  assert.equal(await ruleResult('prevent-vulnerable-images'), 'fail');
  assert.equal(await ruleResult('content-trust'), 'pass');
  assert.match(await page.locator('#gate').innerText(), /Pulls are refused/);
  const devPull = await fetch(`${URL}/v2/${PROJECT}/pyapp/manifests/${v1}`, {
    headers: { Authorization: basic('dev', DEV_PW), Accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(devPull.status, 412, 'the gate the page shows refuses the pull');
  await shot(page, 'artifact-gate', '#gate');
  await page.goto(artifactUrl);
  await accessible(page, 'artifact (full)');
  await ok(await api('PUT', `/projects/${PROJECT}`, { metadata: { prevent_vul: 'false', enable_content_trust_cosign: 'false' } }), 'gate off');

  step('retention dry run with the "most recently pulled" template');
  skopeo(env('SMALL_IMAGE'), `${PROJECT}/pyapp:v2`);
  await sleep(1500);
  // v1 is pulled after v2 was pushed: it is the most recently pulled.
  await ok(await fetch(`${URL}/v2/${PROJECT}/pyapp/manifests/v1`, {
    headers: { Authorization: basic('admin', ADMIN_PW), Accept: 'application/vnd.oci.image.manifest.v1+json' },
  }), 'pull v1');
  await sleep(2500); // pull times are written once a second
  await page.goto(`${base}/retention`);
  await page.locator('#template').selectOption('latestPulledN');
  await page.getByLabel('N (artifacts or days').fill('1');
  await page.getByLabel('With tags matching').fill('v*');
  await submit(page, page.getByRole('button', { name: 'Save policy' }), `${base}/retention`);
  assert.match(await page.locator('main').innerText(), /latestPulledN/);
  await submit(page, page.getByRole('button', { name: 'Dry run' }), `${base}/retention`);
  await page.locator('#retention-runs:not([data-poll]) .status[data-status="Success"]').waitFor({ timeout: 120000 });
  await page.locator('details.task summary').first().click();
  const log = await page.locator('details.task pre.log').first().innerText();
  assert.match(log, /\tv1\tRETAIN/, log);
  assert.match(log, /\tv2\tDELETE\s+\(dry run\)/, log);
  await shot(page, 'retention-pulled');

  step('CVE search: the developer sees only their project; the admin sees both');
  const cve = EXPECTED[0].id;
  await page.goto(`${URL}/search?q=${encodeURIComponent(cve)}`);
  const adminRepos = await page.locator('main table.list tbody tr td:first-child').allInnerTexts();
  assert.ok(adminRepos.includes(`${HIDDEN}/pyapp`) && adminRepos.includes(`${PROJECT}/pyapp`), adminRepos.join(','));
  const devCtx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const dev = await devCtx.newPage();
  watch(dev);
  await login(dev, 'dev', DEV_PW);
  await dev.goto(`${URL}/search?q=${encodeURIComponent(cve)}`);
  const devRepos = [...new Set(await dev.locator('main table.list tbody tr td:first-child').allInnerTexts())];
  assert.deepEqual(devRepos, [`${PROJECT}/pyapp`]);
  await shot(dev, 'search-cve-developer');

  step('a maintainer sees no member controls and is refused when forcing them');
  await dev.goto(`${base}/members`);
  assert.equal(await dev.getByRole('button', { name: 'Add user' }).count(), 0);
  const forced = await dev.evaluate(async (p) => {
    const csrf = document.body.dataset.csrf;
    const r = await fetch(`/projects/${p}/members`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `action=add_user&username=admin&role_id=1&csrf=${encodeURIComponent(csrf)}`, redirect: 'manual' });
    return r.status;
  }, PROJECT);
  assert.equal(forced, 403);
  // A maintainer may manage webhooks (docs/permissions.md): the form is there.
  await dev.goto(`${base}/webhooks`);
  assert.equal(await dev.getByRole('button', { name: 'Add webhook' }).count(), 1);

  step('a multi-arch index lists its platforms on the repository page');
  const multi = env('MULTI_LAYOUT');
  const multiIndex = JSON.parse(readFileSync(`${multi}/index.json`, 'utf8')).manifests
    .find((m) => m.annotations['org.opencontainers.image.ref.name'] === 'v1');
  const children = JSON.parse(readFileSync(`${multi}/blobs/${multiIndex.digest.replace(':', '/')}`, 'utf8')).manifests;
  run('skopeo', ['copy', '--all', '--dest-tls-verify=false', '--dest-creds', `admin:${ADMIN_PW}`, `oci:${multi}:v1`, `docker://${HOST}/${PROJECT}/multi:v1`]);
  await page.goto(`${base}/repos/multi`);
  const indexRow = page.locator('table.list tbody tr', { hasText: 'multi-arch' });
  const platforms = await indexRow.locator('ul.platforms a').allInnerTexts();
  assert.deepEqual(platforms.sort(), children.map((c) => [c.platform.os, c.platform.architecture, c.platform.variant].filter(Boolean).join('/')).sort());
  const links = await indexRow.locator('ul.platforms a').evaluateAll((as) => as.map((a) => a.getAttribute('href').split('/-/')[1]));
  assert.deepEqual(links.sort(), children.map((c) => c.digest).sort());
  // The children are listed under their index, not again as rows of their own.
  assert.equal(await page.locator('table.list tbody > tr').count(), 1);
  await shot(page, 'repository-multi-arch');

  assert.deepEqual(cspViolations, [], 'Content-Security-Policy violations');
  step('all checks passed');
} finally {
  await browser.close();
  receiver.close();
}
