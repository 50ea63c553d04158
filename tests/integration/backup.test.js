// backup.test.js - `stripelink backup FILE` while the service takes a
// webhook load, then `stripelink restore FILE` into a new data directory:
// the restored install has every contact, tag, order and log entry of the
// snapshot, its admin logs in, and its secret key still opens the sealed
// Stripe key and signing secret (a delivery signed with the old secret is
// applied, the secret rolls at the fake Stripe). Also: the file is 0600,
// restore refuses a running service, an existing database (without
// --force) and a truncated or foreign file.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile, execFileSync, spawnSync } = require('node:child_process');
const Stripe = require('stripe');
const { BIN, startApp, adminClient, Client } = require('./harness');
const { start } = require('../fake-stripe/server');

const FIXTURES = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../fixtures/stripe/fixtures3.json'), 'utf8')).resources;
const N_EVENTS = 600;
const CONCURRENCY = 8;
const PASSWORD = 'correct horse battery';

function chargeEvent(i) {
  const object = {
    ...JSON.parse(JSON.stringify(FIXTURES.charge)),
    id: `ch_bk${i}`, amount: 1000 + i, amount_captured: 1000 + i, currency: 'usd', status: 'succeeded', paid: true,
    customer: null, billing_details: { email: `backup.${i}@example.com`, name: `Backup Buyer${i}`, phone: null },
  };
  return {
    id: `evt_bk${i}`, object: 'event', api_version: '2024-06-20', created: 1700200000 + i, data: { object },
    livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'charge.succeeded',
  };
}

async function deliver(base, id, secret, event) {
  const payload = JSON.stringify(event, null, 2);
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret });
  const res = await fetch(`${base}/webhooks/stripe/${id}`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body: payload,
  });
  await res.text();
  return res.status;
}

function rows(dbPath, query) {
  const out = execFileSync('sqlite3', ['-json', '-cmd', '.timeout 5000', dbPath, query], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}

// What a restore must bring back, table by table, in a stable order.
const TABLES = {
  users: 'SELECT id, username, password_hash FROM users ORDER BY id',
  contacts: 'SELECT * FROM contacts ORDER BY id',
  tags: 'SELECT * FROM tags ORDER BY id',
  contact_tags: 'SELECT * FROM contact_tags ORDER BY contact_id, tag_id',
  orders: 'SELECT * FROM orders ORDER BY id',
  integration_log: 'SELECT * FROM integration_log ORDER BY id',
  connections: 'SELECT * FROM connections ORDER BY id',
};

function dump(dbPath) {
  const d = {};
  for (const [t, q] of Object.entries(TABLES)) d[t] = rows(dbPath, q);
  return d;
}

function run(args, env) {
  return spawnSync(BIN, args, { env: { ...process.env, STRIPELINK_PBKDF2_ITERATIONS: '1000', ...env }, encoding: 'utf8' });
}

function backupAsync(file, dataDir) {
  return new Promise((resolve) => {
    execFile(BIN, ['backup', file], { env: { ...process.env, STRIPELINK_DATA: dataDir } }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

test('backup during a webhook load, restore into a new data directory, start it: the same data, the key still opens', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-backup-'));
  const fake = await start({ port: 0 });
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url });
  const live = path.join(app.dataDir, 'stripelink.db');
  let restored = null;
  t.after(async () => {
    if (restored) await restored.stop();
    await app.stop();
    await fake.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const admin = await adminClient(app, 'owner', PASSWORD);
  const connected = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_abc123' });
  assert.equal(connected.status, 303, connected.text);
  const id = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(connected.location)[1]);
  const endpoints = await (await fetch(`${fake.url}/_fake/webhook_endpoints`)).json();
  const secret = (Array.isArray(endpoints) ? endpoints : endpoints.data).find((e) => e.url.endsWith(`/webhooks/stripe/${id}`)).secret;

  // the load: CONCURRENCY senders; the backup starts a third of the way in
  const file = path.join(tmp, 'stripelink.backup');
  const acked = [];          // event indexes answered 2xx, in order
  let ackedAtBackupStart = null;
  let ackedAtBackupEnd = null;
  let backupRun = null;
  let next = 0;
  const statuses = [];
  async function sender() {
    while (next < N_EVENTS) {
      const i = next++;
      const status = await deliver(app.base, id, secret, chargeEvent(i));
      statuses.push(status);
      if (status === 200) acked.push(i);
      if (!backupRun && acked.length >= N_EVENTS / 3) {
        ackedAtBackupStart = new Set(acked);
        backupRun = backupAsync(file, app.dataDir).then((r) => { ackedAtBackupEnd = acked.length; return r; });
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, sender));
  const backup = await backupRun;

  await t.test('every delivery was answered 200 and the backup succeeded while they arrived', () => {
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /backup written to/);
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal(acked.length, N_EVENTS);
    assert.ok(ackedAtBackupEnd < N_EVENTS, `deliveries went on after the backup (${ackedAtBackupEnd} of ${N_EVENTS} when it ended)`);
  });

  await t.test('the backup is one file readable only by its owner, nothing left beside it', () => {
    assert.equal((fs.statSync(file).mode & 0o777).toString(8), '600');
    assert.deepEqual(fs.readdirSync(tmp), ['stripelink.backup']);
    const head = fs.readFileSync(file).subarray(0, 16).toString('latin1');
    assert.equal(head, 'stripelink-bak1\n');
  });

  // its own directory: nginx's workers (www-data) must reach the socket in it
  const dir1 = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-restored-'));
  t.after(() => fs.rmSync(dir1, { recursive: true, force: true }));
  await t.test('restore into a new data directory', () => {
    const r = run(['restore', file], { STRIPELINK_DATA: dir1 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((fs.statSync(path.join(dir1, 'stripelink.db')).mode & 0o777).toString(8), '600');
    assert.equal((fs.statSync(path.join(dir1, 'secret.key')).mode & 0o777).toString(8), '600');
    assert.deepEqual(fs.readFileSync(path.join(dir1, 'secret.key')), fs.readFileSync(path.join(app.dataDir, 'secret.key')));
  });

  await t.test('the restored snapshot is consistent: every event acknowledged before the backup, each with its contact, tags and order', () => {
    const db = path.join(dir1, 'stripelink.db');
    const logged = new Map(rows(db, `SELECT event_id, result FROM integration_log WHERE connection_id = ${id}`).map((r) => [r.event_id, r.result]));
    const liveResults = new Map(rows(live, `SELECT event_id, result FROM integration_log WHERE connection_id = ${id}`).map((r) => [r.event_id, r.result]));
    for (const i of ackedAtBackupStart) {
      assert.ok(logged.has(`evt_bk${i}`), `evt_bk${i} acknowledged before the backup is in it`);
      assert.equal(logged.get(`evt_bk${i}`), liveResults.get(`evt_bk${i}`));
    }
    assert.deepEqual([...new Set(logged.values())], ['processed']);
    assert.ok(logged.size >= ackedAtBackupStart.size && logged.size <= N_EVENTS);
    // each logged event's effects are all there (a snapshot between transactions)
    const orders = new Set(rows(db, 'SELECT stripe_id FROM orders').map((r) => r.stripe_id));
    const contacts = new Map(rows(db, 'SELECT id, email FROM contacts').map((r) => [r.email, r.id]));
    const tagged = rows(db, `SELECT c.email, group_concat(t.name) AS tags FROM contacts c JOIN contact_tags ct ON ct.contact_id = c.id
                             JOIN tags t ON t.id = ct.tag_id GROUP BY c.id`);
    const tagsOf = new Map(tagged.map((r) => [r.email, r.tags.split(',').sort()]));
    for (const eventId of logged.keys()) {
      const i = Number(eventId.slice('evt_bk'.length));
      assert.ok(orders.has(`ch_bk${i}`), `order of ${eventId}`);
      assert.ok(contacts.has(`backup.${i}@example.com`), `contact of ${eventId}`);
      assert.deepEqual(tagsOf.get(`backup.${i}@example.com`), ['stripe-integration', 'stripe-integration-charge-succeeded']);
    }
    assert.equal(orders.size, logged.size, 'no order without its log entry');
    // and the rows are the live ones
    const liveNow = dump(live);
    const snap = dump(db);
    for (const table of ['contacts', 'orders', 'integration_log', 'tags', 'contact_tags']) {
      const liveRows = new Set(liveNow[table].map((r) => JSON.stringify(r)));
      for (const r of snap[table]) assert.ok(liveRows.has(JSON.stringify(r)), `${table} row ${JSON.stringify(r)} as in the live database`);
    }
    assert.deepEqual(snap.users, liveNow.users);
  });

  await t.test('the restored install starts: the admin logs in, the Stripe app page works, the secrets open', async () => {
    restored = await startApp({ STRIPELINK_STRIPE_API: fake.url, STRIPELINK_DATA: dir1 });
    const c = new Client(restored.base);
    const login = await c.submit('/login', '/login', { username: 'owner', password: PASSWORD });
    assert.equal(login.status, 303, login.text);
    const page = await c.get(`/apps/stripe/${id}`);
    assert.equal(page.status, 200);
    assert.match(page.text, /<dt>Secret key<\/dt><dd><code>sk_test_…c123<\/code>/);
    const db = path.join(dir1, 'stripelink.db');
    const before = rows(db, 'SELECT count(*) AS n FROM integration_log')[0].n;
    // the sealed signing secret opens: a delivery signed with it is applied
    assert.equal(await deliver(restored.base, id, secret, chargeEvent(N_EVENTS + 1)), 200);
    assert.equal(rows(db, `SELECT result FROM integration_log WHERE event_id = 'evt_bk${N_EVENTS + 1}'`)[0].result, 'processed');
    assert.equal(rows(db, 'SELECT count(*) AS n FROM integration_log')[0].n, before + 1);
    // the sealed Stripe key opens: rolling the secret calls Stripe with it
    const rolled = await c.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/roll-secret`, {});
    assert.equal(rolled.status, 303, rolled.text);
    assert.equal(rolled.location, `/apps/stripe/${id}?notice=rolled`);
    const contacts = await c.get('/contacts');
    assert.equal(contacts.status, 200);
  });

  await t.test('restore refuses a running service, then existing data without --force', async () => {
    const again = run(['restore', file], { STRIPELINK_DATA: dir1 });
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /service is running/);
    await restored.stop();
    restored = null;
    const exists = run(['restore', file], { STRIPELINK_DATA: dir1 });
    assert.notEqual(exists.status, 0);
    assert.match(exists.stderr, /already has a database or a key; restore --force/);
  });

  await t.test('a backup of the quiet service restored with --force equals the live data exactly', () => {
    const quiet = path.join(tmp, 'quiet.backup');
    const b = run(['backup', quiet], { STRIPELINK_DATA: app.dataDir });
    assert.equal(b.status, 0, b.stderr);
    const r = run(['restore', '--force', quiet], { STRIPELINK_DATA: dir1 });
    assert.equal(r.status, 0, r.stderr);
    const got = dump(path.join(dir1, 'stripelink.db'));
    const want = dump(live);
    assert.equal(got.contacts.length, N_EVENTS);
    assert.equal(got.orders.length, N_EVENTS);
    assert.deepEqual(got, want);
    assert.ok(!fs.existsSync(path.join(dir1, 'stripelink.db-wal')) || fs.statSync(path.join(dir1, 'stripelink.db-wal')).size === 0,
      'no -wal of the old database left beside the restored one');
  });

  await t.test('a truncated or foreign file is refused and changes nothing', () => {
    const whole = fs.readFileSync(file);
    const cut = path.join(tmp, 'cut.backup');
    fs.writeFileSync(cut, whole.subarray(0, whole.length - 4096));
    const dir2 = path.join(tmp, 'fresh');
    const r1 = run(['restore', cut], { STRIPELINK_DATA: dir2 });
    assert.notEqual(r1.status, 0);
    assert.match(r1.stderr, /incomplete or damaged/);
    assert.ok(!fs.existsSync(path.join(dir2, 'stripelink.db')));
    const foreign = path.join(tmp, 'foreign.backup');
    fs.writeFileSync(foreign, 'SQLite format 3\0'.padEnd(200, 'x'));
    const r2 = run(['restore', foreign], { STRIPELINK_DATA: dir2 });
    assert.notEqual(r2.status, 0);
    assert.match(r2.stderr, /not a stripelink backup/);
    assert.ok(!fs.existsSync(path.join(dir2, 'secret.key')));
  });
});
