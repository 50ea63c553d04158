// browser_automations.test.js - a person builds an automation in a real
// browser (Debian's chromium, the same launch options as browser.test.js):
// an "Order created" automation with a webhook action, the signing secret
// shown once, Send test, and the delivery log with the receiver's answer.
// Segments are built on another branch; this flow starts at automations.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startApp, setupPath, TOP, sleep } = require('./harness');

const SHOTS = path.join(TOP, 'build', 'screenshots');

test('a person creates an automation with a webhook, sends a test and sees the delivery log', async (t) => {
  const received = [];
  let secret = null;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(req.headers['stripelink-signature'] || '');
      const signed = !!(m && secret) &&
        crypto.createHmac('sha256', secret).update(`${m[1]}.${body}`).digest('hex') === m[2];
      received.push({ body: JSON.parse(body), signed, key: req.headers['idempotency-key'] });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":"yes"}');
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const hookUrl = `http://127.0.0.1:${server.address().port}/hooks/stripelink`;
  const app = await startApp({ STRIPELINK_OUTBOUND_ALLOW_PRIVATE: '1', STRIPELINK_OUTBOUND_ALLOW_HTTP: '1' });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  t.after(async () => {
    await browser.close();
    await app.stop();
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  });
  fs.mkdirSync(SHOTS, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  await t.test('sign up, open Automations from the navigation', async () => {
    await page.goto(app.base + setupPath(app));   // the setup address stripelink printed
    await page.getByLabel('Username').fill('owner');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/\/apps$/);
    await page.getByRole('link', { name: 'Automations' }).click();
    await page.waitForURL(/\/automations$/);
    assert.ok(await page.getByText('No automations yet.').isVisible());
  });

  await t.test('create an "Order created" automation with a webhook action; the secret is shown once', async () => {
    await page.getByLabel('Name').fill('Tell the warehouse');
    await page.getByLabel('Trigger').selectOption('order_created');
    await page.getByLabel('Action 0').selectOption('webhook');
    await page.getByLabel('Tag, field key or URL 0').fill(hookUrl);
    await shot('automations-1-new');
    await page.getByRole('button', { name: 'Create automation' }).click();
    await page.getByRole('heading', { name: 'Tell the warehouse' }).waitFor();
    secret = (await page.locator('#secret-value').innerText()).trim();
    assert.match(secret, /^sl_[0-9a-f]{64}$/);
    await shot('automations-2-created');
  });

  await t.test('Send test: the receiver gets a signed sample; the delivery log shows it', async () => {
    await page.getByRole('button', { name: 'Send test' }).click();
    await page.getByText('Test queued').waitFor();
    assert.equal(await page.locator('#secret-value').count(), 0, 'the secret is not shown again');
    const deadline = Date.now() + 30000;
    while (received.length === 0 && Date.now() < deadline) await sleep(100);
    assert.equal(received.length, 1);
    assert.ok(received[0].signed, 'the signature verifies with the secret shown');
    assert.equal(received[0].body.test, true);
    assert.equal(received[0].body.trigger, 'order_created');
    for (;;) {
      await page.reload();
      const state = await page.locator('#deliveries td.state').first().innerText();
      if (state === 'delivered') break;
      if (Date.now() > deadline) assert.fail(`delivery state ${state}`);
      await sleep(200);
    }
    const log = await page.locator('#attempts tbody tr').first().innerText();
    assert.match(log, /200/);
    assert.match(log, /received/);
    assert.match(await page.locator('#deliveries tbody tr').first().innerText(), new RegExp(received[0].key));
    await shot('automations-3-delivery-log');
  });

  await t.test('the automation is listed with its trigger and state; no console errors', async () => {
    await page.getByRole('link', { name: 'Automations' }).first().click();
    const row = page.locator('#automations tbody tr').first();
    assert.match(await row.innerText(), /Tell the warehouse[\s\S]*Order created[\s\S]*yes[\s\S]*never/);
    assert.deepEqual(problems, []);
  });
});
