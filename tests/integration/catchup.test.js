// catchup.test.js - never miss an event: the catch-up from Stripe's event
// list (GET /v1/events) and the webhook endpoint's health, against the real
// program, its sync worker and the fake Stripe.
//
//   * events the endpoint never received arrive through Catch up now, and
//     through the timer (short interval); a delivered event is not doubled;
//     the app page says what a catch-up found and what Stripe could not
//     deliver; the integration log marks catch-up entries;
//   * an event of another API version missing a mapped field is skipped with
//     the reason; one with the fields is mapped, the version logged once;
//   * a disabled endpoint is noticed, re-enabled and caught up; a deleted one
//     is recreated; a refused key (401) shows the banner and a new key keeps
//     the mapping; a restricted key without rak_event_read is named;
//   * kill -9 of the sync worker mid catch-up continues from the committed
//     cursor without duplicates.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const Stripe = require('stripe');
const { startApp, adminClient, csrfOf, sleep } = require('./harness');
const { start } = require('../fake-stripe/server');

const OURS = '2025-08-27.basil';   // STRIPE_API_VERSION in src/stripe.h
const nowS = () => Math.floor(Date.now() / 1000);

async function waitFor(what, fn, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

class Rig {
  constructor(fake, app, admin) {
    this.fake = fake;
    this.app = app;
    this.admin = admin;
    this.seq = 0;
  }

  static async start(env = {}) {
    const fake = await start({ port: 0 });
    const app = await startApp({ STRIPELINK_STRIPE_API: fake.url, ...env });
    const admin = await adminClient(app);
    return new Rig(fake, app, admin);
  }

  async stop() {
    await this.app.stop();
    await this.fake.close();
  }

  async ctl(method, p, body) {
    const res = await fetch(`${this.fake.url}/_fake/${p}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = await res.json();
    if (res.status !== 200) throw new Error(`/_fake/${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  q(sql) {
    return this.app.rows(sql);   // either engine
  }

  one(sql) {
    const rows = this.q(sql);
    return rows.length ? Object.values(rows[0])[0] : undefined;
  }

  async connect(key) {
    const res = await this.admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: key });
    assert.equal(res.status, 303, `connect: ${res.status} ${res.text.slice(0, 300)}`);
    return Number(res.location.split('/')[3]);
  }

  // The first catch-up after connecting (or after a restart) has finished.
  async settled(id) {
    await waitFor(`connection ${id}'s first catch-up`, () => this.one(
      `SELECT last_at FROM catchups WHERE connection_id = ${id} AND run_lte IS NULL AND requested_at IS NULL`));
  }

  // customer.created events recorded at the fake as created (not delivered by default).
  async record(n, { delivered = false, apiVersion = OURS, object = {}, created } = {}) {
    const events = [];
    for (let i = 0; i < n; i++) {
      this.seq += 1;
      events.push({
        type: 'customer.created', api_version: apiVersion, created: created ?? nowS(),
        data: { object: { id: `cus_cu${this.seq}`, object: 'customer', created: nowS(), email: `missed${this.seq}@example.test`,
          name: `Missed Person${this.seq}`, phone: null, ...object } },
      });
    }
    const out = await this.ctl('POST', 'events', { delivered, events });
    return { ids: out.ids, emails: events.map((e) => e.data.object.email), events };
  }

  async catchUpNow(id) {
    const res = await this.admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/catchup`, {});
    assert.equal(res.status, 303);
    assert.equal(res.location, `/apps/stripe/${id}?notice=catchup`);
  }

  contactsWith(emails) {
    return this.one(`SELECT count(*) FROM contacts WHERE email IN (${emails.map((e) => `'${e}'`).join(',')})`);
  }

  async endpoint(id) {
    const epId = this.one(`SELECT endpoint_id FROM connections WHERE id = ${id}`);
    const all = await this.ctl('GET', 'webhook_endpoints');
    return all.find((e) => e.id === epId) || { id: epId, missing: true };
  }

  // Makes the last endpoint check look old, so opening the page asks for a new one.
  ageHealthCheck(id) {
    this.q(`UPDATE catchups SET endpoint_checked_at = 0 WHERE connection_id = ${id}`);
  }

  // Opens the app page until it shows `pattern` (the worker checks in the background).
  async pageUntil(id, pattern) {
    return waitFor(`the app page to show ${pattern}`, async () => {
      const page = await this.admin.get(`/apps/stripe/${id}`);
      assert.equal(page.status, 200);
      return pattern.test(page.text) ? page : null;
    });
  }

  syncPid() {
    try {
      const out = execFileSync('pgrep', ['-f', '-P', String(this.app.child.pid), 'stripelink-sync'], { encoding: 'utf8' }).trim();
      return out ? Number(out.split('\n')[0]) : null;
    } catch (_) {
      return null;
    }
  }
}

test('catch-up from /v1/events and endpoint health', { timeout: 240000 }, async (t) => {
  const rig = await Rig.start({ STRIPELINK_CATCHUP_INTERVAL: '3600' });
  t.after(() => rig.stop());

  const id = await rig.connect('sk_test_catchup1');
  await rig.settled(id);
  const first = rig.q(`SELECT last_found, last_error, endpoint_state FROM catchups WHERE connection_id = ${id}`)[0];
  assert.deepEqual(first, { last_found: 0, last_error: '', endpoint_state: 'enabled' }, 'a first sweep and check ran after connecting');

  await t.test('events the endpoint never received arrive through Catch up now; a delivered one is not doubled', async () => {
    const missed = await rig.record(3);
    // one event the endpoint did receive: delivered by webhook and listed by Stripe too
    const ep = await rig.endpoint(id);
    const delivered = await rig.record(1, { delivered: true });
    const event = (await rig.ctl('GET', 'events')).find((e) => e.id === delivered.ids[0]);
    const payload = JSON.stringify(event);
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: ep.secret });
    const res = await fetch(`${rig.app.base}/webhooks/stripe/${id}`, { method: 'POST', headers: { 'stripe-signature': header }, body: payload });
    assert.equal(res.status, 200);
    // and one type the integration does not use: not even listed
    await rig.ctl('POST', 'events', { delivered: false, events: [{ type: 'payout.paid', data: { object: { id: 'po_1', object: 'payout' } } }] });
    assert.equal(rig.contactsWith(missed.emails), 0, 'nothing arrived by itself');

    const since = (await rig.ctl('GET', 'state')).requests.last_seq;
    await rig.catchUpNow(id);
    await waitFor('the missed contacts', () => rig.contactsWith(missed.emails) === 3);
    await rig.settled(id);

    const rows = rig.q(`SELECT event_id, result, source FROM integration_log WHERE connection_id = ${id} ORDER BY id`);
    for (const evt of missed.ids) {
      assert.deepEqual(rows.filter((r) => r.event_id === evt), [{ event_id: evt, result: 'processed', source: 'catchup' }]);
    }
    assert.deepEqual(rows.filter((r) => r.event_id === delivered.ids[0]),
      [{ event_id: delivered.ids[0], result: 'processed', source: 'webhook' }], 'the delivered event: one entry, nothing doubled');
    assert.ok(!rows.some((r) => r.event_id === 'po_1'));

    const last = rig.q(`SELECT last_found, last_new, last_skipped, undelivered FROM catchups WHERE connection_id = ${id}`)[0];
    assert.deepEqual(last, { last_found: 4, last_new: 3, last_skipped: 0, undelivered: 3 });

    // the requests: the catalogue's types, 100 a page, from the cursor minus the overlap
    const reqs = await rig.ctl('GET', `requests?path=/v1/events&since=${since}`);
    const sweep = reqs.find((r) => r.query.delivery_success === undefined);
    assert.equal(sweep.query.limit, '100');
    assert.ok(sweep.query.types.includes('customer.created') && sweep.query.types.includes('charge.succeeded'));
    assert.equal(sweep.query.types.length, 20, 'every type of the catalogue, at most 20 (Stripe\'s limit)');
    const connectedAt = rig.one(`SELECT connected_at FROM connections WHERE id = ${id}`);
    assert.equal(Number(sweep.query.created.gte), connectedAt - 600, 'no event seen yet: from the connection minus the overlap');
    assert.ok(reqs.some((r) => r.query.delivery_success === 'false'), 'asked Stripe what it could not deliver');

    // the app page and the log
    const page = await rig.admin.get(`/apps/stripe/${id}`);
    assert.match(page.text, /Catch up now/);
    assert.match(page.text, /<span class="catchup-found">4<\/span> events listed, <span class="catchup-new">3<\/span> new/);
    assert.match(page.text, /<span class="undelivered-count">3<\/span> events Stripe could not deliver; the oldest is <span class="undelivered-age">0<\/span> days old, and Stripe drops it in <span class="undelivered-left">(29|30)<\/span> days/);
    const log = await rig.admin.get(`/apps/stripe/${id}/log`);
    assert.equal((log.text.match(/class="from-catchup"/g) || []).length, 3, 'the log marks the three catch-up entries');
    assert.match(log.text, /via catch-up/);

    // a second sweep starts from the newest event seen minus the overlap and changes nothing
    const cursor = rig.one(`SELECT cursor FROM catchups WHERE connection_id = ${id}`);
    assert.equal(cursor, Math.max(...(await rig.ctl('GET', 'events')).filter((e) => e.type === 'customer.created').map((e) => e.created)));
    const logCount = rig.one(`SELECT count(*) FROM integration_log WHERE connection_id = ${id}`);
    const since2 = (await rig.ctl('GET', 'state')).requests.last_seq;
    await rig.catchUpNow(id);
    await waitFor('the second sweep', () => rig.one(`SELECT last_at IS NOT NULL AND requested_at IS NULL AND run_lte IS NULL FROM catchups WHERE connection_id = ${id}`)
      && (rig.q(`SELECT 1 FROM catchups WHERE connection_id = ${id} AND last_new = 0`).length === 1));
    const again = (await rig.ctl('GET', `requests?path=/v1/events&since=${since2}`)).find((r) => r.query.delivery_success === undefined);
    assert.equal(Number(again.query.created.gte), cursor - 600);
    assert.equal(rig.one(`SELECT count(*) FROM integration_log WHERE connection_id = ${id}`), logCount, 'nothing logged twice');
    assert.equal(rig.contactsWith(missed.emails), 3);
  });

  await t.test('another API version: mapped when the mapped fields are there, else skipped with the reason; logged once', async () => {
    // no "name" at all: a field the default customer mapping reads
    const lacking = { emails: ['oldversion@example.test'] };
    await rig.ctl('POST', 'events', { delivered: false, events: [{
      id: 'evt_oldversion_noname', type: 'customer.created', api_version: '2019-02-19', created: nowS(),
      data: { object: { id: 'cus_oldversion', object: 'customer', created: nowS(), email: lacking.emails[0], phone: null } } }] });
    const complete = await rig.record(2, { apiVersion: '2020-08-27' });
    await rig.catchUpNow(id);
    await waitFor('the complete ones', () => rig.contactsWith(complete.emails) === 2);
    await rig.settled(id);
    const skipped = rig.q(`SELECT result, reason, source FROM integration_log WHERE event_id = 'evt_oldversion_noname'`);
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0].result, 'skipped');
    assert.equal(skipped[0].source, 'catchup');
    assert.match(skipped[0].reason, /API version 2019-02-19/);
    assert.match(skipped[0].reason, /no name/);
    assert.equal(rig.one(`SELECT count(*) FROM contacts WHERE email = '${lacking.emails[0]}'`), 0, 'not mapped to blanks');
    const notes = rig.q(`SELECT reason FROM integration_log WHERE event_id IN ('${complete.ids.join("','")}') AND reason LIKE '%2020-08-27%'`);
    assert.equal(notes.length, 1, 'the version is noted once in the log');
    assert.equal(rig.app.log().split('\n').filter((l) => /Stripe API version 2020-08-27/.test(l)).length, 1, 'and once on stderr');

    // the same check on a delivered event
    const ep = await rig.endpoint(id);
    const deliver = async (evtId, object) => {
      const payload = JSON.stringify({ id: evtId, object: 'event', api_version: '2018-05-21', created: nowS(),
        type: 'customer.created', data: { object }, livemode: false, pending_webhooks: 1, request: { id: null } });
      const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: ep.secret });
      const res = await fetch(`${rig.app.base}/webhooks/stripe/${id}`, { method: 'POST', headers: { 'stripe-signature': header }, body: payload });
      assert.equal(res.status, 200);
      return res.json();
    };
    const bare = await deliver('evt_delivered_old1', { id: 'cus_old1', object: 'customer', email: 'old1@example.test' });
    assert.equal(bare.result, 'skipped');
    assert.match(bare.reason, /Stripe API version 2018-05-21 .* has no name/);
    const full = await deliver('evt_delivered_old2', { id: 'cus_old2', object: 'customer', email: 'old2@example.test', name: 'Old Two', phone: null });
    assert.equal(full.result, 'processed');
    assert.match(full.reason, /2018-05-21/, 'the first mapped event of the version says so');
    const again = await deliver('evt_delivered_old3', { id: 'cus_old3', object: 'customer', email: 'old3@example.test', name: 'Old Three', phone: null });
    assert.equal(again.result, 'processed');
    assert.ok(!again.reason, 'once per version');
    // one notice for the version (each delivery's own line carries its reason)
    assert.equal(rig.app.log().split('\n').filter((l) => /Stripe API version 2018-05-21/.test(l) && !/event=delivery/.test(l)).length, 1);
  });

  await t.test('a disabled endpoint is noticed, re-enabled and caught up', async () => {
    const ep = await rig.endpoint(id);
    await rig.ctl('POST', `webhook_endpoints/${ep.id}/disable`, {});
    const missed = await rig.record(2);
    rig.ageHealthCheck(id);
    const page = await rig.pageUntil(id, /Stripe has disabled this install's webhook endpoint/);
    assert.match(page.text, />Re-enable</);
    // found disabled: a catch-up runs by itself
    await waitFor('the catch-up after finding it disabled', () => rig.contactsWith(missed.emails) === 2);
    const more = await rig.record(1);
    const since = (await rig.ctl('GET', 'state')).requests.last_seq;
    const res = await rig.admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/endpoint/enable`, {});
    assert.equal(res.status, 303);
    assert.equal(res.location, `/apps/stripe/${id}?notice=enabled`);
    assert.equal((await rig.endpoint(id)).status, 'enabled');
    const post = (await rig.ctl('GET', `requests?method=POST&path=/v1/webhook_endpoints/${ep.id}&since=${since}`))[0];
    assert.equal(post.form.disabled, 'false');
    await waitFor('the catch-up after re-enabling', () => rig.contactsWith(more.emails) === 1);
    const after = await rig.pageUntil(id, /<span class="status enabled">enabled<\/span>/);
    assert.doesNotMatch(after.text, /Stripe has disabled/);
  });

  await t.test('a deleted endpoint is recreated (new endpoint and secret) and caught up', async () => {
    const before = await rig.endpoint(id);
    await rig.ctl('DELETE', `webhook_endpoints/${before.id}`);
    const missed = await rig.record(1);
    rig.ageHealthCheck(id);
    const page = await rig.pageUntil(id, /The webhook endpoint no longer exists at Stripe/);
    assert.match(page.text, />Recreate</);
    const res = await rig.admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/endpoint/recreate`, {});
    assert.equal(res.status, 303);
    assert.equal(res.location, `/apps/stripe/${id}?notice=recreated`);
    const after = await rig.endpoint(id);
    assert.ok(!after.missing, 'a new endpoint exists at Stripe');
    assert.notEqual(after.id, before.id);
    assert.match(after.url, new RegExp(`/webhooks/stripe/${id}$`));
    assert.equal(after.api_version, OURS);
    await waitFor('the catch-up after recreating', () => rig.contactsWith(missed.emails) === 1);
    // the new secret signs deliveries; the deleted endpoint's does not
    const [evt] = (await rig.record(1, { delivered: true })).events;
    const payload = JSON.stringify({ ...evt, id: 'evt_after_recreate', object: 'event' });
    const post = (secret) => fetch(`${rig.app.base}/webhooks/stripe/${id}`, {
      method: 'POST', headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) }, body: payload });
    assert.equal((await post(before.secret)).status, 400, 'the deleted endpoint\'s secret is refused');
    assert.equal((await post(after.secret)).status, 200);
    assert.doesNotMatch((await rig.pageUntil(id, /status enabled/)).text, /no longer exists at Stripe/);
  });

  await t.test('a key Stripe now refuses (401) shows the banner; a new key keeps the mapping', async () => {
    // a saved mapping first
    const step2 = await rig.admin.submit(`/apps/stripe/${id}/resource`, `/apps/stripe/${id}/resource`, { resource: 'customer', sync_type: 'new' });
    assert.equal(step2.status, 303);
    const mapUrl = `/apps/stripe/${id}/mapping/customer`;
    const mapPage = await rig.admin.get(mapUrl);
    const fin = await rig.admin.post(mapUrl, { csrf: csrfOf(mapPage.text), email_path: 'email', id_path: '', id_target: '',
      rows: '1', path_0: 'name', meta_0: '', target_0: 'full_name', action: 'finish' });
    assert.equal(fin.status, 303, fin.text.slice(0, 300));
    const mappingBefore = rig.q(`SELECT resource, sync_type, mapping FROM connection_resources WHERE connection_id = ${id}`);
    assert.equal(mappingBefore.length, 1);

    await rig.ctl('POST', 'keys/revoke', { key: 'sk_test_catchup1' });
    rig.ageHealthCheck(id);
    const page = await rig.pageUntil(id, /Stripe no longer accepts this connection&#39;s secret key|Stripe no longer accepts this connection's secret key/);
    assert.match(page.text, /name="secret_key"/);
    // a key of another mode is refused and changes nothing
    const wrong = await rig.admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/key`, { secret_key: 'sk_live_otheraccount1' });
    assert.equal(wrong.status, 422);
    assert.match(wrong.text, /another Stripe account/);
    const missed = await rig.record(1);
    const res = await rig.admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/key`, { secret_key: '  sk_test_catchup2new9876 ' });
    assert.equal(res.status, 303, res.text.slice(0, 300));
    assert.equal(res.location, `/apps/stripe/${id}?notice=key`);
    assert.deepEqual(rig.q(`SELECT resource, sync_type, mapping FROM connection_resources WHERE connection_id = ${id}`), mappingBefore, 'the mapping stays');
    const c = rig.q(`SELECT status, key_hint FROM connections WHERE id = ${id}`)[0];
    assert.equal(c.status, 'connected');
    assert.match(c.key_hint, /9876$/);
    await waitFor('the catch-up with the new key', () => rig.contactsWith(missed.emails) === 1);
    const after = await rig.pageUntil(id, /status enabled/);
    assert.doesNotMatch(after.text, /no longer accepts/);
    assert.doesNotMatch(after.text, /sk_test_catchup2new9876/);
  });

  await t.test('a restricted key without the permission to list events: the banner names it', async () => {
    await rig.ctl('POST', 'account', { id: 'acct_1RestrictedShop0', name: 'Restricted Shop' });   // another account
    const rid = await rig.connect('rk_test_noevent5555');
    const page = await rig.pageUntil(rid, /missing the permission rak_event_read/);
    assert.match(page.text, /name="secret_key"/);
    assert.equal(rig.one(`SELECT endpoint_state FROM catchups WHERE connection_id = ${rid}`), 'key_permission');
  });
});

test('catch-up on the timer (short interval)', { timeout: 60000 }, async (t) => {
  const rig = await Rig.start({ STRIPELINK_CATCHUP_INTERVAL: '2' });
  t.after(() => rig.stop());
  const id = await rig.connect('sk_test_timer1');
  await rig.settled(id);
  const missed = await rig.record(2);
  await waitFor('the timer\'s catch-up', () => rig.contactsWith(missed.emails) === 2, 20000);
  assert.equal(rig.one(`SELECT count(*) FROM integration_log WHERE source = 'catchup' AND connection_id = ${id}`), 2);
  // later sweeps (the timer keeps running) change nothing
  const sweeps = (await rig.ctl('GET', 'requests?path=/v1/events')).length;
  await waitFor('more timer sweeps', async () => (await rig.ctl('GET', 'requests?path=/v1/events')).length >= sweeps + 2, 20000);
  assert.equal(rig.one(`SELECT count(*) FROM integration_log WHERE connection_id = ${id}`), 2);
});

test('kill -9 of the sync worker mid catch-up: it continues from the committed cursor, nothing doubled', { timeout: 120000 }, async (t) => {
  const rig = await Rig.start({ STRIPELINK_CATCHUP_INTERVAL: '3600' });
  t.after(() => rig.stop());
  const id = await rig.connect('sk_test_killed1');
  await rig.settled(id);
  const N = 1200;
  const missed = await rig.record(N);
  // slow pages, so the kill lands in the middle
  await rig.ctl('POST', 'faults', { rules: [{ path: '/v1/events', method: 'GET', delay_ms: 250, count: -1 }] });
  const since = (await rig.ctl('GET', 'state')).requests.last_seq;
  await rig.catchUpNow(id);
  await waitFor('a few pages', () => rig.one(`SELECT run_found FROM catchups WHERE connection_id = ${id}`) >= 300);
  const pid = rig.syncPid();
  assert.ok(pid, 'the sync worker runs');
  process.kill(pid, 'SIGKILL');
  const found = rig.one(`SELECT run_found FROM catchups WHERE connection_id = ${id}`);
  assert.ok(found < N, `killed midway (${found} of ${N})`);
  await waitFor('a new sync worker', () => { const p = rig.syncPid(); return p && p !== pid; });
  await waitFor('the sweep to finish', () => rig.one(`SELECT run_lte IS NULL AND last_at IS NOT NULL FROM catchups WHERE connection_id = ${id}`) === 1
    && rig.contactsWith(missed.emails) === N, 90000);
  await rig.ctl('DELETE', 'faults');
  assert.equal(rig.contactsWith(missed.emails), N);
  assert.equal(rig.one(`SELECT count(*) FROM integration_log WHERE connection_id = ${id} AND source = 'catchup'`), N, 'one log entry per event');
  assert.equal(rig.one(`SELECT count(DISTINCT event_id) FROM integration_log WHERE connection_id = ${id} AND source = 'catchup'`), N);
  assert.equal(rig.one(`SELECT count(*) FROM integration_log WHERE connection_id = ${id} AND result != 'processed'`), 0, 'no duplicates, no failures');
  // the restarted worker resumed with starting_after (the committed cursor), not from the top
  const pages = (await rig.ctl('GET', `requests?path=/v1/events&since=${since}`)).filter((r) => r.query.delivery_success === undefined);
  const firstPages = pages.filter((r) => r.query.starting_after === undefined);
  assert.equal(firstPages.length, 1, 'one sweep from the top; the restarted worker went on from its cursor');
  assert.ok(pages.length <= N / 100 + 2, `${pages.length} pages for ${N} events`);
});
