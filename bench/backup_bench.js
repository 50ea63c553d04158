// backup_bench.js - the size and time of `stripelink backup` for 100,000
// contacts (each with two tags, one order and one integration-log entry),
// and of `stripelink restore` of that file. The database is filled with
// the sqlite3 shell after `stripelink migrate`; the backup runs while the
// service (supervisor, nginx, workers) is up.
//   node bench/backup_bench.js [CONTACTS]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { startApp, BIN } = require('../tests/integration/harness');

const N = Number(process.argv[2] || 100000);

function fill(db) {
  const sql = `
PRAGMA journal_mode = WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${N})
INSERT INTO contacts (id, email, email_key, first_name, last_name, phone, created_at, updated_at)
  SELECT i, 'Buyer.' || i || '@Example.com', 'buyer.' || i || '@example.com', 'First' || i, 'Last' || i,
         '+1555' || printf('%07d', i), 1700000000 + i, 1700000000 + i FROM n;
INSERT INTO tags (id, name) VALUES (1000001, 'stripe-integration'), (1000002, 'stripe-integration-charge-succeeded');
INSERT INTO contact_tags (contact_id, tag_id) SELECT id, 1000001 FROM contacts;
INSERT INTO contact_tags (contact_id, tag_id) SELECT id, 1000002 FROM contacts;
INSERT INTO orders (stripe_id, connection_id, contact_id, amount, currency, status, created, updated_at)
  SELECT 'ch_bench' || id, 1, id, 1000 + id % 5000, 'usd', 'succeeded', '2023-11-14T22:13:20Z', 1700000000 FROM contacts;
INSERT INTO integration_log (connection_id, at, event_id, type, result, contact_id)
  SELECT 1, 1700000000 + id, 'evt_bench' || id, 'charge.succeeded', 'processed', id FROM contacts;
COMMIT;`;
  execFileSync('sqlite3', [db], { input: sql });
}

function timed(args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(BIN, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

(async () => {
  const app = await startApp();
  const db = path.join(app.dataDir, 'stripelink.db');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-backup-bench-'));
  try {
    const t0 = Date.now();
    fill(db);
    const count = execFileSync('sqlite3', [db, 'SELECT count(*) FROM contacts'], { encoding: 'utf8' }).trim();
    const dbBytes = fs.statSync(db).size + (fs.existsSync(`${db}-wal`) ? fs.statSync(`${db}-wal`).size : 0);
    console.log(`filled ${count} contacts in ${((Date.now() - t0) / 1000).toFixed(1)} s; database + wal ${(dbBytes / 1048576).toFixed(1)} MiB`);
    const times = [];
    const file = path.join(out, 'bench.backup');
    for (let i = 0; i < 3; i++) {
      fs.rmSync(file, { force: true });
      times.push(timed(['backup', file], { STRIPELINK_DATA: app.dataDir }));
    }
    times.sort((a, b) => a - b);
    const size = fs.statSync(file).size;
    console.log(`backup (service running): ${(size / 1048576).toFixed(1)} MiB (${size} bytes), ` +
      `median ${(times[1] / 1000).toFixed(2)} s (runs: ${times.map((x) => (x / 1000).toFixed(2)).join(', ')} s)`);
    const restored = path.join(out, 'restored');
    const rt = timed(['restore', file], { STRIPELINK_DATA: restored });
    const back = execFileSync('sqlite3', [path.join(restored, 'stripelink.db'), 'SELECT count(*) FROM contacts'], { encoding: 'utf8' }).trim();
    console.log(`restore: ${(rt / 1000).toFixed(2)} s, ${back} contacts back`);
  } finally {
    await app.stop();
    fs.rmSync(out, { recursive: true, force: true });
  }
})().catch((e) => { console.error(e); process.exit(1); });
