// webhook.test.js - POST /webhooks/stripe/<id> end to end over nginx, with
// the fake Stripe and events signed by Stripe's own Node library.
//
// The event cases are data: tests/webhook/cases/*.json (events built from
// tests/fixtures/stripe/fixtures3.json objects, and the contacts, tags,
// orders, recurring payments, customer links and Stripe look-ups expected
// afterwards); tests/webhook/rejections.json lists the deliveries that must
// be refused. This file is the runner, plus the flows that need code:
// 404/410/413, skipped and failed deliveries replayed from the integration
// log, the log page itself, and a crash test (kill -9 of the FastCGI worker
// while a few hundred events arrive; every event must be applied once).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startApp, adminClient, parseCsv, sleep, PG } = require('./harness');
const { clone, fixtureObject, stripeEvent, wire, nowSeconds, stripeHeader } = require('./events');
const { start } = require('../fake-stripe/server');

const WEBHOOK_DIR = path.join(__dirname, '..', 'webhook');
const BASE_TAG = 'stripe-integration';
const MIB = 1024 * 1024;
const WAIT_S = 3; // STRIPELINK_WEBHOOK_WAIT for the tests' app

// ---- building events (tests/integration/events.js) ---------------------------

function randomSecret() {
  return `whsec_${crypto.randomBytes(24).toString('base64url')}`;
}

// The CSV escapes cells that a spreadsheet would run as a formula.
function csvUnescape(cell) {
  return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
}

// ISO 4217 minor units other than two (Stripe's zero- and three-decimal lists).
const CURRENCY_DECIMALS = {
  bif: 0, clp: 0, djf: 0, gnf: 0, isk: 0, jpy: 0, kmf: 0, krw: 0, mga: 0, pyg: 0, rwf: 0, ugx: 0,
  vnd: 0, vuv: 0, xaf: 0, xof: 0, xpf: 0, bhd: 3, jod: 3, kwd: 3, omr: 3, tnd: 3,
};

// "1,234.56 USD", "1,000 JPY", "1.234 KWD", as the contact page shows money
// (null: "unknown").
function money(minor, currency) {
  if (minor === null || minor === undefined) return 'unknown';
  const cur = (currency || '').toLowerCase();
  const d = cur in CURRENCY_DECIMALS ? CURRENCY_DECIMALS[cur] : 2;
  const sign = minor < 0 ? '-' : '';
  const digits = String(Math.abs(minor)).padStart(d + 1, '0');
  const whole = digits.slice(0, digits.length - d).replace(/\B(?=(\d{3})+$)/g, ',');
  const frac = d ? `.${digits.slice(digits.length - d)}` : '';
  return `${sign}${whole}${frac}${cur ? ` ${cur.toUpperCase()}` : ''}`;
}

// The money summary columns at the end of /contacts.csv, and their classes on the contact page.
const SUMMARY_COLUMNS = ['net_revenue', 'orders', 'first_order', 'last_order', 'active_recurring', 'monthly_recurring'];

function sorted(list) {
  return [...list].sort();
}

// ---- driving the app ----------------------------------------------------------

// Everything a test needs about one running app + fake + connection.
class Rig {
  static async create() {
    const rig = new Rig();
    rig.fake = await start({ port: 0 });
    // an event naming a customer not linked yet waits WAIT_S before the sync worker looks it up
    rig.app = await startApp({ STRIPELINK_STRIPE_API: rig.fake.url, STRIPELINK_WEBHOOK_WAIT: String(WAIT_S) });
    rig.admin = await adminClient(rig.app);
    const res = await rig.admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_abc123' });
    assert.equal(res.status, 303, `connect answered ${res.status}: ${res.text.slice(0, 300)}`);
    const m = /^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location);
    assert.ok(m, `connect redirected to ${res.location}`);
    rig.id = Number(m[1]);
    const endpoints = await rig.ctl('GET', 'webhook_endpoints');
    const list = Array.isArray(endpoints) ? endpoints : endpoints.data;
    const mine = list.filter((e) => e.url.endsWith(`/webhooks/stripe/${rig.id}`));
    assert.equal(mine.length, 1, `one endpoint for connection ${rig.id}: ${JSON.stringify(list.map((e) => e.url))}`);
    rig.secret = mine[0].secret;
    assert.match(rig.secret, /^whsec_/);
    rig.dbPath = path.join(rig.app.dataDir, 'stripelink.db');
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

  // Rows as objects, through the sqlite3 shell (inspection only).
  rows(query) {
    return this.app.rows(query);   // either engine
  }

  count(query) {
    return Number(this.app.sql(query).trim());
  }

  // Waits until no event waits for its customer any more (the sync worker
  // completes them off the request path).
  async drained(deadlineMs = 30000) {
    const deadline = Date.now() + deadlineMs;
    while (this.count('SELECT count(*) FROM pending_events') > 0) {
      if (Date.now() > deadline) throw new Error(`events still waiting after ${deadlineMs} ms:\n${this.app.log().slice(-2000)}`);
      await sleep(100);
    }
  }

  // Posts raw bytes to the endpoint; header null = no Stripe-Signature.
  async post(body, header, { connection = this.id, signal } = {}) {
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
    };
    if (header !== null && header !== undefined) headers['stripe-signature'] = header;
    const res = await fetch(`${this.app.base}/webhooks/stripe/${connection}`, { method: 'POST', headers, body, signal });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch (_) { /* not JSON (nginx pages) */ }
    return { status: res.status, text, json, type: res.headers.get('content-type') || '' };
  }

  // Signs event (an object, or exact text) with the endpoint's secret, now.
  async deliver(event, opts = {}) {
    const payload = typeof event === 'string' ? event : wire(event);
    return this.post(payload, stripeHeader(payload, opts.secret || this.secret, opts.timestamp), opts);
  }

  async settings(s) {
    const fields = {};
    for (const k of ['create_contact', 'create_order', 'create_recurring']) if (s[k]) fields[k] = 'on';
    const res = await this.admin.submit(`/apps/stripe/${this.id}`, `/apps/stripe/${this.id}/settings`, fields);
    assert.equal(res.status, 303, `settings answered ${res.status}`);
    const row = this.rows(`SELECT create_contact, create_order, create_recurring FROM connections WHERE id = ${this.id}`)[0];
    assert.deepEqual(row, {
      create_contact: s.create_contact ? 1 : 0,
      create_order: s.create_order ? 1 : 0,
      create_recurring: s.create_recurring ? 1 : 0,
    });
  }

  // /contacts.csv as { email_key: {email, first_name, last_name, phone, tags[]} }.
  async contactsCsv() {
    const res = await this.admin.get('/contacts.csv');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/csv/);
    const [header, ...rows] = parseCsv(res.text).filter((r) => r.length > 1);
    for (const k of SUMMARY_COLUMNS) assert.ok(header.includes(k), `contacts.csv has a ${k} column`);
    assert.deepEqual(header.slice(0, 5), ['email', 'first_name', 'last_name', 'phone', 'tags']);
    const byKey = {};
    for (const r of rows) {
      const key = r[0].toLowerCase();
      assert.equal(byKey[key], undefined, `${r[0]} appears twice in contacts.csv`);
      byKey[key] = {
        email: r[0], first_name: r[1], last_name: r[2], phone: csvUnescape(r[3]),
        tags: r[4] ? r[4].split(';') : [],
        summary: Object.fromEntries(SUMMARY_COLUMNS.map((k) => [k, csvUnescape(r[header.indexOf(k)] ?? '')])),
      };
    }
    return byKey;
  }

  contactId(email) {
    const r = this.rows(`SELECT id FROM contacts WHERE email_key = '${email.toLowerCase().replace(/'/g, "''")}'`);
    return r.length ? r[0].id : null;
  }

  // The orders and recurring payments tables of /contacts/<id>.
  async contactPage(contactId) {
    const res = await this.admin.get(`/contacts/${contactId}`);
    assert.equal(res.status, 200);
    // code, amount, refunded, status, dispute, created
    const orders = [...res.text.matchAll(/<tr><td><code>([^<]*)<\/code><\/td><td>([^<]*)<\/td><td>([^<]*)<\/td><td class="order-status">([^<]*)<\/td><td class="dispute">[^<]*<\/td><td>[^<]*<\/td><\/tr>/g)]
      .map((m) => ({ stripe_id: m[1], amount: m[2], refunded: m[3], status: m[4] }));
    const recurringTable = /<table class="list recurring">([\s\S]*?)<\/table>/.exec(res.text);
    const recurring = recurringTable
      ? [...recurringTable[1].matchAll(/<tr><td><code>([^<]*)<\/code><\/td><td class="recurring-status">([^<]*)<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td>/g)]
        .map((m) => ({ subscription_id: m[1], status: m[2], amount: m[3], interval: m[4] }))
      : [];
    const ordersTable = /<table class="list orders">([\s\S]*?)<\/table>/.exec(res.text);
    return {
      text: res.text,
      orders: ordersTable ? orders.filter((o) => ordersTable[1].includes(`<code>${o.stripe_id}</code>`)) : [],
      recurring,
    };
  }

  // The rows of the integration log page (one page, with its filters).
  async logPage(query = '') {
    const url = `/apps/stripe/${this.id}/log${query ? `?${query}` : ''}`;
    const res = await this.admin.get(url);
    assert.equal(res.status, 200, `${url} answered ${res.status}`);
    const entries = [...res.text.matchAll(/<tr>\s*<td>[^<]*<\/td><td><code>([^<]*)<\/code><\/td><td>([^<]*)<\/td>\s*<td><span class="status [^"]*">([^<]*)<\/span><\/td>\s*<td>(?:<a href="\/contacts\/(\d+)">[^<]*<\/a>)?<\/td>\s*<td>([^<]*)<\/td>\s*<td>(?:<form method="post" action="(\/apps\/stripe\/\d+\/log\/(\d+)\/replay)")?/g)]
      .map((m) => ({ event_id: m[1], type: m[2], result: m[3], contact_id: m[4] ? Number(m[4]) : null,
        reason: m[5], replay: m[6] || null, entry: m[7] ? Number(m[7]) : null }));
    return { url, text: res.text, entries };
  }

  // GET /v1/customers/<id> requests the fake saw.
  async lookups(customerId) {
    const reqs = await this.ctl('GET', `requests?method=GET&path=${encodeURIComponent(`/v1/customers/${customerId}`)}`);
    return reqs.length;
  }

  logResults(eventId) {
    return this.rows(`SELECT result FROM integration_log WHERE connection_id = ${this.id}
                      AND event_id = '${eventId}' ORDER BY id`).map((r) => r.result);
  }

  tableCounts() {
    return this.rows(`SELECT (SELECT count(*) FROM contacts) AS contacts, (SELECT count(*) FROM orders) AS orders,
                      (SELECT count(*) FROM recurring_payments) AS recurring`)[0];
  }
}

// The keys a case file may use (README.md in tests/webhook): a typo must
// fail loudly rather than silently check nothing.
const CASE_KEYS = {
  case: ['description', 'stripe_objects', 'events', 'expect'],
  step: ['id', 'type', 'created', 'fixture', 'set', 'expect', 'settings', 'check_lookups', 'wait'],
  expect: ['contacts', 'orders', 'recurring', 'absent', 'links', 'stripe_lookups', 'summaries'],
  contact: ['email', 'first_name', 'last_name', 'phone', 'tags'],
  order: ['stripe_id', 'email', 'amount', 'amount_refunded', 'currency', 'status', 'shown'],
  recurring: ['subscription_id', 'email', 'status', 'amount', 'currency', 'interval'],
};

function checkKeys(where, obj, allowed) {
  for (const k of Object.keys(obj)) assert.ok(allowed.includes(k), `${where}: unknown key "${k}"`);
}

function loadCases() {
  const dir = path.join(WEBHOOK_DIR, 'cases');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => {
    const c = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    checkKeys(f, c, CASE_KEYS.case);
    c.events.forEach((e, i) => checkKeys(`${f} events[${i}]`, e, CASE_KEYS.step));
    checkKeys(`${f} expect`, c.expect, CASE_KEYS.expect);
    for (const x of c.expect.contacts || []) checkKeys(`${f} contact`, x, CASE_KEYS.contact);
    for (const x of c.expect.orders || []) checkKeys(`${f} order`, x, CASE_KEYS.order);
    for (const x of c.expect.recurring || []) checkKeys(`${f} recurring`, x, CASE_KEYS.recurring);
    return { name: f.replace(/\.json$/, ''), ...c };
  });
}

const ALL_ON = { create_contact: true, create_order: true, create_recurring: true };

// Runs one case file: sends its events in order, then checks every effect.
async function runCase(rig, c) {
  const before = rig.tableCounts();
  for (const o of c.stripe_objects || []) {
    await rig.ctl('POST', 'objects', fixtureObject(o.fixture, o.set));
  }
  const lookupsBefore = {};
  for (const cus of Object.keys(c.expect.stripe_lookups || {})) lookupsBefore[cus] = await rig.lookups(cus);
  const sent = []; // [event id, result answered]
  let changedSettings = false;
  try {
    for (const [i, step] of c.events.entries()) {
      if (step.settings) {
        await rig.settings(step.settings);
        changedSettings = true;
        continue;
      }
      if (step.check_lookups) {
        for (const [cus, n] of Object.entries(step.check_lookups)) {
          if (!(cus in lookupsBefore)) lookupsBefore[cus] = 0;
          assert.equal(await rig.lookups(cus) - lookupsBefore[cus], n, `${c.name} step ${i}: GET /v1/customers/${cus} so far`);
        }
        continue;
      }
      if (step.wait) {
        await rig.drained();
        continue;
      }
      const event = stripeEvent({
        id: step.id || `evt_wh_${c.name}_${i}`,
        type: step.type,
        created: step.created,
        object: fixtureObject(step.fixture, step.set),
      });
      const res = await rig.deliver(event);
      const want = step.expect || { status: 200, result: 'processed' };
      const what = `${c.name} step ${i} (${step.type} ${event.id})`;
      assert.equal(res.status, want.status, `${what}: HTTP ${res.status} ${res.text}`);
      assert.ok(res.json, `${what}: answer is not JSON: ${res.text}`);
      assert.match(res.type, /^application\/json/);
      if (want.status === 200) assert.equal(res.json.received, true, `${what}: ${res.text}`);
      if (want.result !== '*') assert.equal(res.json.result, want.result, `${what}: ${res.text}`);
      if (want.reason) {
        assert.ok((res.json.reason || '').includes(want.reason), `${what}: reason ${res.json.reason}`);
        const logged = rig.rows(`SELECT reason FROM integration_log WHERE connection_id = ${rig.id} AND event_id = '${event.id}' ORDER BY id DESC LIMIT 1`);
        assert.ok(logged.length && logged[0].reason.includes(want.reason), `${what}: logged reason ${JSON.stringify(logged)}`);
      }
      sent.push([event.id, res.json.result]);
      // a waiting event is completed later: its log shows waiting, then the completion
      if (res.json.result === 'waiting') sent.push([event.id, want.then || 'processed']);
    }
  } finally {
    if (changedSettings) await rig.settings(ALL_ON);
  }

  await rig.drained();
  // Every delivery is in the integration log, with the result it was answered.
  const perEvent = new Map();
  for (const [id, result] of sent) perEvent.set(id, [...(perEvent.get(id) || []), result]);
  for (const [id, results] of perEvent) {
    assert.deepEqual(rig.logResults(id), results, `integration log rows of ${id}`);
  }
  // A duplicate never shows up as a second processed row.
  for (const [id] of perEvent) {
    assert.ok(rig.logResults(id).filter((r) => r === 'processed').length <= 1, `${id} processed twice`);
  }

  const exp = c.expect;
  const expContacts = exp.contacts || [];
  const expOrders = exp.orders || [];
  const expRecurring = exp.recurring || [];

  // Exactly these contacts, orders and recurring payments were added.
  const after = rig.tableCounts();
  assert.equal(after.contacts - before.contacts, expContacts.length, `${c.name}: contacts added`);
  assert.equal(after.orders - before.orders, expOrders.length, `${c.name}: orders added`);
  assert.equal(after.recurring - before.recurring, expRecurring.length, `${c.name}: recurring payments added`);

  // Contacts, through /contacts.csv.
  const csv = await rig.contactsCsv();
  for (const want of expContacts) {
    const got = csv[want.email.toLowerCase()];
    assert.ok(got, `${c.name}: ${want.email} is not in contacts.csv`);
    assert.equal(got.email, want.email, `${c.name}: email as shown`);
    for (const k of ['first_name', 'last_name', 'phone']) {
      if (k in want) assert.equal(got[k], want[k], `${c.name}: ${want.email} ${k}`);
    }
    if (want.tags) assert.deepEqual(sorted(got.tags), sorted(want.tags), `${c.name}: ${want.email} tags`);
    else assert.ok(got.tags.includes(BASE_TAG), `${c.name}: ${want.email} has ${BASE_TAG}`);
  }
  for (const email of exp.absent || []) {
    assert.equal(csv[email.toLowerCase()], undefined, `${c.name}: ${email} must not be a contact`);
  }

  // Orders and recurring payments, in the database and on the contact pages.
  const pages = new Map();
  async function page(email) {
    const id = rig.contactId(email);
    assert.ok(id, `${c.name}: no contact ${email}`);
    if (!pages.has(id)) pages.set(id, await rig.contactPage(id));
    return pages.get(id);
  }
  for (const want of expOrders) {
    const rows = rig.rows(`SELECT o.stripe_id, o.amount, o.amount_refunded, o.currency, o.status, c.email_key
                           FROM orders o LEFT JOIN contacts c ON c.id = o.contact_id WHERE o.stripe_id = '${want.stripe_id}'`);
    assert.equal(rows.length, 1, `${c.name}: order ${want.stripe_id}`);
    assert.deepEqual(rows[0], {
      stripe_id: want.stripe_id, amount: want.amount, amount_refunded: want.amount_refunded,
      currency: want.currency, status: want.status, email_key: want.email ? want.email.toLowerCase() : null,
    }, `${c.name}: order ${want.stripe_id}`);
    if (want.email) {
      const p = await page(want.email);
      const row = p.orders.find((o) => o.stripe_id === want.stripe_id);
      assert.ok(row, `${c.name}: ${want.stripe_id} is not on ${want.email}'s page`);
      assert.deepEqual(row, {
        stripe_id: want.stripe_id, amount: money(want.amount, want.currency),
        refunded: want.amount_refunded ? money(want.amount_refunded, want.currency) : '', status: want.status,
      });
      if (want.shown) assert.equal(row.amount, want.shown, `${c.name}: ${want.stripe_id} as shown`);
    }
  }
  for (const want of expRecurring) {
    const rows = rig.rows(`SELECT r.subscription_id, r.status, r.amount, r.currency, r.interval, c.email_key
                           FROM recurring_payments r LEFT JOIN contacts c ON c.id = r.contact_id
                           WHERE r.subscription_id = '${want.subscription_id}'`);
    assert.equal(rows.length, 1, `${c.name}: recurring payment ${want.subscription_id}`);
    const got = rows[0];
    assert.equal(got.email_key, want.email.toLowerCase(), `${c.name}: ${want.subscription_id} contact`);
    assert.equal(got.status, want.status, `${c.name}: ${want.subscription_id} status`);
    assert.equal(got.amount, want.amount, `${c.name}: ${want.subscription_id} amount`);
    assert.equal(got.currency, want.currency, `${c.name}: ${want.subscription_id} currency`);
    if ('interval' in want) assert.equal(got.interval, want.interval, `${c.name}: ${want.subscription_id} interval`);
    const p = await page(want.email);
    const row = p.recurring.find((r) => r.subscription_id === want.subscription_id);
    assert.ok(row, `${c.name}: ${want.subscription_id} is not on ${want.email}'s page`);
    assert.equal(row.status, want.status);
    assert.equal(row.amount, money(want.amount, want.currency));
  }
  // A contact with no expected orders / recurring payments shows none.
  for (const want of expContacts) {
    const key = want.email.toLowerCase();
    const p = await page(want.email);
    const ordersHere = expOrders.filter((o) => o.email && o.email.toLowerCase() === key).map((o) => o.stripe_id);
    const recurringHere = expRecurring.filter((r) => r.email.toLowerCase() === key).map((r) => r.subscription_id);
    assert.deepEqual(sorted(p.orders.map((o) => o.stripe_id)), sorted(ordersHere), `${c.name}: orders on ${want.email}'s page`);
    assert.deepEqual(sorted(p.recurring.map((r) => r.subscription_id)), sorted(recurringHere),
      `${c.name}: recurring payments on ${want.email}'s page`);
    if (!ordersHere.length) assert.match(p.text, /No orders\./);
    if (!recurringHere.length) assert.match(p.text, /No recurring payments\./);
  }

  // The money summary of a contact, in /contacts.csv and on its page ("" is shown as "none").
  for (const [email, want] of Object.entries(exp.summaries || {})) {
    checkKeys(`${c.name} summaries`, want, SUMMARY_COLUMNS);
    const got = csv[email.toLowerCase()];
    assert.ok(got, `${c.name}: ${email} is not in contacts.csv`);
    const p = await page(email);
    for (const [k, v] of Object.entries(want)) {
      assert.equal(got.summary[k], String(v), `${c.name}: ${email} ${k} in contacts.csv`);
      const m = new RegExp(`<dd class="${k.replace(/_/g, '-').replace('orders', 'order-count')}">([^<]*)</dd>`).exec(p.text);
      assert.ok(m, `${c.name}: ${k} on ${email}'s page`);
      assert.equal(m[1], String(v) === '' ? 'none' : String(v), `${c.name}: ${email} ${k} on the page`);
    }
  }

  for (const [cus, email] of Object.entries(exp.links || {})) {
    const rows = rig.rows(`SELECT c.email_key FROM stripe_customers s JOIN contacts c ON c.id = s.contact_id
                           WHERE s.customer_id = '${cus}'`);
    assert.deepEqual(rows.map((r) => r.email_key), email ? [email.toLowerCase()] : [], `${c.name}: link of ${cus}`);
  }
  for (const [cus, n] of Object.entries(exp.stripe_lookups || {})) {
    assert.equal(await rig.lookups(cus) - lookupsBefore[cus], n, `${c.name}: GET /v1/customers/${cus} requests`);
  }
}

// A charge.succeeded event for its own email (rejections, limits).
function chargeEvent(tag, extra = {}) {
  return stripeEvent({
    id: `evt_wh${tag}`,
    type: 'charge.succeeded',
    created: 1700020000,
    object: fixtureObject('charge', {
      id: `ch_wh${tag}`, amount: 4000, amount_captured: 4000, currency: 'usd', status: 'succeeded', paid: true, customer: null,
      billing_details: { email: `rejected.${tag.toLowerCase()}@example.com`, name: 'Re Jected', phone: null },
      ...extra,
    }),
  });
}

// Builds the delivery a rejections.json case describes.
function rejectionDelivery(rig, rc, tag) {
  const event = chargeEvent(tag);
  let payload;
  if (rc.body !== undefined) {
    payload = rc.body;
  } else {
    const e = clone(event);
    if (rc.drop) delete e[rc.drop];
    if (rc.replace) Object.assign(e, rc.replace);
    payload = wire(e);
  }
  const ts = nowSeconds() + (rc.timestamp_offset || 0);
  let header;
  switch (rc.signature) {
    case 'none': header = null; break;
    case 'stripe': header = stripeHeader(payload, rig.secret, ts); break;
    case 'wrong_secret': header = stripeHeader(payload, randomSecret(), ts); break;
    case 'raw': header = rc.header; break;
    case 'v0_only': header = stripeHeader(payload, rig.secret, ts, 'v0'); break;
    case 'no_t': header = stripeHeader(payload, rig.secret, ts).split(',').filter((p) => !p.startsWith('t=')).join(','); break;
    case 'extra_v1': {
      const good = stripeHeader(payload, rig.secret, ts);
      const [t, v1] = good.split(',');
      header = `${t},v1=${crypto.randomBytes(32).toString('hex')},${v1},v0=${crypto.randomBytes(32).toString('hex')}`;
      break;
    }
    default: throw new Error(`unknown signature kind ${rc.signature}`);
  }
  if (rc.tamper) {
    const at = payload.indexOf('rejected.');
    payload = `${payload.slice(0, at)}s${payload.slice(at + 1)}`;
  }
  return { event, payload, header };
}

test('webhook endpoint, end to end over nginx', async (t) => {
  const rig = await Rig.create();
  t.after(() => rig.close());

  await t.test('the connection starts with every switch on and an empty log', async () => {
    assert.deepEqual(rig.rows(`SELECT create_contact, create_order, create_recurring FROM connections WHERE id = ${rig.id}`)[0],
      { create_contact: 1, create_order: 1, create_recurring: 1 });
    const log = await rig.logPage();
    assert.deepEqual(log.entries, []);
    assert.match(log.text, /No deliveries yet/);
  });

  for (const c of loadCases()) {
    await t.test(`case ${c.name}: ${c.description}`, async () => {
      try {
        await runCase(rig, c);
      } catch (err) {
        // The integration log and the app's stderr about this case's events.
        const ids = [...new Set(c.events.filter((e) => !e.settings).map((e) => e.id || `evt_wh_${c.name}_${c.events.indexOf(e)}`))];
        const rows = rig.rows(`SELECT event_id, type, result, reason, contact_id FROM integration_log
                               WHERE event_id IN (${ids.map((id) => `'${id}'`).join(',')}) ORDER BY id`);
        const lines = rig.app.log().split('\n').filter((l) => ids.some((id) => l.includes(id)));
        err.message += `\nintegration log:\n${rows.map((r) => JSON.stringify(r)).join('\n')}` +
          (lines.length ? `\napp log:\n${lines.join('\n')}` : '');
        throw err;
      }
    });
  }

  const rejections = JSON.parse(fs.readFileSync(path.join(WEBHOOK_DIR, 'rejections.json'), 'utf8'));
  for (const [i, rc] of rejections.cases.entries()) {
    await t.test(`400: ${rc.name}`, async () => {
      const tag = `Rej${i}`;
      const { event, payload, header } = rejectionDelivery(rig, rc, tag);
      const email = event.data.object.billing_details.email;
      const before = rig.tableCounts();
      const rejectedBefore = rig.count(`SELECT count(*) FROM integration_log WHERE result = 'rejected'`);
      const res = await rig.post(payload, header);
      assert.equal(res.status, 400, `${rc.name}: ${res.status} ${res.text}`);
      assert.ok(res.json, `not JSON: ${res.text}`);
      assert.equal(res.json.result, 'rejected');
      assert.equal(typeof res.json.error, 'string');
      assert.ok(res.json.error.length > 0);
      assert.equal(res.json.received, undefined);
      if (rc.reason) assert.match(res.json.error, new RegExp(rc.reason, 'i'));
      assert.ok(!res.text.includes(rig.secret), 'the answer shows the signing secret');
      assert.deepEqual(rig.tableCounts(), before, 'a refused delivery changes nothing');
      assert.equal(rig.contactId(email), null);
      assert.equal(rig.count(`SELECT count(*) FROM stripe_events WHERE event_id = '${event.id}'`), 0,
        'a refused delivery must not record the event id');
      const logged = rig.rows(`SELECT event_id, result, reason FROM integration_log WHERE result = 'rejected' ORDER BY id DESC LIMIT 1`);
      assert.equal(rig.count(`SELECT count(*) FROM integration_log WHERE result = 'rejected'`), rejectedBefore + 1,
        'the refusal is in the integration log');
      assert.ok(logged[0].reason.length > 0, 'logged with its reason');
      assert.ok(!logged[0].reason.includes(rig.secret));
      if (rc.logged_id) assert.equal(logged[0].event_id, event.id, 'logged with the event id it could read');
      if (rc.then_valid) {
        const ok = await rig.deliver(event);
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.json.result, 'processed');
        assert.ok(rig.contactId(email));
      }
    });
  }
  for (const [i, rc] of rejections.accepted.entries()) {
    await t.test(`200: ${rc.name}`, async () => {
      const { event, payload, header } = rejectionDelivery(rig, rc, `Acc${i}`);
      const res = await rig.post(payload, header);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.result, 'processed');
      assert.ok(rig.contactId(event.data.object.billing_details.email));
    });
  }

  await t.test('404 for a connection that does not exist', async () => {
    const event = chargeEvent('NoConn');
    for (const connection of [rig.id + 1000, 0]) {
      const res = await rig.deliver(event, { connection });
      assert.equal(res.status, 404, `connection ${connection}: ${res.status} ${res.text}`);
    }
    assert.equal(rig.contactId(event.data.object.billing_details.email), null);
    assert.equal(rig.count(`SELECT count(*) FROM stripe_events WHERE event_id = '${event.id}'`), 0);
  });

  await t.test('413 for a body over 1 MiB; exactly 1 MiB is processed', async () => {
    // Pads the charge's metadata until the wire JSON is `size` bytes.
    function ofSize(tag, size) {
      const ev = chargeEvent(tag, { metadata: { pad: '' } });
      const bare = wire(ev).length;
      ev.data.object.metadata.pad = 'x'.repeat(size - bare);
      const payload = wire(ev);
      assert.equal(Buffer.byteLength(payload), size);
      return { ev, payload };
    }
    const big = ofSize('TooBig', MIB + 1);
    const res = await rig.post(big.payload, stripeHeader(big.payload, rig.secret));
    assert.equal(res.status, 413, `${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(rig.contactId(big.ev.data.object.billing_details.email), null);
    assert.equal(rig.count(`SELECT count(*) FROM stripe_events WHERE event_id = '${big.ev.id}'`), 0);

    const limit = ofSize('JustFits', MIB);
    const ok = await rig.post(limit.payload, stripeHeader(limit.payload, rig.secret));
    assert.equal(ok.status, 200, `${ok.status} ${ok.text.slice(0, 200)}`);
    assert.equal(ok.json.result, 'processed');
    assert.ok(rig.contactId(limit.ev.data.object.billing_details.email));
  });

  await t.test('skipped (no email where the mapping looks) → mapping fixed → Replay from the log → processed', async () => {
    const event = stripeEvent({
      id: 'evt_whSkipMapping01', type: 'charge.succeeded', created: 1700030000,
      object: fixtureObject('charge', {
        id: 'ch_whSkipMapping01', amount: 6100, amount_captured: 6100, currency: 'usd', status: 'succeeded', paid: true, customer: null,
        receipt_email: 'receipt.only@example.com',
        billing_details: { email: null, name: 'Rece Ipt', phone: '+49 30 123456' },
      }),
    });
    const before = rig.tableCounts();
    const res = await rig.deliver(event);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.result, 'skipped');
    assert.match(res.json.reason, /billing_details\.email/);
    assert.deepEqual(rig.tableCounts(), before, 'a skipped event writes no contact, order or recurring payment');

    const log = await rig.logPage('result=skipped&type=charge.succeeded');
    assert.ok(log.entries.length >= 1);
    assert.ok(log.entries.every((e) => e.result === 'skipped' && e.type === 'charge.succeeded'));
    const entry = log.entries.find((e) => e.event_id === event.id);
    assert.ok(entry, `the skipped event is in the filtered log: ${JSON.stringify(log.entries)}`);
    assert.match(entry.reason, /billing_details\.email/);
    assert.ok(entry.replay, 'a skipped event has a Replay button');

    // Replaying before the cause is fixed skips again.
    const early = await rig.admin.submit(log.url, entry.replay, {});
    assert.equal(early.status, 303);
    assert.match(early.location, /replayed=skipped/);
    assert.equal(rig.contactId('receipt.only@example.com'), null);

    // Map the charge's receipt email instead (wizard steps 2 and 3).
    const resource = await rig.admin.submit(`/apps/stripe/${rig.id}/resource`, `/apps/stripe/${rig.id}/resource`,
      { resource: 'charge', sync_type: 'new' });
    assert.equal(resource.status, 303, resource.text.slice(0, 300));
    const mapping = await rig.admin.submit(`/apps/stripe/${rig.id}/mapping/charge`, `/apps/stripe/${rig.id}/mapping/charge`, {
      email_path: 'receipt_email', id_path: '', id_target: '', rows: '2',
      path_0: 'billing_details.name', target_0: 'full_name', path_1: 'billing_details.phone', target_1: 'phone', action: 'finish',
    });
    assert.equal(mapping.status, 303, mapping.text.slice(0, 500));
    assert.match(mapping.location, /\/apps\/stripe\/\d+\/done/);
    try {
      const replay = await rig.admin.submit(log.url, entry.replay, {});
      assert.equal(replay.status, 303);
      assert.match(replay.location, /replayed=processed/);
      const csv = await rig.contactsCsv();
      const got = csv['receipt.only@example.com'];
      assert.ok(got, 'the replay made the contact');
      const { summary, ...shown } = got;
      assert.deepEqual({ ...shown, tags: sorted(got.tags) }, {
        email: 'receipt.only@example.com', first_name: 'Rece', last_name: 'Ipt', phone: '+49 30 123456',
        tags: [BASE_TAG, 'stripe-integration-charge-succeeded'],
      });
      assert.equal(summary.orders, '1', 'the replayed order counts in the contact summary');
      const order = rig.rows(`SELECT o.amount, o.status, c.email_key FROM orders o JOIN contacts c ON c.id = o.contact_id
                              WHERE o.stripe_id = 'ch_whSkipMapping01'`);
      assert.deepEqual(order, [{ amount: 6100, status: 'paid', email_key: 'receipt.only@example.com' }]);
      assert.deepEqual(rig.logResults(event.id), ['skipped', 'skipped', 'processed']);
      const after = await rig.logPage(`type=charge.succeeded&result=processed`);
      const done = after.entries.find((e) => e.event_id === event.id);
      assert.ok(done, 'the replay is in the log');
      assert.equal(done.contact_id, rig.contactId('receipt.only@example.com'), 'the log links the contact it touched');
      assert.equal(done.replay, null, 'a processed entry has no Replay button');

      // Stripe's own retry of the same event now changes nothing.
      const counts = rig.tableCounts();
      const again = await rig.deliver(event);
      assert.equal(again.status, 200);
      assert.equal(again.json.result, 'duplicate');
      assert.deepEqual(rig.tableCounts(), counts);

      // The event is applied now: the old skipped entry must not apply it a
      // second time (Replay button left on it, or a second click), which
      // would put the charge's older name back over a newer one.
      const renamed = await rig.deliver(stripeEvent({
        id: 'evt_whSkipMappingRename01', type: 'customer.updated', created: 1700030100,
        object: fixtureObject('customer', { id: 'cus_whReceipt01', email: 'receipt.only@example.com', name: 'Renamed Later' }),
      }));
      assert.equal(renamed.json.result, 'processed');
      const stale = await rig.logPage('result=skipped&type=charge.succeeded');
      const old = stale.entries.find((e) => e.entry === entry.entry);
      const second = await rig.admin.submit(log.url, entry.replay, {});
      assert.ok(second.status < 500, `second replay answered ${second.status}`);
      assert.equal(rig.logResults(event.id).filter((r) => r === 'processed').length, 1,
        `an applied event must not be applied again by Replay (button still shown: ${Boolean(old && old.replay)}, ` +
        `second replay → ${second.status} ${second.location || ''})`);
      assert.equal((await rig.contactsCsv())['receipt.only@example.com'].first_name, 'Renamed',
        'a second replay of the older charge event overwrote the newer name');
    } finally {
      // Back to the default charge mapping for the tests below.
      const back = await rig.admin.submit(`/apps/stripe/${rig.id}/mapping/charge`, `/apps/stripe/${rig.id}/mapping/charge`, {
        email_path: 'billing_details.email', id_path: '', id_target: '', rows: '2',
        path_0: 'billing_details.name', target_0: 'full_name', path_1: 'billing_details.phone', target_1: 'phone', action: 'finish',
      });
      assert.equal(back.status, 303);
    }
  });

  await t.test('waiting → customer unknown at Stripe after the wait → skipped → customer added at Stripe → Replay → processed', async () => {
    const event = stripeEvent({
      id: 'evt_whSkipCustomer01', type: 'customer.subscription.created', created: 1700031000,
      object: fixtureObject('subscription', { id: 'sub_whSkipCustomer01', customer: 'cus_whNotYet01', status: 'active' }),
    });
    const before = rig.tableCounts();
    const res = await rig.deliver(event);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.result, 'waiting', 'answered at once, waiting for its customer');
    assert.match(res.json.reason, /cus_whNotYet01/);
    assert.equal(await rig.lookups('cus_whNotYet01'), 0, 'no Stripe call while answering');
    await rig.drained();
    assert.deepEqual(rig.tableCounts(), before);
    assert.equal(await rig.lookups('cus_whNotYet01'), 1, 'after the wait the sync worker asked Stripe once');
    assert.deepEqual(rig.logResults(event.id), ['waiting', 'skipped']);

    await rig.ctl('POST', 'objects', fixtureObject('customer', { id: 'cus_whNotYet01', email: 'not.yet@example.com', name: 'Not Yet' }));
    const log = await rig.logPage('result=skipped');
    const entry = log.entries.find((e) => e.event_id === event.id);
    assert.ok(entry && entry.replay, 'Replay button for the skipped subscription event');
    assert.match(entry.reason, /cus_whNotYet01|customer|email/);
    const replay = await rig.admin.submit(log.url, entry.replay, {});
    assert.equal(replay.status, 303);
    assert.match(replay.location, /replayed=processed/);
    const csv = await rig.contactsCsv();
    const got = csv['not.yet@example.com'];
    assert.ok(got, 'the contact was made from the customer Stripe now has');
    assert.equal(got.first_name, 'Not');
    assert.equal(got.last_name, 'Yet');
    assert.deepEqual(sorted(got.tags), [BASE_TAG, 'stripe-integration-customer-subscription-created']);
    const rec = rig.rows(`SELECT r.status, r.amount, c.email_key FROM recurring_payments r JOIN contacts c ON c.id = r.contact_id
                          WHERE r.subscription_id = 'sub_whSkipCustomer01'`);
    assert.deepEqual(rec, [{ status: 'active', amount: 2000, email_key: 'not.yet@example.com' }]);
    assert.deepEqual(rig.rows(`SELECT contact_id FROM stripe_customers WHERE customer_id = 'cus_whNotYet01'`),
      [{ contact_id: rig.contactId('not.yet@example.com') }]);
  });

  await t.test('Stripe unreachable: the delivery still answers 200 (waiting); the background lookup retries until Stripe answers', async () => {
    await rig.ctl('POST', 'objects', fixtureObject('customer', { id: 'cus_whDown01', email: 'stripe.was.down@example.com', name: 'Dow N' }));
    const event = stripeEvent({
      id: 'evt_whDown01', type: 'customer.subscription.created', created: 1700032000,
      object: fixtureObject('subscription', { id: 'sub_whDown01', customer: 'cus_whDown01', status: 'active' }),
    });
    const before = rig.tableCounts();
    await rig.ctl('POST', 'faults', { unreachable: true });
    try {
      const res = await rig.deliver(event);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.result, 'waiting');
      // the sync worker's lookup meets the outage: the event stays waiting
      const deadline = Date.now() + 30000;
      while (await rig.lookups('cus_whDown01') < 1) {
        assert.ok(Date.now() < deadline, 'the sync worker tried the lookup');
        await sleep(100);
      }
      assert.equal(rig.count(`SELECT count(*) FROM pending_events WHERE event_id = '${event.id}'`), 1, 'still waiting');
      assert.deepEqual(rig.tableCounts(), before);
    } finally {
      await rig.ctl('DELETE', 'faults');
    }
    await rig.drained(60000);
    assert.deepEqual(rig.logResults(event.id), ['waiting', 'processed']);
    assert.ok(rig.contactId('stripe.was.down@example.com'));
    assert.equal(rig.count(`SELECT count(*) FROM recurring_payments WHERE subscription_id = 'sub_whDown01'`), 1);
    const again = await rig.deliver(event);
    assert.equal(again.json.result, 'duplicate', 'a redelivery after completion changes nothing');
  });

  await t.test("a waiting event is completed in its customer's own transaction (the sync worker paused meanwhile)", async () => {
    const sync = syncPid(rig.app);
    assert.ok(sync, 'found the sync worker');
    process.kill(sync, 'SIGSTOP');
    // the parse made when the waiting event arrived is reused by its completion
    const parses = async () => {
      const text = await (await fetch(`${rig.app.base}/metrics`)).text();
      const get = (p) => Number((new RegExp(`^stripelink_waiting_event_parses_total\\{process="web",parse="${p}"\\} (\\d+)$`, 'm').exec(text) || [])[1]);
      return { reused: get('reused'), again: get('again') };
    };
    const before = await parses();
    try {
      const paid = stripeEvent({
        id: 'evt_whInline01', type: 'invoice.paid', created: 1700034000,
        object: fixtureObject('invoice', { id: 'in_whInline01', customer: 'cus_whInline01', customer_email: null }),
      });
      assert.equal((await rig.deliver(paid)).json.result, 'waiting');
      const cus = stripeEvent({
        id: 'evt_whInline02', type: 'customer.created', created: 1700034010,
        object: fixtureObject('customer', { id: 'cus_whInline01', email: 'inline.wait@example.com', name: 'Inline Wait' }),
      });
      assert.equal((await rig.deliver(cus)).json.result, 'processed');
      // answered after the commit that also completed the waiting event: nothing left for the paused worker
      assert.deepEqual(rig.logResults(paid.id), ['waiting', 'processed']);
      assert.equal(rig.count(`SELECT count(*) FROM pending_events WHERE event_id = '${paid.id}'`), 0);
      assert.equal(rig.count(`SELECT count(*) FROM stripe_events WHERE event_id = '${paid.id}' AND result = 'processed'`), 1);
      assert.equal(await rig.lookups('cus_whInline01'), 0, 'no Stripe call');
      assert.deepEqual(await parses(), { reused: before.reused + 1, again: before.again },
        'the completion reused the parse made on arrival');
      const again = await rig.deliver(paid);
      assert.equal(again.json.result, 'duplicate', "Stripe's retry of the completed event changes nothing");
    } finally {
      process.kill(sync, 'SIGCONT');
    }
  });

  await t.test('kill -9 of both workers while an event waits: it is still completed, once, when its customer arrives', async () => {
    const sub = stripeEvent({
      id: 'evt_whKillWait01', type: 'customer.subscription.created', created: 1700033000,
      object: fixtureObject('subscription', { id: 'sub_whKillWait01', customer: 'cus_whKillWait01', status: 'active' }),
    });
    const res = await rig.deliver(sub);
    assert.equal(res.json.result, 'waiting');
    const fcgi = workerPid(rig.app);
    const sync = syncPid(rig.app);
    assert.ok(fcgi && sync, 'found both workers');
    process.kill(fcgi, 'SIGKILL');
    process.kill(sync, 'SIGKILL');
    await waitForWorker(rig.app, fcgi);
    const cus = stripeEvent({
      id: 'evt_whKillWait02', type: 'customer.created', created: 1700033010,
      object: fixtureObject('customer', { id: 'cus_whKillWait01', email: 'kill.wait@example.com', name: 'Kill Wait' }),
    });
    assert.equal((await rig.deliver(cus)).json.result, 'processed');
    await rig.drained(30000);
    assert.ok(syncPid(rig.app) && syncPid(rig.app) !== sync, 'the supervisor restarted the sync worker');
    assert.deepEqual(rig.logResults(sub.id), ['waiting', 'processed']);
    assert.equal(await rig.lookups('cus_whKillWait01'), 0, 'completed from the link, not from Stripe');
    const rec = rig.rows(`SELECT c.email_key FROM recurring_payments r JOIN contacts c ON c.id = r.contact_id
                          WHERE r.subscription_id = 'sub_whKillWait01'`);
    assert.deepEqual(rec, [{ email_key: 'kill.wait@example.com' }]);
  });

  await t.test('the integration log page: every delivery, filters by result and type, reasons, no secrets', async () => {
    const total = rig.count(`SELECT count(*) FROM integration_log WHERE connection_id = ${rig.id}`);
    const all = await rig.logPage();
    assert.match(all.text, new RegExp(`Integration log <span class="count">${total}</span>`));
    assert.equal(all.entries.length, Math.min(total, 50));
    // newest first
    const newest = rig.rows(`SELECT event_id FROM integration_log WHERE connection_id = ${rig.id} ORDER BY id DESC LIMIT 1`)[0];
    assert.equal(all.entries[0].event_id, newest.event_id || '');

    for (const result of ['processed', 'duplicate', 'skipped', 'ignored', 'rejected', 'waiting']) {
      const n = rig.count(`SELECT count(*) FROM integration_log WHERE connection_id = ${rig.id} AND result = '${result}'`);
      assert.ok(n > 0, `the run above produced ${result} entries`);
      const p = await rig.logPage(`result=${result}`);
      assert.match(p.text, new RegExp(`<span class="count">${n}</span>`), `total shown for result=${result}`);
      assert.equal(p.entries.length, Math.min(n, 50));
      assert.ok(p.entries.every((e) => e.result === result), `only ${result} rows`);
      if (result !== 'processed' && result !== 'ignored' && result !== 'duplicate') {
        assert.ok(p.entries.every((e) => e.reason.length > 0), `${result} rows say why`);
      }
      assert.ok(!p.text.includes(rig.secret), 'the signing secret is never shown');
      assert.ok(!p.text.includes('sk_test_abc123'), 'the API key is never shown');
    }
    const dup = await rig.logPage('result=duplicate&type=charge.succeeded');
    assert.deepEqual(dup.entries.filter((e) => e.event_id === 'evt_whDup01').map((e) => e.result), ['duplicate', 'duplicate']);
    const ignored = await rig.logPage('type=plan.created');
    assert.deepEqual(ignored.entries.map((e) => [e.type, e.result]), [['plan.created', 'ignored']]);
    const rejected = await rig.logPage('result=rejected');
    assert.ok(rejected.entries.some((e) => /signature/i.test(e.reason)), 'signature failures are logged with their reason');
    assert.ok(rejected.entries.every((e) => e.replay === null), 'a rejected delivery cannot be replayed');

    // Paging: 50 per page, newest first, the second page continues the first.
    assert.ok(total > 50, 'enough deliveries for a second page');
    const p2 = await rig.logPage('page=2');
    assert.match(p2.text, /Page 2 of \d+/);
    const fifty = rig.rows(`SELECT event_id, result FROM integration_log WHERE connection_id = ${rig.id}
                            ORDER BY id DESC LIMIT 1 OFFSET 50`)[0];
    assert.deepEqual([p2.entries[0].event_id, p2.entries[0].result], [fifty.event_id || '', fifty.result]);
    // Nothing anywhere in the database or the data directory holds the secret whole.
    const dump = rig.app.dump();
    assert.ok(!dump.includes(rig.secret), 'the signing secret is stored encrypted');
    assert.ok(!rig.app.log().includes(rig.secret), 'the signing secret is never logged');
  });

  await t.test('contacts are never added to a list; nothing synced is lost on disconnect; 410 afterwards', async () => {
    const tables = rig.rows(PG
      ? `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE '%list%'`
      : `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%list%'`).map((r) => r.name);
    for (const table of tables) {
      assert.equal(rig.count(`SELECT count(*) FROM ${table}`), 0, `${table} must stay empty`);
    }
    const before = rig.tableCounts();
    const res = await rig.admin.submit(`/apps/stripe/${rig.id}/disconnect`, `/apps/stripe/${rig.id}/disconnect`, {});
    assert.equal(res.status, 303);
    assert.deepEqual(rig.tableCounts(), before, 'contacts, orders and recurring payments stay');
    const event = chargeEvent('AfterDisconnect');
    const gone = await rig.deliver(event);
    assert.equal(gone.status, 410, `${gone.status} ${gone.text}`);
    assert.equal(rig.contactId(event.data.object.billing_details.email), null);
    const unsigned = await rig.post(wire(event), null);
    assert.equal(unsigned.status, 410, 'disconnected is said before the signature is looked at');
  });
});

// ---- crash test --------------------------------------------------------------------

// The FastCGI worker's pid (the supervisor's child running `stripelink serve`).
function workerPid(app) {
  try {
    const out = execFileSync('pgrep', ['-f', '-P', String(app.child.pid), 'stripelink serve'], { encoding: 'utf8' }).trim();
    const pids = out.split('\n').filter(Boolean).map(Number);
    return pids.length === 1 ? pids[0] : null;
  } catch (_) {
    return null;
  }
}

function syncPid(app) {
  try {
    const out = execFileSync('pgrep', ['-f', '-P', String(app.child.pid), 'stripelink-sync'], { encoding: 'utf8' }).trim();
    const pids = out.split('\n').filter(Boolean).map(Number);
    return pids.length === 1 ? pids[0] : null;
  } catch (_) {
    return null;
  }
}

async function waitForWorker(app, notPid, deadlineMs = 15000) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const pid = workerPid(app);
    if (pid && pid !== notPid) {
      try {
        const res = await fetch(`${app.base}/healthz`);
        if (res.status === 200) return pid;
      } catch (_) { /* not yet */ }
    }
    if (Date.now() > deadline) throw new Error(`the FastCGI worker did not come back:\n${app.log().slice(-2000)}`);
    await sleep(50);
  }
}

test('crash: kill -9 the FastCGI worker while events arrive; every event applied exactly once', async (t) => {
  const rig = await Rig.create();
  t.after(() => rig.close());
  const N_CUSTOMERS = 100;
  const N_CHARGES = 100;
  const N_SUBSCRIPTIONS = 60;
  const N_INVOICES = 40;
  const KILLS = 3;
  const base = 1700100000;

  // What Stripe would send, and what the CRM must look like afterwards.
  const events = [];
  const expect = { contacts: new Map(), orders: new Map(), recurring: new Map(), links: new Map() };
  function contact(email, first, last, tag) {
    const key = email.toLowerCase();
    if (!expect.contacts.has(key)) expect.contacts.set(key, { email, first, last, tags: new Set([BASE_TAG]) });
    expect.contacts.get(key).tags.add(tag);
  }
  const customers = [];
  for (let i = 0; i < N_CUSTOMERS; i++) {
    const cus = fixtureObject('customer', {
      id: `cus_whCrash${String(i).padStart(4, '0')}`, email: `crash.customer.${i}@example.com`, name: `Crash Customer${i}`,
      created: base - 1000 + i,
    });
    customers.push(cus);
    events.push(stripeEvent({ id: `evt_whCrashCus${i}`, type: 'customer.created', created: base + i, object: cus }));
    contact(cus.email, 'Crash', `Customer${i}`, 'stripe-integration-customer-created');
    expect.links.set(cus.id, cus.email);
  }
  // Subscription events may arrive before their customer.created: Stripe has the customers.
  await rig.ctl('POST', 'objects', { objects: customers });
  for (let i = 0; i < N_CHARGES; i++) {
    const guest = i % 2 === 1;
    const cus = customers[i % N_CUSTOMERS];
    const email = guest ? `crash.guest.${i}@example.com` : cus.email;
    const name = guest ? `Guest Buyer${i}` : cus.name;
    const obj = fixtureObject('charge', {
      id: `ch_whCrash${i}`, amount: 1000 + i, amount_captured: 1000 + i, currency: 'usd', status: 'succeeded', paid: true,
      customer: guest ? null : cus.id, billing_details: { email, name, phone: null },
    });
    events.push(stripeEvent({ id: `evt_whCrashCh${i}`, type: 'charge.succeeded', created: base + 200 + i, object: obj }));
    const [first, ...rest] = name.split(' ');
    contact(email, first, rest.join(' '), 'stripe-integration-charge-succeeded');
    expect.orders.set(obj.id, { amount: 1000 + i, email_key: email.toLowerCase() });
  }
  for (let i = 0; i < N_SUBSCRIPTIONS; i++) {
    const cus = customers[i];
    const obj = fixtureObject('subscription', { id: `sub_whCrash${i}`, customer: cus.id, status: 'active', created: base + 400 + i });
    events.push(stripeEvent({ id: `evt_whCrashSub${i}`, type: 'customer.subscription.created', created: base + 400 + i, object: obj }));
    contact(cus.email, 'Crash', `Customer${i}`, 'stripe-integration-customer-subscription-created');
    expect.recurring.set(obj.id, { status: 'active', amount: 2000, email_key: cus.email });
  }
  for (let i = 0; i < N_INVOICES; i++) {
    const cus = customers[50 + i];
    const obj = fixtureObject('invoice', {
      id: `in_whCrash${i}`, status: 'paid', amount_due: 500 + i, amount_paid: 500 + i, amount_remaining: 0, total: 500 + i, currency: 'usd',
      customer: cus.id, customer_email: cus.email, customer_name: cus.name, customer_phone: null,
    });
    events.push(stripeEvent({ id: `evt_whCrashIn${i}`, type: 'invoice.paid', created: base + 500 + i, object: obj }));
    contact(cus.email, 'Crash', `Customer${50 + i}`, 'stripe-integration-invoice-paid');
    expect.orders.set(obj.id, { amount: 500 + i, email_key: cus.email });
  }
  const payloads = new Map(events.map((e) => [e.id, wire(e)]));

  // Deliveries: every event once, and every tenth one a second time at
  // the same moment (Stripe may deliver twice), in a fixed shuffled order.
  let queue = events.map((e) => e.id);
  queue.push(...events.filter((_, i) => i % 10 === 0).map((e) => e.id));
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = queue.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [queue[i], queue[j]] = [queue[j], queue[i]];
  }
  const deliveries = queue.length;
  const acked = new Map(); // event id -> results answered with 2xx
  const notAcked = new Map(); // event id -> count of non-2xx / network failures
  let ackCount = 0;
  let attempts = 0;
  let killed = 0;
  const killAt = [Math.floor(deliveries * 0.2), Math.floor(deliveries * 0.45), Math.floor(deliveries * 0.7)];
  let killing = null;
  let pid = workerPid(rig.app);
  assert.ok(pid, 'found the FastCGI worker');

  async function kill() {
    const victim = pid;
    process.kill(victim, 'SIGKILL');
    killed++;
    pid = await waitForWorker(rig.app, victim);
  }

  async function sender() {
    for (;;) {
      const id = queue.shift();
      if (id === undefined) return;
      attempts++;
      let ok = false;
      try {
        const payload = payloads.get(id);
        const res = await rig.post(payload, stripeHeader(payload, rig.secret), { signal: AbortSignal.timeout(15000) });
        if (res.status >= 200 && res.status < 300) {
          ok = true;
          acked.set(id, [...(acked.get(id) || []), res.json && res.json.result]);
          ackCount++;
          if (!killing && killed < KILLS && ackCount >= killAt[killed]) {
            killing = kill().finally(() => { killing = null; });
          }
        }
      } catch (_) { /* connection dropped: no answer, like a timeout at Stripe */ }
      if (!ok) {
        notAcked.set(id, (notAcked.get(id) || 0) + 1);
        queue.push(id); // Stripe resends what got no 2xx
        await sleep(killing ? 100 : 20);
      }
    }
  }

  const started = Date.now();
  const deadline = started + 40000;
  while (queue.length) {
    await Promise.all(Array.from({ length: 24 }, sender));
    if (killing) await killing;
    assert.ok(Date.now() < deadline, 'every event got a 2xx within 40 s');
  }
  if (killing) await killing;
  const lostAnswers = [...acked.values()].filter((rs) => !rs.includes('processed')).length;
  t.diagnostic(`${deliveries} deliveries, ${attempts} attempts, ${killed} kills, ` +
    `${[...notAcked.values()].reduce((a, b) => a + b, 0)} non-2xx answers, ` +
    `${lostAnswers} events committed whose answer was lost (resent → duplicate), ${Date.now() - started} ms`);

  assert.equal(killed, KILLS, 'the worker was killed while events were arriving');
  assert.ok(notAcked.size > 0, 'some deliveries got no 2xx (the kills hit traffic)');
  const restarts = (rig.app.log().match(/fastcgi worker \(pid \d+\) exited \(signal 9\); restarting/g) || []).length;
  assert.equal(restarts, KILLS, 'the supervisor saw every kill and restarted the worker');
  for (const e of events) {
    assert.ok(acked.has(e.id), `${e.id} was acknowledged in the end`);
    for (const r of acked.get(e.id)) assert.ok(['processed', 'duplicate', 'waiting'].includes(r), `${e.id} answered ${r}`);
  }
  await rig.drained();

  // Every event recorded once, applied once.
  assert.equal(rig.count('SELECT count(*) FROM stripe_events'), events.length, 'one stripe_events row per event');
  assert.deepEqual(rig.rows(`SELECT result, count(*) AS n FROM stripe_events GROUP BY result`), [{ result: 'processed', n: events.length }]);
  const processed = rig.rows(`SELECT event_id, count(*) AS n FROM integration_log WHERE result = 'processed' GROUP BY event_id`);
  assert.equal(processed.length, events.length, 'every event has a processed entry in the log');
  assert.ok(processed.every((r) => r.n === 1), `applied more than once: ${JSON.stringify(processed.filter((r) => r.n !== 1))}`);
  assert.deepEqual(rig.rows(`SELECT result FROM integration_log WHERE result NOT IN ('processed', 'duplicate', 'waiting') LIMIT 5`), [],
    'nothing skipped, failed or rejected');
  for (const [id, results] of acked) {
    assert.ok(results.filter((r) => r === 'processed').length <= 1, `${id} answered processed twice`);
  }

  // The CRM holds exactly what the events say.
  assert.equal(rig.count('SELECT count(*) FROM contacts'), expect.contacts.size, 'contacts');
  const csv = await rig.contactsCsv();
  assert.equal(Object.keys(csv).length, expect.contacts.size);
  for (const [key, want] of expect.contacts) {
    const got = csv[key];
    assert.ok(got, `${want.email} is a contact`);
    assert.equal(got.email, want.email);
    assert.equal(got.first_name, want.first, `${want.email} first name`);
    assert.equal(got.last_name, want.last, `${want.email} last name`);
    assert.deepEqual(sorted(got.tags), sorted(want.tags), `${want.email} tags`);
  }
  assert.equal(rig.count('SELECT count(*) FROM contact_tags'),
    [...expect.contacts.values()].reduce((n, c) => n + c.tags.size, 0), 'no duplicate tag rows');
  const orders = rig.rows(`SELECT o.stripe_id, o.amount, o.status, c.email_key FROM orders o LEFT JOIN contacts c ON c.id = o.contact_id`);
  assert.equal(orders.length, expect.orders.size, 'orders');
  for (const o of orders) {
    const want = expect.orders.get(o.stripe_id);
    assert.ok(want, `unexpected order ${o.stripe_id}`);
    assert.deepEqual({ amount: o.amount, status: o.status, email_key: o.email_key }, { ...want, status: 'paid' }, o.stripe_id);
  }
  const recurring = rig.rows(`SELECT r.subscription_id, r.status, r.amount, c.email_key
                              FROM recurring_payments r LEFT JOIN contacts c ON c.id = r.contact_id`);
  assert.equal(recurring.length, expect.recurring.size, 'recurring payments');
  for (const r of recurring) {
    assert.deepEqual({ status: r.status, amount: r.amount, email_key: r.email_key }, expect.recurring.get(r.subscription_id), r.subscription_id);
  }
  const links = rig.rows(`SELECT s.customer_id, c.email_key FROM stripe_customers s JOIN contacts c ON c.id = s.contact_id`);
  assert.equal(links.length, expect.links.size, 'customer links');
  for (const l of links) assert.equal(l.email_key, expect.links.get(l.customer_id), l.customer_id);
  assert.equal(rig.count('SELECT count(*) FROM object_versions'), events.length, 'one version row per Stripe object');
  if (!rig.app.dbUrl) assert.equal(rig.app.sql('PRAGMA integrity_check;').trim(), 'ok');   // SQLite's file
});
