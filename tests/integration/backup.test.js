// backup.test.js - `stripelink backup FILE` while webhooks arrive, then
// `stripelink restore FILE` into a new data directory: the restored install
// starts with every contact, tag, order and log entry, its admin can log
// in, and the sealed Stripe secrets still open (a new signed webhook is
// verified and applied). Also what restore refuses.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile, execFileSync } = require('node:child_process');
const { promisify } = require('node:util');
const { startApp, adminClient, Client, BIN } = require('./harness');
const { start } = require('../fake-stripe/server');
const { chargeEvent, wire, stripeHeader } = require('./events');

const run = promisify(execFile);

function rows(db, q) {
  const out = execFileSync('sqlite3', ['-json', '-cmd', '.timeout 5000', db, q], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}

// What must survive, as comparable rows.
function snapshot(db) {
  return {
    contacts: rows(db, 'SELECT id, email, first_name, last_name FROM contacts ORDER BY id'),
    tags: rows(db, 'SELECT contact_id, tag_id FROM contact_tags ORDER BY contact_id, tag_id'),
    orders: rows(db, 'SELECT stripe_id, contact_id, amount, currency, status FROM orders ORDER BY id'),
    log: rows(db, 'SELECT id, event_id, result, contact_id FROM integration_log ORDER BY id'),
    connections: rows(db, 'SELECT id, status, key_sealed, secret_sealed FROM connections ORDER BY id'),
  };
}

test('backup while webhooks arrive; restore into a new data directory', async (t) => {
  const fake = await start({ port: 0 });
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-backup-'));
  fs.chmodSync(work, 0o711);   // nginx's workers reach the restored install's socket through it
  let restored;
  t.after(async () => {
    if (restored) await restored.stop().catch(() => {});
    await app.stop();
    await fake.close();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const admin = await adminClient(app);
  const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_backup1' });
  assert.equal(res.status, 303);
  const id = Number(/\/apps\/stripe\/(\d+)\//.exec(res.location)[1]);
  const endpoints = await (await fetch(`${fake.url}/_fake/webhook_endpoints`)).json();
  const secret = (Array.isArray(endpoints) ? endpoints : endpoints.data).find((e) => e.url.endsWith(`/webhooks/stripe/${id}`)).secret;
  const deliver = async (base, ev) => {
    const body = wire(ev);
    const r = await fetch(`${base}/webhooks/stripe/${id}`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(body, secret) }, body,
    });
    await r.text();
    return r.status;
  };

  // a webhook load in the background; the backup runs in the middle of it
  let sent = 0;
  const load = (async () => {
    const senders = Array.from({ length: 4 }, async (_, s) => {
      for (let i = s; i < 400; i += 4) {
        assert.equal(await deliver(app.base, chargeEvent(`bk${i}`, `bk${i}@example.com`, 1000 + i)), 200);
        sent++;
      }
    });
    await Promise.all(senders);
  })();
  while (sent < 100) await new Promise((r) => setTimeout(r, 20));
  const during = path.join(work, 'during.slbackup');
  const out = await run(BIN, ['backup', during], { env: app.env });
  assert.match(out.stdout, /backup written to .* bytes in .* s/);
  const sentAtBackupEnd = sent;
  await load;
  assert.ok(sentAtBackupEnd < 400, 'the backup finished while the load still ran');
  assert.equal(fs.statSync(during).mode & 0o777, 0o600, 'the backup is readable only by its owner');
  assert.equal(fs.readFileSync(during).subarray(0, 20).toString(), 'STRIPELINK BACKUP 1\n');

  // the copy taken under load is consistent: each processed event has its order
  const dir1 = path.join(work, 'restored-during');
  const env1 = { ...app.env, STRIPELINK_DATA: dir1 };
  await run(BIN, ['restore', during], { env: env1 });
  const db1 = path.join(dir1, 'stripelink.db');
  const logged = rows(db1, `SELECT event_id FROM integration_log WHERE result = 'processed'`).map((r) => r.event_id.replace('evt_', 'ch_')).sort();
  const ordered = rows(db1, 'SELECT stripe_id FROM orders').map((r) => r.stripe_id).sort();
  assert.deepEqual(ordered, logged, 'no event half there');
  assert.ok(logged.length >= 100 && logged.length < 400, `a point in the middle of the load (${logged.length} of 400)`);

  // a backup once the load is over restores everything, exactly
  const after = path.join(work, 'after.slbackup');
  await run(BIN, ['backup', after], { env: app.env });
  const dir2 = path.join(work, 'restored-after');
  await run(BIN, ['restore', after], { env: { ...app.env, STRIPELINK_DATA: dir2 } });
  const db2 = path.join(dir2, 'stripelink.db');
  const original = snapshot(path.join(app.dataDir, 'stripelink.db'));
  assert.equal(original.orders.length, 400);
  assert.deepEqual(snapshot(db2), original, 'contacts, tags, orders, log entries and sealed secrets all restored');
  assert.equal(fs.statSync(path.join(dir2, 'secret.key')).mode & 0o777, 0o600);

  // the restored install starts; its admin logs in; its secrets still open
  restored = await startApp({ STRIPELINK_STRIPE_API: fake.url, STRIPELINK_DATA: dir2 });
  const c = new Client(restored.base);
  const login = await c.submit('/login', '/login', { username: 'owner', password: 'correct horse battery' });
  assert.equal(login.status, 303, 'the admin logs in to the restored install');
  const page = await c.get(`/apps/stripe/${id}`);
  assert.equal(page.status, 200);
  assert.match(page.text, /sk_test_…/);
  assert.equal(await deliver(restored.base, chargeEvent('bkAfter', 'bk.after@example.com', 777)), 200,
    'a webhook signed with the old signing secret is verified: the restored key opens it');
  assert.equal(rows(db2, `SELECT amount FROM orders WHERE stripe_id = 'ch_bkAfter'`)[0].amount, 777);

  // what restore refuses
  const refuse = async (args, env, pattern) => {
    await assert.rejects(run(BIN, ['restore', ...args], { env }), (e) => { assert.match(e.stderr, pattern); return true; });
  };
  await refuse([after], { ...app.env, STRIPELINK_DATA: dir2 }, /service is running/);
  await restored.stop();
  restored = null;
  await refuse([after], { ...app.env, STRIPELINK_DATA: dir2 }, /already holds a database; restore with --force/);
  await run(BIN, ['restore', after, '--force'], { env: { ...app.env, STRIPELINK_DATA: dir2 } });
  const cut = path.join(work, 'cut.slbackup');
  fs.writeFileSync(cut, fs.readFileSync(after).subarray(0, 5000));
  await refuse([cut], { ...app.env, STRIPELINK_DATA: path.join(work, 'x') }, /incomplete/);
  fs.writeFileSync(cut, 'not a backup at all');
  await refuse([cut], { ...app.env, STRIPELINK_DATA: path.join(work, 'y') }, /not a stripelink backup/);
  await assert.rejects(run(BIN, ['backup', after], { env: app.env }), /already exists/);
});
