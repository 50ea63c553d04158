// webhook_bench.js - signs realistic Stripe events and posts them through
// nginx with wrk at concurrency 1 and 16; prints events/s, p50/p99 latency,
// non-2xx responses and the FastCGI worker's peak memory. Durability is
// the production setting: SQLite WAL with synchronous=FULL, every event
// answered only after its group commit reached the disk.
//   node bench/webhook_bench.js [seconds-per-run] [events]
// STRIPELINK_TEST_PG=1 runs it on a local PostgreSQL 15 cluster
// (STRIPELINK_PG_FSYNC=on for production durability: synchronous_commit
// and fsync on); BENCH_NODES=2 then starts two nodes on that one database
// behind one nginx upstream, and wrk posts to that nginx.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { execFileSync, spawn } = require('node:child_process');
const TESTS = path.resolve(__dirname, '..', 'tests');
const { startApp, adminClient, startUpstream, PG } = require(path.join(TESTS, 'integration', 'harness'));
const { start } = require(path.join(TESTS, 'fake-stripe', 'server'));
const Stripe = require(path.join(TESTS, 'node_modules', 'stripe'));

const seconds = Number(process.argv[2] || 10);
const eventsWanted = Number(process.argv[3] || 150000);
const fixtures = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'tests', 'fixtures', 'stripe', 'fixtures3.json'))).resources;

// A charge.succeeded or customer.updated event with unique ids and email.
function event(i, now) {
  if (i % 2 === 0) {
    const ch = { ...fixtures.charge, id: `ch_bench${i}`, created: now - 5,
      billing_details: { ...fixtures.charge.billing_details, email: `buyer${i % 20000}@bench.example`, name: `Buyer Number${i}` },
      customer: null, amount: 1000 + (i % 500) };
    return { id: `evt_bench${i}`, object: 'event', type: 'charge.succeeded', created: now, livemode: false,
      api_version: '2025-08-27.basil', pending_webhooks: 1, request: { id: null, idempotency_key: null }, data: { object: ch } };
  }
  const cus = { ...fixtures.customer, id: `cus_bench${i}`, created: now - 5, email: `customer${i}@bench.example`, name: `Customer ${i}` };
  return { id: `evt_bench${i}`, object: 'event', type: 'customer.updated', created: now, livemode: false,
    api_version: '2025-08-27.basil', pending_webhooks: 1, request: { id: null, idempotency_key: null }, data: { object: cus } };
}

function luaString(s) {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

// Writes a wrk script that posts the prepared events in order, each once.
function writeWrk(dir, webhookPath, bodies, headers) {
  const data = path.join(dir, 'events.lua');
  // Lua allows 65536 constants per function: one function per 10000 events
  const rows = ['local all = {}', 'local function add(c) for i = 1, #c do all[#all + 1] = c[i] end end'];
  for (let i = 0; i < bodies.length; i++) {
    if (i % 10000 === 0) rows.push(i ? '} end)())\nadd((function() return {' : 'add((function() return {');
    rows.push(`{${luaString(headers[i])},${luaString(bodies[i])}},`);
  }
  rows.push('} end)())', 'return all');
  fs.writeFileSync(data, rows.join('\n'));
  const script = path.join(dir, 'post.lua');
  fs.writeFileSync(script, `
local events = dofile(${luaString(data)})
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  n = 0
  step = tonumber(args[1])
  first = tonumber(args[2])
end
function request()
  local e = events[(first + id + n * step) % #events + 1]
  n = n + 1
  return wrk.format("POST", ${luaString(webhookPath)}, {["Content-Type"] = "application/json", ["Stripe-Signature"] = e[1]}, e[2])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d non2xx=%d errors=%d p50_us=%d p99_us=%d duration_us=%d\\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
`);
  return { data, script };
}

// Runs wrk without blocking the event loop (the app's log pipe must keep draining).
function wrk(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('exit', () => resolve({ stdout, stderr }));
  });
}

function peakKb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : 0;
}

(async () => {
  const fake = await start({ port: 0 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-bench-'));
  const nodes = Number(process.env.BENCH_NODES || 1);
  if (nodes > 1 && !PG) throw new Error('BENCH_NODES needs STRIPELINK_TEST_PG=1: several nodes share one PostgreSQL database');
  const common = { STRIPELINK_STRIPE_API: fake.url, STRIPELINK_THREADS: process.env.STRIPELINK_THREADS || '16',
    STRIPELINK_KEY_FILE: path.join(dir, 'secret.key') };
  const app = await startApp({ ...common, STRIPELINK_NODE_ID: 'bench-1' });
  const others = [];
  for (let n = 2; n <= nodes; n++) others.push(await startApp({ ...common, STRIPELINK_NODE_ID: `bench-${n}`, STRIPELINK_DATABASE_URL: app.dbUrl }));
  const upstream = nodes > 1 ? await startUpstream([app, ...others].map((a) => path.join(a.dataDir, 'run', 'stripelink.sock'))) : null;
  const target = upstream ? upstream.base : app.base;
  try {
    const admin = await adminClient(app);
    const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_benchmark123' });
    const id = res.location.split('/')[3];
    const eps = await (await fetch(`${fake.url}/_fake/webhook_endpoints`)).json();
    const secret = (eps.data || eps)[0].secret;
    const now = Math.floor(Date.now() / 1000);
    const bodies = [];
    const headers = [];
    for (let i = 0; i < eventsWanted; i++) {
      const body = JSON.stringify(event(i, now));
      bodies.push(body);
      headers.push(Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: now }));
    }
    const avg = Math.round(bodies.reduce((s, b) => s + b.length, 0) / bodies.length);
    const { script } = writeWrk(dir, `/webhooks/stripe/${id}`, bodies, headers);
    const worker = execFileSync('pgrep', ['-f', '-P', String(app.child.pid), 'stripelink serve'], { encoding: 'utf8' }).trim().split('\n')[0];
    const store = PG ? `PostgreSQL 15 (local cluster, synchronous_commit=on, fsync=${process.env.STRIPELINK_PG_FSYNC || 'off'})`
      : 'SQLite WAL synchronous=FULL';
    console.log(`webhook benchmark: ${eventsWanted} signed events (charge.succeeded / customer.updated, ~${avg} bytes), ` +
      `durability: ${store}, group commit; ${nodes > 1 ? `${nodes} nodes behind one nginx upstream; ` : ''}${os.cpus().length} cores shared with wrk`);
    let lastWriter = (await (await fetch(`${app.base}/healthz`)).json()).writer;
    for (const [threads, conns] of [[1, 1], [1, 16]]) {
      // each run starts after the events the previous runs used: every request is a new event
      const used = Number(app.sql('SELECT count(*) FROM integration_log;').trim());
      const run = await wrk([`-t${threads}`, `-c${conns}`, `-d${seconds}s`, '--latency', '-s', script, target, '--', String(threads), String(used)]);
      const m = /RESULT requests=(\d+) non2xx=(\d+) errors=(\d+) p50_us=(\d+) p99_us=(\d+) duration_us=(\d+)/.exec(run.stdout);
      if (process.env.BENCH_DEBUG) console.log(run.stdout, run.stderr, app.log().slice(-3000));
      if (!m) { console.log(run.stdout, run.stderr); throw new Error('wrk failed'); }
      const [requests, non2xx, errors, p50, p99, dur] = m.slice(1).map(Number);
      const w = (await (await fetch(`${app.base}/healthz`)).json()).writer;
      const groupInfo = `, group commit${nodes > 1 ? ' (node 1)' : ''}: ${w.jobs - (lastWriter.jobs || 0)} jobs in ${w.groups - (lastWriter.groups || 0)} transactions`;
      lastWriter = w;
      console.log(`  concurrency ${String(conns).padStart(2)}: ${(requests / (dur / 1e6)).toFixed(0).padStart(6)} events/s, ` +
        `p50 ${(p50 / 1000).toFixed(2)} ms, p99 ${(p99 / 1000).toFixed(2)} ms, non-2xx ${non2xx}, socket errors ${errors}, requests ${requests}${groupInfo}`);
    }
    const processed = app.sql("SELECT count(*) FROM integration_log WHERE result = 'processed';").trim();
    const duplicates = app.sql("SELECT count(*) FROM integration_log WHERE result = 'duplicate';").trim();
    console.log(`  processed ${processed}, duplicate ${duplicates} (a run that outruns the prepared events repeats them: duplicates)`);
    console.log(`  FastCGI worker peak memory (VmHWM): ${(peakKb(worker) / 1024).toFixed(1)} MiB`);
  } finally {
    if (upstream) upstream.stop();
    for (const o of others) await o.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    await app.stop();
    await fake.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
