// metrics.test.js - GET /metrics in Prometheus' text format, read by a
// strict parser of that format, moves with webhooks, a historical sync and
// Stripe requests; it answers loopback clients, or others with the bearer
// token. And the log: one key=value line per request and per delivery, with
// no secret in any line.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { startApp, adminClient, csrfOf, Client, sleep } = require('./harness');
const { start } = require('../fake-stripe/server');
const { chargeEvent, wire, stripeHeader } = require('./events');

const TOKEN = 'metrics-token-0123456789abcdef';

// Prometheus text exposition format 0.0.4, strictly: every sample belongs to
// a family announced by # HELP and # TYPE before it, names and labels are
// well formed, values are numbers, no series twice, histogram buckets
// cumulative with +Inf equal to _count. Returns Map(series -> value) and
// Map(family -> type).
function parsePrometheus(text) {
  const samples = new Map();
  const types = new Map();
  const helped = new Set();
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = /^# HELP (\S+) (.+)$/.exec(line))) {
      assert.match(m[1], NAME);
      assert.ok(!helped.has(m[1]), `one HELP for ${m[1]}`);
      helped.add(m[1]);
    } else if ((m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      assert.ok(!types.has(m[1]), `one TYPE for ${m[1]}`);
      types.set(m[1], m[2]);
    } else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line))) {
      const [, name, , labels = '', value] = m;
      const fam = [...types.keys()].find((f) => name === f || (types.get(f) === 'histogram' &&
        [`${f}_bucket`, `${f}_sum`, `${f}_count`].includes(name)));
      assert.ok(fam, `${name} has a TYPE before it`);
      assert.ok(helped.has(fam), `${fam} has a HELP`);
      const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*"';
      if (labels) assert.match(labels, new RegExp(`^${LABEL}(,${LABEL})*$`), `labels of ${line}`);
      assert.ok(/^(-?\d+(\.\d+)?([eE][-+]?\d+)?|\+Inf|NaN)$/.test(value), `${line}: a number`);
      const key = `${name}{${labels}}`;
      assert.ok(!samples.has(key), `${key} once`);
      samples.set(key, Number(value));
    } else {
      assert.fail(`not a line of the text format: ${JSON.stringify(line)}`);
    }
  }
  for (const [fam, type] of types) {
    if (type !== 'histogram') continue;
    const buckets = [...samples].filter(([k]) => k.startsWith(`${fam}_bucket{`));
    let last = -1;
    for (const [, v] of buckets) { assert.ok(v >= last, `${fam} buckets are cumulative`); last = v; }
    assert.equal(samples.get(`${fam}_bucket{le="+Inf"}`), samples.get(`${fam}_count{}`), `${fam}: +Inf = count`);
  }
  return { samples, types };
}

const get = (s, key) => s.samples.get(key) || 0;

test('/metrics and the log', async (t) => {
  const fake = await start({ port: 0 });
  const now = Math.floor(Date.now() / 1000);
  await fetch(`${fake.url}/_fake/account`, { method: 'POST', body: JSON.stringify({ patch: { created: now - 20000 } }) });
  await fetch(`${fake.url}/_fake/seed`, { method: 'POST', body: JSON.stringify({ resource: 'customers', count: 250, start_created: now - 10000, created_step: 10 }) });
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url, STRIPELINK_METRICS_TOKEN: TOKEN, STRIPELINK_TRUSTED_PROXIES: '127.0.0.1' });
  t.after(async () => { await app.stop(); await fake.close(); });
  const scrape = async (headers = {}) => {
    const r = await fetch(`${app.base}/metrics`, { headers });
    return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
  };

  const first = await scrape();
  assert.equal(first.status, 200, 'loopback clients are answered');
  assert.match(first.type, /^text\/plain; version=0\.0\.4/);
  const before = parsePrometheus(first.text);
  for (const fam of ['stripelink_webhook_deliveries_total', 'stripelink_webhook_duration_seconds', 'stripelink_writer_groups_total',
    'stripelink_writer_jobs_total', 'stripelink_stripe_requests_total', 'stripelink_sync_objects_total', 'stripelink_sync_pages_total',
    'stripelink_sync_rate_limited_total', 'stripelink_sync_rate_limit_waits_total', 'stripelink_resident_memory_bytes']) {
    assert.ok(before.types.has(fam), `${fam} is there`);
  }
  assert.ok(get(before, 'stripelink_resident_memory_bytes{process="web"}') > 1e6, 'the worker\'s resident memory');

  // a client that is not on loopback (through a trusted proxy): the token only
  const away = { 'x-forwarded-for': '203.0.113.9' };
  assert.equal((await scrape(away)).status, 403);
  assert.equal((await scrape({ ...away, authorization: 'Bearer wrong-token-0123456789abcdef' })).status, 403);
  assert.equal((await scrape({ ...away, authorization: `Basic ${TOKEN}` })).status, 403);
  assert.equal((await scrape({ ...away, authorization: `Bearer ${TOKEN}` })).status, 200);

  // a connection (Stripe requests), three deliveries (two processed, one rejected)
  const password = 'correct horse battery';
  const admin = await adminClient(app, 'owner', password);
  const key = 'sk_test_metricsKey4242';
  const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: key });
  assert.equal(res.status, 303);
  const id = Number(/\/apps\/stripe\/(\d+)\//.exec(res.location)[1]);
  const endpoints = await (await fetch(`${fake.url}/_fake/webhook_endpoints`)).json();
  const secret = (Array.isArray(endpoints) ? endpoints : endpoints.data).find((e) => e.url.endsWith(`/webhooks/stripe/${id}`)).secret;
  const signatures = [];
  const deliver = async (ev, withSecret = secret) => {
    const body = wire(ev);
    const sig = stripeHeader(body, withSecret);
    signatures.push(sig);
    const r = await fetch(`${app.base}/webhooks/stripe/${id}`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': sig }, body });
    await r.text();
    return r;
  };
  const r1 = await deliver(chargeEvent('met1', 'met1@example.com'));
  assert.equal(r1.status, 200);
  assert.match(r1.headers.get('x-request-id'), /^[0-9a-f]+-[0-9a-f]+$/, 'X-Request-Id');
  assert.equal((await deliver(chargeEvent('met2', 'met2@example.com'))).status, 200);
  assert.equal((await deliver(chargeEvent('met3', 'met3@example.com'), 'whsec_forged')).status, 400);

  const mid = parsePrometheus((await scrape()).text);
  const moved = (s, k) => get(s, k) - get(before, k);
  assert.equal(moved(mid, 'stripelink_webhook_deliveries_total{result="processed"}'), 2);
  assert.equal(moved(mid, 'stripelink_webhook_deliveries_total{result="rejected"}'), 1);
  assert.equal(moved(mid, 'stripelink_webhook_duration_seconds_count{}'), 3);
  assert.ok(moved(mid, 'stripelink_webhook_duration_seconds_sum{}') > 0);
  assert.ok(moved(mid, 'stripelink_writer_jobs_total{process="web"}') >= 3, 'writer jobs');
  assert.ok(moved(mid, 'stripelink_writer_groups_total{process="web"}') >= 1, 'writer groups');
  assert.ok(moved(mid, 'stripelink_stripe_requests_total{process="web",status="200"}') >= 3, 'connect asked Stripe');

  // a historical sync of 250 customers at the test rate (10/s): objects,
  // pages and rate-limit waits, counted in the sync worker
  const step2 = await admin.submit(`/apps/stripe/${id}/resource`, `/apps/stripe/${id}/resource`, { resource: 'customer', sync_type: 'historical' });
  assert.equal(step2.status, 303);
  const mapUrl = `/apps/stripe/${id}/mapping/customer`;
  const page = await admin.get(mapUrl);
  const fin = await admin.request('POST', mapUrl, { form: { csrf: csrfOf(page.text), email_path: 'email', id_path: '', id_target: '', rows: '1', path_0: 'name', meta_0: '', target_0: 'full_name', action: 'finish' } });
  assert.equal(fin.status, 303, `mapping: ${fin.status}`);
  const objects = `stripelink_sync_objects_total{process="sync",connection="${id}"}`;
  const done = () => app.sql(`SELECT state, objects FROM sync_jobs WHERE connection_id = ${id}`).trim();
  for (let i = 0; !done().startsWith('done|'); i++) {
    assert.ok(i < 300, `the sync finishes (${done()})`);
    await sleep(200);
  }
  const synced = Number(done().split('|')[1]);
  assert.ok(synced >= 250, `the sync went through the customers (${synced})`);
  let after;
  for (let i = 0; ; i++) {
    after = parsePrometheus((await scrape()).text);
    if (get(after, objects) >= synced) break;
    assert.ok(i < 100, `the sync's counters reach /metrics (${get(after, objects)} of ${synced} objects so far)`);
    await sleep(200);
  }
  assert.equal(get(after, objects), synced, 'the same count as the job');
  assert.ok(get(after, `stripelink_sync_pages_total{process="sync",connection="${id}"}`) >= 3);
  assert.ok(get(after, `stripelink_sync_rate_limit_waits_total{process="sync",connection="${id}"}`) >= 1, 'the limiter held requests back');
  assert.ok(get(after, `stripelink_sync_rate_limit_wait_seconds_total{process="sync",connection="${id}"}`) > 0);
  assert.ok(get(after, 'stripelink_stripe_requests_total{process="sync",status="200"}') >= 4, 'the sync asked Stripe');
  assert.ok(get(after, 'stripelink_resident_memory_bytes{process="sync"}') > 1e6);
  assert.ok(get(after, 'stripelink_writer_jobs_total{process="sync"}') >= 3);

  // the log: a line per request and per delivery, key=value
  const log = app.log();
  assert.match(log, /time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info request_id=\S+ method=GET route=\/metrics status=200 ms=[\d.]+/);
  assert.match(log, /level=info request_id=\S+ method=POST route=\/apps\/stripe\/:id\/mapping\/:resource status=303 ms=/);
  // a webhook delivery is one line: the request's fields, then the delivery's
  assert.match(log, new RegExp(`level=info request_id=\\S+ method=POST route=/webhooks/stripe/:id status=200 ms=[\\d.]+ ` +
    `event=delivery connection=${id} event_id=evt_met1 type=charge.succeeded result=processed reason=`));
  assert.match(log, /level=warn request_id=\S+ method=POST route=\/webhooks\/stripe\/:id status=400 ms=[\d.]+ event=delivery connection=\d+ event_id=- type=- result=rejected reason="signature check failed/);
  assert.equal(log.split('\n').filter((l) => /event_id=evt_met1 /.test(l)).length, 1, 'one line per delivery');
  // no secret in any line: the key, the signing secret, signatures, the
  // password, the session cookie, CSRF tokens, the metrics token
  const session = admin.cookies.get('sl_session');
  const csrf = csrfOf((await admin.get(`/apps/stripe/${id}`)).text);
  const secrets = { key, secret, password, session, csrf, token: TOKEN, ...Object.fromEntries(signatures.map((s, i) => [`signature${i}`, s.split('v1=')[1]])) };
  for (const [what, value] of Object.entries(secrets)) {
    assert.ok(value && value.length >= 16, `${what} is a real value`);
    assert.ok(!log.includes(value), `the log does not hold the ${what}`);
  }
  assert.ok(!log.includes(key.slice(8)), 'not even the key without its prefix');
  const c = new Client(app.base);
  assert.equal((await c.get('/login')).status, 200);
});
