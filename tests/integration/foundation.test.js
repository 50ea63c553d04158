// foundation.test.js - the real nginx + FastCGI program over HTTP: first
// run, login and logout, CSRF, fields, contacts search and CSV export,
// error statuses and security headers.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { startApp, Client, adminClient, parseCsv, BIN, csrfOf, setupToken, setupPath } = require('./harness');

test('foundation', async (t) => {
  const app = await startApp();
  t.after(() => app.stop());

  await t.test('healthz answers 200 with JSON', async () => {
    const res = await fetch(`${app.base}/healthz`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.database, 'ok');
  });

  await t.test('first visit leads to the admin creation page, locked by the setup token', async () => {
    const c = new Client(app.base);
    const home = await c.get('/');
    assert.equal(home.status, 303);
    assert.equal(home.location, '/setup');
    const contacts = await c.get('/contacts');
    assert.equal(contacts.location, '/setup');
    const locked = await c.get('/setup');
    assert.equal(locked.status, 403);
    assert.match(locked.text, /Setup token needed/);
    assert.ok(locked.text.includes(path.join(app.dataDir, 'setup-token')), 'the page says where the token is');
    assert.match(locked.text, /journalctl/);
    assert.doesNotMatch(locked.text, /name="password"/);
    const wrong = await c.get('/setup?token=' + '0'.repeat(32));
    assert.equal(wrong.status, 403);
    assert.match(wrong.text, /not valid/);
    const mode = fs.statSync(path.join(app.dataDir, 'setup-token')).mode & 0o777;
    assert.equal(mode, 0o600);
    assert.ok(app.log().includes(`/setup?token=${setupToken(app)}`), 'the console shows the setup URL');
    const setup = await c.get(setupPath(app));
    assert.equal(setup.status, 200);
    assert.match(setup.text, /Create your admin account/);
    assert.match(setup.text, /<label for="username">Username<\/label>/);
    assert.match(setup.text, /<label for="password">Password<\/label>/);
  });

  await t.test('setup refuses a missing CSRF token, a wrong setup token and a weak password', async () => {
    const c = new Client(app.base);
    const token = setupToken(app);
    const noToken = await c.post('/setup', { token, username: 'owner', password: 'correct horse battery' });
    assert.equal(noToken.status, 403);
    const page = await c.get(setupPath(app));
    const csrf = csrfOf(page.text);
    const noSetupToken = await c.post('/setup', { csrf, username: 'owner', password: 'correct horse battery' });
    assert.equal(noSetupToken.status, 403);
    assert.match(noSetupToken.text, /Setup token needed/);
    const wrongSetupToken = await c.post('/setup', { csrf, token: token.replace(/.$/, (x) => (x === 'a' ? 'b' : 'a')), username: 'owner', password: 'correct horse battery' });
    assert.equal(wrongSetupToken.status, 403);
    const weak = await c.submit(setupPath(app), '/setup', { token, username: 'owner', password: 'short' });
    assert.equal(weak.status, 422);
    assert.match(weak.text, /at least 10 characters/);
    assert.match(weak.text, new RegExp(`name="token" value="${token}"`), 'the form keeps the token');
    assert.equal(app.sql('SELECT count(*) FROM users;').trim(), '0');
  });

  let admin;
  await t.test('creating the admin logs in, shows the Apps page and deletes the token', async () => {
    const token = setupToken(app);
    admin = await adminClient(app);
    assert.equal(fs.existsSync(path.join(app.dataDir, 'setup-token')), false);
    const replay = await new Client(app.base).get(`/setup?token=${token}`);
    assert.equal(replay.status, 303);
    assert.ok(admin.cookies.has('sl_session'));
    const apps = await admin.get('/apps');
    assert.equal(apps.status, 200);
    for (const nav of ['Contacts', 'Fields', 'Apps']) assert.match(apps.text, new RegExp(`>${nav}</a>`));
    assert.match(apps.text, /Stripe/);
    assert.match(apps.text, /Connect Account/);
    assert.match(apps.text, /Connected Apps/);
    assert.match(apps.text, /No apps are connected yet/);
    const again = await new Client(app.base).get('/setup');
    assert.equal(again.status, 303);
    assert.equal(again.location, '/login');
  });

  await t.test('session cookie is HttpOnly and SameSite=Strict', async () => {
    const c = new Client(app.base);
    const page = await c.get('/login');
    const csrf = /name="csrf" value="([0-9a-f]+)"/.exec(page.text)[1];
    const res = await fetch(`${app.base}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: c.cookieHeader() },
      body: new URLSearchParams({ csrf, username: 'owner', password: 'correct horse battery' }).toString(),
    });
    assert.equal(res.status, 303);
    const cookie = res.headers.getSetCookie().find((s) => s.startsWith('sl_session='));
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
  });

  await t.test('logout ends the session on the server', async () => {
    const c = new Client(app.base);
    await c.submit('/login', '/login', { username: 'owner', password: 'correct horse battery' });
    const stolen = c.cookies.get('sl_session');
    const out = await c.submit('/contacts', '/logout', {});
    assert.equal(out.status, 303);
    assert.equal(out.location, '/login');
    const replay = await fetch(`${app.base}/contacts`, { headers: { cookie: `sl_session=${stolen}` }, redirect: 'manual' });
    assert.equal(replay.status, 303);
    assert.equal(replay.headers.get('location'), '/login?next=%2Fcontacts');
  });

  await t.test('login: wrong password, return-to, and no open redirect', async () => {
    const c = new Client(app.base);
    const wrong = await c.submit('/login', '/login', { username: 'owner', password: 'not the password' });
    assert.equal(wrong.status, 403);
    assert.match(wrong.text, /username or password is not right/);
    const ok = await c.submit('/login?next=/fields', '/login', { username: 'OWNER', password: 'correct horse battery', next: '/fields' });
    assert.equal(ok.status, 303);
    assert.equal(ok.location, '/fields');
    const d = new Client(app.base);
    const evil = await d.submit('/login', '/login', { username: 'owner', password: 'correct horse battery', next: '//evil.example/' });
    assert.equal(evil.location, '/contacts');
  });

  await t.test('every state-changing form checks its CSRF token', async () => {
    const noToken = await admin.post('/fields', { label: 'Plan', type: 'text' });
    assert.equal(noToken.status, 403);
    const badToken = await admin.post('/fields', { label: 'Plan', type: 'text', csrf: 'a'.repeat(64) });
    assert.equal(badToken.status, 403);
    const logout = await admin.post('/logout', {});
    assert.equal(logout.status, 403);
    assert.equal(app.sql("SELECT count(*) FROM fields WHERE label = 'Plan';").trim(), '0');
  });

  await t.test('fields: built-ins listed, custom field created, duplicate refused, deleted', async () => {
    const page = await admin.get('/fields');
    for (const label of ['Email', 'First name', 'Last name', 'Phone']) assert.match(page.text, new RegExp(`<td>${label}</td>`));
    const created = await admin.submit('/fields', '/fields', { label: 'Stripe Customer ID', type: 'text' });
    assert.equal(created.status, 303);
    const after = await admin.get(created.location);
    assert.match(after.text, /Field "Stripe Customer ID" created/);
    assert.match(after.text, /<code>stripe_customer_id<\/code>/);
    const dup = await admin.submit('/fields', '/fields', { label: 'stripe customer id', type: 'text' });
    assert.equal(dup.status, 409);
    assert.match(dup.text, /already exists/);
    const badType = await admin.submit('/fields', '/fields', { label: 'Score', type: 'blob' });
    assert.equal(badType.status, 422);
    await admin.submit('/fields', '/fields', { label: 'Temporary', type: 'number' });
    const id = app.sql("SELECT id FROM fields WHERE label = 'Temporary';").trim();
    const del = await admin.submit('/fields', `/fields/${id}/delete`, {});
    assert.equal(del.status, 303);
    assert.equal(app.sql("SELECT count(*) FROM fields WHERE label = 'Temporary';").trim(), '0');
    const builtin = await admin.submit('/fields', '/fields/1/delete', {});
    assert.equal(builtin.status, 404);
  });

  await t.test('contacts: empty state, search, tag filter, paging, contact page', async () => {
    const empty = await admin.get('/contacts');
    assert.match(empty.text, /No contacts yet/);
    const rows = [];
    for (let i = 1; i <= 60; i++) rows.push(`('person${i}@example.com', 'person${i}@example.com', 'Person', 'Number${i}', ${i}, ${i})`);
    app.sql(`INSERT INTO contacts (email, email_key, first_name, last_name, created_at, updated_at) VALUES ${rows.join(',')};
             INSERT INTO contacts (email, email_key, first_name, last_name, created_at, updated_at) VALUES ('Zoë@Example.com', 'zoë@example.com', 'Zoë', 'O''Brien', 1, 1);
             INSERT INTO tags (name) VALUES ('stripe-integration'), ('vip');
             INSERT INTO contact_tags SELECT id, 1 FROM contacts WHERE id <= 10;
             INSERT INTO contact_tags SELECT id, 2 FROM contacts WHERE id IN (3, 61);`);
    const page1 = await admin.get('/contacts');
    assert.match(page1.text, /Page 1 of 2/);
    assert.equal((page1.text.match(/<tr>\s*<td><a href="\/contacts\/\d+">/g) || []).length, 50);
    const page2 = await admin.get('/contacts?page=2');
    assert.equal((page2.text.match(/<tr>\s*<td><a href="\/contacts\/\d+">/g) || []).length, 11);
    const search = await admin.get('/contacts?q=number42');
    assert.match(search.text, /person42@example.com/);
    assert.doesNotMatch(search.text, /person41@example.com/);
    const byName = await admin.get(`/contacts?q=${encodeURIComponent("O'Brien")}`);
    assert.match(byName.text, /Zoë@Example.com/);
    const wildcard = await admin.get('/contacts?q=%25');
    assert.match(wildcard.text, /No contact matches/);
    const tagged = await admin.get('/contacts?tag=vip');
    assert.match(tagged.text, /person3@example.com/);
    assert.match(tagged.text, /Zoë@Example.com/);
    assert.doesNotMatch(tagged.text, /person4@example.com/);
    const one = await admin.get('/contacts/3');
    assert.equal(one.status, 200);
    assert.match(one.text, /person3@example.com/);
    assert.match(one.text, /stripe-integration/);
    assert.match(one.text, /vip/);
    assert.equal((await admin.get('/contacts/99999')).status, 404);
    assert.equal((await admin.get('/contacts/abc')).status, 404);
  });

  await t.test('CSV export round-trips awkward values and neutralizes formulas', async () => {
    const fieldId = app.sql("SELECT id FROM fields WHERE key = 'stripe_customer_id';").trim();
    app.sql(`INSERT INTO contacts (email, email_key, first_name, last_name, phone, created_at, updated_at)
             VALUES ('csv@example.com', 'csv@example.com', 'Ann, "The" Q', 'Line1
Line2', '+1 555 0100', 1, 1),
                    ('formula@example.com', 'formula@example.com', '=HYPERLINK("http://x")', '@SUM(A1)', '-2', 1, 1);
             INSERT INTO contact_values SELECT id, ${fieldId}, 'cus_123' FROM contacts WHERE email_key = 'csv@example.com';`);
    const res = await admin.get('/contacts.csv');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/csv/);
    assert.match(res.headers.get('content-disposition'), /attachment; filename="contacts.csv"/);
    const rows = parseCsv(res.text);
    assert.deepEqual(rows[0], ['email', 'first_name', 'last_name', 'phone', 'tags', 'Stripe Customer ID',
      'net_revenue', 'orders', 'first_order', 'last_order', 'active_recurring', 'monthly_recurring']);
    const csv = rows.find((r) => r[0] === 'csv@example.com');
    assert.deepEqual(csv, ['csv@example.com', 'Ann, "The" Q', 'Line1\nLine2', "'+1 555 0100", '', 'cus_123', '', '0', '', '', '0', '']);
    const f = rows.find((r) => r[0] === 'formula@example.com');
    assert.equal(f[1], `'=HYPERLINK("http://x")`);
    assert.equal(f[2], "'@SUM(A1)");
    assert.equal(f[3], "'-2");
    const tagged = rows.find((r) => r[0] === 'person3@example.com');
    assert.equal(tagged[4], 'stripe-integration;vip');
    assert.equal(rows.length, 1 + 63);
    const anon = await fetch(`${app.base}/contacts.csv`, { redirect: 'manual' });
    assert.equal(anon.status, 303);
  });

  await t.test('404, 405, 413, 400 and JSON errors', async () => {
    const nf = await admin.get('/no/such/page');
    assert.equal(nf.status, 404);
    assert.match(nf.text, /404 · Not Found/);
    const json = await admin.get('/no/such/page', { headers: { accept: 'application/json' } });
    assert.equal(json.status, 404);
    assert.equal(JSON.parse(json.text).status, 404);
    const wrong = await admin.request('DELETE', '/contacts');
    assert.equal(wrong.status, 405);
    assert.match(wrong.headers.get('allow'), /GET/);
    const big = await admin.request('POST', '/fields', { body: 'x'.repeat(1024 * 1024 + 10), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(big.status, 413);
    const bad = await admin.get('/contacts?q=%zz');
    assert.equal(bad.status, 400);
    const tooLong = await admin.get(`/contacts?q=${'a'.repeat(300)}`);
    assert.equal(tooLong.status, 400);
  });

  await t.test('security headers on pages and errors', async () => {
    for (const p of ['/login', '/no/such/page', '/healthz']) {
      const res = await fetch(app.base + p, { redirect: 'manual' });
      const csp = res.headers.get('content-security-policy');
      assert.match(csp, /frame-ancestors 'none'/, p);
      assert.doesNotMatch(csp, /unsafe-inline/, p);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', p);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', p);
    }
    const css = await fetch(`${app.base}/static/app.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type'), /text\/css/);
  });

  await t.test('add-admin on the command line creates a second admin', async () => {
    const out = execFileSync(BIN, ['add-admin', 'scripted'], { env: app.env, input: 'another long password\n', encoding: 'utf8' });
    assert.match(out, /created/);
    const c = new Client(app.base);
    const res = await c.submit('/login', '/login', { username: 'scripted', password: 'another long password' });
    assert.equal(res.status, 303);
    assert.throws(() => execFileSync(BIN, ['add-admin', 'scripted'], { env: app.env, input: 'another long password\n', stdio: 'pipe' }));
  });
});

test('failed logins are slowed down, not locked out for good', async (t) => {
  const app = await startApp();
  t.after(() => app.stop());
  await adminClient(app);
  const c = new Client(app.base);
  for (let i = 0; i < 5; i++) {
    const res = await c.submit('/login', '/login', { username: 'owner', password: `wrong ${i}` });
    assert.equal(res.status, 403);
  }
  const throttled = await c.submit('/login', '/login', { username: 'owner', password: 'correct horse battery' });
  assert.equal(throttled.status, 429);
  assert.match(throttled.text, /Too many failed attempts/);
  assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
  // the wait is short at first: after it, the right password works
  app.sql("UPDATE login_attempts SET last_at = last_at - 2;");
  const ok = await c.submit('/login', '/login', { username: 'owner', password: 'correct horse battery' });
  assert.equal(ok.status, 303);
});

test('the supervisor restarts a worker that dies', async (t) => {
  const app = await startApp();
  t.after(() => app.stop());
  const pids = execFileSync('pgrep', ['-f', '-P', String(app.child.pid), 'stripelink serve'], { encoding: 'utf8' }).trim();
  assert.ok(pids, 'the FastCGI worker runs under the supervisor');
  process.kill(Number(pids.split('\n')[0]), 'SIGKILL');
  let healthy = false;
  for (let i = 0; i < 100 && !healthy; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try { healthy = (await fetch(`${app.base}/healthz`)).status === 200; } catch (_) { healthy = false; }
  }
  assert.ok(healthy, 'healthz answers again after the restart');
  assert.match(app.log(), /exited \(signal 9\); restarting/);
});

test('SIGINT stops the supervisor and everything it started', async (t) => {
  const app = await startApp();
  t.after(() => app.stop());
  const sup = app.child.pid;
  const kids = execFileSync('pgrep', ['-P', String(sup)], { encoding: 'utf8' }).trim().split('\n').map(Number);
  // nginx and the FastCGI worker (and the sync worker, where it is built beside the program)
  assert.ok(kids.length >= 2, `children run (${kids})`);
  const exited = new Promise((r) => app.child.on('exit', (code, signal) => r({ code, signal })));
  process.kill(sup, 'SIGINT');
  const { code } = await exited;
  assert.equal(code, 0, 'the supervisor exits cleanly');
  for (const pid of kids) {
    let alive = true;
    try { process.kill(pid, 0); } catch (_) { alive = false; }
    assert.equal(alive, false, `child ${pid} is gone`);
  }
  await assert.rejects(fetch(`${app.base}/healthz`), 'nothing listens any more');
});
