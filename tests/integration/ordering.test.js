// ordering.test.js - ordering by Stripe's clock (issue 11 §4), end to end
// over nginx against the fake Stripe:
//   * same-second ties: two events of one charge (or subscription) made in
//     the same second are not applied in arrival order; the second one is
//     answered 200 "waiting" at once, without a Stripe call, and the sync
//     worker fetches the object (GET /v1/charges/<id>, once) and applies the
//     state Stripe has, whichever order the events came in;
//   * historical pages are versioned by Stripe's Date header, not by this
//     machine's clock: with our clock ahead of Stripe's, an event made after
//     a page is applied, not skipped as older; an event of the page's very
//     second is a tie and settled by a fetch; without a Date header the
//     local clock stands in and the log says so.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { startApp, adminClient, csrfOf, sleep } = require('./harness');
const { fixtureObject, stripeEvent, wire, nowSeconds, stripeHeader } = require('./events');
const { start } = require('../fake-stripe/server');

const APP_UA = /^stripelink\//;
const FETCH_DELAY_MS = 3000;   // the fake holds the tie's GET this long

class Rig {
  static async create() {
    const rig = new Rig();
    rig.fake = await start({ port: 0 });
    rig.app = await startApp({ STRIPELINK_STRIPE_API: rig.fake.url, STRIPELINK_WEBHOOK_WAIT: '3' });
    rig.admin = await adminClient(rig.app);
    const res = await rig.admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_order123' });
    assert.equal(res.status, 303, `connect answered ${res.status}: ${res.text.slice(0, 300)}`);
    rig.id = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
    const endpoints = await rig.ctl('GET', 'webhook_endpoints');
    rig.secret = endpoints.find((e) => e.url.endsWith(`/webhooks/stripe/${rig.id}`)).secret;
    return rig;
  }

  async close() {
    if (this.app) await this.app.stop();
    if (this.fake) await this.fake.close();
  }

  async ctl(method, p, body) {
    const res = await fetch(`${this.fake.url}/_fake/${p}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
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
    const r = this.rows(query);
    return r.length ? Object.values(r[0])[0] : undefined;
  }

  // Signs and posts an event (signed at `timestamp`, now unless told).
  async deliver(event, timestamp) {
    const payload = wire(event);
    const res = await fetch(`${this.app.base}/webhooks/stripe/${this.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(payload, this.secret, timestamp) },
      body: payload,
    });
    const text = await res.text();
    return { status: res.status, json: JSON.parse(text), text };
  }

  // Until no event waits any more.
  async drained(ms = 30000) {
    const deadline = Date.now() + ms;
    while (this.one('SELECT count(*) FROM pending_events') > 0) {
      if (Date.now() > deadline) throw new Error(`events still waiting:\n${this.app.log().slice(-2000)}`);
      await sleep(100);
    }
  }

  // The app's requests to the fake for path since seq.
  async appRequests(p, since = 0) {
    const all = await this.ctl('GET', `requests?path=${encodeURIComponent(p)}&since=${since}`);
    return all.filter((r) => APP_UA.test(r.headers['user-agent'] || ''));
  }

  async lastSeq() {
    return (await this.ctl('GET', 'state')).requests.last_seq;
  }

  log(eventId) {
    return this.rows(`SELECT result, reason FROM integration_log WHERE connection_id = ${this.id}
                      AND event_id = '${eventId}' ORDER BY id`);
  }

  order(id) {
    return this.rows(`SELECT o.status, o.amount, o.amount_refunded, c.email_key FROM orders o
                      LEFT JOIN contacts c ON c.id = o.contact_id WHERE o.stripe_id = '${id}'`)[0];
  }

  version(objectId) {
    return this.one(`SELECT version FROM object_versions WHERE object_id = '${objectId}'`);
  }

  appPath() { return `/apps/stripe/${this.id}`; }

  // Wizard steps 2 and 3: charges, historical and new; returns the job it queued.
  async addCharges() {
    const step2 = await this.admin.submit(`${this.appPath()}/resource`, `${this.appPath()}/resource`,
      { resource: 'charge', sync_type: 'historical' });
    assert.equal(step2.status, 303, `step 2: ${step2.status}`);
    const mapUrl = `${this.appPath()}/mapping/charge`;
    const page = await this.admin.get(mapUrl);
    const fin = await this.admin.request('POST', mapUrl, {
      form: {
        csrf: csrfOf(page.text), email_path: 'billing_details.email', id_path: '', id_target: '',
        rows: '1', path_0: 'billing_details.name', meta_0: '', target_0: 'full_name', action: 'finish',
      },
    });
    assert.equal(fin.status, 303, `step 3: ${fin.status} ${fin.text.slice(0, 300)}`);
    return this.one(`SELECT max(id) FROM sync_jobs WHERE connection_id = ${this.id} AND resource = 'charge'`);
  }

  async syncNow() {
    const before = this.one(`SELECT max(id) FROM sync_jobs WHERE connection_id = ${this.id}`);
    const res = await this.admin.submit(this.appPath(), `${this.appPath()}/sync`, { resource: 'charge' });
    assert.equal(res.status, 303);
    const id = this.one(`SELECT max(id) FROM sync_jobs WHERE connection_id = ${this.id}`);
    assert.ok(id > before, 'Sync history now queued a job');
    return id;
  }

  async jobDone(id) {
    const deadline = Date.now() + 60000;
    for (;;) {
      const j = this.rows(`SELECT state, error FROM sync_jobs WHERE id = ${id}`)[0];
      if (j && j.state === 'done') return;
      if (j && j.state === 'failed') throw new Error(`job ${id} failed: ${j.error}`);
      if (Date.now() > deadline) throw new Error(`job ${id} not done: ${JSON.stringify(j)}\n${this.app.log().slice(-2000)}`);
      await sleep(100);
    }
  }
}

function charge(id, email, { refunded = false, amount = 5000, created } = {}) {
  return fixtureObject('charge', {
    id, amount, amount_captured: amount, amount_refunded: refunded ? amount : 0, refunded,
    currency: 'usd', status: 'succeeded', paid: true, customer: null,
    billing_details: { email, name: 'Tie Breaker', phone: null }, ...(created ? { created } : {}),
  });
}

// Delivers `second`, which ties with what is applied: answered 200
// "waiting" at once, before the fetch of `objectId` could have answered
// (the fake holds that GET for FETCH_DELAY_MS), with nothing applied yet
// (state() still gives unchanged); then completed by the sync worker with
// exactly one GET of `fetchPath`.
async function deliverTie(rig, second, objectId, fetchPath, state, unchanged) {
  const since = await rig.lastSeq();
  await rig.ctl('POST', 'faults', { rules: [{ method: 'GET', path: fetchPath, delay_ms: FETCH_DELAY_MS, count: 1 }] });
  const sentAt = Date.now();
  const res = await rig.deliver(second);
  const answeredMs = Date.now() - sentAt;
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.result, 'waiting', res.text);
  assert.equal(res.json.reason, `same-second tie: fetching ${second.data.object.object} ${objectId} from Stripe`);
  assert.ok(answeredMs < FETCH_DELAY_MS, `answered in ${answeredMs} ms: the request path did not wait for the fetch`);
  // nothing applied on the request path: the state is the first event's
  assert.deepEqual(state(), unchanged, 'the tied event changed nothing while answering');
  assert.deepEqual(rig.rows(`SELECT fetch_object FROM pending_events WHERE event_id = '${second.id}'`),
    [{ fetch_object: objectId }], 'recorded as waiting for the fetch, on disk before the 200');
  assert.deepEqual(rig.log(second.id).map((l) => l.result), ['waiting']);

  await rig.drained();
  const gets = await rig.appRequests(fetchPath, since);
  assert.equal(gets.length, 1, `one GET ${fetchPath}: ${JSON.stringify(gets.map((g) => g.t_ms))}`);
  assert.ok(gets[0].t_ms >= sentAt, 'fetched because of this delivery');
  assert.equal(gets[0].method, 'GET');
  assert.deepEqual(rig.log(second.id), [
    { result: 'waiting', reason: `same-second tie: fetching ${second.data.object.object} ${objectId} from Stripe` },
    { result: 'processed', reason: `same-second tie: applied ${second.data.object.object} ${objectId} as fetched from Stripe` },
  ]);
  const again = await rig.deliver(second);
  assert.equal(again.json.result, 'duplicate', 'a redelivery after the completion changes nothing');
  assert.equal((await rig.appRequests(fetchPath, since)).length, 1, 'and fetches nothing');
}

test('same-second ties are settled by the state fetched from Stripe, off the request path', { timeout: 120000 }, async (t) => {
  const rig = await Rig.create();
  t.after(() => rig.close());
  const tieSecond = {};

  for (const [name, order] of [['refunded first', ['charge.refunded', 'charge.succeeded']],
                              ['succeeded first', ['charge.succeeded', 'charge.refunded']]]) {
    await t.test(`charge.refunded and charge.succeeded of one second, ${name}: the order ends refunded`, async () => {
      const tag = name.startsWith('refunded') ? 'A' : 'B';
      const id = `ch_tie${tag}`;
      const email = `tie.${tag.toLowerCase()}@example.com`;
      const T = nowSeconds() - 30;
      tieSecond[id] = T;
      // what Stripe has now: the charge, refunded
      await rig.ctl('POST', 'objects', charge(id, email, { refunded: true }));
      const events = order.map((type, i) => stripeEvent({
        id: `evt_tie${tag}${i}`, type, created: T, object: charge(id, email, { refunded: type === 'charge.refunded' }),
      }));
      const first = await rig.deliver(events[0]);
      assert.equal(first.json.result, 'processed', first.text);
      const afterFirst = rig.order(id);
      assert.equal(afterFirst.status, order[0] === 'charge.refunded' ? 'refunded' : 'paid');
      await deliverTie(rig, events[1], id, `/v1/charges/${id}`, () => rig.order(id), afterFirst);
      assert.deepEqual(rig.order(id), { status: 'refunded', amount: 5000, amount_refunded: 5000, email_key: email },
        'the state Stripe has, not the last arrival');
      assert.ok(rig.version(id) >= T, 'the fetch is versioned no lower than the tie');
      const tags = rig.rows(`SELECT t.name FROM tags t JOIN contact_tags ct ON ct.tag_id = t.id JOIN contacts c ON c.id = ct.contact_id
                             WHERE c.email_key = '${email}' ORDER BY t.name`).map((r) => r.name);
      assert.deepEqual(tags, ['stripe-integration', 'stripe-integration-charge-refunded', 'stripe-integration-charge-succeeded']);
    });
  }

  await t.test('a third event of that second, delivered after the fetch: the fetched state holds it, nothing is fetched again', async () => {
    const id = 'ch_tieA';
    const T = tieSecond[id];
    const fetched = rig.version(id);
    assert.ok(fetched > T, `the fetch (Stripe's second minus one: ${fetched}) came after the tie's second ${T}`);
    const since = await rig.lastSeq();
    const late = stripeEvent({
      id: 'evt_tieA_late', type: 'charge.succeeded', created: T,
      object: charge(id, 'tie.a@example.com', { refunded: false }),
    });
    const res = await rig.deliver(late);
    assert.equal(res.json.result, 'skipped', res.text);
    assert.match(res.json.reason, /newer version/);
    assert.equal(rig.order(id).status, 'refunded');
    assert.equal(rig.version(id), fetched);
    assert.equal((await rig.appRequests(`/v1/charges/${id}`, since)).length, 0);
  });

  await t.test('customer.subscription.updated (active) then .created (incomplete) of one second: the recurring payment is active', async () => {
    const T = nowSeconds() - 20;
    const cus = stripeEvent({
      id: 'evt_tieSubCus', type: 'customer.created', created: T - 60,
      object: fixtureObject('customer', { id: 'cus_tieSub', email: 'tie.sub@example.com', name: 'Sub Tie' }),
    });
    assert.equal((await rig.deliver(cus)).json.result, 'processed');
    const sub = (status) => fixtureObject('subscription', { id: 'sub_tie1', customer: 'cus_tieSub', status, created: T });
    await rig.ctl('POST', 'objects', sub('active'));
    const updated = stripeEvent({ id: 'evt_tieSub1', type: 'customer.subscription.updated', created: T, object: sub('active') });
    const created = stripeEvent({ id: 'evt_tieSub2', type: 'customer.subscription.created', created: T, object: sub('incomplete') });
    assert.equal((await rig.deliver(updated)).json.result, 'processed');
    const recurring = () => rig.rows(`SELECT r.status, r.amount, c.email_key FROM recurring_payments r
                                      JOIN contacts c ON c.id = r.contact_id WHERE r.subscription_id = 'sub_tie1'`);
    const active = [{ status: 'active', amount: 2000, email_key: 'tie.sub@example.com' }];
    assert.deepEqual(recurring(), active);

    await deliverTie(rig, created, 'sub_tie1', '/v1/subscriptions/sub_tie1', recurring, active);
    assert.deepEqual(recurring(), [{ status: 'active', amount: 2000, email_key: 'tie.sub@example.com' }],
      'the older-looking "incomplete" of the same second did not win by arriving last');
  });

  await t.test('an event waiting for its customer meets a tie when the customer is linked: it waits for the fetch instead', async () => {
    const T = nowSeconds() - 15;
    const id = 'ch_tieWait';
    const withCustomer = (refunded, email) => ({
      ...charge(id, email, { refunded }), customer: 'cus_tieWait',
      billing_details: { email, name: null, phone: null },
    });
    await rig.ctl('POST', 'objects', withCustomer(true, 'tie.wait@example.com'));
    // no email of its own: it waits for cus_tieWait's contact link
    const first = stripeEvent({ id: 'evt_tieWait1', type: 'charge.succeeded', created: T, object: withCustomer(false, null) });
    const res1 = await rig.deliver(first);
    assert.equal(res1.json.result, 'waiting', res1.text);
    assert.match(res1.json.reason, /^waiting for customer cus_tieWait/);
    // the refund of the same second carries the email: applied, and it links
    // cus_tieWait, which completes the first in its own transaction, where
    // it now ties with the refund
    const second = stripeEvent({ id: 'evt_tieWait2', type: 'charge.refunded', created: T, object: withCustomer(true, 'tie.wait@example.com') });
    assert.equal((await rig.deliver(second)).json.result, 'processed');
    const pending = rig.rows(`SELECT customer_id, fetch_object FROM pending_events WHERE event_id = '${first.id}'`);
    if (pending.length) assert.deepEqual(pending, [{ customer_id: '', fetch_object: id }], 'now waiting for the fetch, not the customer');
    await rig.drained();
    assert.deepEqual(rig.log(first.id).map((l) => l.reason.replace(/:.*/, '')),
      ['waiting for customer cus_tieWait', 'same-second tie', 'same-second tie']);
    assert.deepEqual(rig.log(first.id).map((l) => l.result), ['waiting', 'waiting', 'processed']);
    assert.deepEqual(rig.order(id), { status: 'refunded', amount: 5000, amount_refunded: 5000, email_key: 'tie.wait@example.com' });
    assert.equal((await rig.appRequests(`/v1/charges/${id}`)).length, 1);
    assert.equal((await rig.appRequests('/v1/customers/cus_tieWait')).length, 0, 'the customer was linked, never looked up');
  });

  await t.test('a tie whose fetch fails for now stays waiting and is fetched again; one Stripe does not know is skipped for Replay', async () => {
    const T = nowSeconds() - 10;
    const id = 'ch_tieRetry';
    await rig.ctl('POST', 'objects', charge(id, 'tie.retry@example.com', { refunded: true }));
    const a = stripeEvent({ id: 'evt_tieRetry1', type: 'charge.refunded', created: T, object: charge(id, 'tie.retry@example.com', { refunded: true }) });
    const b = stripeEvent({ id: 'evt_tieRetry2', type: 'charge.succeeded', created: T, object: charge(id, 'tie.retry@example.com') });
    assert.equal((await rig.deliver(a)).json.result, 'processed');
    const since = await rig.lastSeq();
    await rig.ctl('POST', 'faults', { rules: [{ method: 'GET', path: `/v1/charges/${id}`, status: 503, count: -1 }] });
    try {
      assert.equal((await rig.deliver(b)).json.result, 'waiting');
      const deadline = Date.now() + 30000;
      while ((await rig.appRequests(`/v1/charges/${id}`, since)).length < 1) {
        assert.ok(Date.now() < deadline, 'the sync worker tried the fetch');
        await sleep(100);
      }
      await sleep(500);
      assert.equal(rig.one(`SELECT count(*) FROM pending_events WHERE event_id = '${b.id}'`), 1, 'still waiting after a 503');
      assert.match(rig.log(b.id).at(-1).reason, /same-second tie: fetching charge ch_tieRetry from Stripe/);
    } finally {
      await rig.ctl('DELETE', 'faults');
    }
    await rig.drained(30000);
    assert.deepEqual(rig.log(b.id).map((l) => l.result).at(-1), 'processed');
    assert.equal(rig.order(id).status, 'refunded');

    // a charge Stripe does not know (404): skipped with the reason, kept for Replay
    const c1 = stripeEvent({ id: 'evt_tieGone1', type: 'charge.succeeded', created: T, object: charge('ch_tieGone', 'tie.gone@example.com') });
    const c2 = stripeEvent({ id: 'evt_tieGone2', type: 'charge.succeeded', created: T, object: charge('ch_tieGone', 'tie.gone@example.com') });
    assert.equal((await rig.deliver(c1)).json.result, 'processed');
    assert.equal((await rig.deliver(c2)).json.result, 'waiting');
    await rig.drained();
    const last = rig.log(c2.id).at(-1);
    assert.equal(last.result, 'skipped');
    assert.match(last.reason, /same-second tie: fetching charge ch_tieGone from Stripe failed: /);
    assert.equal(rig.one(`SELECT count(*) FROM integration_log WHERE event_id = '${c2.id}' AND payload IS NOT NULL`), 1,
      'the payload is kept for Replay');
  });

  await t.test('nothing was fetched on the request path: every Stripe call of the suite is a tie\'s fetch by the sync worker', async () => {
    const all = await rig.appRequests('/v1/*');
    const fetches = all.filter((r) => /^\/v1\/(charges|subscriptions)\//.test(r.path));
    const other = all.filter((r) => !/^\/v1\/(charges|subscriptions)\//.test(r.path) && !/^\/v1\/(account|webhook_endpoints)/.test(r.path));
    assert.deepEqual(other.map((r) => `${r.method} ${r.path}`), [], 'no customer lookups or anything else');
    assert.ok(fetches.every((r) => r.method === 'GET'));
  });
});

test('historical pages are versioned by Stripe\'s Date, not this machine\'s clock', { timeout: 120000 }, async (t) => {
  const rig = await Rig.create();
  t.after(() => rig.close());
  const SKEW = 120;   // this machine's clock runs 2 minutes ahead of Stripe's
  let stripeAfter;    // Stripe's clock once the first sync was done

  await t.test('a page fetched while our clock is ahead is versioned by Stripe\'s Date', async () => {
    const clock = await rig.ctl('POST', 'clock', { offset_seconds: -SKEW });
    const stripeNow = clock.now;
    await rig.ctl('POST', 'account', { patch: { created: stripeNow - 100000 } });
    await rig.ctl('POST', 'objects', [
      charge('ch_clockLater', 'clock.later@example.com', { created: stripeNow - 300 }),
      charge('ch_clockSame', 'clock.same@example.com', { created: stripeNow - 200 }),
    ]);
    const job = await rig.addCharges();
    await rig.jobDone(job);
    stripeAfter = (await rig.ctl('GET', 'clock')).now;
    assert.ok((await rig.appRequests('/v1/charges')).length >= 1, 'the sync listed charges');
    for (const id of ['ch_clockLater', 'ch_clockSame']) {
      const v = rig.version(id);
      assert.ok(v >= stripeNow - 1 && v <= stripeAfter - 1,
        `${id}: page version ${v} is Stripe's second of the answer minus one ([${stripeNow - 1}, ${stripeAfter - 1}]), not ours (${nowSeconds()})`);
    }
    assert.equal(rig.order('ch_clockLater').status, 'paid');
    assert.doesNotMatch(rig.app.log(), /had no Date header/);
  });

  await t.test('an event Stripe made after the page is applied, though our clock had passed its second', async () => {
    const created = stripeAfter + 3;   // by Stripe's clock, after the page
    assert.ok(created < nowSeconds() - 60, 'by our clock the event is older than the page was fetched');
    const ev = stripeEvent({
      id: 'evt_clockLater', type: 'charge.refunded', created,
      object: charge('ch_clockLater', 'clock.later@example.com', { refunded: true }),
    });
    const res = await rig.deliver(ev, created);   // signed with Stripe's clock
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.result, 'processed', res.text);
    assert.equal(rig.order('ch_clockLater').status, 'refunded', 'not skipped as older than the page');
    assert.equal(rig.version('ch_clockLater'), created);
  });

  await t.test('an event of the page\'s own second conflicts with the page: settled by a fresh fetch', async () => {
    const pageVersion = rig.version('ch_clockSame');
    const charged = rig.rows(`SELECT created FROM orders WHERE stripe_id = 'ch_clockSame'`).length;
    assert.equal(charged, 1);
    await rig.ctl('POST', 'objects', charge('ch_clockSame', 'clock.same@example.com', { refunded: true, created: pageVersion - 200 }));
    const ev = stripeEvent({
      id: 'evt_clockSame', type: 'charge.refunded', created: pageVersion,
      object: charge('ch_clockSame', 'clock.same@example.com', { refunded: true }),
    });
    const since = await rig.lastSeq();
    const res = await rig.deliver(ev, pageVersion);
    assert.equal(res.json.result, 'waiting', res.text);
    assert.equal(res.json.reason, 'same-second tie: fetching charge ch_clockSame from Stripe');
    await rig.drained();
    assert.equal((await rig.appRequests('/v1/charges/ch_clockSame', since)).length, 1);
    assert.equal(rig.order('ch_clockSame').status, 'refunded');
    assert.deepEqual(rig.log(ev.id).map((l) => l.result), ['waiting', 'processed']);
  });

  await t.test('without a Date header the local clock stands in, and the log says so once', async () => {
    await rig.ctl('POST', 'clock', { send_date: false });
    const stripeNow = (await rig.ctl('GET', 'clock')).now;
    await rig.ctl('POST', 'objects', charge('ch_clockNoDate', 'clock.nodate@example.com', { created: stripeNow - 50 }));
    const before = nowSeconds();
    const job = await rig.syncNow();
    await rig.jobDone(job);
    const v = rig.version('ch_clockNoDate');
    assert.ok(v >= before - 1 && v <= nowSeconds(), `version ${v} from this machine's clock (${before})`);
    const said = rig.app.log().match(/Stripe's answer to \/v1\/charges had no Date header: the state it holds is versioned by this machine's clock instead/g) || [];
    assert.equal(said.length, 1, 'said once');
  });
});
