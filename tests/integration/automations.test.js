// automations.test.js - automations end to end: a trigger from a Stripe
// webhook or a historical sync runs its actions in the ingest transaction;
// webhook actions go through the outbox to a receiver here that verifies
// Stripelink-Signature and records every delivery by Idempotency-Key.
// Flows: webhook and (ticked) history fire, unticked history does not; the
// loop guard; receiver down → retried → delivered once; kill -9 of the
// delivery worker mid-flight → every delivery arrives, duplicates only with
// the same key; Send test; Resend; the SSRF guard with private targets off.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const Stripe = require('stripe');
const { startApp, adminClient, sleep } = require('./harness');
const { start } = require('../fake-stripe/server');

const FIXTURES = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../fixtures/stripe/fixtures3.json'), 'utf8')).resources;

// ---- the receiver ----------------------------------------------------------

// Records deliveries; verifies the signature against every secret it knows.
async function startReceiver() {
  const r = {
    secrets: [],
    deliveries: [],     // {key, body, signed, status}
    mode: 'up',         // up | down (503) | slow (delay, then 200)
    delayMs: 0,
  };
  r.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const sig = req.headers['stripelink-signature'] || '';
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
      const signed = !!m && r.secrets.some((s) =>
        crypto.createHmac('sha256', s).update(`${m[1]}.${body}`).digest('hex') === m[2]);
      const key = req.headers['idempotency-key'];
      if (r.mode === 'down') {
        r.deliveries.push({ key, body, signed, status: 503 });
        res.writeHead(503).end('down for maintenance');
        return;
      }
      if (r.mode === 'slow') await sleep(r.delayMs);
      r.deliveries.push({ key, body, signed, status: 200 });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise((ok) => r.server.listen(0, '127.0.0.1', ok));
  r.port = r.server.address().port;
  r.url = `http://127.0.0.1:${r.port}/hook`;
  r.ok = () => r.deliveries.filter((d) => d.status === 200);
  r.close = () => new Promise((ok) => { r.server.closeAllConnections(); r.server.close(ok); });
  return r;
}

// ---- the app ---------------------------------------------------------------

function clone(v) { return JSON.parse(JSON.stringify(v)); }

function chargeEvent(n, email, created = 1700000000 + n) {
  const object = Object.assign(clone(FIXTURES.charge), {
    id: `ch_auto${n}`, amount: 1500, amount_captured: 1500, amount_refunded: 0, currency: 'usd',
    status: 'succeeded', paid: true, captured: true, refunded: false, customer: null,
    billing_details: { ...clone(FIXTURES.charge.billing_details || {}), email, name: 'Ada Lovelace', phone: null },
  });
  return { id: `evt_auto${n}`, object: 'event', api_version: '2024-06-20', created, data: { object },
    livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'charge.succeeded' };
}

class Rig {
  static async create(env = {}) {
    const rig = new Rig();
    rig.fake = await start({ port: 0 });
    rig.app = await startApp({ STRIPELINK_STRIPE_API: rig.fake.url, ...env });
    rig.admin = await adminClient(rig.app);
    const res = await rig.admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_auto123' });
    assert.equal(res.status, 303, `connect: ${res.status} ${res.text.slice(0, 300)}`);
    rig.id = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
    const endpoints = await rig.ctl('GET', 'webhook_endpoints');
    const list = Array.isArray(endpoints) ? endpoints : endpoints.data;
    rig.whsec = list.find((e) => e.url.endsWith(`/webhooks/stripe/${rig.id}`)).secret;
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

  rows(query) {
    return this.app.rows(query);   // either engine
  }

  one(query) {
    const rows = this.rows(query);
    return rows.length ? Object.values(rows[0])[0] : undefined;
  }

  async deliver(event) {
    const payload = JSON.stringify(event, null, 2);
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: this.whsec });
    const res = await fetch(`${this.app.base}/webhooks/stripe/${this.id}`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body: payload,
    });
    const json = await res.json();
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.equal(json.result, 'processed', JSON.stringify(json));
    return json;
  }

  // Creates an automation through the page; returns {id, secret, status, text}.
  async createAutomation({ name, trigger, tag = '', history = false, segment = '0', actions }) {
    const form = { name, trigger, trigger_tag: tag, segment };
    if (history) form.history = '1';
    actions.forEach(([kind, n, value = ''], i) => {
      form[`action_${i}`] = kind;
      form[`name_${i}`] = n;
      form[`value_${i}`] = value;
    });
    const res = await this.admin.submit('/automations', '/automations', form);
    const m = /<code id="secret-value">(sl_[0-9a-f]{64})<\/code>/.exec(res.text);
    const id = Number((/action="\/automations\/(\d+)\/test"/.exec(res.text) || [])[1]);
    return { id, secret: m && m[1], status: res.status, text: res.text };
  }

  contactTags(email) {
    return this.rows(`SELECT t.name FROM contacts c JOIN contact_tags ct ON ct.contact_id = c.id
      JOIN tags t ON t.id = ct.tag_id WHERE c.email_key = '${email}' ORDER BY t.name`).map((r) => r.name);
  }
}

async function until(what, fn, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function deliverPid(app) {
  try {
    const out = execFileSync('pgrep', ['-f', '-P', String(app.child.pid), 'stripelink deliver'], { encoding: 'utf8' }).trim();
    const pids = out.split('\n').filter(Boolean).map(Number);
    return pids.length === 1 ? pids[0] : null;
  } catch (_) {
    return null;
  }
}

const TEST_ENV = {
  STRIPELINK_OUTBOUND_ALLOW_PRIVATE: '1',
  STRIPELINK_OUTBOUND_ALLOW_HTTP: '1',
  STRIPELINK_OUTBOUND_BACKOFF_MS: '300',
};

test('automations fire from webhooks and ticked history; deliveries signed, retried, crash-safe', { timeout: 240000 }, async (t) => {
  const recv = await startReceiver();
  const rig = await Rig.create(TEST_ENV);
  t.after(async () => { await rig.close(); await recv.close(); });
  let tagAuto, orderAuto;

  await t.test('create: validation, then three automations; the secret is shown once', async () => {
    const bad = await rig.createAutomation({ name: 'x', trigger: 'tag_added', actions: [['add_tag', 'vip']] });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /Choose the tag/);
    const noAct = await rig.createAutomation({ name: 'x', trigger: 'order_created', actions: [] });
    assert.equal(noAct.status, 422);
    const noField = await rig.createAutomation({ name: 'x', trigger: 'order_created', actions: [['set_field', 'nope', '1']] });
    assert.equal(noField.status, 422);
    assert.match(noField.text, /no field with the key/);
    const seg = await rig.admin.submit('/automations', '/automations',
      { name: 'x', trigger: 'order_created', segment: '3', action_0: 'add_tag', name_0: 'a' });
    assert.equal(seg.status, 422, 'a segment that does not exist is refused');
    assert.match(seg.text, /Choose a segment from the list/);
    assert.equal(rig.one('SELECT count(*) FROM automations'), 0);

    tagAuto = await rig.createAutomation({
      name: 'Paid customers', trigger: 'tag_added', tag: 'stripe-integration-charge-succeeded',
      actions: [['add_tag', 'vip'], ['set_field', 'first_name', 'Automated'], ['remove_tag', 'stripe-integration'], ['webhook', recv.url]],
    });
    assert.equal(tagAuto.status, 201, tagAuto.text.slice(0, 500));
    assert.ok(tagAuto.secret, 'the signing secret is on the creation page');
    recv.secrets.push(tagAuto.secret);
    orderAuto = await rig.createAutomation({
      name: 'Orders, history too', trigger: 'order_created', history: true, actions: [['webhook', recv.url]],
    });
    assert.equal(orderAuto.status, 201);
    recv.secrets.push(orderAuto.secret);
    const welcome = await rig.createAutomation({ name: 'Welcome', trigger: 'contact_created', actions: [['add_tag', 'welcomed']] });
    assert.equal(welcome.status, 201);
    // the loop guard: vip (added by an automation) fires vip → vip2 once; vip2 → vip3 never
    for (const [from, to] of [['vip', 'vip2'], ['vip2', 'vip3']]) {
      const a = await rig.createAutomation({ name: `${from} chain`, trigger: 'tag_added', tag: from, actions: [['add_tag', to]] });
      assert.equal(a.status, 201);
    }
    const detail = await rig.admin.get(`/automations/${tagAuto.id}`);
    assert.equal(detail.status, 200);
    assert.ok(!detail.text.includes(tagAuto.secret), 'the secret is shown only once');
    assert.ok(!rig.rows('SELECT secret_sealed FROM automations')[0].secret_sealed.includes(tagAuto.secret), 'stored sealed');
    const list = await rig.admin.get('/automations');
    assert.match(list.text, /Paid customers/);
    assert.match(list.text, /Orders, history too/);
  });

  await t.test('a webhook event runs the actions in its transaction and queues signed deliveries', async () => {
    await rig.deliver(chargeEvent(1, 'ada@example.com'));
    const tags = rig.contactTags('ada@example.com');
    assert.deepEqual(tags, ['stripe-integration-charge-succeeded', 'vip', 'vip2', 'welcomed'], 'actions ran, loop guard held');
    assert.equal(rig.one("SELECT first_name FROM contacts WHERE email_key = 'ada@example.com'"), 'Automated');
    await until('two deliveries', () => recv.ok().length >= 2);
    await sleep(500);
    assert.equal(recv.ok().length, 2);
    for (const d of recv.ok()) {
      assert.ok(d.signed, 'signature verifies');
      const doc = JSON.parse(d.body);
      assert.equal(doc.id, d.key, 'the document id is the Idempotency-Key');
      assert.equal(doc.contact.email, 'ada@example.com');
      assert.equal(doc.order.id, 'ch_auto1');
      assert.equal(doc.stripe.object_id, 'ch_auto1');
      assert.equal(doc.source, 'webhook');
    }
    const byTrigger = Object.fromEntries(recv.ok().map((d) => [JSON.parse(d.body).trigger, JSON.parse(d.body)]));
    assert.deepEqual(Object.keys(byTrigger).sort(), ['order_created', 'tag_added']);
    assert.ok(byTrigger.tag_added.contact.tags.includes('vip'), 'the contact as the actions left it');
    assert.equal(byTrigger.tag_added.contact.first_name, 'Automated');
    const row = rig.rows(`SELECT runs, failures FROM automations WHERE id = ${tagAuto.id}`)[0];
    assert.deepEqual(row, { runs: 1, failures: 0 });
    // the same event again (a Stripe retry) changes nothing and sends nothing
    await fetch(`${rig.app.base}/healthz`);
    const again = JSON.stringify(chargeEvent(1, 'ada@example.com'), null, 2);
    const res = await fetch(`${rig.app.base}/webhooks/stripe/${rig.id}`, {
      method: 'POST', body: again,
      headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: again, secret: rig.whsec }) },
    });
    assert.equal((await res.json()).result, 'duplicate');
    await sleep(500);
    assert.equal(recv.ok().length, 2);
    // another charge of hers: the tag is there already, so "Tag added" does not fire again
    await rig.deliver(chargeEvent(11, 'ada@example.com'));
    await until('the second order\'s delivery', () => recv.ok().length >= 3);
    await sleep(500);
    assert.equal(recv.ok().length, 3, 'one more delivery: the order only');
    assert.equal(JSON.parse(recv.ok()[2].body).trigger, 'order_created');
    assert.deepEqual(rig.rows(`SELECT runs FROM automations WHERE id = ${tagAuto.id}`)[0], { runs: 1 });
    const page = await rig.admin.get(`/automations/${tagAuto.id}`);
    assert.match(page.text, /<td class="state">delivered<\/td>/);
    assert.match(page.text, /Tag added: stripe-integration-charge-succeeded/);
  });

  await t.test('historical sync fires only automations with "also for history" ticked', async () => {
    const before = recv.ok().length;
    const from = Math.floor(Date.now() / 1000) - 86400 * 30;
    await rig.ctl('POST', 'seed', { resource: 'charges', count: 5, start_created: from, created_step: 3600 });
    const step2 = await rig.admin.submit(`/apps/stripe/${rig.id}/resource`, `/apps/stripe/${rig.id}/resource`,
      { resource: 'charge', sync_type: 'historical' });
    assert.equal(step2.status, 303);
    const mapUrl = `/apps/stripe/${rig.id}/mapping/charge`;
    const page = await rig.admin.get(mapUrl);
    const fin = await rig.admin.request('POST', mapUrl, {
      form: { csrf: /name="csrf" value="([0-9a-f]+)"/.exec(page.text)[1], email_path: 'billing_details.email', id_path: '',
        id_target: '', rows: '1', path_0: 'billing_details.name', meta_0: '', target_0: 'full_name', action: 'finish' },
    });
    assert.equal(fin.status, 303, fin.text.slice(0, 300));
    await until('the sync job', () => rig.one(`SELECT state FROM sync_jobs WHERE connection_id = ${rig.id}`) === 'done', 60000);
    const orders = rig.one(`SELECT count(*) FROM orders WHERE stripe_id NOT LIKE 'ch_auto%'`);
    assert.ok(orders > 0, 'the sync made orders');
    await until('history deliveries', () => recv.ok().length >= before + orders);
    await sleep(800);
    const fromHistory = recv.ok().slice(before).map((d) => JSON.parse(d.body));
    assert.equal(fromHistory.length, orders, 'one per synced order: the ticked automation only');
    assert.ok(fromHistory.every((d) => d.trigger === 'order_created' && d.source === 'history'));
    const welcomedHist = rig.one(`SELECT count(*) FROM automation_runs r JOIN automations a ON a.id = r.automation_id
      WHERE a.name = 'Welcome' AND r.source = 'history'`);
    assert.equal(welcomedHist, 0, 'the unticked "contact created" automation did not run for history');
    assert.ok(rig.one("SELECT count(*) FROM automation_runs WHERE source = 'history'") >= orders);
  });

  await t.test('receiver down for a while → retried with backoff → delivered once', async () => {
    recv.mode = 'down';
    const before = recv.ok().length;
    await rig.deliver(chargeEvent(2, 'grace@example.com'));
    await until('failed attempts', () => recv.deliveries.filter((d) => d.status === 503).length >= 4);
    recv.mode = 'up';
    await until('deliveries after the outage', () => recv.ok().length >= before + 2);
    await sleep(1500);
    const after = recv.ok().slice(before);
    assert.equal(after.length, 2, 'each delivered once');
    assert.equal(new Set(after.map((d) => d.key)).size, 2);
    const attempts = rig.one(`SELECT max(attempts) FROM outbox WHERE body LIKE '%grace@example.com%'`);
    assert.ok(attempts >= 3, `retried: ${attempts} attempts`);
    const log = await rig.admin.get(`/automations/${tagAuto.id}`);
    assert.match(log.text, /<td>503<\/td>/, 'the 503 attempts are in the delivery log');
    assert.match(log.text, /down for maintenance/, 'with a response excerpt');
  });

  await t.test('a 4xx other than 408/429 fails at once; counted as a failure', async () => {
    const bad = await rig.createAutomation({ name: '404 target', trigger: 'order_created', actions: [['webhook', `http://127.0.0.1:${recv.port}/missing`]] });
    assert.equal(bad.status, 201);
    // the receiver answers 200 everywhere: point at the fake Stripe, which 404s unknown paths
    rig.rows(`UPDATE automation_actions SET name = '${rig.fake.url}/nowhere' WHERE automation_id = ${bad.id}`);
    await rig.deliver(chargeEvent(3, 'hopper@example.com'));
    await until('failed', () => rig.one(`SELECT state FROM outbox WHERE automation_id = ${bad.id}`) === 'failed');
    assert.equal(rig.one(`SELECT attempts FROM outbox WHERE automation_id = ${bad.id}`), 1);
    assert.equal(rig.one(`SELECT failures FROM automations WHERE id = ${bad.id}`), 1);
    const del = await rig.admin.submit(`/automations/${bad.id}`, `/automations/${bad.id}/delete`, {});
    assert.equal(del.status, 303);
    assert.equal(rig.one(`SELECT count(*) FROM automations WHERE id = ${bad.id}`), 0);
  });

  await t.test('Send test, then Resend: same Idempotency-Key; disable stops runs', async () => {
    const before = recv.ok().length;
    const res = await rig.admin.submit(`/automations/${tagAuto.id}`, `/automations/${tagAuto.id}/test`, {});
    assert.equal(res.status, 303);
    await until('the test delivery', () => recv.ok().length > before);
    const testDoc = JSON.parse(recv.ok()[before].body);
    assert.equal(testDoc.test, true);
    assert.ok(recv.ok()[before].signed);
    const outboxId = rig.one(`SELECT max(id) FROM outbox WHERE automation_id = ${tagAuto.id} AND test = 1`);
    const resend = await rig.admin.submit(`/automations/${tagAuto.id}`, `/automations/${tagAuto.id}/deliveries/${outboxId}/resend`, {});
    assert.equal(resend.status, 303);
    await until('the resent delivery', () => recv.ok().length > before + 1);
    assert.equal(recv.ok()[before + 1].key, recv.ok()[before].key, 'Resend keeps the Idempotency-Key');
    const off = await rig.admin.submit(`/automations/${tagAuto.id}`, `/automations/${tagAuto.id}/enable`, { action: 'disable' });
    assert.equal(off.status, 303);
    const runs = rig.one(`SELECT runs FROM automations WHERE id = ${tagAuto.id}`);
    await rig.deliver(chargeEvent(4, 'lamarr@example.com'));
    assert.equal(rig.one(`SELECT runs FROM automations WHERE id = ${tagAuto.id}`), runs, 'a disabled automation does not run');
    assert.ok(!rig.contactTags('lamarr@example.com').includes('vip'));
    const on = await rig.admin.submit(`/automations/${tagAuto.id}`, `/automations/${tagAuto.id}/enable`, { action: 'enable' });
    assert.equal(on.status, 303);
  });

  await t.test('rotate the secret: the new one signs, the old one no longer does', async () => {
    const res = await rig.admin.submit(`/automations/${orderAuto.id}`, `/automations/${orderAuto.id}/rotate-secret`, {});
    assert.equal(res.status, 200);
    const secret = /<code id="secret-value">(sl_[0-9a-f]{64})<\/code>/.exec(res.text)[1];
    assert.notEqual(secret, orderAuto.secret);
    recv.secrets = recv.secrets.filter((s) => s !== orderAuto.secret);
    recv.secrets.push(secret);
    const before = recv.ok().length;
    await rig.admin.submit(`/automations/${orderAuto.id}`, `/automations/${orderAuto.id}/test`, {});
    await until('delivery', () => recv.ok().length > before);
    assert.ok(recv.ok()[before].signed, 'signed with the new secret');
  });

  await t.test('kill -9 of the delivery worker mid-flight: every delivery arrives, duplicates only with the same key', async () => {
    recv.mode = 'slow';
    recv.delayMs = 300;
    const firstOutbox = rig.one('SELECT coalesce(max(id), 0) FROM outbox');
    for (let i = 0; i < 12; i++) await rig.deliver(chargeEvent(100 + i, `crash${i}@example.com`));
    const queued = rig.rows(`SELECT idempotency_key AS k FROM outbox WHERE id > ${firstOutbox}`).map((r) => r.k);
    assert.equal(queued.length, 24, 'two webhooks per event');
    for (let kills = 0; kills < 3; kills++) {
      await sleep(700);
      const pid = deliverPid(rig.app);
      assert.ok(pid, 'the delivery worker runs under the supervisor');
      process.kill(pid, 'SIGKILL');
      await until('the worker restarted', () => { const p = deliverPid(rig.app); return p && p !== pid; }, 20000);
    }
    recv.mode = 'up';
    await until('every delivery', () => rig.one(`SELECT count(*) FROM outbox WHERE id > ${firstOutbox} AND state != 'delivered'`) === 0, 90000);
    const got = recv.ok().filter((d) => queued.includes(d.key));
    assert.deepEqual([...new Set(got.map((d) => d.key))].sort(), [...queued].sort(), 'every delivery arrived');
    const bodies = new Map();
    for (const d of got) {
      if (bodies.has(d.key)) assert.equal(bodies.get(d.key), d.body, 'a duplicate is the same delivery');
      bodies.set(d.key, d.body);
    }
    assert.ok(recv.deliveries.filter((d) => d.key && !d.signed).length === 0, 'every request was signed');
  });

  await t.test('an automation with a segment acts only for contacts in it at that moment', async () => {
    const saved = await rig.admin.submit('/contacts', '/segments',
      { name: 'Segment insiders', c0_kind: 'text', c0_value: 'seg-in' });
    assert.equal(saved.status, 303, saved.text.slice(0, 300));
    const segId = rig.one("SELECT id FROM segments WHERE name = 'Segment insiders'");
    const form = await rig.admin.get('/automations');
    assert.match(form.text, new RegExp(`<option value="${segId}">Segment insiders</option>`), 'the segments are offered');
    const a = await rig.createAutomation({ name: 'insiders only', trigger: 'order_created', segment: String(segId),
      actions: [['add_tag', 'insider']] });
    assert.equal(a.status, 201, a.text.slice(0, 300));
    assert.equal(rig.one(`SELECT segment_id FROM automations WHERE id = ${a.id}`), segId);
    await rig.deliver(chargeEvent(40, 'seg-in@example.com'));
    await rig.deliver(chargeEvent(41, 'seg-out@example.com'));
    assert.ok(rig.contactTags('seg-in@example.com').includes('insider'), 'in the segment: acted on');
    assert.ok(!rig.contactTags('seg-out@example.com').includes('insider'), 'not in the segment: left alone');
    // a segment deleted later matches nobody; the Stripe change still applies
    const del = await rig.admin.submit('/segments', `/segments/${segId}/delete`, {});
    assert.equal(del.status, 303);
    await rig.deliver(chargeEvent(42, 'seg-in2@example.com'));
    assert.ok(!rig.contactTags('seg-in2@example.com').includes('insider'));
    assert.ok(rig.contactTags('seg-in2@example.com').includes('stripe-integration-charge-succeeded'), 'the Stripe change applied');
    const off = await rig.admin.submit(`/automations/${a.id}`, `/automations/${a.id}/enable`, { action: 'disable' });
    assert.equal(off.status, 303, 'disabled, out of the way of the next tests');
  });

  await t.test('order refunded, recurring payment created, past due and canceled fire their automations once', async () => {
    for (const [trigger, tag] of [['order_refunded', 'auto-refunded'], ['recurring_created', 'auto-sub'],
      ['recurring_past_due', 'auto-pastdue'], ['recurring_canceled', 'auto-canceled']]) {
      const a = await rig.createAutomation({ name: `on ${trigger}`, trigger, actions: [['add_tag', tag]] });
      assert.equal(a.status, 201);
    }
    const ev = (id, type, created, fixture, set) => ({
      id, object: 'event', api_version: '2024-06-20', created, livemode: false, pending_webhooks: 1,
      request: { id: null, idempotency_key: null }, type, data: { object: Object.assign(clone(FIXTURES[fixture]), set) },
    });
    const email = 'recurring@example.com';
    const runsOf = (trigger) => rig.one(`SELECT runs FROM automations WHERE trigger = '${trigger}'`);
    await rig.deliver(ev('evt_autoR1', 'customer.created', 1700100000, 'customer',
      { id: 'cus_autoR', email, name: 'Rec Urring', phone: null, created: 1700100000 }));
    const sub = (status) => ({ id: 'sub_autoR', customer: 'cus_autoR', status, created: 1700100100 });
    await rig.deliver(ev('evt_autoR2', 'customer.subscription.created', 1700100100, 'subscription', sub('active')));
    assert.ok(rig.contactTags(email).includes('auto-sub'));
    assert.ok(!rig.contactTags(email).includes('auto-pastdue'));
    await rig.deliver(ev('evt_autoR3', 'customer.subscription.updated', 1700100200, 'subscription', sub('past_due')));
    await rig.deliver(ev('evt_autoR4', 'customer.subscription.updated', 1700100300, 'subscription', sub('past_due')));
    assert.ok(rig.contactTags(email).includes('auto-pastdue'));
    assert.equal(runsOf('recurring_past_due'), 1, 'past due fires on the change, not on every update');
    assert.equal(runsOf('recurring_created'), 1);
    await rig.deliver(ev('evt_autoR5', 'customer.subscription.deleted', 1700100400, 'subscription', sub('canceled')));
    assert.ok(rig.contactTags(email).includes('auto-canceled'));
    const charge = (refunded) => ({ id: 'ch_autoR', amount: 3000, amount_captured: 3000, amount_refunded: refunded ? 3000 : 0,
      refunded, currency: 'usd', status: 'succeeded', paid: true, customer: 'cus_autoR',
      billing_details: { email, name: 'Rec Urring', phone: null } });
    await rig.deliver(ev('evt_autoR6', 'charge.succeeded', 1700100500, 'charge', charge(false)));
    assert.ok(!rig.contactTags(email).includes('auto-refunded'));
    await rig.deliver(ev('evt_autoR7', 'charge.refunded', 1700100600, 'charge', charge(true)));
    assert.ok(rig.contactTags(email).includes('auto-refunded'));
    assert.equal(runsOf('order_refunded'), 1);
  });
});

test('SSRF guard: private targets refused when the setting is off (by URL text and at connect time)', { timeout: 120000 }, async (t) => {
  const recv = await startReceiver();
  const app = await startApp({ STRIPELINK_OUTBOUND_BACKOFF_MS: '300' });
  const admin = await adminClient(app);
  t.after(async () => { await app.stop(); await recv.close(); });
  const create = (url) => admin.submit('/automations', '/automations',
    { name: 'guard', trigger: 'order_created', action_0: 'webhook', name_0: url });

  await t.test('https is required', async () => {
    const res = await create(`http://example.com/hook`);
    assert.equal(res.status, 422);
    assert.match(res.text, /https/);
  });

  for (const host of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '[::1]', '172.16.5.4', '192.168.1.1', '[fe80::1]', '[fc00::1]', '0.0.0.0']) {
    await t.test(`refused when saved: ${host}`, async () => {
      const res = await create(`https://${host}:${recv.port}/hook`);
      assert.equal(res.status, 422, `${host}: ${res.status}`);
      assert.match(res.text, /private, loopback, link-local or metadata/);
    });
  }

  await t.test('a name that resolves to loopback (localhost) is refused at connect time, after DNS', async () => {
    const res = await create(`https://localhost:${recv.port}/hook`);
    assert.equal(res.status, 201, 'a host name passes the text check');
    const id = Number(/action="\/automations\/(\d+)\/test"/.exec(res.text)[1]);
    const sent = await admin.submit(`/automations/${id}`, `/automations/${id}/test`, {});
    assert.equal(sent.status, 303);
    const q = (s) => app.sql(s).trim();
    await until('the refusal', () => q(`SELECT state FROM outbox WHERE automation_id = ${id}`) === 'failed');
    assert.match(q(`SELECT error FROM outbox_attempts`), /refused: (127\.0\.0\.1|::1) is a loopback/);
    assert.equal(recv.deliveries.length, 0, 'nothing reached the receiver');
    const page = await admin.get(`/automations/${id}`);
    assert.match(page.text, /refused: /);
  });
});
