// connect.test.js - step 1 of the Stripe wizard over HTTP, against the
// real app (nginx + FastCGI) and the fake Stripe: connecting with good,
// malformed, rejected and under-privileged keys, the 16-endpoint cap,
// Stripe down, retries (429, Retry-After, Stripe-Should-Retry), replacing
// an existing endpoint, disconnecting (also when the endpoint is already
// gone or Stripe is down), reconnecting, and the promise that a key or a
// signing secret never shows up whole in a page, a log or a file.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startApp, Client, adminClient, csrfOf } = require('./harness');
const { start } = require('../fake-stripe/server');

// The event types DESIGN.md's webhook table names.
const DESIGN_EVENTS = [
  'customer.created', 'customer.updated',
  'charge.succeeded', 'charge.refunded',
  'checkout.session.completed',
  'invoice.paid', 'invoice.payment_succeeded', 'invoice.payment_failed',
  'customer.subscription.created', 'customer.subscription.updated',
  'customer.subscription.deleted', 'customer.subscription.trial_will_end',
  'charge.refund.updated', 'refund.created', 'refund.updated', 'refund.failed',
  'charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed',
  'customer.deleted',
].sort();

// A fresh key of the given prefix; `middle` is put in the key so the fake
// can react to it ("invalid", "noweb", ...). Only [A-Za-z0-9_], like Stripe.
function makeKey(prefix, middle = '') {
  return `${prefix}${middle}${crypto.randomBytes(12).toString('hex')}Zq${crypto.randomBytes(1).toString('hex')}`;
}

// Every key and secret a test used: none may ever appear whole.
const secrets = new Set();
function key(prefix, middle) {
  const k = makeKey(prefix, middle);
  secrets.add(k);
  return k;
}

// A Client that remembers every body and header it was answered with.
class RecordingClient extends Client {
  constructor(base, seen) {
    super(base);
    this.seen = seen;
  }

  async request(method, p, opts) {
    const res = await super.request(method, p, opts);
    this.seen.push({ method, path: p, status: res.status, text: res.text, location: res.location || '',
      headers: [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n') });
    return res;
  }
}

function masked(k) {
  const second = k.indexOf('_', k.indexOf('_') + 1);
  return `${k.slice(0, second + 1)}…${k.slice(-4)}`;
}

function* filesUnder(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(p);
    else if (entry.isFile()) yield p;
  }
}

test('connect a Stripe account', async (t) => {
  const fake = await start({ port: 0 });
  t.after(() => fake.close());
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url });
  t.after(() => app.stop());
  const seen = [];

  // ---- helpers on the fake ----
  async function ctl(method, p, body) {
    const res = await fetch(`${fake.url}/_fake/${p}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    assert.ok(res.status < 300, `fake control ${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }
  // Direct calls to the fake's /v1 as a test (marked, so the checks on what
  // the app sent leave them out).
  async function stripeDirect(method, p, k, form) {
    const headers = { authorization: `Bearer ${k}`, 'x-test-direct': '1' };
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(fake.url + p, { method, headers, body: form });
    return { status: res.status, json: await res.json() };
  }
  const lastSeq = async () => (await ctl('GET', 'state')).requests.last_seq;
  async function appRequests(since, query = '') {
    const all = await ctl('GET', `requests?since=${since}${query}`);
    return all.filter((r) => !r.headers['x-test-direct']);
  }
  const endpoints = () => ctl('GET', 'webhook_endpoints');
  const hookUrl = (id) => `${app.base}/webhooks/stripe/${id}`;
  async function setAccount(id, name) {
    await ctl('POST', 'account', { id, name });
  }
  const connectionOf = (accountId) => {
    const out = app.sql(`SELECT id, status, livemode, account_name, key_sealed IS NOT NULL, secret_sealed IS NOT NULL,
                                coalesce(endpoint_id, ''), key_hint
                         FROM connections WHERE account_id = '${accountId}';`).trim();
    if (!out) return null;
    const [id, status, livemode, name, hasKey, hasSecret, endpointId, hint] = out.split('|');
    return { id: Number(id), status, livemode: livemode === '1', name, hasKey: hasKey === '1',
      hasSecret: hasSecret === '1', endpointId, hint };
  };
  // Nothing of a failed connect is left: no secret in the database (no row
  // at all for an account never connected) and no endpoint at Stripe.
  async function assertNothingSaved(accountId, endpointsBefore, { everConnected = false } = {}) {
    const row = connectionOf(accountId);
    if (everConnected) {
      assert.equal(row.status, 'disconnected');
      assert.equal(row.hasKey, false, 'no key stored');
      assert.equal(row.hasSecret, false, 'no signing secret stored');
    } else {
      assert.equal(row, null, `no connection row for ${accountId}`);
    }
    assert.equal(app.sql("SELECT count(*) FROM connections WHERE status = 'pending';").trim(), '0');
    const now = (await endpoints()).map((e) => e.id).sort();
    assert.deepEqual(now, endpointsBefore.map((e) => e.id).sort(), 'no endpoint added or left at Stripe');
  }

  const admin = await adminClient(app);
  const c = new RecordingClient(app.base, seen);
  c.cookies = admin.cookies;
  const connect = (k) => c.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: k });

  const conn = {};   // account id → connection id

  await t.test('the Apps page offers Connect Account; the dialog asks for the secret key', async () => {
    const apps = await c.get('/apps');
    assert.equal(apps.status, 200);
    assert.match(apps.text, /href="\/apps\/stripe\/connect"[^>]*>Connect Account</);
    assert.match(apps.text, /No apps are connected yet/);
    const form = await c.get('/apps/stripe/connect');
    assert.equal(form.status, 200);
    assert.match(form.text, /<form method="post" action="\/apps\/stripe\/connect"/);
    assert.match(form.text, /<label for="secret_key">Stripe Secret Key<\/label>/);
    assert.match(form.text, /name="secret_key"/);
    assert.match(form.text, /API keys/);
    const anon = await new Client(app.base).get('/apps/stripe/connect');
    assert.equal(anon.status, 303);
    assert.match(anon.location, /^\/login/);
  });

  await t.test('a connect without its CSRF token is refused before Stripe is asked', async () => {
    const since = await lastSeq();
    const k = key('sk_test_');
    const res = await c.post('/apps/stripe/connect', { secret_key: k });
    assert.equal(res.status, 403);
    const bad = await c.post('/apps/stripe/connect', { secret_key: k, csrf: 'a'.repeat(64) });
    assert.equal(bad.status, 403);
    assert.deepEqual(await appRequests(since), []);
    assert.equal(app.sql('SELECT count(*) FROM connections;').trim(), '0');
  });

  await t.test('a malformed key is refused at once, without asking Stripe', async () => {
    const since = await lastSeq();
    const bad = ['', 'hello', 'pk_test_51HabcdefGHIJ1234', 'sk_test_', 'sk_test_abc def1234',
      'sk_prod_abcdef123456', 'whsec_abcdef0123456789', 'sk_test_abc-def-1234'];
    for (const k of bad) {
      const res = await connect(k);
      assert.equal(res.status, 422, `key ${JSON.stringify(k)}`);
      assert.match(res.text, /That does not look like a Stripe secret key\./);
      assert.match(res.text, /sk_live_ or sk_test_/);
      assert.match(res.text, /name="secret_key"/, 'the form is shown again');
    }
    // far too long, or not ASCII: refused too, and never echoed back
    for (const k of [key('sk_test_', 'x'.repeat(600)), `sk_test_é${crypto.randomBytes(8).toString('hex')}`]) {
      secrets.add(k);
      const res = await connect(k);
      assert.ok(res.status === 400 || res.status === 422, `status ${res.status}`);
      assert.ok(!res.text.includes(k));
    }
    assert.deepEqual(await appRequests(since), [], 'Stripe was not asked');
    assert.equal(app.sql('SELECT count(*) FROM connections;').trim(), '0');
  });

  await t.test('a key Stripe rejects: said so, asked once, nothing saved', async () => {
    await setAccount('acct_1RejectedShop', 'Rejected Shop');
    const before = await endpoints();
    const since = await lastSeq();
    const k = key('sk_test_', 'invalid');
    const res = await connect(k);
    assert.equal(res.status, 422);
    assert.match(res.text, /Stripe did not accept this key\./);
    assert.match(res.text, /Developers → API keys/);
    const reqs = await appRequests(since);
    assert.deepEqual(reqs.map((r) => `${r.method} ${r.path} ${r.status}`), ['GET /v1/account 401'],
      'a 401 is not retried and nothing else is asked');
    await assertNothingSaved('acct_1RejectedShop', before);
  });

  await t.test('a restricted key without the webhook permission: says which permission', async () => {
    await setAccount('acct_1RestrictedShop', 'Restricted Shop');
    const before = await endpoints();
    const since = await lastSeq();
    const res = await connect(key('rk_test_', 'noweb'));
    assert.equal(res.status, 422);
    assert.match(res.text, /This restricted key is missing a permission\./);
    assert.match(res.text, /Webhook Endpoints/);
    const reqs = await appRequests(since);
    assert.ok(reqs.some((r) => r.path.startsWith('/v1/webhook_endpoints') && r.status === 403));
    assert.equal(reqs.filter((r) => r.status === 403).length, 1, 'a 403 is not retried');
    await assertNothingSaved('acct_1RestrictedShop', before);

    const noAccount = await connect(key('rk_test_', 'noacct'));
    assert.equal(noAccount.status, 422);
    assert.match(noAccount.text, /This restricted key is missing a permission\./);
    await assertNothingSaved('acct_1RestrictedShop', before);
  });

  await t.test('a good test key: connected, endpoint created with the DESIGN events, key sealed', async () => {
    await setAccount('acct_1TestShop', 'Test Shop');
    const since = await lastSeq();
    const k = key('sk_test_');
    const res = await connect(k);
    assert.equal(res.status, 303, res.text);
    const m = /^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location);
    assert.ok(m, `redirect to step 2, got ${res.location}`);
    const id = Number(m[1]);
    conn.test = id;

    const row = connectionOf('acct_1TestShop');
    assert.equal(row.id, id);
    assert.equal(row.status, 'connected');
    assert.equal(row.livemode, false);
    assert.equal(row.name, 'Test Shop');
    assert.ok(row.hasKey && row.hasSecret);
    assert.equal(row.hint, masked(k));
    const sealed = app.sql(`SELECT key_sealed || ' ' || secret_sealed FROM connections WHERE id = ${id};`);
    assert.ok(!sealed.includes(k) && !sealed.includes(k.slice(8)), 'the key is not stored in clear');

    const mine = (await endpoints()).filter((e) => e.url === hookUrl(id));
    assert.equal(mine.length, 1, 'exactly one endpoint for this install');
    const ep = mine[0];
    secrets.add(ep.secret);
    assert.equal(row.endpointId, ep.id);
    assert.equal(ep.livemode, false);
    assert.equal(ep.status, 'enabled');
    assert.deepEqual([...ep.enabled_events].sort(), DESIGN_EVENTS);
    assert.ok(ep.api_version, 'api_version is pinned');
    assert.ok(!sealed.includes(ep.secret) && !sealed.includes(ep.secret.slice(6)), 'the secret is not stored in clear');

    const reqs = await appRequests(since);
    assert.deepEqual(reqs.map((r) => `${r.method} ${r.path.split('?')[0]} ${r.status}`),
      ['GET /v1/account 200', 'GET /v1/webhook_endpoints 200', 'POST /v1/webhook_endpoints 200']);
    const create = reqs[2];
    assert.equal(create.form.url, hookUrl(id));
    assert.deepEqual([...create.form.enabled_events].sort(), DESIGN_EVENTS);
    assert.equal(create.form.api_version, create.headers['stripe-version'], 'the endpoint gets the pinned API version');
    assert.match(create.headers['content-type'], /^application\/x-www-form-urlencoded/);
    for (const r of reqs) assert.equal(r.headers.authorization, `Bearer ${k}`);

    const step2 = await c.get(res.location);
    assert.equal(step2.status, 200);
  });

  await t.test('the Stripe app page shows the masked key, the mode and the webhook URL', async () => {
    const page = await c.get(`/apps/stripe/${conn.test}`);
    assert.equal(page.status, 200);
    const hint = connectionOf('acct_1TestShop').hint;
    assert.match(hint, /^sk_test_…[A-Za-z0-9_]{4}$/);
    assert.ok(page.text.includes(`<code>${hint}</code>`), 'masked key shown');
    assert.match(page.text, /Test Shop/);
    assert.match(page.text, /<dt>Mode<\/dt><dd>test<\/dd>/);
    assert.match(page.text, /status connected/);
    assert.ok(page.text.includes(`<code>${hookUrl(conn.test)}</code>`), 'webhook URL shown');
    assert.ok(page.text.includes(`href="/apps/stripe/${conn.test}/disconnect"`), 'Disconnect button');
  });

  await t.test('Connected Apps lists the connection: app, account, mode, since, status', async () => {
    const apps = await c.get('/apps');
    assert.equal(apps.status, 200);
    assert.doesNotMatch(apps.text, /No apps are connected yet/);
    const rowRe = new RegExp(`<tr>\\s*<td><a href="/apps/stripe/${conn.test}">Stripe</a></td>\\s*<td>Test Shop</td>\\s*<td>Test</td>\\s*<td>([^<]+)</td>\\s*<td><span class="status connected">connected</span></td>`);
    const m = rowRe.exec(apps.text);
    assert.ok(m, 'a Connected Apps row for the test connection');
    assert.ok(m[1].trim().length > 0, 'connected since is shown');
  });

  await t.test('connecting an account that is already connected is refused, nothing changes', async () => {
    const before = await endpoints();
    const sealedBefore = app.sql(`SELECT key_sealed, secret_sealed, endpoint_id FROM connections WHERE id = ${conn.test};`);
    const res = await connect(key('sk_test_'));
    assert.equal(res.status, 409);
    assert.match(res.text, /already connected/);
    assert.deepEqual((await endpoints()).map((e) => e.id), before.map((e) => e.id));
    assert.equal(app.sql(`SELECT key_sealed, secret_sealed, endpoint_id FROM connections WHERE id = ${conn.test};`), sealedBefore);
  });

  await t.test('a good live key: a live connection with a live endpoint', async () => {
    await setAccount('acct_1LiveShop', 'Live Shop');
    const k = key('sk_live_');
    const res = await connect(`  ${k} `);   // pasted with spaces around it
    assert.equal(res.status, 303, res.text);
    const id = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
    conn.live = id;
    const row = connectionOf('acct_1LiveShop');
    assert.equal(row.status, 'connected');
    assert.equal(row.livemode, true);
    assert.equal(row.hint, masked(k));
    const ep = (await endpoints()).filter((e) => e.url === hookUrl(id));
    assert.equal(ep.length, 1);
    assert.equal(ep[0].livemode, true);
    secrets.add(ep[0].secret);
    const page = await c.get(`/apps/stripe/${id}`);
    assert.ok(page.text.includes(`<code>sk_live_…${k.slice(-4)}</code>`));
    assert.match(page.text, /<dt>Mode<\/dt><dd>live<\/dd>/);
    const apps = await c.get('/apps');
    assert.match(apps.text, new RegExp(`<td><a href="/apps/stripe/${id}">Stripe</a></td>\\s*<td>Live Shop</td>\\s*<td>Live</td>`));
  });

  await t.test('one account with its test key and its live key: two connections, each with its endpoint', async () => {
    await setAccount('acct_1BothModes', 'Both Modes');
    const testRes = await connect(key('sk_test_'));
    assert.equal(testRes.status, 303, testRes.text);
    const liveRes = await connect(key('sk_live_'));
    assert.equal(liveRes.status, 303, `the live key of an account connected in test mode: ${liveRes.status} ${liveRes.text.slice(0, 200)}`);
    const idOf = (res) => Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
    assert.notEqual(idOf(testRes), idOf(liveRes));
    const rows = app.sql("SELECT id, livemode, status FROM connections WHERE account_id = 'acct_1BothModes' ORDER BY livemode;")
      .trim().split('\n').map((l) => l.split('|'));
    assert.deepEqual(rows, [[String(idOf(testRes)), '0', 'connected'], [String(idOf(liveRes)), '1', 'connected']]);
    const eps = await endpoints();
    for (const [res, live] of [[testRes, false], [liveRes, true]]) {
      const mine = eps.filter((e) => e.url === hookUrl(idOf(res)));
      assert.equal(mine.length, 1, `one endpoint for the ${live ? 'live' : 'test'} connection`);
      assert.equal(mine[0].livemode, live);
      secrets.add(mine[0].secret);
    }
    // each mode is still connected once only
    for (const prefix of ['sk_test_', 'sk_live_']) {
      const again = await connect(key(prefix));
      assert.equal(again.status, 409, `${prefix} again`);
      assert.match(again.text, /already connected/);
    }
    assert.equal(app.sql("SELECT count(*) FROM connections WHERE account_id = 'acct_1BothModes';").trim(), '2');
  });

  await t.test('a restricted key with every permission connects', async () => {
    await setAccount('acct_1RestrictedOk', 'Restricted OK');
    const k = key('rk_test_');
    const res = await connect(k);
    assert.equal(res.status, 303, res.text);
    conn.restricted = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
    const row = connectionOf('acct_1RestrictedOk');
    assert.equal(row.status, 'connected');
    assert.equal(row.hint, masked(k));
    assert.match(row.hint, /^rk_test_…/);
  });

  await t.test('the account name is shown as text, not markup', async () => {
    await setAccount('acct_1HtmlShop', 'Tom & Jerry\'s <b>Shop</b>');
    const res = await connect(key('sk_test_'));
    assert.equal(res.status, 303, res.text);
    const id = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
    conn.html = id;
    const apps = await c.get('/apps');
    assert.ok(!apps.text.includes('<b>Shop</b>'));
    assert.match(apps.text, /Tom &amp; Jerry(&#39;|&#x27;|&apos;)s &lt;b&gt;Shop&lt;\/b&gt;/);
    const page = await c.get(`/apps/stripe/${id}`);
    assert.ok(!page.text.includes('<b>Shop</b>'));
  });

  await t.test('two connects of the same new account at once: one connection, one endpoint', async () => {
    await setAccount('acct_1TwiceShop', 'Twice Shop');
    await ctl('POST', 'faults', { rules: [{ path: '/v1/webhook_endpoints', method: 'GET', delay_ms: 300, count: 2 }] });
    const [a, b] = await Promise.all([connect(key('sk_test_')), connect(key('sk_test_'))]);
    await ctl('DELETE', 'faults');
    assert.deepEqual([a.status, b.status].sort(), [303, 409]);
    const row = connectionOf('acct_1TwiceShop');
    assert.equal(row.status, 'connected');
    const mine = (await endpoints()).filter((e) => e.url === hookUrl(row.id));
    assert.equal(mine.length, 1);
    assert.equal(row.endpointId, mine[0].id);
    secrets.add(mine[0].secret);
    assert.equal(app.sql("SELECT count(*) FROM connections WHERE account_id = 'acct_1TwiceShop';").trim(), '1');
  });

  await t.test('an answer over the size cap is refused, nothing saved', async () => {
    await setAccount('acct_1HugeShop', 'Huge Shop');
    const before = await endpoints();
    const huge = `{"id":"acct_1HugeShop","object":"account","pad":"${'x'.repeat(17 * 1024 * 1024)}"}`;
    await ctl('POST', 'faults', { rules: [{ path: '/v1/account', method: 'GET', status: 200, raw_body: huge,
      content_type: 'application/json', count: 5 }] });
    const since = await lastSeq();
    const res = await connect(key('sk_test_'));
    const reqs = await appRequests(since);
    await ctl('DELETE', 'faults');
    assert.ok(res.status >= 500, `status ${res.status}`);
    assert.equal(reqs.length, 1, 'not retried');
    await assertNothingSaved('acct_1HugeShop', before);
  });

  await t.test('a 429 then success: retried (same Idempotency-Key for the POST), honouring Retry-After', async () => {
    await setAccount('acct_1RetryShop', 'Retry Shop');
    await ctl('POST', 'faults', { rules: [
      { path: '/v1/account', method: 'GET', status: 429, count: 1 },
      { path: '/v1/webhook_endpoints', method: 'POST', status: 429, count: 1, retry_after: 2 },
    ] });
    const since = await lastSeq();
    const res = await connect(key('sk_test_'));
    await ctl('DELETE', 'faults');
    assert.equal(res.status, 303, res.text);
    const id = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
    conn.retry = id;
    assert.equal(connectionOf('acct_1RetryShop').status, 'connected');
    const reqs = await appRequests(since);
    const acct = reqs.filter((r) => r.path === '/v1/account');
    assert.deepEqual(acct.map((r) => r.status), [429, 200]);
    const posts = reqs.filter((r) => r.method === 'POST');
    assert.deepEqual(posts.map((r) => r.status), [429, 200]);
    assert.equal(posts[0].headers['idempotency-key'], posts[1].headers['idempotency-key'],
      'a retried POST keeps its Idempotency-Key');
    assert.ok(posts[1].t_ms - posts[0].t_ms >= 1900, `Retry-After: 2 honoured (waited ${posts[1].t_ms - posts[0].t_ms} ms)`);
    const ep = (await endpoints()).filter((e) => e.url === hookUrl(id));
    assert.equal(ep.length, 1);
    secrets.add(ep[0].secret);
  });

  await t.test('a dropped answer to the create is retried with the same key: one endpoint, not two', async () => {
    await setAccount('acct_1DropShop', 'Drop Shop');
    // no status: the create runs at the fake, the answer is cut off
    await ctl('POST', 'faults', { rules: [{ path: '/v1/webhook_endpoints', method: 'POST', drop: true, count: 1 }] });
    const since = await lastSeq();
    const res = await connect(key('sk_test_'));
    await ctl('DELETE', 'faults');
    assert.equal(res.status, 303, res.text);
    const id = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
    conn.drop = id;
    const posts = (await appRequests(since)).filter((r) => r.method === 'POST');
    assert.equal(posts.length, 2);
    assert.equal(posts[0].headers['idempotency-key'], posts[1].headers['idempotency-key']);
    const ep = (await endpoints()).filter((e) => e.url === hookUrl(id));
    assert.equal(ep.length, 1, 'the retried create did not make a second endpoint');
    assert.equal(connectionOf('acct_1DropShop').endpointId, ep[0].id);
    secrets.add(ep[0].secret);
  });

  await t.test('16 webhook endpoints: the error and what to do; nothing saved', async () => {
    await setAccount('acct_1FullShop', 'Full Shop');
    const existing = (await endpoints()).filter((e) => !e.livemode).length;
    const fill = [];
    for (let i = existing; i < 16; i++) {
      fill.push({ object: 'webhook_endpoint', url: `https://elsewhere.example.test/hook/${i}`, livemode: false,
        enabled_events: ['charge.succeeded'], status: 'enabled', api_version: null, metadata: {} });
    }
    const { ids } = await ctl('POST', 'objects', { objects: fill });
    const before = await endpoints();
    assert.equal(before.filter((e) => !e.livemode).length, 16);
    const since = await lastSeq();
    const res = await connect(key('sk_test_'));
    assert.equal(res.status, 422);
    assert.match(res.text, /There was an error saving your connection/);
    assert.match(res.text, /already has 16 webhook endpoints/);
    assert.match(res.text, /[Dd]eactivate or delete an unused one in the Stripe dashboard/);
    assert.match(res.text, /then connect again/);
    const posts = (await appRequests(since)).filter((r) => r.method === 'POST');
    assert.equal(posts.length, 1, 'a 400 is not retried');
    await assertNothingSaved('acct_1FullShop', before);
    // free the slots again
    for (const id of ids) assert.equal((await stripeDirect('DELETE', `/v1/webhook_endpoints/${id}`, 'sk_test_cleanup0000')).status, 200);
  });

  await t.test('Stripe unreachable: said so, nothing saved, bounded tries', async () => {
    await setAccount('acct_1DownShop', 'Down Shop');
    const before = await endpoints();
    await ctl('POST', 'faults', { unreachable: true });
    const since = await lastSeq();
    const res = await connect(key('sk_test_'));
    const reqs = await appRequests(since);
    await ctl('DELETE', 'faults');
    assert.equal(res.status, 502);
    assert.match(res.text, /Stripe could not be reached\./);
    assert.match(res.text, /Nothing was saved/);
    assert.ok(reqs.length >= 2 && reqs.length <= 5, `network errors are retried a bounded number of times (${reqs.length})`);
    assert.ok(reqs.every((r) => r.path === '/v1/account'));
    await assertNothingSaved('acct_1DownShop', before);
  });

  await t.test('Stripe answering 503 every time: bounded tries, nothing saved', async () => {
    await setAccount('acct_1FlakyShop', 'Flaky Shop');
    const before = await endpoints();
    await ctl('POST', 'faults', { rules: [{ path: '/v1/webhook_endpoints', method: 'POST', status: 503, count: -1 }] });
    const since = await lastSeq();
    const res = await connect(key('sk_test_'));
    const posts = (await appRequests(since)).filter((r) => r.method === 'POST');
    await ctl('DELETE', 'faults');
    assert.ok(res.status === 502 || res.status === 503, `status ${res.status}`);
    assert.match(res.text, /There was an error saving your connection|Stripe could not be reached/);
    assert.ok(posts.length >= 2 && posts.length <= 5, `bounded tries (${posts.length})`);
    assert.equal(new Set(posts.map((r) => r.headers['idempotency-key'])).size, 1);
    await assertNothingSaved('acct_1FlakyShop', before);
  });

  await t.test('Stripe-Should-Retry: false stops after exactly one request', async () => {
    await setAccount('acct_1NoRetryShop', 'No Retry Shop');
    const before = await endpoints();
    await ctl('POST', 'faults', { rules: [{ path: '/v1/account', method: 'GET', status: 500, should_retry: false, count: 5 }] });
    let since = await lastSeq();
    let res = await connect(key('sk_test_'));
    let reqs = await appRequests(since);
    await ctl('DELETE', 'faults');
    assert.ok(res.status >= 500 && res.status < 600, `status ${res.status}`);
    assert.match(res.text, /There was an error saving your connection|Stripe could not be reached/);
    assert.equal(reqs.length, 1, 'one request, no retry');
    await assertNothingSaved('acct_1NoRetryShop', before);

    // the same on the create, after a pending connection was begun
    await ctl('POST', 'faults', { rules: [{ path: '/v1/webhook_endpoints', method: 'POST', status: 500, should_retry: false, count: 5 }] });
    since = await lastSeq();
    res = await connect(key('sk_test_'));
    reqs = await appRequests(since);
    await ctl('DELETE', 'faults');
    assert.ok(res.status >= 500 && res.status < 600, `status ${res.status}`);
    assert.match(res.text, /There was an error saving your connection/);
    assert.equal(reqs.filter((r) => r.method === 'POST').length, 1, 'one POST, no retry');
    await assertNothingSaved('acct_1NoRetryShop', before);

    // and a 429 that says not to retry
    await ctl('POST', 'faults', { rules: [{ path: '/v1/account', method: 'GET', status: 429, should_retry: false, count: 5 }] });
    since = await lastSeq();
    res = await connect(key('sk_test_'));
    reqs = await appRequests(since);
    await ctl('DELETE', 'faults');
    assert.ok(res.status >= 400, `status ${res.status}`);
    assert.equal(reqs.length, 1, 'one request, no retry');
    await assertNothingSaved('acct_1NoRetryShop', before);
  });

  await t.test('disconnect: confirmation, endpoint deleted at Stripe, keys forgotten, contacts kept', async () => {
    await setAccount('acct_1TestShop', 'Test Shop');
    app.sql(`INSERT INTO contacts (email, email_key, first_name, created_at, updated_at)
             VALUES ('kept@example.com', 'kept@example.com', 'Kept', 1, 1);`);
    const id = conn.test;
    const endpointId = connectionOf('acct_1TestShop').endpointId;
    const confirm = await c.get(`/apps/stripe/${id}/disconnect`);
    assert.equal(confirm.status, 200);
    assert.match(confirm.text, /Disconnect Stripe\?/);
    assert.match(confirm.text, /Test Shop/);
    assert.ok(confirm.text.includes(`action="/apps/stripe/${id}/disconnect"`));
    assert.equal(connectionOf('acct_1TestShop').status, 'connected', 'the confirmation page changes nothing');

    const noCsrf = await c.post(`/apps/stripe/${id}/disconnect`, {});
    assert.equal(noCsrf.status, 403);
    assert.equal(connectionOf('acct_1TestShop').status, 'connected');

    const since = await lastSeq();
    const res = await c.submit(`/apps/stripe/${id}/disconnect`, `/apps/stripe/${id}/disconnect`, {});
    assert.equal(res.status, 303);
    assert.equal(res.location, '/apps?notice=disconnected');
    const reqs = await appRequests(since);
    assert.deepEqual(reqs.map((r) => `${r.method} ${r.path} ${r.status}`), [`DELETE /v1/webhook_endpoints/${endpointId} 200`]);
    assert.ok(!(await endpoints()).some((e) => e.id === endpointId || e.url === hookUrl(id)), 'endpoint gone at Stripe');
    const row = connectionOf('acct_1TestShop');
    assert.equal(row.status, 'disconnected');
    assert.equal(row.hasKey, false);
    assert.equal(row.hasSecret, false);
    assert.equal(row.endpointId, '');
    assert.equal(app.sql("SELECT count(*) FROM contacts WHERE email_key = 'kept@example.com';").trim(), '1');

    const apps = await c.get(res.location);
    assert.match(apps.text, /Stripe is disconnected\. Everything already synced stays/);
    assert.match(apps.text, new RegExp(`<td><a href="/apps/stripe/${id}">Stripe</a></td>\\s*<td>Test Shop</td>[\\s\\S]*?<span class="status disconnected">disconnected</span>`));
    const page = await c.get(`/apps/stripe/${id}`);
    assert.equal(page.status, 200);
    assert.match(page.text, /status disconnected/);
    assert.ok(!page.text.includes(`href="/apps/stripe/${id}/disconnect"`), 'no Disconnect button any more');
    assert.match(page.text, /Connect again/);
    const again = await c.get(`/apps/stripe/${id}/disconnect`);
    assert.equal(again.status, 303);
  });

  await t.test('reconnect: an existing endpoint for our URL is replaced, not duplicated', async () => {
    const id = conn.test;
    const old = await stripeDirect('POST', '/v1/webhook_endpoints', 'sk_test_someoneelse0000',
      new URLSearchParams([['url', hookUrl(id)], ['enabled_events[]', 'charge.succeeded']]).toString());
    assert.equal(old.status, 200);
    secrets.add(old.json.secret);
    const otherUrl = await stripeDirect('POST', '/v1/webhook_endpoints', 'sk_test_someoneelse0000',
      new URLSearchParams([['url', 'https://another.example.test/hook'], ['enabled_events[]', '*']]).toString());
    secrets.add(otherUrl.json.secret);
    const since = await lastSeq();
    const k = key('sk_test_');
    const res = await connect(k);
    assert.equal(res.status, 303, res.text);
    assert.equal(res.location, `/apps/stripe/${id}/resource`, 'the same connection comes back');
    const mine = (await endpoints()).filter((e) => e.url === hookUrl(id));
    assert.equal(mine.length, 1, 'one endpoint for our URL');
    assert.notEqual(mine[0].id, old.json.id, 'the old one was replaced (its secret is unknown to us)');
    secrets.add(mine[0].secret);
    assert.ok((await endpoints()).some((e) => e.id === otherUrl.json.id), 'endpoints for other URLs are left alone');
    const reqs = await appRequests(since);
    assert.ok(reqs.some((r) => r.method === 'DELETE' && r.path === `/v1/webhook_endpoints/${old.json.id}`));
    const row = connectionOf('acct_1TestShop');
    assert.equal(row.status, 'connected');
    assert.equal(row.endpointId, mine[0].id);
    assert.equal(row.hint, masked(k));
    assert.ok(row.hasKey && row.hasSecret);
    await stripeDirect('DELETE', `/v1/webhook_endpoints/${otherUrl.json.id}`, 'sk_test_cleanup0000');
  });

  await t.test('disconnect when the endpoint is already gone at Stripe (404 = gone)', async () => {
    const id = conn.test;
    const endpointId = connectionOf('acct_1TestShop').endpointId;
    assert.equal((await stripeDirect('DELETE', `/v1/webhook_endpoints/${endpointId}`, 'sk_test_cleanup0000')).status, 200);
    const since = await lastSeq();
    const res = await c.submit(`/apps/stripe/${id}/disconnect`, `/apps/stripe/${id}/disconnect`, {});
    assert.equal(res.status, 303);
    assert.equal(res.location, '/apps?notice=disconnected');
    const reqs = await appRequests(since);
    assert.deepEqual(reqs.map((r) => `${r.method} ${r.path} ${r.status}`), [`DELETE /v1/webhook_endpoints/${endpointId} 404`],
      'a 404 is not retried');
    const row = connectionOf('acct_1TestShop');
    assert.equal(row.status, 'disconnected');
    assert.equal(row.hasKey, false);
    assert.equal(row.hasSecret, false);
  });

  await t.test('a failed reconnect leaves the connection disconnected with no secrets', async () => {
    const before = await endpoints();
    await ctl('POST', 'faults', { rules: [{ path: '/v1/webhook_endpoints', method: 'POST', status: 400, count: 1,
      error: { message: 'Invalid URL: must be publicly accessible.', code: 'url_invalid', param: 'url' } }] });
    const res = await connect(key('sk_test_'));
    await ctl('DELETE', 'faults');
    assert.ok(res.status >= 400, `status ${res.status}`);
    assert.match(res.text, /There was an error saving your connection/);
    await assertNothingSaved('acct_1TestShop', before, { everConnected: true });
    const apps = await c.get('/apps');
    assert.match(apps.text, new RegExp(`<td><a href="/apps/stripe/${conn.test}">Stripe</a></td>[\\s\\S]*?<span class="status disconnected">`),
      'still listed as disconnected, not pending or gone');
  });

  await t.test('connect again after disconnecting works', async () => {
    const id = conn.test;
    const res = await connect(key('sk_test_'));
    assert.equal(res.status, 303, res.text);
    assert.equal(res.location, `/apps/stripe/${id}/resource`);
    const row = connectionOf('acct_1TestShop');
    assert.equal(row.status, 'connected');
    const mine = (await endpoints()).filter((e) => e.url === hookUrl(id));
    assert.equal(mine.length, 1);
    assert.equal(row.endpointId, mine[0].id);
    secrets.add(mine[0].secret);
    const apps = await c.get('/apps');
    assert.match(apps.text, new RegExp(`<td><a href="/apps/stripe/${id}">Stripe</a></td>[\\s\\S]*?<span class="status connected">`));
  });

  await t.test('disconnect while Stripe is unreachable: keys forgotten, the user told to delete the endpoint', async () => {
    const id = conn.live;
    const endpointId = connectionOf('acct_1LiveShop').endpointId;
    await ctl('POST', 'faults', { unreachable: true });
    const res = await c.submit(`/apps/stripe/${id}/disconnect`, `/apps/stripe/${id}/disconnect`, {});
    await ctl('DELETE', 'faults');
    assert.equal(res.status, 303);
    assert.equal(res.location, '/apps?notice=endpoint_left');
    const apps = await c.get(res.location);
    assert.match(apps.text, /could not be reached to remove the webhook endpoint/);
    const row = connectionOf('acct_1LiveShop');
    assert.equal(row.status, 'disconnected');
    assert.equal(row.hasKey, false);
    assert.equal(row.hasSecret, false);
    assert.ok((await endpoints()).some((e) => e.id === endpointId), 'the endpoint is still at Stripe');
  });

  await t.test('every request the app made carried Bearer auth and Stripe-Version; every POST an Idempotency-Key', async () => {
    const reqs = await appRequests(0);
    assert.ok(reqs.length > 20);
    const versions = new Set();
    const keysSeen = new Set();
    for (const r of reqs) {
      assert.match(r.headers.authorization || '', /^Bearer (sk|rk)_(test|live)_[A-Za-z0-9_]+$/, `${r.method} ${r.path}`);
      assert.ok(r.headers['stripe-version'], `${r.method} ${r.path} has Stripe-Version`);
      versions.add(r.headers['stripe-version']);
      if (r.method === 'POST') {
        assert.match(r.headers['idempotency-key'] || '', /^\S{16,}$/, `${r.method} ${r.path} has an Idempotency-Key`);
        keysSeen.add(`${r.headers['idempotency-key']}`);
        assert.deepEqual([...r.form.enabled_events].sort(), DESIGN_EVENTS);
        assert.equal(r.form.api_version, r.headers['stripe-version']);
      }
    }
    assert.equal(versions.size, 1, 'one pinned Stripe-Version');
    // distinct creates get distinct keys (only retries share one)
    const creates = reqs.filter((r) => r.method === 'POST');
    assert.ok(keysSeen.size >= creates.length - 4, 'idempotency keys are fresh per create');
  });

  await t.test('no key or signing secret appears whole in any response, log line or data file', async () => {
    assert.ok(secrets.size > 10);
    const pages = seen.map((s) => `${s.location}\n${s.headers}\n${s.text}`).join('\n');
    const log = app.log();
    const files = [...filesUnder(app.dataDir)].map((f) => [f, fs.readFileSync(f)]);
    for (const s of secrets) {
      assert.ok(!pages.includes(s), `a response contained ${s.slice(0, 8)}…`);
      assert.ok(!log.includes(s), `the log contained ${s.slice(0, 8)}…`);
      for (const [f, bytes] of files) assert.ok(!bytes.includes(s), `${path.relative(app.dataDir, f)} contained ${s.slice(0, 8)}…`);
    }
    const keyFile = path.join(app.dataDir, 'secret.key');
    assert.ok(fs.existsSync(keyFile), 'the encryption key file exists in the data directory');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  });
});

test('connect with no Stripe listening at all', async (t) => {
  const app = await startApp({ STRIPELINK_STRIPE_API: 'http://127.0.0.1:9' });
  t.after(() => app.stop());
  const admin = await adminClient(app);
  const k = makeKey('sk_test_');
  const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: k });
  assert.equal(res.status, 502);
  assert.match(res.text, /Stripe could not be reached\./);
  assert.ok(!res.text.includes(k));
  assert.equal(app.sql('SELECT count(*) FROM connections;').trim(), '0');
  assert.ok(!app.log().includes(k));
  const apps = await admin.get('/apps');
  assert.match(apps.text, /No apps are connected yet/);
});

// Slow (about a minute): Stripe accepts the connection but never answers in
// time. The person must be told "Stripe could not be reached", not get a
// gateway timeout from nginx while the app is still retrying behind it.
test('connect while Stripe hangs: the dialog says so in time', async (t) => {
  // the fake runs as its own process here: its long delays must not keep
  // this test process alive once the test is over
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'fake-stripe', 'server.js'), '--port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /fake-stripe listening on (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`fake-stripe exited (${code})`)));
  });
  const fake = { url: `http://127.0.0.1:${port}` };
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url });
  t.after(async () => { child.kill('SIGKILL'); await app.stop(); });
  const admin = await adminClient(app);
  const set = await fetch(`${fake.url}/_fake/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rules: [{ path: '/v1/account', method: 'GET', delay_ms: 120000, count: -1 }] }),
  });
  assert.equal(set.status, 200);
  const began = Date.now();
  const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: makeKey('sk_test_') });
  const took = Date.now() - began;
  assert.equal(res.status, 502, `answered ${res.status} after ${took} ms: ${res.text.slice(0, 200)}`);
  assert.match(res.text, /Stripe could not be reached\./);
  assert.equal(app.sql('SELECT count(*) FROM connections;').trim(), '0');
});
