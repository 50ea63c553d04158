// browser_segments.test.js - building and saving a segment in a real
// browser (Debian's chromium driven by playwright-core, launched as in
// browser.test.js): the builder's rows, "Add condition", an error next to
// its row, Save as segment, the Segments page with its count, opening it.
// The Content-Security-Policy must not block anything (no console errors).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startApp, adminClient, TOP } = require('./harness');

const SHOTS = path.join(TOP, 'build', 'screenshots');

test('a person builds and saves a segment in a browser', async (t) => {
  const app = await startApp();
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  t.after(async () => { await browser.close(); await app.stop(); });
  fs.mkdirSync(SHOTS, { recursive: true });
  // the admin is created over HTTP; the browser gets its session cookie
  const admin = await adminClient(app);
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await context.addCookies([{ name: 'sl_session', value: admin.cookies.get('sl_session'), url: app.base }]);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  const now = Math.floor(Date.now() / 1000);
  app.sql(`
    INSERT INTO contacts (id, email, email_key, created_at, updated_at) VALUES
      (1, 'ann@example.com', 'ann@example.com', ${now}, ${now}),
      (2, 'bob@example.com', 'bob@example.com', ${now}, ${now}),
      (3, 'cat@example.com', 'cat@example.com', ${now}, ${now});
    INSERT INTO tags (id, name) VALUES (1, 'stripe-integration'), (2, 'vip');
    INSERT INTO contact_tags VALUES (1, 1), (1, 2), (2, 1);
    INSERT INTO orders (stripe_id, connection_id, contact_id, amount, currency, status, updated_at) VALUES
      ('ch_1', 1, 1, 5000, 'usd', 'paid', ${now}), ('ch_2', 1, 2, 500, 'usd', 'paid', ${now});`);

  await t.test('two conditions, one bad then fixed, narrow the list', async () => {
    await page.goto(app.base + '/contacts');
    await page.locator('#c0_kind').selectOption('has_tag');
    assert.equal(await page.locator('#c0_value').getAttribute('placeholder'), 'tag');
    await page.locator('#c0_value').fill('stripe-integration');
    await page.getByRole('button', { name: 'Add condition' }).click();
    await page.locator('#c1_kind').selectOption('revenue_gte');
    await page.locator('#c1_value').fill('ten dollars');
    await page.locator('#c1_extra').fill('usd');
    await page.getByRole('button', { name: 'Apply' }).click();
    assert.equal((await page.locator('#c1_error').textContent()).trim(), 'enter an amount like 100 or 99.50');
    await page.locator('#c1_value').fill('10');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('link', { name: 'ann@example.com' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'bob@example.com' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'cat@example.com' }).count(), 0);
    await page.screenshot({ path: path.join(SHOTS, 'segments-1-builder.png'), fullPage: true });
  });

  await t.test('the filter is saved and listed with its count, and opens again', async () => {
    await page.getByLabel('Segment name').fill('Paying integration contacts');
    await page.getByRole('button', { name: 'Save as segment' }).click();
    await page.waitForURL(/\/segments\?saved=/);
    assert.ok(await page.getByText('Segment "Paying integration contacts" saved.').isVisible());
    const row = page.getByRole('row', { name: /Paying integration contacts/ });
    assert.equal((await row.locator('.segment-count').textContent()).trim(), '1');
    await page.screenshot({ path: path.join(SHOTS, 'segments-2-list.png'), fullPage: true });
    await page.getByRole('link', { name: 'Paying integration contacts' }).click();
    await page.getByRole('link', { name: 'ann@example.com' }).waitFor();
    assert.equal(await page.locator('#c1_value').inputValue(), '10');
    assert.ok(await page.getByRole('button', { name: 'Update segment' }).isVisible());
  });

  await t.test('no console errors (CSP)', () => {
    assert.deepEqual(problems, []);
  });
});
