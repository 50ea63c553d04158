// hardening.test.js - regressions for defects a code review found: each
// test is the concrete trigger from the review, and what must happen now.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Stripe = require('stripe');
const { startApp, adminClient, csrfOf, sleep } = require('./harness');
const { start } = require('../fake-stripe/server');

async function connected(fake, key = 'sk_test_hardening123', env = {}) {
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url, ...env });
  const admin = await adminClient(app);
  const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: key });
  assert.equal(res.status, 303, res.text);
  return { app, admin, id: res.location.split('/')[3] };
}

test('a mapping with more problems than rows is answered 422, and the worker lives', async (t) => {
  const fake = await start({ port: 0 });
  const { app, admin, id } = await connected(fake);
  t.after(async () => { await app.stop(); await fake.close(); });
  await admin.submit(`/apps/stripe/${id}/resource`, `/apps/stripe/${id}/resource`, { resource: 'charge', sync_type: 'new' });
  const page = await admin.get(`/apps/stripe/${id}/mapping/charge`);
  const form = { csrf: csrfOf(page.text), email_path: '', id_path: 'no.such.id', id_target: 'no_such', rows: '32', action: 'finish' };
  for (let i = 0; i < 32; i++) { form[`path_${i}`] = 'no.such.path'; form[`target_${i}`] = 'no_such_field'; }
  const res = await admin.post(`/apps/stripe/${id}/mapping/charge`, form);
  assert.equal(res.status, 422);
  assert.match(res.text, /Some rows need attention/);
  assert.doesNotMatch(app.log(), /exited \(signal/);
  assert.equal((await fetch(`${app.base}/healthz`)).status, 200);
});

test('a queued sync job of a disconnected connection is cancelled, not run forever', async (t) => {
  const fake = await start({ port: 0 });
  const { app, admin, id } = await connected(fake);
  t.after(async () => { await app.stop(); await fake.close(); });
  await admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/disconnect`, {});
  const now = Math.floor(Date.now() / 1000);
  app.sql(`INSERT INTO sync_jobs (connection_id, resource, state, queued_at) VALUES (${id}, 'charge', 'queued', ${now});`);
  let state = '';
  for (let i = 0; i < 50 && state !== 'cancelled'; i++) {
    await sleep(100);
    state = app.sql('SELECT state FROM sync_jobs;').trim();
  }
  assert.equal(state, 'cancelled');
  await sleep(700);
  const lines = app.log().split('\n').filter((l) => /job 1 .*cancelled/.test(l));
  assert.equal(lines.length, 1, 'the job was finished once, not picked again and again');
  // a disconnected connection's jobs cannot be resumed
  const job = app.sql('SELECT id FROM sync_jobs;').trim();
  const resume = await admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/jobs/${job}`, { action: 'resume' });
  assert.equal(resume.status, 400);
});

test('a customer lookup Stripe refuses for good is skipped with the reason, not retried', async (t) => {
  const fake = await start({ port: 0 });
  const { app, admin, id } = await connected(fake, 'rk_test_nocustomer123abcd', { STRIPELINK_WEBHOOK_WAIT: '1' });
  t.after(async () => { await app.stop(); await fake.close(); });
  const eps = await (await fetch(`${fake.url}/_fake/webhook_endpoints`)).json();
  const secret = (eps.data || eps)[0].secret;
  const payload = JSON.stringify({
    id: 'evt_hardening_perm', object: 'event', type: 'customer.subscription.created', created: Math.floor(Date.now() / 1000),
    data: { object: { id: 'sub_hardening1', object: 'subscription', customer: 'cus_hardeningUnknown', status: 'active', items: { object: 'list', data: [] } } },
  });
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret });
  const res = await fetch(`${app.base}/webhooks/stripe/${id}`, { method: 'POST', headers: { 'stripe-signature': header }, body: payload });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  // answered without calling Stripe; the sync worker's lookup after the wait is refused for good
  assert.equal(body.result, 'waiting');
  assert.match(body.reason, /cus_hardeningUnknown/);
  const log = () => app.sql("SELECT result || '|' || reason FROM integration_log WHERE event_id = 'evt_hardening_perm' ORDER BY id;")
    .trim().split('\n');
  for (let waited = 0; log().length < 2; waited++) {
    assert.ok(waited < 300, `completed within 30 s: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const [waiting, done] = log();
  assert.match(waiting, /^waiting\|/);
  assert.match(done, /^skipped\|.*cus_hardeningUnknown/);
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(app.sql('SELECT count(*) FROM pending_events;').trim(), '0', 'not retried: nothing left waiting');
  const asked = (await (await fetch(`${fake.url}/_fake/requests?path=/v1/customers/cus_hardeningUnknown`)).json()).length;
  assert.equal(asked, 1, 'looked up once');
  assert.ok(admin, 'connected with a restricted key');
});

test('a flood of unsigned deliveries does not grow the integration log without bound', async (t) => {
  const fake = await start({ port: 0 });
  const { app, id } = await connected(fake);
  t.after(async () => { await app.stop(); await fake.close(); });
  const sends = [];
  const startMinute = Math.floor(Date.now() / 60000);
  for (let i = 0; i < 150; i++) {
    sends.push(fetch(`${app.base}/webhooks/stripe/${id}`, { method: 'POST', headers: { 'stripe-signature': 't=1,v1=00' }, body: '{}' })
      .then((r) => r.status));
  }
  const statuses = await Promise.all(sends);
  const minutes = Math.floor(Date.now() / 60000) - startMinute + 1;   // the flood may cross a minute
  assert.ok(statuses.every((s) => s === 400));
  const logged = Number(app.sql("SELECT count(*) FROM integration_log WHERE result = 'rejected';").trim());
  assert.ok(logged >= 1 && logged <= 60 * minutes, `logged ${logged} of 150 in ${minutes} clock minute(s) (at most 60 a minute)`);
});

test('switching a mapped resource to "historical and new" queues its history', async (t) => {
  const fake = await start({ port: 0 });
  const { app, admin, id } = await connected(fake);
  t.after(async () => { await app.stop(); await fake.close(); });
  await admin.submit(`/apps/stripe/${id}/resource`, `/apps/stripe/${id}/resource`, { resource: 'customer', sync_type: 'new' });
  const page = await admin.get(`/apps/stripe/${id}/mapping/customer`);
  const fin = await admin.post(`/apps/stripe/${id}/mapping/customer`, { csrf: csrfOf(page.text), email_path: 'email', rows: '0', action: 'finish' });
  assert.equal(fin.status, 303);
  assert.equal(app.sql('SELECT count(*) FROM sync_jobs;').trim(), '0');
  await admin.submit(`/apps/stripe/${id}/resource`, `/apps/stripe/${id}/resource`, { resource: 'customer', sync_type: 'historical' });
  assert.equal(app.sql('SELECT count(*) FROM sync_jobs;').trim(), '1');
});
