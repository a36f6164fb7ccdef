// The portal's OIDC login in real headless Chromium: the login page's link to the
// identity provider, the provider's own sign-in (and consent) pages, the callback
// page with the CLI secret, then the portal as that user. tests/oidc.rs runs it with
//   WHARF_URL, OIDC_USER, OIDC_PASSWORD, SHOTS
// and reads the CLI secret it prints as JSON. Every check throws on failure.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const URL = env('WHARF_URL');
const USER = env('OIDC_USER');
const PASSWORD = env('OIDC_PASSWORD');
const SHOTS = env('SHOTS');
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await page.goto(`${URL}/login`);
  await page.getByRole('link', { name: 'Log in with your identity provider' }).click();
  // The provider's page, on its own origin.
  await page.waitForSelector('input[name="login"]');
  assert.notEqual(new globalThis.URL(page.url()).origin, new globalThis.URL(URL).origin);
  await page.fill('input[name="login"]', USER);
  await page.fill('input[name="password"]', PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Consent, the first time this user signs in to this client.
  const landed = await Promise.race([
    page.waitForSelector('text=Logged in as', { timeout: 15000 }).then(() => 'wharf'),
    page.waitForSelector('button:has-text("Allow")', { timeout: 15000 }).then(() => 'consent'),
  ]);
  if (landed === 'consent') {
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForSelector('text=Logged in as', { timeout: 15000 });
  }
  assert.equal(new globalThis.URL(page.url()).pathname, '/c/oidc/callback');
  assert.match(await page.textContent('h1'), new RegExp(`Logged in as ${USER}`));
  const secret = (await page.locator('#cli-secret').textContent()).trim();
  assert.ok(secret.length >= 8, `a CLI secret on the page: ${secret}`);
  await page.screenshot({ path: `${SHOTS}/oidc-callback.png`, fullPage: true });
  // On into the portal, with the session the callback opened.
  await page.getByRole('link', { name: 'Continue to the portal' }).click();
  await page.waitForURL(`${URL}/projects`);
  assert.ok((await page.content()).includes(USER), 'the portal shows the user');
  await page.screenshot({ path: `${SHOTS}/oidc-portal.png`, fullPage: true });
  console.log(JSON.stringify({ secret }));
} finally {
  await browser.close();
}
