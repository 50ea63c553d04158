// diskfull.test.js - the data directory runs out of space while webhooks
// arrive. Deliveries that cannot be committed answer 503 (Stripe retries),
// nothing is half-written, and once space returns the same deliveries are
// accepted without a restart: every event's effects exactly once.
//
// The data directory is a 6 MiB tmpfs mounted by the test (root only: CI
// and `make test` run as root; elsewhere the test says it was skipped).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startApp, adminClient } = require('./harness');
const { start } = require('../fake-stripe/server');
const { chargeEvent, wire, stripeHeader } = require('./events');

const isRoot = process.getuid && process.getuid() === 0;

// Writes filler until the file system says it is full.
function fill(dir) {
  const file = path.join(dir, 'filler');
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  }
  // the last partial blocks too
  const small = Buffer.alloc(512, 0x5a);
  try { for (;;) fs.writeSync(fd, small); } catch (e) { if (e.code !== 'ENOSPC') throw e; }
  fs.closeSync(fd);
  return file;
}

test('disk full: 503 and nothing half-written, then recovery without a restart',
  { skip: isRoot ? false : 'needs root to mount a small tmpfs' }, async (t) => {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m,mode=0755', 'tmpfs', mnt]);
    const data = path.join(mnt, 'data');
    const fake = await start({ port: 0 });
    let app;
    t.after(async () => {
      if (app) await app.stop().catch(() => {});
      await fake.close();
      try { execFileSync('umount', ['-l', mnt]); } catch (_) { /* already gone */ }
      fs.rmSync(mnt, { recursive: true, force: true });
    });
    app = await startApp({ STRIPELINK_STRIPE_API: fake.url, STRIPELINK_DATA: data });
    const admin = await adminClient(app);
    const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_diskfull1' });
    assert.equal(res.status, 303, `connect answered ${res.status}`);
    const id = Number(/\/apps\/stripe\/(\d+)\//.exec(res.location)[1]);
    const endpoints = await (await fetch(`${fake.url}/_fake/webhook_endpoints`)).json();
    const list = Array.isArray(endpoints) ? endpoints : endpoints.data;
    const secret = list.find((e) => e.url.endsWith(`/webhooks/stripe/${id}`)).secret;
    const db = path.join(data, 'stripelink.db');
    const rows = (q) => {
      const out = execFileSync('sqlite3', ['-json', '-cmd', '.timeout 5000', db, q], { encoding: 'utf8' });
      return out.trim() ? JSON.parse(out) : [];
    };

    // each event carries a 20 KB description, so the WAL must grow to hold it
    const events = [];
    for (let i = 0; i < 60; i++) {
      const ev = chargeEvent(`full${i}`, `full${i}@example.com`, 1000 + i);
      ev.data.object.description = 'x'.repeat(20000);
      events.push(ev);
    }
    const deliver = async (ev) => {
      const body = wire(ev);
      const r = await fetch(`${app.base}/webhooks/stripe/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(body, secret) },
        body,
      });
      await r.text();
      return r.status;
    };

    // before: accepted
    for (const ev of events.slice(0, 5)) assert.equal(await deliver(ev), 200);

    const filler = fill(mnt);
    const statuses = new Map();
    for (const ev of events.slice(5)) statuses.set(ev.id, await deliver(ev));
    const refused = [...statuses].filter(([, s]) => s !== 200);
    for (const [evId, s] of refused) assert.equal(s, 503, `${evId} answered ${s}, not 503, on a full disk`);
    assert.ok(refused.length >= 40, `most deliveries on a full disk were refused (${refused.length} of 55)`);

    // space returns; Stripe resends what was refused
    fs.rmSync(filler);
    for (const [evId] of refused) {
      const ev = events.find((e) => e.id === evId);
      assert.equal(await deliver(ev), 200, `${evId} accepted once space returned`);
    }
    // and resends of everything change nothing
    for (const ev of events) assert.equal(await deliver(ev), 200);

    const orders = rows(`SELECT stripe_id, amount FROM orders WHERE connection_id = ${id} ORDER BY amount`);
    assert.equal(orders.length, 60, 'one order per event');
    orders.forEach((o, i) => assert.deepEqual(o, { stripe_id: `ch_full${i}`, amount: 1000 + i }));
    const processed = rows(`SELECT count(*) AS n FROM integration_log WHERE connection_id = ${id} AND result = 'processed'`)[0].n;
    assert.equal(processed, 60, 'each event processed exactly once');
    const contacts = rows(`SELECT count(*) AS n FROM contacts WHERE email LIKE 'full%@example.com'`)[0].n;
    assert.equal(contacts, 60);
    const check = rows('PRAGMA integrity_check')[0].integrity_check;
    assert.equal(check, 'ok');
  });
