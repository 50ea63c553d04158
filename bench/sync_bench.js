// sync_bench.js - the historical sync against the fake Stripe.
//
//   node bench/sync_bench.js [--count 100000] [--rate 20] [--seconds 10] [--expand]
//
// 1. Rate limit off (STRIPELINK_SYNC_RATE_TEST=0): seeds --count charges
//    (and count/2 customers) at the fake, connects with a test key, sets up
//    Charge with "historical and new records" and waits for the job. Prints
//    objects per second two ways (the job's own running time, elapsed_ms;
//    and wall time from the first list request reaching the fake to the job
//    seen done) and the sync worker's peak memory (VmHWM of the
//    stripelink-sync process from /proc/<pid>/status, before and after).
//    --expand maps the email from customer.email, so every page is fetched
//    with expand[]=data.customer.
// 2. Rate limit on (STRIPELINK_SYNC_RATE_TEST=--rate, fresh app, same fake
//    data): starts the same sync, lets it run --seconds, cancels it, and
//    prints the list requests per second the fake received against the
//    limit, and the busiest 1-second window.
//
// The fake runs as its own Node process (tests/fake-stripe/server.js), so
// neither it nor this script's polling (sqlite3, 50 ms) share an event loop.
// Durability is the production setting (WAL, synchronous=FULL).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { spawn, execFileSync } = require('node:child_process');
const TESTS = path.resolve(__dirname, '..', 'tests');
const { startApp, adminClient, csrfOf, sleep } = require(path.join(TESTS, 'integration', 'harness'));

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}
const COUNT = Number(arg('count', 100000));
const RATE = Number(arg('rate', 20));
const SECONDS = Number(arg('seconds', 10));
const EXPAND = Boolean(arg('expand', false));
const KEY = 'sk_test_bench4242';

async function startFake() {
  const child = spawn(process.execPath, [path.join(TESTS, 'fake-stripe', 'server.js'), '--port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`fake-stripe exited ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    child,
    async ctl(method, p, body) {
      const res = await fetch(`${url}/_fake/${p}`, {
        method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
      });
      const json = await res.json();
      if (res.status !== 200) throw new Error(`/_fake/${p}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
    close() {
      child.kill('SIGTERM');
      return new Promise((r) => { child.on('exit', r); setTimeout(r, 5000); });
    },
  };
}

function q(app, sql) {
  const out = execFileSync('sqlite3', ['-json', '-cmd', '.timeout 5000', path.join(app.dataDir, 'stripelink.db'), sql],
    { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}

function syncPid(app) {
  try {
    const out = execFileSync('pgrep', ['-f', '-P', String(app.child.pid), 'stripelink-sync'], { encoding: 'utf8' }).trim();
    return out ? Number(out.split('\n')[0]) : null;
  } catch (_) {
    return null;
  }
}

// VmHWM / VmRSS of a process in MiB.
function memory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status) || [])[1]);
  return { hwm: kb('VmHWM') / 1024, rss: kb('VmRSS') / 1024 };
}

// The app's own requests to a path, since a request-log seq.
async function appRequests(fake, p, since = 0) {
  const qs = new URLSearchParams({ path: p });
  if (since) qs.set('since', String(since));
  return (await fake.ctl('GET', `requests?${qs}`)).filter((r) => /^stripelink\//.test(r.headers['user-agent'] || ''));
}

// Connects and finishes the wizard for Charge with historical sync; returns {admin, id, job}.
async function setUpCharge(app) {
  const admin = await adminClient(app);
  const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: KEY });
  if (res.status !== 303) throw new Error(`connect: ${res.status} ${res.text.slice(0, 300)}`);
  const id = Number(/\/apps\/stripe\/(\d+)\//.exec(res.location)[1]);
  const step2 = await admin.submit(`/apps/stripe/${id}/resource`, `/apps/stripe/${id}/resource`, { resource: 'charge', sync_type: 'historical' });
  if (step2.status !== 303) throw new Error(`step 2: ${step2.status}`);
  const mapUrl = `/apps/stripe/${id}/mapping/charge`;
  const page = await admin.get(mapUrl);
  const fin = await admin.request('POST', mapUrl, {
    form: {
      csrf: csrfOf(page.text), email_path: EXPAND ? 'customer.email' : 'billing_details.email', id_path: '', id_target: '',
      rows: '1', path_0: 'billing_details.name', meta_0: '', target_0: 'full_name', action: 'finish',
    },
  });
  if (fin.status !== 303) throw new Error(`finish: ${fin.status} ${fin.text.slice(0, 300)}`);
  const job = q(app, `SELECT max(id) AS id FROM sync_jobs;`)[0].id;
  return { admin, id, job };
}

function busiest(times, ms = 1000) {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi] - t[lo] >= ms) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

async function main() {
  const fake = await startFake();
  let app;
  try {
    console.log(`seeding ${COUNT} charges at the fake (${Math.ceil(COUNT / 2)} customers; created over the last ${COUNT} s) ...`);
    const seeded = await fake.ctl('POST', 'seed', { resource: 'charges', count: COUNT });
    console.log(`  seeded in ${(seeded.ms / 1000).toFixed(1)} s`);

    // ---- 1. rate limit off ----
    app = await startApp({ STRIPELINK_STRIPE_API: fake.url, STRIPELINK_SYNC_RATE_TEST: '0' });
    const pid = syncPid(app);
    const before = memory(pid);
    const since = (await fake.ctl('GET', 'state')).requests.last_seq;
    const { job } = await setUpCharge(app);
    let row;
    for (;;) {
      row = q(app, `SELECT state, objects, pages, elapsed_ms, contacts_created, contacts_updated, skipped, error FROM sync_jobs WHERE id = ${job};`)[0];
      if (row.state === 'done' || row.state === 'failed') break;
      await sleep(50);
    }
    const doneAt = Date.now();
    if (row.state !== 'done') throw new Error(`the job failed: ${row.error}`);
    const after = memory(pid);
    const reqs = await appRequests(fake, '/v1/charges', since);
    const first = Math.min(...reqs.map((r) => r.t_ms));
    const wall = (doneAt - first) / 1000;
    const windows = q(app, `SELECT count(*) AS n FROM sync_windows WHERE job_id = ${job};`)[0].n;
    const counts = q(app, 'SELECT (SELECT count(*) FROM contacts) AS contacts, (SELECT count(*) FROM orders) AS orders;')[0];
    console.log('');
    console.log(`== rate limit off: ${row.objects} charges${EXPAND ? ' (expand[]=data.customer)' : ''}, ${row.pages} pages, ${reqs.length} list requests, ${windows} windows`);
    console.log(`  objects/s (job running time, sync_jobs.elapsed_ms = ${row.elapsed_ms} ms): ${Math.round(row.objects / (row.elapsed_ms / 1000))}`);
    console.log(`  objects/s (wall: first list request at the fake -> job seen done, ${wall.toFixed(2)} s): ${Math.round(row.objects / wall)}`);
    console.log(`  sync worker (pid ${pid}) memory: VmRSS ${before.rss.toFixed(1)} MiB before the job; VmHWM ${after.hwm.toFixed(1)} MiB peak after it (VmRSS ${after.rss.toFixed(1)} MiB)`);
    console.log(`  result: ${counts.contacts} contacts, ${counts.orders} orders; job counters created ${row.contacts_created}, updated ${row.contacts_updated}, skipped ${row.skipped}`);
    await app.stop();
    app = null;

    // ---- 2. rate limit on ----
    app = await startApp({ STRIPELINK_STRIPE_API: fake.url, STRIPELINK_SYNC_RATE_TEST: String(RATE) });
    const since2 = (await fake.ctl('GET', 'state')).requests.last_seq;
    const s2 = await setUpCharge(app);
    for (;;) {
      const st = q(app, `SELECT state FROM sync_jobs WHERE id = ${s2.job};`)[0].state;
      if (st === 'running') break;
      await sleep(50);
    }
    await sleep(SECONDS * 1000);
    const res = await s2.admin.submit(`/apps/stripe/${s2.id}`, `/apps/stripe/${s2.id}/jobs/${s2.job}`, { action: 'cancel' });
    if (res.status !== 303) throw new Error(`cancel: ${res.status}`);
    await sleep(500);
    const row2 = q(app, `SELECT state, objects, pages FROM sync_jobs WHERE id = ${s2.job};`)[0];
    const list = (await appRequests(fake, '/v1/charges', since2)).map((r) => r.t_ms).sort((a, b) => a - b);
    const account = await appRequests(fake, '/v1/account', since2);
    const span = (list[list.length - 1] - list[0]) / 1000;
    const achieved = (list.length - 1) / span;
    console.log('');
    console.log(`== rate limit on: STRIPELINK_SYNC_RATE_TEST=${RATE}, ran ~${SECONDS} s then cancelled (job ${row2.state}: ${row2.objects} objects, ${row2.pages} pages)`);
    console.log(`  list requests received by the fake: ${list.length} over ${span.toFixed(2)} s (first to last) = ${achieved.toFixed(2)} requests/s`);
    console.log(`  against the limit: ${(100 * achieved / RATE).toFixed(1)}% of ${RATE}/s; busiest 1 s sliding window: ${busiest(list)} requests`);
    console.log(`  (plus ${account.length} GET /v1/account requests by the app: connect and the job's start, which also takes a slot)`);
  } finally {
    if (app) await app.stop();
    await fake.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
