// sync.test.js - the historical sync (issue 6) end to end: the real
// supervisor, nginx, FastCGI program and stripelink-sync worker against the
// fake Stripe (run as its own process, so polling the database from here
// never stalls it).
//
// What is checked, per group:
//   * a big account: 10,000+ objects of each of the five resources synced
//     completely; exact contacts (emails, names, tags, customer links),
//     orders and recurring payments, computed from the fake's own data
//     fetched through its API with the same key; exact job counters; the
//     created-time windows (split while the job runs) partition the history;
//     every page Stripe answered committed once; the list requests'
//     parameters; the jobs table on the app page; "Sync history now" again
//     changes nothing; no orders for what was never paid.
//   * faults: 429 bursts (Retry-After honoured), 500/502/503 and dropped
//     connections mid-page; Stripe-Should-Retry: false (job failed with a
//     clear error, then resumed); a revoked key (401), then resumed.
//   * live keys default to 20/s; a restricted key without charge access
//     fails the job with a clear error.
//   * kill -9 of the sync worker in the middle, twice: the supervisor
//     restarts it, the job resumes from its committed cursors, exact counts,
//     no page applied twice, no duplicate tags, orders, recurring payments.
//   * the default test-key rate (10/s): a webhook that arrives during the
//     sync for an object the sync reaches later keeps its newer data;
//     pause, resume, cancel, disconnect; every 1 s sliding window of list
//     requests holds at most 10 (+1 for timer jitter), also while 429s are
//     being retried.
//
// The expected data follows DESIGN.md: everything with an email (or a
// Stripe customer already linked to a contact) becomes a contact; orders
// and recurring payments are what the webhook table would have recorded
// for the same objects (an order for a succeeded charge, a paid invoice, a
// completed checkout session; a recurring payment per subscription and per
// subscription-mode checkout session). Resources are synced customers
// first, so which objects find a contact does not depend on page order.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const path = require('node:path');
const Stripe = require('stripe');
const { startApp, adminClient, csrfOf, sleep, TOP } = require('./harness');

const KEY = 'sk_test_abc123';
const APP_UA = /^stripelink\//;
const LIST_PATH = {
  customer: '/v1/customers',
  charge: '/v1/charges',
  subscription: '/v1/subscriptions',
  invoice: '/v1/invoices',
  checkout_session: '/v1/checkout/sessions',
};
const SEED_NAME = {
  customer: 'customers',
  charge: 'charges',
  subscription: 'subscriptions',
  invoice: 'invoices',
  checkout_session: 'checkout_sessions',
};
// The mapping each resource is set up with: the email row, and the name
// mapped to "Full name" (split into First and Last name).
const MAPPING = {
  customer: { email: 'email', name: 'name' },
  charge: { email: 'billing_details.email', name: 'billing_details.name' },
  subscription: { email: 'customer.email', name: 'customer.name' },   // needs expand[]=data.customer
  invoice: { email: 'customer_email', name: 'customer_name' },
  checkout_session: { email: 'customer_details.email', name: 'customer_details.name' },
};
const READS_CUSTOMER = (resource) => /^customer\./.test(MAPPING[resource].email) || /^customer\./.test(MAPPING[resource].name);
const BASE_TAG = 'stripe-integration';
const HIST_TAG = 'stripe-integration-historical';

const nowS = () => Math.floor(Date.now() / 1000);

// ---- the fake Stripe, as a child process --------------------------------------

async function startFake() {
  const child = spawn(process.execPath, [path.join(TOP, 'tests', 'fake-stripe', 'server.js'), '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fake-stripe did not start: ${out}`)), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`fake-stripe exited ${code}: ${out}`)); });
  });
  const url = `http://127.0.0.1:${port}`;
  const fake = {
    url,
    async ctl(method, p, body) {
      const res = await fetch(`${url}/_fake/${p}`, {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = await res.json();
      if (res.status !== 200) throw new Error(`/_fake/${p}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
    seed(spec) { return fake.ctl('POST', 'seed', spec); },
    faults(rules) { return fake.ctl('POST', 'faults', { rules }); },
    clearFaults() { return fake.ctl('DELETE', 'faults'); },
    // The app's own requests (not this test's), optionally since a seq.
    async appRequests(pathGlob, since = 0) {
      const qs = new URLSearchParams({ path: pathGlob });
      if (since) qs.set('since', String(since));
      const all = await fake.ctl('GET', `requests?${qs}`);
      return all.filter((r) => APP_UA.test(r.headers['user-agent'] || ''));
    },
    async lastSeq() {
      return (await fake.ctl('GET', 'state')).requests.last_seq;
    },
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => { child.on('exit', r); setTimeout(r, 5000); });
      }
    },
  };
  return fake;
}

// Every object of a resource, newest first, through the fake's API with the
// app's key (expanding the customer when the mapping reads it, all statuses
// for subscriptions), exactly as Stripe would give them to anyone.
async function listAll(fake, resource, key = KEY) {
  const out = [];
  let after = null;
  for (;;) {
    const qs = new URLSearchParams({ limit: '100' });
    if (after) qs.set('starting_after', after);
    if (READS_CUSTOMER(resource) && resource !== 'customer') qs.append('expand[]', 'data.customer');
    if (resource === 'subscription') qs.set('status', 'all');
    const res = await fetch(`${fake.url}${LIST_PATH[resource]}?${qs}`, { headers: { authorization: `Bearer ${key}` } });
    const body = await res.json();
    if (res.status !== 200) throw new Error(`list ${resource}: ${res.status} ${JSON.stringify(body)}`);
    out.push(...body.data);
    if (!body.has_more || body.data.length === 0) break;
    after = body.data[body.data.length - 1].id;
  }
  return out;
}

// Spreads `count` objects evenly over [from, to) so the created-time windows
// all get work.
function spread(resource, count, from, to, extra = {}) {
  const step = Math.max(1, Math.floor((to - from) / count));
  return { resource: SEED_NAME[resource], count, start_created: from, created_step: step, ...extra };
}

// ---- what the app should end up with -------------------------------------------

function getPath(obj, p) {
  return p.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

function customerIdOf(resource, obj) {
  if (resource === 'customer') return obj.id;
  const c = obj.customer;
  if (typeof c === 'string') return c;
  if (c && typeof c === 'object') return c.id || null;
  return null;
}

function emailOf(obj, p) {
  const v = getPath(obj, p);
  if (typeof v !== 'string') return null;
  const s = v.trim();
  return s && /^[^\s@]+@[^\s@]+$/.test(s) ? s : null;
}

// The order the webhook table would have recorded for this object, or null.
function paidOrder(resource, obj) {
  switch (resource) {
    case 'charge':
      if (obj.status !== 'succeeded') return null;   // a declined card is not an order
      return { status: obj.refunded || (obj.amount > 0 && obj.amount_refunded >= obj.amount) ? 'refunded'
        : obj.amount_refunded > 0 ? 'partially_refunded' : 'paid', amount: obj.amount };
    case 'invoice':
      if (obj.status !== 'paid') return null;        // open, void, uncollectible: nothing was paid
      return { status: 'paid', amount: obj.amount_paid };
    case 'checkout_session':
      if (obj.mode === 'setup' || obj.status !== 'complete' || obj.payment_status !== 'paid') return null;
      return { status: 'paid', amount: obj.amount_total };
    default:
      return null;
  }
}

function recurringOf(resource, obj) {
  if (resource === 'subscription') return { id: obj.id, status: obj.status };
  if (resource === 'checkout_session' && obj.mode === 'subscription' && obj.subscription) {
    const id = typeof obj.subscription === 'string' ? obj.subscription : obj.subscription.id;
    return { id, status: obj.payment_status === 'paid' ? 'active' : 'incomplete' };
  }
  return null;
}

// A model of the CRM the sync should build, fed resource by resource in the
// order the jobs run.
class Expected {
  constructor() {
    this.contacts = new Map();   // email key -> {first, last}
    this.links = new Map();      // cus_ -> email key
    this.orders = new Map();     // stripe id -> {status, amount}
    this.anyOrder = new Set();   // every synced object that carries an order (paid or not)
    this.recurring = new Map();  // sub_ -> status
  }

  // Applies one job's objects; returns the job's expected counters.
  apply(resource, objects) {
    const m = MAPPING[resource];
    const job = { objects: objects.length, created: 0, updated: 0, skipped: 0 };
    for (const obj of objects) {
      const email = emailOf(obj, m.email);
      const cus = customerIdOf(resource, obj);
      let key;
      if (email) {
        key = email.toLowerCase();
        if (!this.contacts.has(key)) {
          this.contacts.set(key, { first: '', last: '' });
          job.created++;
        } else {
          job.updated++;
        }
      } else if (cus && this.links.has(cus)) {
        key = this.links.get(cus);
        job.updated++;
      } else {
        job.skipped++;
        continue;
      }
      const name = getPath(obj, m.name);
      if (typeof name === 'string' && name.trim()) {
        const words = name.trim().split(/[ \t\n\r\f\v]+/);
        const c = this.contacts.get(key);
        c.first = words[0];
        if (words.length > 1) c.last = words.slice(1).join(' ');
      }
      if (cus) this.links.set(cus, key);
      if (['charge', 'invoice', 'checkout_session'].includes(resource) && !(resource === 'checkout_session' && obj.mode === 'setup')) {
        this.anyOrder.add(obj.id);
      }
      const order = paidOrder(resource, obj);
      if (order) this.orders.set(obj.id, order);
      const rec = recurringOf(resource, obj);
      if (rec) this.recurring.set(rec.id, rec.status);
    }
    return job;
  }
}

function countBy(values) {
  const out = {};
  for (const v of values) out[v] = (out[v] || 0) + 1;
  return out;
}

// Pages a window of n objects takes with limit=100 (an empty window still
// asks once).
const pagesFor = (n) => Math.max(1, Math.ceil(n / 100));

// The most requests (logged by the fake on arrival) in any `ms`-long
// sliding window: {count, detail} with the busiest window's requests as
// "+ms status" for failure messages.
function busiestWindow(reqs, ms = 1000) {
  const t = [...reqs].sort((a, b) => a.t_ms - b.t_ms);
  let best = { count: 0, lo: 0, hi: -1 };
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi].t_ms - t[lo].t_ms >= ms) lo++;
    if (hi - lo + 1 > best.count) best = { count: hi - lo + 1, lo, hi };
  }
  const w = t.slice(best.lo, best.hi + 1);
  const detail = w.map((r) => `+${r.t_ms - w[0].t_ms}ms ${r.path} ${r.status}`).join(', ');
  return { count: best.count, detail };
}

// ---- driving the app ---------------------------------------------------------------

class Rig {
  // span: the account was created that many seconds ago (the sync covers
  // [created-1, now+1)); null keeps the fixture account's 2009 creation.
  static async create(env = {}, { span = 100000, key = KEY } = {}) {
    const rig = new Rig();
    rig.fake = await startFake();
    if (span !== null) {
      rig.t0 = nowS() - span;
      await rig.fake.ctl('POST', 'account', { patch: { created: rig.t0 } });
    }
    rig.app = await startApp({ STRIPELINK_STRIPE_API: rig.fake.url, ...env });
    rig.admin = await adminClient(rig.app);
    rig.key = key;
    const res = await rig.admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: key });
    assert.equal(res.status, 303, `connect answered ${res.status}: ${res.text.slice(0, 300)}`);
    rig.id = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
    rig.dbPath = path.join(rig.app.dataDir, 'stripelink.db');
    rig.expected = new Expected();
    return rig;
  }

  async close() {
    if (this.app) await this.app.stop();
    if (this.fake) await this.fake.close();
  }

  // SQL through the sqlite3 shell or psql, rows as objects.
  q(sql) {
    return this.app.rows(sql);
  }

  one(sql) {
    const rows = this.q(sql);
    return rows.length ? Object.values(rows[0])[0] : undefined;
  }

  appPath() { return `/apps/stripe/${this.id}`; }

  // Wizard steps 2 and 3 for a resource with "historical and new"; returns
  // the job it queued.
  async addResource(resource, { sync = 'historical' } = {}) {
    const step2 = await this.admin.submit(`/apps/stripe/${this.id}/resource`, `/apps/stripe/${this.id}/resource`,
      { resource, sync_type: sync });
    assert.equal(step2.status, 303, `step 2 for ${resource}: ${step2.status} ${step2.text.slice(0, 300)}`);
    const mapUrl = `/apps/stripe/${this.id}/mapping/${resource}`;
    const page = await this.admin.get(mapUrl);
    assert.equal(page.status, 200, `step 3 page for ${resource}`);
    const m = MAPPING[resource];
    const fin = await this.admin.request('POST', mapUrl, {
      form: {
        csrf: csrfOf(page.text), email_path: m.email, id_path: '', id_target: '',
        rows: '1', path_0: m.name, meta_0: '', target_0: 'full_name', action: 'finish',
      },
    });
    assert.equal(fin.status, 303, `finishing ${resource}: ${fin.status} ${fin.text.slice(0, 500)}`);
    assert.match(fin.location, /\/done\?resource=/);
    return this.latestJob(resource);
  }

  latestJob(resource) {
    return this.one(`SELECT max(id) FROM sync_jobs WHERE connection_id = ${this.id} AND resource = '${resource}';`);
  }

  job(id) {
    return this.q(`SELECT * FROM sync_jobs WHERE id = ${id};`)[0];
  }

  // "Sync history now" on the app page; returns the job it queued.
  async syncNow(resource) {
    const before = this.latestJob(resource) || 0;
    const res = await this.admin.submit(this.appPath(), `${this.appPath()}/sync`, { resource });
    assert.equal(res.status, 303, `Sync history now: ${res.status} ${res.text.slice(0, 300)}`);
    const id = this.latestJob(resource);
    assert.ok(id > before, 'Sync history now queued a new job');
    return id;
  }

  // Pause, resume or cancel from the jobs table.
  async control(jobId, action) {
    const res = await this.admin.submit(this.appPath(), `${this.appPath()}/jobs/${jobId}`, { action });
    assert.equal(res.status, 303, `${action}: ${res.status} ${res.text.slice(0, 300)}`);
  }

  async waitFor(what, fn, timeoutMs = 60000, everyMs = 100) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; jobs: ${JSON.stringify(this.q('SELECT id, resource, state, objects, error FROM sync_jobs;'))}\n` +
          `log tail:\n${this.app.log().split('\n').slice(-20).join('\n')}`);
      }
      await sleep(everyMs);
    }
  }

  async waitJob(id, states = ['done'], timeoutMs = 60000) {
    return this.waitFor(`job ${id} to be ${states.join('/')}`, () => {
      const j = this.job(id);
      if (j && states.includes(j.state)) return j;
      if (j && !states.includes('failed') && j.state === 'failed') {
        throw new Error(`job ${id} failed: ${j.error}\n${this.app.log().split('\n').slice(-20).join('\n')}`);
      }
      return null;
    }, timeoutMs);
  }

  syncPid() {
    try {
      const out = execFileSync('pgrep', ['-f', '-P', String(this.app.child.pid), 'stripelink-sync'], { encoding: 'utf8' }).trim();
      return out ? Number(out.split('\n')[0]) : null;
    } catch (_) {
      return null;
    }
  }

  // The jobs table of the app page: {id: {state, percent, objects, pages, created, updated, skipped, error, buttons}}.
  async jobsTable() {
    const page = await this.admin.get(this.appPath());
    assert.equal(page.status, 200);
    const rows = {};
    const re = /<tr data-job="(\d+)">([\s\S]*?)<\/tr>/g;
    let m;
    while ((m = re.exec(page.text)) !== null) {
      const cells = m[2];
      const nums = [...cells.matchAll(/<td>(\d+)<\/td>/g)].map((x) => Number(x[1]));
      const err = /<p class="error row-error">([^<]*)<\/p>/.exec(cells);
      rows[m[1]] = {
        state: (/<span class="status (\w+)">/.exec(cells) || [])[1],
        percent: Number((/<progress value="(\d+)" max="100">/.exec(cells) || [])[1]),
        objects: nums[0], pages: nums[1], created: nums[2], updated: nums[3], skipped: nums[4],
        error: err ? err[1].replace(/&#39;|&#x27;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&') : null,
        buttons: [...cells.matchAll(/name="action" value="(\w+)"/g)].map((x) => x[1]),
      };
    }
    return { rows, refresh: /id="sync"[^>]*data-refresh="\d+"/.test(page.text), html: page.text };
  }

  // Re-reads every object of the resources (in job order) and rebuilds the
  // expected CRM from scratch.
  async rebuildExpected(resources) {
    const exp = new Expected();
    const objects = {};
    for (const r of resources) {
      objects[r] = await listAll(this.fake, r, this.key);
      exp.apply(r, objects[r]);
    }
    return { exp, objects };
  }

  // Asserts the CRM matches exp exactly. Orders are checked last, so a
  // failure there means everything else was right.
  assertCrm(exp, { extraTags = {} } = {}) {
    const contacts = this.q('SELECT email_key, first_name, last_name FROM contacts;');
    const have = new Map(contacts.map((c) => [c.email_key, c]));
    const missing = [...exp.contacts.keys()].filter((k) => !have.has(k));
    const extra = [...have.keys()].filter((k) => !exp.contacts.has(k));
    assert.deepEqual({ missing: missing.slice(0, 5), extra: extra.slice(0, 5), count: contacts.length },
      { missing: [], extra: [], count: exp.contacts.size }, 'contacts (by email, case-insensitively)');
    const wrongNames = [];
    for (const [k, want] of exp.contacts) {
      const got = have.get(k);
      if (got.first_name !== want.first || got.last_name !== want.last) wrongNames.push({ k, got: [got.first_name, got.last_name], want: [want.first, want.last] });
    }
    assert.deepEqual(wrongNames.slice(0, 5), [], `contact names (${wrongNames.length} wrong)`);

    const tags = Object.fromEntries(this.q(`SELECT t.name, count(*) AS n FROM tags t JOIN contact_tags ct ON ct.tag_id = t.id GROUP BY t.name;`)
      .map((r) => [r.name, r.n]));
    assert.deepEqual(tags, { [BASE_TAG]: exp.contacts.size, [HIST_TAG]: exp.contacts.size, ...extraTags },
      'every contact tagged stripe-integration and stripe-integration-historical, once');
    assert.equal(this.one('SELECT count(*) FROM tags WHERE name NOT IN (SELECT name FROM tags GROUP BY name HAVING count(*) = 1);'), 0, 'no duplicate tag names');

    assert.equal(this.one('SELECT count(*) FROM stripe_customers;'), exp.links.size, 'Stripe customers linked to contacts');

    const rec = this.q('SELECT subscription_id, status, contact_id FROM recurring_payments;');
    const recMissing = [...exp.recurring.keys()].filter((id) => !rec.some((r) => r.subscription_id === id));
    assert.deepEqual({ missing: recMissing.slice(0, 5), count: rec.length, statuses: countBy(rec.map((r) => r.status)) },
      { missing: [], count: exp.recurring.size, statuses: countBy(exp.recurring.values()) }, 'recurring payments');
    assert.equal(rec.filter((r) => r.contact_id === null).length, 0, 'every recurring payment has its contact');

    const orders = this.q('SELECT stripe_id, status, amount, contact_id FROM orders;');
    const byId = new Map(orders.map((o) => [o.stripe_id, o]));
    const wrong = [];
    for (const [id, want] of exp.orders) {
      const got = byId.get(id);
      if (!got || got.status !== want.status || got.amount !== want.amount || got.contact_id === null) wrong.push({ id, got, want });
    }
    assert.deepEqual(wrong.slice(0, 5), [], `orders of paid objects (${wrong.length} missing or wrong)`);
    const strays = orders.filter((o) => !exp.anyOrder.has(o.stripe_id));
    assert.deepEqual(strays.slice(0, 5), [], 'every order comes from a synced object');
    // Whether unpaid objects get orders too is checked on its own (assertNoUnpaidOrders).
  }

  // Orders exist only for what was paid, as the webhook table records them
  // (DESIGN.md: charge.succeeded, invoice.paid, checkout.session.completed).
  assertNoUnpaidOrders(exp) {
    const orders = this.q('SELECT stripe_id, status, amount, contact_id FROM orders;');
    const unpaid = orders.filter((o) => !exp.orders.has(o.stripe_id));
    assert.deepEqual({ count: orders.length, statuses: countBy(orders.map((o) => o.status)) },
      { count: exp.orders.size, statuses: countBy([...exp.orders.values()].map((o) => o.status)) },
      `orders: one per succeeded charge, paid invoice and completed checkout session; ` +
      `${unpaid.length} extra orders for objects that were never paid, e.g. ${JSON.stringify(unpaid.slice(0, 3))}`);
  }

  // The job's counters are exact and agree with the integration log.
  assertJob(id, want) {
    const j = this.job(id);
    assert.equal(j.state, 'done', `job ${id} done (error: ${j.error})`);
    assert.deepEqual({ objects: j.objects, created: j.contacts_created, updated: j.contacts_updated, skipped: j.skipped },
      want, `job ${id} (${j.resource}) counters`);
    const logged = this.one(`SELECT count(*) FROM integration_log WHERE type = 'historical.${j.resource}' AND result = 'skipped';`);
    const counted = this.one(`SELECT sum(skipped) FROM sync_jobs WHERE resource = '${j.resource}' AND connection_id = ${this.id};`);
    assert.equal(logged, counted, `skipped objects of ${j.resource} logged once each in the integration log`);
    return j;
  }

  // The job's windows (split on demand while it ran) partition one created
  // range that holds every object; every window is done. Returns the fewest
  // pages the job can have committed: each window's objects in pages of
  // 100 (an empty window still asks once).
  minPages(jobId, objects) {
    const windows = this.q(`SELECT created_gte, created_lt, done FROM sync_windows WHERE job_id = ${jobId} ORDER BY created_gte;`);
    assert.ok(windows.length > 0, 'the job has windows');
    assert.deepEqual(windows.filter((w) => w.done !== 1), [], 'every window done');
    for (let i = 1; i < windows.length; i++) {
      assert.equal(windows[i].created_gte, windows[i - 1].created_lt, `windows are contiguous: ${JSON.stringify(windows.slice(i - 1, i + 1))}`);
    }
    const lo = windows[0].created_gte;
    const hi = windows[windows.length - 1].created_lt;
    const outside = objects.filter((o) => o.created < lo || o.created >= hi);
    assert.deepEqual(outside.map((o) => o.id).slice(0, 5), [], `the windows [${lo}, ${hi}) cover every object`);
    return windows.reduce((sum, w) => sum + pagesFor(objects.filter((o) => o.created >= w.created_gte && o.created < w.created_lt).length), 0);
  }

  // Pages: at least one per 100 objects per window, and (unless the worker
  // was killed mid-page) exactly one per page Stripe answered since `since`.
  // (`dropped`: answers cut off mid-body by a drop fault, logged as 200.)
  async assertPages(jobId, resource, objects, since, { killed = false, dropped = 0 } = {}) {
    const j = this.job(jobId);
    const min = this.minPages(jobId, objects);
    assert.ok(j.pages >= min, `${j.pages} pages for ${objects.length} objects: at least ${min}`);
    const answered = (await this.fake.appRequests(LIST_PATH[resource], since)).filter((r) => r.status === 200).length - dropped;
    if (killed) assert.ok(answered >= j.pages, `${answered} pages answered, ${j.pages} committed`);
    else assert.equal(j.pages, answered, 'every page Stripe answered was committed, once');
    return j;
  }
}

// A webhook event signed the way Stripe signs it.
function signedEvent(secret, event) {
  const payload = JSON.stringify(event, null, 2);
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret });
  return { payload, header };
}

// ---- 1. a big account, every resource -------------------------------------------------------

test('historical sync: 10,000+ objects of each resource, exact results', { timeout: 240000 }, async (t) => {
  const rig = await Rig.create({ STRIPELINK_SYNC_RATE_TEST: '0' });
  t.after(() => rig.close());
  const N = 10000;
  const order = ['customer', 'charge', 'subscription', 'invoice', 'checkout_session'];
  const jobs = {};
  const from = rig.t0 + 10;
  const to = nowS() - 5;

  await t.test('seed the fake account', async () => {
    // Customers first; every other resource points at those customers.
    await rig.fake.seed(spread('customer', N, from, to));
    for (const r of order.slice(1)) await rig.fake.seed(spread(r, N, from + 1, to, { customers: false }));
    const counts = (await rig.fake.ctl('GET', 'state')).counts;
    for (const r of order) assert.ok(counts[SEED_NAME[r]] >= N, `${counts[SEED_NAME[r]]} ${r}s`);
  });

  await t.test('finishing the wizard with historical sync queues one job per resource', async () => {
    for (const r of order) {
      jobs[r] = await rig.addResource(r);
      assert.ok(jobs[r], `a job for ${r}`);
    }
    assert.deepEqual(rig.q(`SELECT resource FROM sync_jobs ORDER BY id;`).map((x) => x.resource), order);
  });

  let expect;
  let objects;
  await t.test('every job finishes', async () => {
    // Meanwhile, read what Stripe holds (through the fake, with the same key).
    ({ exp: expect, objects } = await rig.rebuildExpected(order));
    for (const r of order) await rig.waitJob(jobs[r], ['done'], 120000);
    for (const r of order) assert.ok(objects[r].length >= N, `${objects[r].length} ${r}s listed`);
    assert.equal(rig.syncPid() !== null, true, 'the sync worker is running beside the FastCGI program');
  });

  await t.test('job counters are exact (objects, contacts created/updated, skipped); windows cover everything; pages', async () => {
    const model = new Expected();
    for (const r of order) {
      const want = model.apply(r, objects[r]);
      rig.assertJob(jobs[r], want);
      await rig.assertPages(jobs[r], r, objects[r], 0);
    }
  });

  await t.test('contacts, names, tags, customer links, recurring payments and orders are exact', () => {
    rig.assertCrm(expect);
  });

  await t.test('no order for what was never paid: declined charges, open/void/uncollectible invoices', () => {
    rig.assertNoUnpaidOrders(expect);
  });

  await t.test('the list requests: limit=100, created windows, cursors, expand only when needed, status=all', async () => {
    for (const r of order) {
      const reqs = await rig.fake.appRequests(LIST_PATH[r]);
      assert.equal(reqs.length, rig.job(jobs[r]).pages, `${r}: one request per page (no faults, no retries)`);
      for (const q of reqs.map((x) => x.query)) {
        assert.equal(q.limit, '100');
        assert.ok(q.created && /^\d+$/.test(q.created.gte) && /^\d+$/.test(q.created.lt), `${r}: created[gte]/[lt] ${JSON.stringify(q)}`);
        const expands = [].concat(q.expand || []);
        if (READS_CUSTOMER(r) && r !== 'customer') assert.deepEqual(expands, ['data.customer'], `${r} expands the customer`);
        else assert.deepEqual(expands, [], `${r} does not expand what the mapping does not read`);
        if (r === 'subscription') assert.equal(q.status, 'all', 'canceled subscriptions are synced too');
      }
      assert.ok(reqs.some((x) => x.query.starting_after), `${r}: pages after the first use starting_after`);
      assert.ok(reqs.every((x) => x.status === 200), `${r}: every page answered 200`);
      const windows = rig.one(`SELECT count(*) FROM sync_windows WHERE job_id = ${jobs[r]};`);
      assert.ok(windows >= 4, `${r}: ${windows} created-time windows (STRIPELINK_SYNC_WINDOWS default 4 side by side)`);
    }
  });

  await t.test('the app page lists each job: done, 100%, the counters, no refresh once finished', async () => {
    const { rows, refresh, html } = await rig.jobsTable();
    assert.match(html, /<table class="list jobs">/);
    for (const r of order) {
      const row = rows[jobs[r]];
      const j = rig.job(jobs[r]);
      assert.ok(row, `a row for job ${jobs[r]}`);
      assert.deepEqual(row, {
        state: 'done', percent: 100, objects: j.objects, pages: j.pages, created: j.contacts_created,
        updated: j.contacts_updated, skipped: j.skipped, error: null, buttons: [],
      });
    }
    assert.equal(refresh, false, 'no data-refresh when nothing runs');
    assert.match(html, new RegExp(`<dt>Contacts from Stripe</dt><dd>${expect.contacts.size} `));
  });

  await t.test('"Sync history now" again: every object seen again, nothing new, nothing doubled', async () => {
    const id = await rig.syncNow('charge');
    await rig.waitJob(id, ['done'], 60000);
    const first = rig.job(jobs.charge);
    rig.assertJob(id, { objects: objects.charge.length, created: 0, updated: objects.charge.length - first.skipped, skipped: first.skipped });
    rig.assertCrm(expect);
  });
});

// ---- 2. faults: 429, 5xx, dropped connections, Should-Retry: false, revoked key -------------

test('historical sync survives Stripe faults with exact results', { timeout: 180000 }, async (t) => {
  const rig = await Rig.create({ STRIPELINK_SYNC_RATE_TEST: '0' });
  t.after(() => rig.close());
  const from = rig.t0 + 10;
  const to = () => nowS() - 2;
  let model = new Expected();
  let customerObjects;

  // Reads the charges (before any fault is set: faults hit every /v1
  // request, this test's too) and what the next charge job must count.
  const readCharges = async () => {
    const charges = await listAll(rig.fake, 'charge');
    return { charges, want: model.apply('charge', charges) };
  };

  await t.test('customers first (no faults)', async () => {
    await rig.fake.seed(spread('customer', 2000, from, to()));
    await rig.fake.seed(spread('charge', 4000, from + 1, to(), { customers: false }));
    const id = await rig.addResource('customer');
    await rig.waitJob(id);
    customerObjects = await listAll(rig.fake, 'customer');
    rig.assertJob(id, model.apply('customer', customerObjects));
  });

  await t.test('429 bursts are retried (Retry-After honoured): exact counts', async () => {
    const { want, charges } = await readCharges();
    await rig.fake.faults([
      { path: '/v1/charges', method: 'GET', status: 429, count: 4, skip: 3 },
      { path: '/v1/charges', method: 'GET', status: 429, count: 4, skip: 20, retry_after: 1 },
    ]);
    const since = await rig.fake.lastSeq();
    const id = await rig.addResource('charge');
    await rig.waitJob(id, ['done'], 90000);
    const fired = (await rig.fake.ctl('GET', 'faults')).rules.map((r) => r.fired);
    await rig.fake.clearFaults();
    assert.deepEqual(fired, [4, 4], 'both bursts hit the sync');
    rig.assertJob(id, want);
    const j = await rig.assertPages(id, 'charge', charges, since);
    rig.assertCrm((await rig.rebuildExpected(['customer', 'charge'])).exp);
    const reqs = await rig.fake.appRequests('/v1/charges', since);
    assert.equal(reqs.filter((r) => r.status === 429).length, 8);
    assert.equal(reqs.filter((r) => r.status === 200).length, j.pages, 'each page fetched once it succeeded');
    // The second burst said Retry-After: 1. Its retries came at least 1 s later.
    const late = reqs.filter((r) => r.status === 429).slice(4);
    for (const r of late) {
      const again = reqs.find((x) => x.seq > r.seq && JSON.stringify(x.query) === JSON.stringify(r.query));
      assert.ok(again, `the 429'd page ${JSON.stringify(r.query)} was asked again`);
      assert.ok(again.t_ms - r.t_ms >= 950, `retry after ${again.t_ms - r.t_ms} ms despite Retry-After: 1`);
    }
  });

  await t.test('500s, an HTML 502, a 503 and dropped connections mid-page: exact counts', async () => {
    await rig.fake.seed(spread('charge', 2000, from + 2, to(), { customers: false }));
    const { want, charges } = await readCharges();
    await rig.fake.faults([
      { path: '/v1/charges', method: 'GET', status: 500, count: 2, skip: 3 },
      { path: '/v1/charges', method: 'GET', drop: true, count: 2, skip: 8 },
      { path: '/v1/charges', method: 'GET', status: 502, count: 1, skip: 14, raw_body: '<html><body>502 Bad Gateway</body></html>', content_type: 'text/html' },
      { path: '/v1/charges', method: 'GET', status: 503, count: 1, skip: 20 },
      { path: '/v1/charges', method: 'GET', drop: true, count: 1, skip: 30 },
    ]);
    const since = await rig.fake.lastSeq();
    const id = await rig.syncNow('charge');
    await rig.waitJob(id, ['done'], 90000);
    const fired = (await rig.fake.ctl('GET', 'faults')).rules.map((r) => r.fired);
    await rig.fake.clearFaults();
    assert.deepEqual(fired, [2, 2, 1, 1, 1], 'every fault hit the sync');
    rig.assertJob(id, want);
    const j = await rig.assertPages(id, 'charge', charges, since, { dropped: 3 });
    rig.assertCrm((await rig.rebuildExpected(['customer', 'charge'])).exp);
    const reqs = await rig.fake.appRequests('/v1/charges', since);
    assert.equal(reqs.length, j.pages + 7, 'one extra request per fault');
  });

  await t.test('Stripe-Should-Retry: false stops the job at once with a clear error; resume finishes it exactly', async () => {
    await rig.fake.seed(spread('charge', 2000, from + 3, to(), { customers: false }));
    const { want, charges } = await readCharges();
    await rig.fake.faults([{ path: '/v1/charges', method: 'GET', status: 503, should_retry: false, count: 1, skip: 12 }]);
    const since = await rig.fake.lastSeq();
    const id = await rig.syncNow('charge');
    const failed = await rig.waitJob(id, ['failed'], 60000);
    await rig.fake.clearFaults();
    assert.ok(failed.objects < charges.length, `failed mid-way (${failed.objects} of ${charges.length})`);
    assert.match(failed.error, /Stripe/);
    assert.match(failed.error, /[Rr]esume/, `the error says what to do: ${failed.error}`);
    const reqs = await rig.fake.appRequests('/v1/charges', since);
    const refused = reqs.filter((r) => r.status === 503);
    assert.equal(refused.length, 1);
    assert.equal(reqs.filter((r) => JSON.stringify(r.query) === JSON.stringify(refused[0].query)).length, 1,
      'the refused page was not retried (Stripe-Should-Retry: false)');
    const log = rig.q(`SELECT result, reason FROM integration_log WHERE type = 'historical.charge' AND result = 'failed';`);
    assert.deepEqual(log, [{ result: 'failed', reason: failed.error }], 'the failure is in the integration log');
    const { rows } = await rig.jobsTable();
    assert.equal(rows[id].state, 'failed');
    assert.equal(rows[id].error, failed.error, 'the error is on the app page');
    assert.deepEqual(rows[id].buttons.sort(), ['cancel', 'resume']);

    await rig.control(id, 'resume');
    await rig.waitJob(id, ['done'], 60000);
    const j = rig.assertJob(id, want);
    assert.equal(j.error, '', 'the error is cleared once it runs again');
    await rig.assertPages(id, 'charge', charges, since);
    rig.assertCrm((await rig.rebuildExpected(['customer', 'charge'])).exp);
  });

  await t.test('a revoked key (401) fails the job with "Stripe no longer accepts this connection\'s key"; resume finishes it', async () => {
    await rig.fake.seed(spread('charge', 1000, from + 4, to(), { customers: false }));
    const { want, charges } = await readCharges();
    await rig.fake.faults([{
      path: '/v1/charges', method: 'GET', status: 401, count: -1, skip: 10,
      error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_*********c123' },
    }]);
    const since = await rig.fake.lastSeq();
    const id = await rig.syncNow('charge');
    const failed = await rig.waitJob(id, ['failed'], 60000);
    await rig.fake.clearFaults();
    assert.match(failed.error, /Stripe no longer accepts this connection's key/);
    assert.doesNotMatch(failed.error, /sk_test_abc123/, 'the key is never shown');
    assert.equal(rig.one(`SELECT count(*) FROM integration_log WHERE result = 'failed' AND reason = '${failed.error.replace(/'/g, "''")}';`), 1);
    await rig.control(id, 'resume');
    await rig.waitJob(id, ['done'], 60000);
    rig.assertJob(id, want);
    await rig.assertPages(id, 'charge', charges, since);
    rig.assertCrm((await rig.rebuildExpected(['customer', 'charge'])).exp);
  });
});

// ---- 3. kill -9 of the worker in the middle ------------------------------------------------

test('historical sync: kill -9 of the sync worker mid-job, restarted by the supervisor, exact results', { timeout: 180000 }, async (t) => {
  // The fixture account dates from 2009 while all its history is from the
  // last few hours: the sync has to split its windows while it runs.
  const rig = await Rig.create({ STRIPELINK_SYNC_RATE_TEST: '0' }, { span: null });
  t.after(() => rig.close());
  const model = new Expected();
  const S = 8000;

  await t.test('setup: customers synced, then checkout sessions (orders + recurring payments) slowed down', async () => {
    await rig.fake.seed({ resource: 'customers', count: 2000, start_created: nowS() - 12000, created_step: 1 });
    await rig.fake.seed({ resource: 'checkout_sessions', count: S, start_created: nowS() - 9000, created_step: 1, customers: false });
    const id = await rig.addResource('customer');
    await rig.waitJob(id);
    rig.assertJob(id, model.apply('customer', await listAll(rig.fake, 'customer')));
  });

  await t.test('kill -9 twice mid-job; the job resumes and ends with exact counts, nothing doubled', async () => {
    const sessions = await listAll(rig.fake, 'checkout_session');
    const want = model.apply('checkout_session', sessions);
    // ~100 ms per page: 80 pages over 4 windows take a few seconds.
    await rig.fake.faults([{ path: '/v1/checkout/sessions', method: 'GET', delay_ms: 100, count: -1 }]);
    const since = await rig.fake.lastSeq();
    const id = await rig.addResource('checkout_session');
    const kills = [];
    for (const threshold of [1500, 4500]) {
      await rig.waitFor(`job ${id} past ${threshold} objects`, () => (rig.job(id).objects >= threshold ? true : null), 60000, 20);
      const j = rig.job(id);
      assert.equal(j.state, 'running', `still running at ${j.objects} objects (kill ${kills.length + 1})`);
      assert.ok(j.objects < S, 'not finished yet');
      const pid = rig.syncPid();
      assert.ok(pid, 'found the sync worker');
      process.kill(pid, 'SIGKILL');
      kills.push({ pid, at: j.objects });
      const next = await rig.waitFor('the supervisor to restart the sync worker', () => {
        const p = rig.syncPid();
        return p && p !== pid ? p : null;
      }, 20000, 50);
      assert.notEqual(next, pid);
    }
    await rig.waitJob(id, ['done'], 90000);
    assert.match(rig.app.log(), /stripelink-sync.*exited.*restarting|restarting/i, 'the supervisor logged the restart');
    rig.assertJob(id, want);
    const j = await rig.assertPages(id, 'checkout_session', sessions, since, { killed: true });
    // Pages that were in flight when the worker died are fetched again, nothing more.
    const reqs = await rig.fake.appRequests('/v1/checkout/sessions', since);
    assert.ok(reqs.length >= j.pages && reqs.length <= j.pages + 2 * 4 * 2,
      `${reqs.length} requests for ${j.pages} pages after ${kills.length} kills`);
    await rig.fake.clearFaults();
    assert.ok(rig.one(`SELECT count(*) FROM sync_windows WHERE job_id = ${id};`) >= 4, 'the one window was split for the threads');
    const { exp } = await rig.rebuildExpected(['customer', 'checkout_session']);
    rig.assertCrm(exp);
    assert.ok(exp.recurring.size > 1000 && exp.orders.size > 4000, 'the sessions made orders and recurring payments');
  });
});

// ---- 4. the default rate, a webhook during the sync, pause/resume/cancel, disconnect --------

test('historical sync at the default test-key rate: webhook ordering, pause, resume, cancel, rate', { timeout: 180000 }, async (t) => {
  const rig = await Rig.create({});   // STRIPELINK_SYNC_RATE_TEST unset: 10/s for sk_test_ keys
  t.after(() => rig.close());
  const from = rig.t0 + 10;
  const to = nowS() - 2;
  const model = new Expected();
  let chargeJob;
  let chargeSince;
  let charges;
  let target;           // the charge the webhook changes
  let eventCreated;

  await t.test('setup: customers synced at the default rate', async () => {
    await rig.fake.seed(spread('customer', 600, from, to));
    await rig.fake.seed(spread('charge', 3000, from + 1, to, { customers: false }));
    const id = await rig.addResource('customer');
    await rig.waitJob(id);
    rig.assertJob(id, model.apply('customer', await listAll(rig.fake, 'customer')));
    assert.match(rig.app.log(), /stripelink-sync: ready \(rate 20\/s live, 10\/s test per account, 4 windows\)/);
  });

  await t.test('a newer webhook that lands before the sync reaches its object is not overwritten', async () => {
    charges = await listAll(rig.fake, 'charge');
    // The oldest guest charge: the last one its window reaches (newest first).
    target = [...charges].reverse().find((c) => !c.customer && c.billing_details && c.billing_details.email && c.status === 'succeeded' && !c.refunded);
    assert.ok(target, 'a guest charge to change');
    chargeSince = await rig.fake.lastSeq();
    chargeJob = await rig.addResource('charge');
    await rig.waitFor('the charge job to run', () => (rig.job(chargeJob).state === 'running' ? true : null), 30000, 20);
    assert.equal(rig.one(`SELECT count(*) FROM orders WHERE stripe_id = '${target.id}';`), 0, 'the sync has not reached it yet');
    assert.equal(rig.one(`SELECT count(*) FROM object_versions WHERE object_id = '${target.id}';`), 0);

    const endpoints = await rig.fake.ctl('GET', 'webhook_endpoints');
    const list = Array.isArray(endpoints) ? endpoints : endpoints.data;
    const secret = list.find((e) => e.url.endsWith(`/webhooks/stripe/${rig.id}`)).secret;
    eventCreated = nowS() + 300;   // newer than any page the sync fetches
    const refunded = {
      ...target,
      refunded: true,
      amount_refunded: target.amount,
      billing_details: { ...target.billing_details, name: 'Webhook Newer' },
    };
    const { payload, header } = signedEvent(secret, {
      id: 'evt_sync_newer_1', object: 'event', api_version: '2024-06-20', created: eventCreated,
      data: { object: refunded }, livemode: false, pending_webhooks: 1,
      request: { id: null, idempotency_key: null }, type: 'charge.refunded',
    });
    const res = await fetch(`${rig.app.base}/webhooks/stripe/${rig.id}`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body: payload,
    });
    assert.equal(res.status, 200, await res.text());
    const order = rig.q(`SELECT status, amount_refunded FROM orders WHERE stripe_id = '${target.id}';`);
    assert.deepEqual(order, [{ status: 'refunded', amount_refunded: target.amount }], 'the webhook made the order');
    const j = rig.job(chargeJob);
    assert.equal(j.state, 'running', 'the webhook landed while the sync was running');
    assert.ok(j.objects < charges.length, 'and before it finished');
    // Meanwhile the app page shows the running job and refreshes itself.
    const { rows, refresh } = await rig.jobsTable();
    assert.equal(rows[chargeJob].state, 'running');
    assert.ok(rows[chargeJob].percent >= 0 && rows[chargeJob].percent < 100, `progress ${rows[chargeJob].percent}%`);
    assert.deepEqual(rows[chargeJob].buttons.sort(), ['cancel', 'pause']);
    assert.equal(refresh, true, 'data-refresh while a job runs');
  });

  await t.test('pause stops the requests; the page offers Resume; resume finishes the job exactly', async () => {
    await rig.waitFor('some charges synced', () => (rig.job(chargeJob).objects >= 500 ? true : null), 30000, 20);
    await rig.control(chargeJob, 'pause');
    assert.equal(rig.job(chargeJob).state, 'paused');
    await sleep(700);   // pages already in flight finish
    const n1 = (await rig.fake.appRequests('/v1/charges')).length;
    const objects1 = rig.job(chargeJob).objects;
    await sleep(1500);
    const n2 = (await rig.fake.appRequests('/v1/charges')).length;
    assert.equal(n2, n1, 'no list request while paused');
    assert.equal(rig.job(chargeJob).objects, objects1, 'no page committed while paused');
    assert.ok(objects1 < charges.length, 'paused mid-way');
    const { rows, refresh } = await rig.jobsTable();
    assert.equal(rows[chargeJob].state, 'paused');
    assert.deepEqual(rows[chargeJob].buttons.sort(), ['cancel', 'resume']);
    assert.ok(rows[chargeJob].percent > 0 && rows[chargeJob].percent < 100, `progress ${rows[chargeJob].percent}%`);
    assert.equal(refresh, false, 'nothing running: no refresh');
    // "Sync history now" while this job is paused does not start a second one.
    const again = await rig.admin.submit(rig.appPath(), `${rig.appPath()}/sync`, { resource: 'charge' });
    assert.equal(again.status, 303);
    assert.equal(rig.latestJob('charge'), chargeJob, 'no second charge job next to the paused one');

    await rig.control(chargeJob, 'resume');
    await rig.waitFor('the job to run again', () => (['running', 'done'].includes(rig.job(chargeJob).state) ? true : null), 10000, 20);
    const running = await rig.jobsTable();
    if (rig.job(chargeJob).state === 'running') {
      assert.equal(running.refresh, true, 'the page refreshes itself while a job runs');
      assert.ok(running.rows[chargeJob].buttons.includes('pause'));
    }
    await rig.waitJob(chargeJob, ['done'], 60000);
    const want = model.apply('charge', charges);
    const j = rig.job(chargeJob);
    // The webhook's charge was stale for the sync: neither skipped nor counted as a contact.
    assert.deepEqual({ objects: j.objects, created: j.contacts_created, updated: j.contacts_updated, skipped: j.skipped },
      { objects: want.objects, created: want.created - 1, updated: want.updated, skipped: want.skipped }, 'counters');
    await rig.assertPages(chargeJob, 'charge', charges, chargeSince);
  });

  await t.test('after the sync the webhook\'s newer data is still there', () => {
    const order = rig.q(`SELECT status, amount, amount_refunded FROM orders WHERE stripe_id = '${target.id}';`);
    assert.deepEqual(order, [{ status: 'refunded', amount: target.amount, amount_refunded: target.amount }],
      'the sync did not put the older "succeeded" charge back');
    const email = target.billing_details.email.toLowerCase();
    const contact = rig.q(`SELECT first_name, last_name FROM contacts WHERE email_key = '${email}';`);
    assert.deepEqual(contact, [{ first_name: 'Webhook', last_name: 'Newer' }], 'the contact keeps the webhook\'s name');
    assert.equal(rig.one(`SELECT version FROM object_versions WHERE object_id = '${target.id}';`), eventCreated);
    const w = rig.q(`SELECT oldest_seen FROM sync_windows WHERE job_id = ${chargeJob} AND created_gte <= ${target.created} AND created_lt > ${target.created};`);
    assert.ok(w.length === 1 && w[0].oldest_seen <= target.created, 'the sync did reach that charge');
    // Everything else is exactly as Stripe has it.
    const exp = model;
    exp.contacts.get(email).first = 'Webhook';
    exp.contacts.get(email).last = 'Newer';
    exp.orders.set(target.id, { status: 'refunded', amount: target.amount });
    // The webhook tagged its own event; whether the contact of an object the
    // sync found stale also gets the historical tag is left open.
    const histTagged = rig.one(`SELECT count(*) FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id JOIN contacts c ON c.id = ct.contact_id
                                WHERE t.name = '${HIST_TAG}' AND c.email_key = '${email}';`);
    rig.assertCrm(exp, { extraTags: { 'stripe-integration-charge-refunded': 1, [HIST_TAG]: exp.contacts.size - 1 + histTagged } });
  });

  await t.test('list requests stay within 10/s (+1 for timer jitter) in every 1 s sliding window', async (st) => {
    const reqs = [...await rig.fake.appRequests('/v1/customers'), ...await rig.fake.appRequests('/v1/charges')];
    assert.ok(reqs.length >= 35, `${reqs.length} list requests`);
    const peak = busiestWindow(reqs);
    st.diagnostic(`test key: ${reqs.length} list requests, busiest second ${peak.count} (limit 10/s)`);
    assert.ok(peak.count <= 11, `${peak.count} list requests within one second at a limit of 10/s: ${peak.detail}`);
  });

  await t.test('cancel stops a running job for good', async () => {
    const id = await rig.syncNow('charge');
    await rig.waitFor('the new job to commit a page', () => (rig.job(id).objects > 0 ? true : null), 30000, 20);
    await rig.control(id, 'cancel');
    assert.equal(rig.job(id).state, 'cancelled');
    await sleep(700);
    const n1 = (await rig.fake.appRequests('/v1/charges')).length;
    const objects = rig.job(id).objects;
    await sleep(1500);
    assert.equal((await rig.fake.appRequests('/v1/charges')).length, n1, 'no request after cancel');
    assert.equal(rig.job(id).state, 'cancelled', 'stays cancelled');
    assert.equal(rig.job(id).objects, objects);
    assert.ok(objects < charges.length, 'cancelled mid-way');
    const { rows, refresh } = await rig.jobsTable();
    assert.equal(rows[id].state, 'cancelled');
    assert.deepEqual(rows[id].buttons, [], 'a cancelled job cannot be resumed');
    assert.equal(refresh, false);
    // Cancelling does not resume: post resume anyway, it stays cancelled.
    await rig.control(id, 'resume');
    await sleep(800);
    assert.equal(rig.job(id).state, 'cancelled');
  });

  await t.test('429 retries also stay within the rate', async () => {
    const since = await rig.fake.lastSeq();
    await rig.fake.faults([{ path: '/v1/charges', method: 'GET', status: 429, count: 8, skip: 4 }]);
    const id = await rig.syncNow('charge');
    await rig.waitJob(id, ['done'], 90000);
    assert.equal((await rig.fake.ctl('GET', 'faults')).rules[0].fired, 8);
    await rig.fake.clearFaults();
    const reqs = await rig.fake.appRequests('/v1/charges', since);
    const peak = busiestWindow(reqs);
    assert.ok(peak.count <= 11, `${peak.count} requests within one second at a limit of 10/s ` +
      `(${reqs.length} requests, 8 of them answered 429; retries are not counted by the limiter): ${peak.detail}`);
  });

  await t.test('disconnecting stops the running job; what was synced stays', async () => {
    const contacts = rig.one('SELECT count(*) FROM contacts;');
    const id = await rig.syncNow('charge');
    await rig.waitFor('the new job to commit a page', () => (rig.job(id).objects > 0 ? true : null), 30000, 20);
    const res = await rig.admin.submit(`${rig.appPath()}/disconnect`, `${rig.appPath()}/disconnect`, {});
    assert.equal(res.status, 303);
    assert.equal(rig.job(id).state, 'cancelled');
    await sleep(700);
    const n1 = (await rig.fake.appRequests('/v1/charges')).length;
    await sleep(1500);
    assert.equal((await rig.fake.appRequests('/v1/charges')).length, n1, 'no request after disconnect');
    assert.equal(rig.one('SELECT count(*) FROM contacts;'), contacts);
  });
});

// ---- 5. live keys: 20 requests per second by default ------------------------------------------

test('historical sync with a live key uses the live default rate (20/s)', { timeout: 120000 }, async (t) => {
  const rig = await Rig.create({}, { key: 'sk_live_abc123' });
  t.after(() => rig.close());
  const model = new Expected();
  await rig.fake.seed(spread('customer', 5000, rig.t0 + 10, nowS() - 2, { livemode: true }));
  const customers = await listAll(rig.fake, 'customer', rig.key);
  const since = await rig.fake.lastSeq();
  const id = await rig.addResource('customer');
  await rig.waitJob(id, ['done'], 60000);
  rig.assertJob(id, model.apply('customer', customers));
  await rig.assertPages(id, 'customer', customers, since);
  rig.assertCrm(model);
  const reqs = await rig.fake.appRequests('/v1/customers', since);
  const peak = busiestWindow(reqs);
  // slots are 50 ms apart; on a loaded machine a request sent late lands next to the
  // following one, so a 1 s window may see one more at each edge (21 + 1)
  assert.ok(peak.count <= 22, `${peak.count} list requests within one second at a limit of 20/s: ${peak.detail}`);
  const times = reqs.map((r) => r.t_ms).sort((a, b) => a - b);
  const achieved = (times.length - 1) / ((times[times.length - 1] - times[0]) / 1000);
  t.diagnostic(`live key: ${reqs.length} list requests at ${achieved.toFixed(1)}/s (limit 20/s), busiest second ${peak.count}`);
  assert.ok(achieved > 12, `${achieved.toFixed(1)} requests/s: more than the 10/s of test keys`);
});

// ---- 5b. two Stripe accounts: a rate budget each ------------------------------------------------

test('two Stripe accounts sync side by side, each at its own rate', { timeout: 120000 }, async (t) => {
  const RATE = 5;
  const rig = await Rig.create({ STRIPELINK_SYNC_RATE_TEST: String(RATE) });
  t.after(() => rig.close());
  const KEY2 = 'sk_test_secondaccount42';
  // another Stripe account for KEY2 (the fake's objects are the same for both keys)
  await rig.fake.ctl('POST', 'account', { key: KEY2, id: 'acct_SecondShop', name: 'Second Shop' });
  const res = await rig.admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: KEY2 });
  assert.equal(res.status, 303, `connecting the second account: ${res.status} ${res.text.slice(0, 300)}`);
  const second = Object.assign(Object.create(Rig.prototype), rig,
    { id: Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]), key: KEY2 });
  assert.deepEqual(rig.q(`SELECT account_id FROM connections ORDER BY id;`).map((r) => r.account_id),
    ['acct_1FakeStripeTest0', 'acct_SecondShop']);
  const N = 2500;   // 25 pages: 5 s at 5/s
  await rig.fake.seed(spread('customer', N, rig.t0 + 10, nowS() - 2));
  const since = await rig.fake.lastSeq();
  const jobs = [await rig.addResource('customer'), await second.addResource('customer')];
  for (const id of jobs) {
    const j = await rig.waitJob(id, ['done'], 60000);
    assert.equal(j.objects, N, `job ${id}: every customer once`);
  }
  const reqs = await rig.fake.appRequests('/v1/customers', since);
  const byKey = (key) => reqs.filter((r) => r.headers.authorization === `Bearer ${key}`);
  const first = busiestWindow(byKey(rig.key));
  const other = busiestWindow(byKey(KEY2));
  const both = busiestWindow(reqs);
  t.diagnostic(`${byKey(rig.key).length} + ${byKey(KEY2).length} list requests; busiest second: ` +
    `${first.count} of the first account, ${other.count} of the second, ${both.count} together (${RATE}/s per account)`);
  assert.ok(first.count <= RATE + 1, `the first account: ${first.count} within one second: ${first.detail}`);
  assert.ok(other.count <= RATE + 1, `the second account: ${other.count} within one second: ${other.detail}`);
  // side by side, not one after the other, and neither behind the other's budget
  assert.ok(both.count > RATE + 1, `together ${both.count} within one second: more than one account's ${RATE}/s`);
});

// ---- 6. a restricted key without read access to the resource -------------------------------------

test('historical sync with a restricted key that cannot read charges fails with a clear error', { timeout: 60000 }, async (t) => {
  const key = 'rk_test_nocharge51abcd';
  const rig = await Rig.create({ STRIPELINK_SYNC_RATE_TEST: '0' }, { key });
  t.after(() => rig.close());
  await rig.fake.seed(spread('charge', 300, rig.t0 + 10, nowS() - 2));
  const since = await rig.fake.lastSeq();
  const id = await rig.addResource('charge');
  const failed = await rig.waitJob(id, ['failed'], 30000);
  assert.match(failed.error, /permission/i, failed.error);
  assert.match(failed.error, /charge/i, 'names what it cannot read');
  assert.doesNotMatch(failed.error, /nocharge51abcd/, 'the key is never shown');
  const reqs = await rig.fake.appRequests('/v1/charges', since);
  assert.ok(reqs.length >= 1 && reqs.every((r) => r.status === 403), 'Stripe said 403');
  assert.ok(reqs.length <= 4, `a 403 is not retried (${reqs.length} requests, one per window thread at most)`);
  assert.equal(rig.one(`SELECT count(*) FROM integration_log WHERE result = 'failed' AND type = 'historical.charge';`), 1);
  const { rows } = await rig.jobsTable();
  assert.equal(rows[id].state, 'failed');
  assert.equal(rows[id].error, failed.error);
  assert.equal(rig.one('SELECT count(*) FROM contacts;'), 0);
});
