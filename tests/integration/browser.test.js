// browser.test.js - a person's path through the app in a real browser
// (Debian's chromium driven by playwright-core): first run, a custom
// field, connecting Stripe (the fake), the wizard with "Add field mapping",
// the confirmation, Connected Apps, and disconnecting. Screenshots land in
// build/screenshots/ for a human look. The Content-Security-Policy must
// not block anything the pages use (no console errors).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startApp, TOP } = require('./harness');
const { start } = require('../fake-stripe/server');

const SHOTS = path.join(TOP, 'build', 'screenshots');

test('a person sets up the Stripe integration in a browser', async (t) => {
  const fake = await start({ port: 0 });
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  t.after(async () => { await browser.close(); await app.stop(); await fake.close(); });
  fs.mkdirSync(SHOTS, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems = [];
  // the locked setup page is a 403 on purpose: the browser reports that status
  let lockedPage = false;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (lockedPage && /status of 403/.test(m.text())) return;
    problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  await t.test('the first visit asks for the setup token, then for the admin account', async () => {
    lockedPage = true;
    await page.goto(app.base + '/');
    assert.match(page.url(), /\/setup$/);
    await assert.doesNotReject(page.getByRole('heading', { name: 'Setup token needed' }).waitFor());
    assert.ok(await page.getByText(path.join(app.dataDir, 'setup-token')).isVisible());
    await shot('0-setup-locked');
    lockedPage = false;
    // the person reads the token file on the server and opens the link
    const token = fs.readFileSync(path.join(app.dataDir, 'setup-token'), 'utf8').trim();
    await page.goto(`${app.base}/setup?token=${token}`);
    await assert.doesNotReject(page.getByRole('heading', { name: 'Create your admin account' }).waitFor());
    await shot('1-setup');
    await page.getByLabel('Username').fill('owner');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/\/apps$/);
    assert.ok(await page.getByText('No apps are connected yet').isVisible());
    await shot('2-apps-empty');
  });

  await t.test('a custom field is created on the Fields page', async () => {
    await page.getByRole('link', { name: 'Fields' }).click();
    await page.getByLabel('Label').fill('Stripe Customer ID');
    await page.getByRole('button', { name: 'Add field' }).click();
    assert.ok(await page.getByText('Field "Stripe Customer ID" created.').isVisible());
  });

  await t.test('connect, choose Charge, map fields, finish', async () => {
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('link', { name: 'Connect Account' }).click();
    assert.ok(await page.locator('#connect-dialog[open]').isVisible(), 'Connect Account opens a dialog');
    await page.getByLabel('Stripe Secret Key').fill('sk_test_browser4242');
    await shot('3-connect');
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.waitForURL(/\/resource$/);
    await page.getByLabel('Choose Resource').selectOption('charge');
    await page.getByLabel('Sync historical and new records').check();
    await shot('4-resource');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/mapping\/charge$/);
    await page.locator('#email_path').selectOption('billing_details.email');
    await page.locator('#id_path').selectOption('customer');
    await page.locator('#id_target').selectOption('stripe_customer_id');
    await page.getByRole('button', { name: 'Add field mapping' }).click();
    await page.locator('#path_0').selectOption('billing_details.name');
    await page.locator('#target_0').selectOption('full_name');
    await shot('5-mapping');
    await page.getByRole('button', { name: 'Finish', exact: true }).click();
    await page.waitForURL(/\/done\?resource=charge/);
    assert.ok(await page.getByRole('heading', { name: 'Your Stripe integration is set up' }).isVisible());
    await shot('6-done');
    await page.getByRole('link', { name: 'Connected Apps' }).click();
    const row = page.locator('table.list tbody tr').first();
    assert.match(await row.innerText(), /Test Shop[\s\S]*Test[\s\S]*connected[\s\S]*Charge/);
    await shot('7-connected-apps');
  });

  await t.test('the Stripe app page shows the masked key, and Disconnect asks first', async () => {
    await page.getByRole('link', { name: 'Stripe', exact: true }).first().click();
    const text = await page.locator('main').innerText();
    assert.match(text, /sk_test_…4242/);
    assert.doesNotMatch(text, /sk_test_browser4242/);
    await shot('8-stripe-app');
    await page.getByRole('link', { name: 'Disconnect' }).click();
    assert.ok(await page.getByRole('heading', { name: 'Disconnect Stripe?' }).isVisible());
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.waitForURL(/notice=disconnected/);
    assert.ok(await page.getByText('Stripe is disconnected').isVisible());
  });

  await t.test('nothing was blocked by the Content-Security-Policy', () => {
    assert.deepEqual(problems, []);
  });
});
