// hardening2.test.js - regressions for the production review (issue 9):
// the Host check, the client address and TLS behind a trusted proxy, the
// login throttle that strangers cannot turn against the admin, error pages
// in the layout, and the integration log naming contacts by email.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const { startApp, adminClient, Client, csrfOf, parseCsv, sleep } = require('./harness');
const { start } = require('../fake-stripe/server');

// A raw request (fetch will not send a made-up Host header).
function raw(app, method, p, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: app.port, method, path: p, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

test('the UI answers only for its own host; webhooks and /healthz for any', async (t) => {
  const app = await startApp({ STRIPELINK_PUBLIC_URL: 'https://crm.example.com' });
  t.after(() => app.stop());
  const evil = await raw(app, 'GET', '/login', { host: 'rebind.attacker.example' });
  assert.equal(evil.status, 421);
  assert.match(evil.text, /does not answer for the host &quot;rebind\.attacker\.example&quot;/);
  assert.match(evil.text, /https:\/\/crm\.example\.com/);
  const evilPost = await raw(app, 'POST', '/login', { host: 'rebind.attacker.example', 'content-type': 'application/x-www-form-urlencoded' }, 'username=a&password=b');
  assert.equal(evilPost.status, 421);
  for (const host of ['crm.example.com', 'CRM.example.com:443', `127.0.0.1:${app.port}`, `localhost:${app.port}`]) {
    const ok = await raw(app, 'GET', '/login', { host });
    assert.equal(ok.status, 303, `${host} reaches the UI (first run: to /setup)`);
  }
  const health = await raw(app, 'GET', '/healthz', { host: 'anything.example' });
  assert.equal(health.status, 200);
  const hook = await raw(app, 'POST', '/webhooks/stripe/1', { host: 'anything.example', 'content-type': 'application/json' }, '{}');
  assert.notEqual(hook.status, 421, 'webhooks are not host-checked');
  assert.ok(hook.status >= 400 && hook.status < 500, `an unsigned delivery is refused (${hook.status})`);
});

test('behind a trusted proxy: strangers failing cannot lock the admin out; cookies get Secure', async (t) => {
  const app = await startApp({ STRIPELINK_TRUSTED_PROXIES: '127.0.0.1, ::1' });
  t.after(() => app.stop());
  await adminClient(app, 'owner', 'correct horse battery');
  const login = async (addr, password, extra = {}) => {
    const c = new Client(app.base);
    const page = await c.get('/login', { headers: { 'x-forwarded-for': addr, ...extra } });
    return c.request('POST', '/login', {
      headers: { 'x-forwarded-for': addr, ...extra },
      form: { csrf: csrfOf(page.text), username: 'owner', password },
    });
  };
  // 30 wrong passwords for the admin's own username, from three other addresses
  const statuses = [];
  for (let i = 0; i < 30; i++) statuses.push((await login(`203.0.113.${1 + (i % 3)}`, `wrong password ${i}`)).status);
  assert.ok(statuses.every((s) => s === 403 || s === 429), statuses.join(','));
  assert.ok(statuses.includes(429), 'the strangers are throttled');
  const refused = await login('203.0.113.1', 'correct horse battery');
  assert.equal(refused.status, 429, 'a throttled address is refused even with the right password');
  assert.match(app.log(), /failed login for "owner" from 203\.0\.113\.[123]/, 'the log names the real client');
  // the admin at their own address logs in at once
  const admin = await login('198.51.100.7', 'correct horse battery');
  assert.equal(admin.status, 303, admin.text.slice(0, 300));
  const cookie = admin.headers.getSetCookie().find((c) => c.startsWith('sl_session='));
  assert.ok(cookie && !/;\s*Secure/i.test(cookie), 'plain http: no Secure flag');
  // TLS ended at the proxy: X-Forwarded-Proto from the trusted peer
  const tls = await login('198.51.100.7', 'correct horse battery', { 'x-forwarded-proto': 'https' });
  assert.equal(tls.status, 303);
  const secure = tls.headers.getSetCookie().find((c) => c.startsWith('sl_session='));
  assert.match(secure, /;\s*Secure/i);
});

test('without trusted proxies, X-Forwarded-For and -Proto are ignored; an https public URL gives Secure cookies', async (t) => {
  const app = await startApp({ STRIPELINK_PUBLIC_URL: 'https://crm.example.com' });
  t.after(() => app.stop());
  await adminClient(app, 'owner', 'correct horse battery');
  const c = new Client(app.base);
  const page = await c.get('/login');
  const res = await c.request('POST', '/login', {
    headers: { 'x-forwarded-for': '203.0.113.50' },
    form: { csrf: csrfOf(page.text), username: 'owner', password: 'not the password' },
  });
  assert.equal(res.status, 403);
  assert.match(app.log(), /failed login for "owner" from 127\.0\.0\.1/);
  assert.doesNotMatch(app.log(), /203\.0\.113\.50/);
  const ok = await c.request('POST', '/login', { form: { csrf: csrfOf(page.text), username: 'owner', password: 'correct horse battery' } });
  assert.equal(ok.status, 303);
  assert.match(ok.headers.getSetCookie().find((x) => x.startsWith('sl_session=')), /;\s*Secure/i);
});

test('a bad proxy list stops the start with a clear message', async () => {
  await assert.rejects(startApp({ STRIPELINK_TRUSTED_PROXIES: 'localhost' }), /STRIPELINK_TRUSTED_PROXIES=localhost: give comma-separated IP addresses or CIDR blocks/);
});

test('a logged-in 404 keeps the navigation and Log out; the log shows contacts by email', async (t) => {
  const fake = await start({ port: 0 });
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url });
  t.after(async () => { await app.stop(); await fake.close(); });
  const admin = await adminClient(app);
  const missing = await admin.get('/no/such/page');
  assert.equal(missing.status, 404);
  assert.match(missing.text, /There is no page at this address/);
  for (const nav of ['Contacts', 'Fields', 'Apps']) assert.match(missing.text, new RegExp(`>${nav}</a>`));
  assert.match(missing.text, /Log out/);
  const anon = await new Client(app.base).get('/no/such/page');
  assert.equal(anon.status, 404);
  assert.doesNotMatch(anon.text, /Log out/);

  const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_logemail123' });
  assert.equal(res.status, 303, res.text);
  const id = res.location.split('/')[3];
  const now = Math.floor(Date.now() / 1000);
  app.sql(`INSERT INTO contacts (id, email, email_key, created_at, updated_at) VALUES (9, 'Ada@Example.com', 'ada@example.com', ${now}, ${now});
    INSERT INTO integration_log (connection_id, at, event_id, type, result, contact_id) VALUES (${id}, ${now}, 'evt_1', 'charge.succeeded', 'processed', 9);
    INSERT INTO integration_log (connection_id, at, event_id, type, result, contact_id) VALUES (${id}, ${now}, 'evt_2', 'charge.succeeded', 'processed', 4242);`);
  const log = await admin.get(`/apps/stripe/${id}/log`);
  assert.equal(log.status, 200);
  assert.match(log.text, /<a href="\/contacts\/9">Ada@Example\.com<\/a>/);
  assert.doesNotMatch(log.text, />#9</);
  assert.match(log.text, /deleted contact #4242/);
});

// The FastCGI worker's pid (the supervisor's child running `serve`).
function workerPid(app) {
  const kids = fs.readFileSync(`/proc/${app.child.pid}/task/${app.child.pid}/children`, 'utf8').trim().split(/\s+/);
  return kids.find((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[1] === 'serve');
}
const peakKiB = (pid) => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

test('the CSV export is streamed: a large export does not grow the worker by its size', async (t) => {
  const app = await startApp();
  t.after(() => app.stop());
  const admin = await adminClient(app);
  const warm = await admin.get('/contacts.csv');
  assert.equal(warm.status, 200);
  const N = 150000;
  app.sql(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${N})
    INSERT INTO contacts (email, email_key, first_name, last_name, phone, created_at, updated_at)
    SELECT 'person' || i || '@streaming-export.example', 'person' || i || '@streaming-export.example',
           'Firstname' || i, 'Lastname-with-some-length-' || i, '+44 20 7946 ' || i, 1, 1 FROM n;`);
  const pid = workerPid(app);
  assert.ok(pid, 'found the worker');
  const before = peakKiB(pid);
  const res = await admin.get('/contacts.csv');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/csv/);
  const rows = parseCsv(res.text);
  assert.equal(rows.length, N + 1);
  assert.deepEqual(rows[0].slice(0, 5), ['email', 'first_name', 'last_name', 'phone', 'tags']);
  assert.equal(rows[N][0], `person${N}@streaming-export.example`);
  const grownKiB = peakKiB(pid) - before;
  const sizeKiB = Buffer.byteLength(res.text) / 1024;
  assert.ok(sizeKiB > 14000, `the export is large (${sizeKiB} KiB)`);
  // held in memory it would add at least its own size; streamed, little
  console.log(`# csv: worker peak grew ${grownKiB} KiB for ${Math.round(sizeKiB)} KiB`);
  assert.ok(grownKiB < sizeKiB / 3, `worker peak grew ${grownKiB} KiB for a ${Math.round(sizeKiB)} KiB export`);
});

test('retention prunes old rejected deliveries, log entries, payloads and login attempts in batches', async (t) => {
  const app = await startApp({ STRIPELINK_PRUNE_INTERVAL: '1', STRIPELINK_KEEP_LOG_DAYS: '90' });
  t.after(() => app.stop());
  const day = 86400;
  const now = Math.floor(Date.now() / 1000);
  const at = (days) => now - days * day;
  // 1,200 old rejected deliveries (more than two batches) and some of each kind
  app.sql(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
      INSERT INTO integration_log (connection_id, at, result, reason) SELECT 1, ${at(31)}, 'rejected', 'bad signature' FROM n;
    INSERT INTO integration_log (connection_id, at, event_id, type, result, reason) VALUES (1, ${at(29)}, 'evt_recent_rejected', '', 'rejected', 'bad signature');
    INSERT INTO integration_log (connection_id, at, event_id, type, result) VALUES (1, ${at(91)}, 'evt_old', 'charge.succeeded', 'processed');
    INSERT INTO integration_log (connection_id, at, event_id, type, result) VALUES (1, ${at(89)}, 'evt_kept', 'charge.succeeded', 'processed');
    INSERT INTO integration_log (connection_id, at, event_id, type, result, payload) VALUES (1, ${at(31)}, 'evt_old_payload', 'charge.succeeded', 'skipped', '{"id":"evt_old_payload"}');
    INSERT INTO integration_log (connection_id, at, event_id, type, result, payload) VALUES (1, ${at(2)}, 'evt_new_payload', 'charge.succeeded', 'skipped', '{"id":"evt_new_payload"}');
    INSERT INTO login_attempts (key, failures, last_at) VALUES ('addr:203.0.113.1', 9, ${at(8)});
    INSERT INTO login_attempts (key, failures, last_at) VALUES ('addr:203.0.113.2', 9, ${at(1)});`);
  let left = '';
  for (let i = 0; i < 100; i++) {
    left = app.sql("SELECT count(*) FROM integration_log WHERE result = 'rejected';").trim();
    // the worker's log line reaches us through the supervisor's pipe a moment after the commit
    if (left === '1' && app.sql('SELECT count(*) FROM login_attempts;').trim() === '1' &&
        /retention: pruned 1200 old rows/.test(app.log())) break;
    await sleep(200);
  }
  assert.equal(left, '1', 'old rejected deliveries are gone, the recent one stays');
  assert.equal(app.sql("SELECT event_id FROM integration_log WHERE result = 'rejected';").trim(), 'evt_recent_rejected');
  assert.equal(app.sql("SELECT count(*) FROM integration_log WHERE event_id = 'evt_old';").trim(), '0');
  assert.equal(app.sql("SELECT count(*) FROM integration_log WHERE event_id = 'evt_kept';").trim(), '1');
  assert.equal(app.sql("SELECT payload IS NULL FROM integration_log WHERE event_id = 'evt_old_payload';").trim(), '1',
    'an old payload is dropped, its entry kept');
  assert.equal(app.sql("SELECT payload FROM integration_log WHERE event_id = 'evt_new_payload';").trim(), '{"id":"evt_new_payload"}');
  assert.equal(app.sql('SELECT key FROM login_attempts;').trim(), 'addr:203.0.113.2');
  assert.match(app.log(), /retention: pruned 1200 old rows/);
});
