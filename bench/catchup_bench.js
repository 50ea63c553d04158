// catchup_bench.js - a catch-up of missed events from Stripe's event list.
//
//   node bench/catchup_bench.js [--count 10000] [--rate 10]   (--rate 0: no limit)
//
// Records --count customer.created events (created over the 500 s before
// the button, after the connection) at the fake Stripe as created but
// never delivered, connects with a test key (the sync worker's test rate
// limit is --rate requests per second, the default 10), presses
// "Catch up now" and waits until the sweep has finished. Prints the wall
// time from the button to the sweep committed, the event-list pages Stripe
// answered, the requests per second against the limit, and events per
// second; then checks that every event made its contact exactly once.
//
// The fake runs as its own Node process. Durability is the production
// setting (WAL, synchronous=FULL).
'use strict';
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const TESTS = path.resolve(__dirname, '..', 'tests');
const { startApp, adminClient, sleep } = require(path.join(TESTS, 'integration', 'harness'));

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 || process.argv[i + 1] === undefined ? fallback : process.argv[i + 1];
}
const COUNT = Number(arg('count', 10000));
const RATE = Number(arg('rate', 10));

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
    async ctl(method, p, body) {
      const res = await fetch(`${url}/_fake/${p}`, { method, body: body ? JSON.stringify(body) : undefined });
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

function one(app, sql) {
  const out = execFileSync('sqlite3', ['-json', '-cmd', '.timeout 5000', path.join(app.dataDir, 'stripelink.db'), sql],
    { encoding: 'utf8' });
  const rows = out.trim() ? JSON.parse(out) : [];
  return rows.length ? Object.values(rows[0])[0] : undefined;
}

async function main() {
  const fake = await startFake();
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url, STRIPELINK_SYNC_RATE_TEST: String(RATE),
    STRIPELINK_CATCHUP_INTERVAL: '3600' });
  try {
    const admin = await adminClient(app);
    const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_catchupbench1' });
    if (res.status !== 303) throw new Error(`connect: ${res.status}`);
    const id = Number(res.location.split('/')[3]);
    const settled = `SELECT count(*) FROM catchups WHERE connection_id = ${id} AND last_at IS NOT NULL
                     AND run_lte IS NULL AND requested_at IS NULL`;
    while (one(app, settled) !== 1) await sleep(100);   // the first sweep after connecting

    const now = Math.floor(Date.now() / 1000);
    const events = [];
    for (let i = 0; i < COUNT; i++) {
      events.push({ type: 'customer.created', api_version: '2025-08-27.basil', created: now - 500 + Math.floor((i * 500) / COUNT),
        data: { object: { id: `cus_bench${i}`, object: 'customer', created: now - 500 + Math.floor((i * 500) / COUNT),
          email: `bench${i}@example.test`, name: `Bench Person${i}`, phone: null } } });
    }
    await fake.ctl('POST', 'events', { delivered: false, events });
    const since = (await fake.ctl('GET', 'state')).requests.last_seq;

    const t0 = Date.now();
    const r = await admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/catchup`, {});
    if (r.status !== 303) throw new Error(`catch up now: ${r.status}`);
    while (one(app, settled) !== 1) await sleep(50);
    const seconds = (Date.now() - t0) / 1000;

    const reqs = await fake.ctl('GET', `requests?path=/v1/events&since=${since}`);
    const pages = reqs.filter((q) => q.query.delivery_success === undefined);
    const span = (reqs[reqs.length - 1].t_ms - reqs[0].t_ms) / 1000;
    const contacts = one(app, "SELECT count(*) FROM contacts WHERE email LIKE 'bench%@example.test'");
    const logged = one(app, `SELECT count(*) FROM integration_log WHERE connection_id = ${id} AND source = 'catchup'`);
    const found = one(app, `SELECT last_found FROM catchups WHERE connection_id = ${id}`);
    console.log(`catch-up of ${COUNT} missed events, ${RATE ? `rate limit ${RATE} requests/s` : 'rate limit off'}: ${seconds.toFixed(2)} s ` +
      `(${Math.round(COUNT / seconds)} events/s), ${pages.length} event-list pages + ` +
      `${reqs.length - pages.length} undelivered-count pages, ` +
      `${((reqs.length - 1) / span).toFixed(2)} requests/s at the fake`);
    console.log(`listed ${found}, contacts ${contacts}, catch-up log entries ${logged}` +
      (contacts === COUNT && logged === COUNT ? ' (each exactly once)' : ' MISMATCH'));
    if (contacts !== COUNT || logged !== COUNT) process.exitCode = 1;
  } finally {
    await app.stop();
    await fake.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
