// money.test.js - the rest of a customer's money story (issue 11 §3), against
// the real program, its sync worker and the fake Stripe, which makes the
// refunds and disputes and the events Stripe sends for them
// (tests/fake-stripe/money.js):
//
//   * refunds are kept by their ids: partial refunds add up, a repeated event
//     changes nothing, a refund delivered before its charge waits for it and
//     counts when it arrives, a refund that fails (events out of order)
//     stops counting; the charge's own amount_refunded covers refunds never
//     seen by id;
//   * disputes: opened, updated, closed lost (net revenue reduced) or won
//     (not); the order shows the dispute and its outcome; "Dispute opened"
//     fires once per dispute;
//   * invoice.payment_failed → past due (fired once), subscription deleted →
//     canceled with its date, trial_will_end → the tag only;
//   * customer.deleted → the contact stays, its Stripe link is marked
//     deleted, the tag;
//   * ¥ and KWD amounts; the catch-up asks for the new types and brings
//     refunds and disputes the endpoint never received.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { startApp, adminClient, parseCsv, sleep } = require('./harness');
const { start } = require('../fake-stripe/server');
const { fixtureObject, stripeEvent, wire, stripeHeader } = require('./events');

const OURS = '2025-08-27.basil';   // STRIPE_API_VERSION in src/stripe.h
const T0 = 1700200000;
const tagOf = (type) => `stripe-integration-${type.replace(/[._]/g, '-')}`;
const nowS = () => Math.floor(Date.now() / 1000);

async function until(what, fn, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

class Rig {
  static async create(env = {}) {
    const rig = new Rig();
    rig.fake = await start({ port: 0 });
    rig.app = await startApp({ STRIPELINK_STRIPE_API: rig.fake.url, ...env });
    rig.admin = await adminClient(rig.app);
    const res = await rig.admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_money123' });
    assert.equal(res.status, 303, `connect: ${res.status} ${res.text.slice(0, 300)}`);
    rig.id = Number(/^\/apps\/stripe\/(\d+)\//.exec(res.location)[1]);
    const endpoints = await rig.ctl('GET', 'webhook_endpoints');
    rig.whsec = (Array.isArray(endpoints) ? endpoints : endpoints.data)
      .find((e) => e.url.endsWith(`/webhooks/stripe/${rig.id}`)).secret;
    rig.seq = 0;
    return rig;
  }

  async close() {
    await this.app.stop();
    await this.fake.close();
  }

  async ctl(method, p, body) {
    const res = await fetch(`${this.fake.url}/_fake/${p}`, {
      method, headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`fake ${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  // either engine (the harness reads SQLite's file or asks PostgreSQL)
  rows(query) {
    return this.app.rows(query);
  }

  one(query) {
    const rows = this.rows(query);
    return rows.length ? Object.values(rows[0])[0] : undefined;
  }

  // Posts one event, signed, as Stripe would; returns the answer's JSON.
  async deliver(event) {
    const body = wire(event);
    const res = await fetch(`${this.app.base}/webhooks/stripe/${this.id}`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(body, this.whsec) }, body,
    });
    const json = await res.json();
    assert.equal(res.status, 200, `${event.type} ${event.id}: ${JSON.stringify(json)}`);
    return json;
  }

  // Delivers and expects it applied.
  async apply(event) {
    const json = await this.deliver(event);
    assert.equal(json.result, 'processed', `${event.type} ${event.id}: ${JSON.stringify(json)}`);
    return json;
  }

  event(type, object, created) {
    return { ...stripeEvent({ id: `evt_money${++this.seq}`, type, created, object }), api_version: OURS };
  }

  // A charge at the fake (so refunds and disputes can be made of it) and its
  // charge.succeeded event (not delivered).
  async charge(id, email, amount, { currency = 'usd', created = T0 } = {}) {
    const object = fixtureObject('charge', {
      id, amount, amount_captured: amount, amount_refunded: 0, refunded: false, currency, status: 'succeeded',
      paid: true, captured: true, customer: null, created, billing_details: { email, name: 'Mo Ney', phone: null },
    });
    await this.ctl('POST', 'objects', object);
    return this.event('charge.succeeded', object, created);
  }

  order(id) {
    return this.rows(`SELECT amount, amount_refunded, amount_lost, status, currency FROM orders WHERE stripe_id = '${id}'`)[0];
  }

  contactId(email) {
    return this.one(`SELECT id FROM contacts WHERE email_key = '${email}'`);
  }

  tags(email) {
    return this.rows(`SELECT t.name FROM contacts c JOIN contact_tags ct ON ct.contact_id = c.id
      JOIN tags t ON t.id = ct.tag_id WHERE c.email_key = '${email}' ORDER BY t.name`).map((r) => r.name);
  }

  async page(email) {
    const res = await this.admin.get(`/contacts/${this.contactId(email)}`);
    assert.equal(res.status, 200);
    return res.text;
  }

  async netRevenue(email) {
    return /<dd class="net-revenue">([^<]*)<\/dd>/.exec(await this.page(email))[1];
  }

  // The contact's net_revenue cell in /contacts.csv.
  async csvNet(email) {
    const res = await this.admin.get('/contacts.csv');
    assert.equal(res.status, 200);
    const rows = parseCsv(res.text);
    const emailCol = rows[0].indexOf('email');
    const netCol = rows[0].indexOf('net_revenue');
    const row = rows.find((r) => r[emailCol] === email);
    assert.ok(row, `${email} in the CSV`);
    return row[netCol];
  }

  async createAutomation(name, trigger, tag, kind = 'add_tag') {
    const res = await this.admin.submit('/automations', '/automations',
      { name, trigger, trigger_tag: '', segment: '0', action_0: kind, name_0: tag, value_0: '' });
    assert.equal(res.status, 201, res.text.slice(0, 400));
    return Number(/action="\/automations\/(\d+)\/test"/.exec(res.text)[1]);
  }

  runs(automationId) {
    return this.one(`SELECT count(*) FROM automation_runs WHERE automation_id = ${automationId}`);
  }
}


test('money: refunds summed by id, disputes, past due, canceled, deleted customers, catch-up', { timeout: 300000 }, async (t) => {
  // a refund waits for its charge 4 s here (3 days by default); the endpoint
  // is checked when the app page opens (and at start), no timer otherwise
  const rig = await Rig.create({ STRIPELINK_CHARGE_WAIT: '4', STRIPELINK_CATCHUP_INTERVAL: '86400',
    STRIPELINK_OUTBOUND_ALLOW_PRIVATE: '1', STRIPELINK_OUTBOUND_ALLOW_HTTP: '1' });
  t.after(() => rig.close());

  await t.test('partial refunds add up; a repeated event changes nothing', async () => {
    const email = 'partial@example.com';
    await rig.apply(await rig.charge('ch_part', email, 10000));
    const r1 = await rig.ctl('POST', 'charges/ch_part/refunds', { amount: 3000, created: T0 + 10, api_version: OURS });
    for (const e of r1.events) await rig.apply(e);
    assert.deepEqual(rig.order('ch_part'), { amount: 10000, amount_refunded: 3000, amount_lost: 0, status: 'partially_refunded', currency: 'usd' });
    // the second one comes with the charge's refunds list (older API versions)
    const r2 = await rig.ctl('POST', 'charges/ch_part/refunds', { amount: 2000, created: T0 + 20, list: true, api_version: OURS });
    assert.equal(r2.events[1].data.object.refunds.data.length, 2);
    for (const e of r2.events) await rig.apply(e);
    assert.equal(rig.order('ch_part').amount_refunded, 5000);
    // Stripe delivers some again: duplicates, nothing changes
    for (const e of [...r1.events, ...r2.events]) assert.equal((await rig.deliver(e)).result, 'duplicate');
    assert.deepEqual(rig.order('ch_part'), { amount: 10000, amount_refunded: 5000, amount_lost: 0, status: 'partially_refunded', currency: 'usd' });
    assert.equal(rig.one("SELECT count(*) FROM refunds WHERE charge_id = 'ch_part'"), 2);
    assert.equal(await rig.netRevenue(email), '50.00 USD');
    assert.equal(await rig.csvNet(email), '50.00 USD');
    for (const type of ['charge.succeeded', 'refund.created', 'charge.refunded']) assert.ok(rig.tags(email).includes(tagOf(type)), type);
    // the rest is refunded: refunded
    const r3 = await rig.ctl('POST', 'charges/ch_part/refunds', { created: T0 + 30, api_version: OURS });
    for (const e of r3.events) await rig.apply(e);
    assert.deepEqual(rig.order('ch_part'), { amount: 10000, amount_refunded: 10000, amount_lost: 0, status: 'refunded', currency: 'usd' });
    assert.equal(await rig.netRevenue(email), '0.00 USD');
  });

  await t.test('a refund delivered before its charge waits for it and counts when it arrives', async () => {
    const email = 'early@example.com';
    const succeeded = await rig.charge('ch_early', email, 8000);
    const r = await rig.ctl('POST', 'charges/ch_early/refunds', { amount: 2500, created: T0 + 5, api_version: OURS });
    const [created, refunded] = r.events;
    const first = await rig.deliver(created);
    assert.equal(first.result, 'waiting');
    assert.match(first.reason, /^waiting for charge ch_early/);
    assert.equal(rig.order('ch_early'), undefined);
    // the charge (amount_refunded 0: older news) makes the order, and the
    // waiting refund applies in the same transaction, before the answer
    await rig.apply(succeeded);
    assert.equal(rig.one(`SELECT count(*) FROM pending_events WHERE event_id = '${created.id}'`), 0);
    assert.equal(rig.order('ch_early').amount_refunded, 2500);
    assert.equal(rig.order('ch_early').status, 'partially_refunded');
    assert.ok(rig.tags(email).includes(tagOf('refund.created')), 'the refund event tags the charge\'s contact');
    assert.deepEqual(rig.rows(`SELECT result FROM integration_log WHERE event_id = '${created.id}' ORDER BY id`).map((x) => x.result),
      ['waiting', 'processed']);
    await rig.apply(refunded);   // the charge says 2500: the same refund, not another
    assert.equal(rig.order('ch_early').amount_refunded, 2500);
    assert.equal(await rig.netRevenue(email), '55.00 USD');
  });

  await t.test('a refund whose charge does not come in time is kept; the order picks it up later', async () => {
    const email = 'late@example.com';
    const succeeded = await rig.charge('ch_toolate', email, 6000);
    const r = await rig.ctl('POST', 'charges/ch_toolate/refunds', { amount: 1000, created: T0 + 5, api_version: OURS });
    assert.equal((await rig.deliver(r.events[0])).result, 'waiting');
    await until('the wait is over', () =>
      rig.one(`SELECT count(*) FROM pending_events WHERE event_id = '${r.events[0].id}'`) === 0, 20000);
    assert.deepEqual(rig.rows(`SELECT result, reason FROM integration_log WHERE event_id = '${r.events[0].id}' ORDER BY id`)[1],
      { result: 'processed', reason: 'its charge is not here yet: the refund is kept and counts when the charge arrives' });
    assert.equal(rig.one("SELECT amount FROM refunds WHERE charge_id = 'ch_toolate'"), 1000);
    await rig.apply(succeeded);
    assert.deepEqual(rig.order('ch_toolate'), { amount: 6000, amount_refunded: 1000, amount_lost: 0, status: 'partially_refunded', currency: 'usd' });
    assert.equal(await rig.netRevenue(email), '50.00 USD');
    // its tag had no contact to go to then; the charge's own events tag as usual
    assert.ok(!rig.tags(email).includes(tagOf('refund.created')));
  });

  await t.test('a refund that fails stops counting, whatever the order of its events', async () => {
    const email = 'failing@example.com';
    await rig.apply(await rig.charge('ch_fail', email, 5000));
    const a = await rig.ctl('POST', 'charges/ch_fail/refunds', { amount: 1000, created: T0 + 10, api_version: OURS });
    for (const e of a.events) await rig.apply(e);
    const b = await rig.ctl('POST', 'charges/ch_fail/refunds', { amount: 1500, created: T0 + 20, api_version: OURS });
    const failed = await rig.ctl('POST', `refunds/${b.refund.id}`, { status: 'failed', created: T0 + 30, api_version: OURS });
    assert.deepEqual(failed.events.map((e) => e.type), ['refund.updated', 'refund.failed', 'charge.refund.updated']);
    // the failure first, then the older news of the refund and the charge
    for (const e of [...failed.events.reverse(), ...b.events]) await rig.apply(e);
    assert.deepEqual(rig.order('ch_fail'), { amount: 5000, amount_refunded: 1000, amount_lost: 0, status: 'partially_refunded', currency: 'usd' });
    assert.equal(rig.one(`SELECT status FROM refunds WHERE refund_id = '${b.refund.id}'`), 'failed');
    // the first one is canceled too: nothing refunded, paid again
    const c = await rig.ctl('POST', `refunds/${a.refund.id}`, { status: 'canceled', created: T0 + 40, api_version: OURS });
    for (const e of c.events) await rig.apply(e);
    assert.equal(rig.order('ch_fail').amount_refunded, 0);
    assert.equal(rig.order('ch_fail').status, 'paid');
    assert.equal(await rig.netRevenue(email), '50.00 USD');
    for (const type of ['refund.failed', 'refund.updated', 'charge.refund.updated']) assert.ok(rig.tags(email).includes(tagOf(type)), type);
  });

  await t.test('a charge whose refunds are never named by id: its amount_refunded counts once', async () => {
    const email = 'fallback@example.com';
    const ev = await rig.charge('ch_fallback', email, 4000);
    await rig.apply(ev);
    const refunded = rig.event('charge.refunded', { ...ev.data.object, amount_refunded: 1500 }, T0 + 50);
    await rig.apply(refunded);
    assert.equal(rig.order('ch_fallback').amount_refunded, 1500);
    // then the refund's own event: the same money, not more
    const refund = fixtureObject('refund', { id: 're_fallback1', charge: 'ch_fallback', amount: 1500, status: 'succeeded', created: T0 + 49 });
    await rig.apply(rig.event('refund.created', refund, T0 + 49));
    assert.equal(rig.order('ch_fallback').amount_refunded, 1500);
    assert.equal(await rig.netRevenue(email), '25.00 USD');
  });

  await t.test('disputes: the order shows them; lost counts against net revenue, won does not; "Dispute opened" once each', async () => {
    const auto = await rig.createAutomation('Disputed customers', 'dispute_opened', 'disputed');
    const hook = await rig.createAutomation('Dispute hook', 'dispute_opened', 'http://127.0.0.1:9/hook', 'webhook');
    const email = 'dispute@example.com';
    await rig.apply(await rig.charge('ch_lost', email, 3000));
    await rig.apply(await rig.charge('ch_won', email, 2000, { created: T0 + 1 }));
    assert.equal(await rig.netRevenue(email), '50.00 USD');
    const lost = await rig.ctl('POST', 'charges/ch_lost/disputes', { created: T0 + 100, api_version: OURS });
    const won = await rig.ctl('POST', 'charges/ch_won/disputes', { created: T0 + 100, reason: 'product_not_received', api_version: OURS });
    for (const e of [...lost.events, ...won.events, ...lost.events]) await rig.deliver(e);
    assert.equal(rig.runs(auto), 2, 'one run per dispute');
    const bodies = rig.rows(`SELECT body FROM outbox WHERE automation_id = ${hook} ORDER BY id`).map((r) => JSON.parse(r.body));
    assert.deepEqual(bodies.map((b) => [b.trigger, b.dispute.id, b.dispute.charge, b.dispute.status, b.contact.email]), [
      ['dispute_opened', lost.dispute.id, 'ch_lost', 'needs_response', email],
      ['dispute_opened', won.dispute.id, 'ch_won', 'needs_response', email]]);
    assert.ok(rig.tags(email).includes('disputed'));
    assert.ok(rig.tags(email).includes(tagOf('charge.dispute.created')));
    assert.equal(await rig.netRevenue(email), '50.00 USD', 'an open dispute takes nothing yet');
    const review = await rig.ctl('POST', `disputes/${lost.dispute.id}`, { status: 'under_review', created: T0 + 200, api_version: OURS });
    const closedLost = await rig.ctl('POST', `disputes/${lost.dispute.id}`, { status: 'lost', created: T0 + 300, api_version: OURS });
    const closedWon = await rig.ctl('POST', `disputes/${won.dispute.id}`, { status: 'won', created: T0 + 300, api_version: OURS });
    // the closing first, the update after it (older): it stays lost
    for (const e of [...closedLost.events, ...closedWon.events, ...review.events]) await rig.apply(e);
    assert.equal(rig.runs(auto), 2, 'closing fires no second "dispute opened"');
    assert.deepEqual(rig.order('ch_lost'), { amount: 3000, amount_refunded: 0, amount_lost: 3000, status: 'paid', currency: 'usd' });
    assert.equal(rig.order('ch_won').amount_lost, 0);
    assert.equal(await rig.netRevenue(email), '20.00 USD');
    assert.equal(await rig.csvNet(email), '20.00 USD');
    const html = await rig.page(email);
    assert.match(html, /<code>ch_lost<\/code>.*?<td class="dispute">lost \(fraudulent\): 30\.00 USD<\/td>/s);
    assert.match(html, /<code>ch_won<\/code>.*?<td class="dispute">won \(product_not_received\): 20\.00 USD<\/td>/s);
    for (const type of ['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed']) assert.ok(rig.tags(email).includes(tagOf(type)), type);
  });

  await t.test('¥ and KWD: a yen refund and a dinar dispute in their own decimals', async () => {
    const email = 'currencies@example.com';
    await rig.apply(await rig.charge('ch_jpy', email, 1000, { currency: 'jpy' }));
    await rig.apply(await rig.charge('ch_kwd', email, 5000, { currency: 'kwd', created: T0 + 1 }));
    const yen = await rig.ctl('POST', 'charges/ch_jpy/refunds', { amount: 300, created: T0 + 10, api_version: OURS });
    for (const e of yen.events) await rig.apply(e);
    const dinar = await rig.ctl('POST', 'charges/ch_kwd/disputes', { amount: 1234, created: T0 + 10, api_version: OURS });
    for (const e of dinar.events) await rig.apply(e);
    const closed = await rig.ctl('POST', `disputes/${dinar.dispute.id}`, { status: 'lost', created: T0 + 20, api_version: OURS });
    for (const e of closed.events) await rig.apply(e);
    assert.equal(await rig.netRevenue(email), '700 JPY; 3.766 KWD');
    const html = await rig.page(email);
    assert.match(html, /<td>1,000 JPY<\/td><td>300 JPY<\/td>/);
    assert.match(html, /lost \(fraudulent\): 1\.234 KWD/);
  });

  await t.test('invoice.payment_failed: past due (fired once); deleted: canceled with its date; trial_will_end: the tag only', async () => {
    const pastDue = await rig.createAutomation('Dunning', 'recurring_past_due', 'dunning');
    const canceled = await rig.createAutomation('Churned', 'recurring_canceled', 'churned');
    const email = 'subscriber@example.com';
    const cus = 'cus_money_sub';
    const sub = 'sub_money1';
    await rig.apply(rig.event('customer.created', fixtureObject('customer', { id: cus, email, name: 'Sub Scriber' }), T0));
    const subscription = (status, extra = {}) => fixtureObject('subscription', { id: sub, customer: cus, status, created: T0 + 10, ...extra });
    await rig.apply(rig.event('customer.subscription.created', subscription('active'), T0 + 10));
    const invoice = fixtureObject('invoice', {
      id: 'in_money_failed', customer: cus, customer_email: email, status: 'open', amount_paid: 0, amount_due: 2000,
      total: 2000, currency: 'usd', billing_reason: 'subscription_cycle', subscription: null,
      parent: { type: 'subscription_details', quote_details: null, subscription_details: { subscription: sub, metadata: {} } },
    });
    await rig.apply(rig.event('invoice.payment_failed', invoice, T0 + 100));
    const recurring = () => rig.rows(`SELECT status, coalesce(canceled_at, '') AS canceled_at FROM recurring_payments WHERE subscription_id = '${sub}'`)[0];
    assert.equal(recurring().status, 'past_due');
    assert.equal(rig.runs(pastDue), 1);
    assert.equal(rig.one("SELECT count(*) FROM orders WHERE stripe_id = 'in_money_failed'"), 0, 'a failed payment is no order');
    // Stripe's own subscription.updated to past_due: already past due, not fired again
    await rig.apply(rig.event('customer.subscription.updated', subscription('past_due'), T0 + 101));
    assert.equal(rig.runs(pastDue), 1);
    assert.match(await rig.page(email), /<td class="recurring-status">past_due<\/td>/);
    // a notice: the tag, nothing else
    await rig.apply(rig.event('customer.subscription.trial_will_end', subscription('trialing'), T0 + 150));
    assert.equal(recurring().status, 'past_due');
    assert.ok(rig.tags(email).includes(tagOf('customer.subscription.trial_will_end')));
    await rig.apply(rig.event('customer.subscription.deleted',
      subscription('canceled', { canceled_at: T0 + 190, ended_at: T0 + 200 }), T0 + 200));
    assert.deepEqual(recurring(), { status: 'canceled', canceled_at: '2023-11-17T05:50:00Z' });
    assert.equal(rig.runs(canceled), 1);
    assert.match(await rig.page(email), /<td class="recurring-status">canceled<\/td>.*?<td class="canceled-at">2023-11-17T05:50:00Z<\/td>/s);
    assert.ok(rig.tags(email).includes('dunning') && rig.tags(email).includes('churned'));
    // the first invoice of a subscription failing: incomplete, not past due
    const sub2 = 'sub_money2';
    await rig.apply(rig.event('invoice.payment_failed', { ...invoice, id: 'in_money_first', billing_reason: 'subscription_create',
      parent: { type: 'subscription_details', subscription_details: { subscription: sub2, metadata: {} } } }, T0 + 300));
    assert.equal(rig.one(`SELECT status FROM recurring_payments WHERE subscription_id = '${sub2}'`), 'incomplete');
    assert.equal(rig.runs(pastDue), 1);
  });

  await t.test('customer.deleted: the contact stays, its Stripe link is marked deleted, the tag', async () => {
    const email = 'leaving@example.com';
    const customer = fixtureObject('customer', { id: 'cus_money_del', email, name: 'Lea Ving' });
    await rig.apply(rig.event('customer.created', customer, T0));
    await rig.apply(await rig.charge('ch_leaving', email, 1200));
    await rig.apply(rig.event('customer.deleted', customer, T0 + 500));
    assert.ok(rig.contactId(email), 'the contact stays');
    assert.equal(rig.one("SELECT deleted_at FROM stripe_customers WHERE customer_id = 'cus_money_del'"), T0 + 500);
    assert.ok(rig.tags(email).includes(tagOf('customer.deleted')));
    assert.ok(rig.order('ch_leaving'), 'its orders stay');
    const html = await rig.page(email);
    assert.match(html, /<code>cus_money_del<\/code> <span class="customer-deleted">deleted at Stripe 2023-11-17 05:55 UTC<\/span>/);
    assert.equal(await rig.netRevenue(email), '12.00 USD');
    // a later (older) event of the customer does not undo it; the deleted customer
    // Stripe's API answers with is found through the link
    assert.equal((await rig.deliver(rig.event('customer.updated', customer, T0 + 400))).result, 'skipped');
    assert.equal(rig.one("SELECT deleted_at FROM stripe_customers WHERE customer_id = 'cus_money_del'"), T0 + 500);
    const other = fixtureObject('customer', { id: 'cus_money_del2', email: 'second.deleted@example.com', name: 'Second Deleted' });
    await rig.apply(rig.event('customer.created', other, T0));
    await rig.apply(rig.event('customer.deleted', { id: 'cus_money_del2', object: 'customer', deleted: true }, T0 + 600));
    assert.deepEqual(rig.rows("SELECT customer_id, deleted_at FROM stripe_customers WHERE customer_id LIKE 'cus_money_del%' ORDER BY 1"),
      [{ customer_id: 'cus_money_del', deleted_at: T0 + 500 }, { customer_id: 'cus_money_del2', deleted_at: T0 + 600 }]);
    assert.ok(rig.tags('second.deleted@example.com').includes(tagOf('customer.deleted')));
  });

  await t.test('catch-up: asks for the new types and brings refunds and disputes never delivered', async () => {
    const email = 'caughtup@example.com';
    const now = nowS();
    await rig.apply(await rig.charge('ch_caught', email, 9000, { created: now - 60 }));
    const refund = await rig.ctl('POST', 'charges/ch_caught/refunds', { amount: 4000, created: now - 50, delivered: false, api_version: OURS });
    const dispute = await rig.ctl('POST', 'charges/ch_caught/disputes', { amount: 5000, created: now - 40, delivered: false, api_version: OURS });
    const lost = await rig.ctl('POST', `disputes/${dispute.dispute.id}`, { status: 'lost', created: now - 30, delivered: false, api_version: OURS });
    const missed = [...refund.events, ...dispute.events, ...lost.events];
    await rig.ctl('DELETE', 'requests');
    const res = await rig.admin.submit(`/apps/stripe/${rig.id}`, `/apps/stripe/${rig.id}/catchup`, {});
    assert.equal(res.status, 303);
    await until('the catch-up applied the missed events', () =>
      rig.one(`SELECT count(DISTINCT event_id) FROM integration_log WHERE source = 'catchup' AND event_id IN
        (${missed.map((e) => `'${e.id}'`).join(',')})`) === missed.length &&
      rig.one('SELECT count(*) FROM pending_events') === 0 &&
      rig.order('ch_caught').amount_lost === 5000, 60000);
    assert.deepEqual(rig.order('ch_caught'), { amount: 9000, amount_refunded: 4000, amount_lost: 5000, status: 'partially_refunded', currency: 'usd' });
    assert.equal(await rig.netRevenue(email), '0.00 USD');
    for (const e of missed) assert.ok(rig.tags(email).includes(tagOf(e.type)), e.type);
    const lists = (await rig.ctl('GET', 'requests?path=/v1/events')).filter((r) => r.method === 'GET');
    assert.ok(lists.length > 0, 'the catch-up listed events');
    const types = lists[0].query.types;
    assert.ok(types.length <= 20, `${types.length} types: Stripe takes at most 20`);
    for (const type of ['refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated', 'charge.dispute.created',
      'charge.dispute.updated', 'charge.dispute.closed', 'customer.deleted', 'invoice.payment_failed']) {
      assert.ok(types.includes(type), `the catch-up asks for ${type}`);
    }
  });

  await t.test('the webhook endpoint is created for the new types; an older one is subscribed to them', async () => {
    const endpoint = async () => {
      const endpoints = await rig.ctl('GET', 'webhook_endpoints');
      return (Array.isArray(endpoints) ? endpoints : endpoints.data).find((e) => e.url.endsWith(`/webhooks/stripe/${rig.id}`));
    };
    const ep = await endpoint();
    for (const type of ['refund.created', 'charge.dispute.closed', 'customer.deleted']) assert.ok(ep.enabled_events.includes(type), type);
    // as an older version made it: the twelve types it knew
    const old = ['customer.created', 'customer.updated', 'charge.succeeded', 'charge.refunded', 'checkout.session.completed',
      'invoice.paid', 'invoice.payment_succeeded', 'invoice.payment_failed', 'customer.subscription.created',
      'customer.subscription.updated', 'customer.subscription.deleted', 'customer.subscription.trial_will_end'];
    await rig.ctl('POST', 'objects', { ...ep, enabled_events: old, secret: rig.whsec });
    // opening the app page checks an endpoint not checked in the last minute
    rig.app.sql(`UPDATE catchups SET endpoint_checked_at = 0 WHERE connection_id = ${rig.id}`);
    const page = await rig.admin.get(`/apps/stripe/${rig.id}`);
    assert.equal(page.status, 200);
    const now = await until('the endpoint is subscribed to the new types', async () => {
      const e = await endpoint();
      return e.enabled_events.includes('refund.created') && e;
    }, 30000);
    assert.deepEqual([...now.enabled_events].sort(), [...ep.enabled_events].sort());
    // the worker says so once Stripe answered: its line may follow the endpoint's change
    await until('the log says the endpoint was subscribed', async () =>
      /webhook endpoint now subscribed to 8 more event types/.test(rig.app.log()), 10000);
  });
});
