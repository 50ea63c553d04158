// rotation.test.js - rolling the webhook signing secret: a new endpoint
// replaces the old one at Stripe, events signed with the new secret are
// accepted, the previous secret too while the grace period lasts, and no
// longer after it: the grace is a setting (STRIPELINK_ROLL_GRACE_SECONDS), 5 minutes by
// default, not a day, since a secret is often rolled because it leaked.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Stripe = require('stripe');
const { startApp, adminClient } = require('./harness');
const { start } = require('../fake-stripe/server');

async function endpoints(fake) {
  const body = await (await fetch(`${fake.url}/_fake/webhook_endpoints`)).json();
  return body.data || body;
}

test('rolling the webhook signing secret', async (t) => {
  const fake = await start({ port: 0 });
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url });
  t.after(async () => { await app.stop(); await fake.close(); });
  const admin = await adminClient(app);
  const connected = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_rotate123' });
  const id = connected.location.split('/')[3];
  const [before] = await endpoints(fake);
  let n = 0;
  const deliver = async (secret) => {
    n += 1;
    const payload = JSON.stringify({
      id: `evt_rotate${n}`, object: 'event', type: 'customer.created', created: Math.floor(Date.now() / 1000),
      data: { object: { id: `cus_rotate${n}`, object: 'customer', email: `rotate${n}@example.com`, name: 'Ro Tate', created: 1 } },
    });
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret });
    const res = await fetch(`${app.base}/webhooks/stripe/${id}`, { method: 'POST', headers: { 'stripe-signature': header }, body: payload });
    return { status: res.status, body: await res.json() };
  };

  const rolledAt = Math.floor(Date.now() / 1000);
  const rolled = await admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/roll-secret`, {});
  assert.equal(rolled.status, 303);
  assert.equal(rolled.location, `/apps/stripe/${id}?notice=rolled`);
  const after = await endpoints(fake);
  assert.equal(after.length, 1, 'the old endpoint was deleted, one remains');
  assert.notEqual(after[0].id, before.id);
  assert.notEqual(after[0].secret, before.secret);
  assert.equal(after[0].url, before.url);
  const until = Number(app.sql(`SELECT previous_secret_until FROM connections WHERE id = ${id};`).trim());
  assert.ok(until >= rolledAt + 300 && until <= Math.floor(Date.now() / 1000) + 300,
    `the old secret is kept 5 minutes by default (until ${until}, rolled at ${rolledAt})`);
  const page = await admin.get(`/apps/stripe/${id}`);
  assert.match(page.text, /Previous secret/);
  assert.doesNotMatch(page.text, /whsec_/);

  assert.equal((await deliver(after[0].secret)).body.result, 'processed', 'the new secret works');
  assert.equal((await deliver(before.secret)).body.result, 'processed', 'the previous secret works during the grace period');
  app.sql(`UPDATE connections SET previous_secret_until = ${Math.floor(Date.now() / 1000) - 1} WHERE id = ${id};`);
  const expired = await deliver(before.secret);
  assert.equal(expired.status, 400, 'the previous secret is refused once its time is over');
  assert.equal(expired.body.result, 'rejected');
  assert.equal((await deliver(after[0].secret)).body.result, 'processed');

  const noToken = await admin.post(`/apps/stripe/${id}/roll-secret`, {});
  assert.equal(noToken.status, 403);
  assert.equal((await endpoints(fake)).length, 1);
});

test('the old signing secret expires by itself after the configured grace', async (t) => {
  const fake = await start({ port: 0 });
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url, STRIPELINK_ROLL_GRACE_SECONDS: '2' });
  t.after(async () => { await app.stop(); await fake.close(); });
  const admin = await adminClient(app);
  const connected = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_rotate456' });
  const id = connected.location.split('/')[3];
  const [before] = await endpoints(fake);
  const payload = JSON.stringify({
    id: 'evt_rotate_grace', object: 'event', type: 'customer.created', created: Math.floor(Date.now() / 1000),
    data: { object: { id: 'cus_rotate_grace', object: 'customer', email: 'rotate.grace@example.com', name: 'Ro Tate', created: 1 } },
  });
  const rolled = await admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/roll-secret`, {});
  assert.equal(rolled.status, 303);
  const rolledAt = Date.now();
  // generous margin on a loaded machine: the secret is kept 2 s; wait until 4 s have passed
  await new Promise((r) => setTimeout(r, Math.max(0, rolledAt + 4000 - Date.now())));
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: before.secret });
  const res = await fetch(`${app.base}/webhooks/stripe/${id}`, { method: 'POST', headers: { 'stripe-signature': header }, body: payload });
  assert.equal(res.status, 400, 'the previous secret is refused once the grace is over, without any manual change');
  assert.equal((await res.json()).result, 'rejected');
});
