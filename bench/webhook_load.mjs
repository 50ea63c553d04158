#!/usr/bin/env node
// Generic Stripe-webhook load generator.
//
// Builds realistic Stripe event payloads from Stripe's own OpenAPI fixtures (fixtures3.json),
// signs each one with the official SDK's stripe.webhooks.generateTestHeaderString() at send
// time (so the Stripe-Signature timestamp is fresh), and POSTs them to --url with a fixed
// number of requests in flight. Works against any receiver that verifies Stripe signatures.
//
// Usage:
//   node webhook_load.mjs --url http://127.0.0.1:8787/webhooks --secret whsec_... \
//        [--count 5000] [--concurrency 16] [--seed 42] [--types a,b,c] [--fixtures path] \
//        [--compact] [--no-keepalive] [--json] [--dump file.jsonl] [--timeout-ms 30000]
//        [--on-start 'shell cmd'] [--on-end 'shell cmd']   (run right before/after the timed window)
//        [--sender node|wrk]
//
// --sender wrk: every event is signed up front (timestamps stay well inside Stripe's 300 s tolerance for
// any run under a few minutes) and replayed by wrk (C, one thread, a small Lua script), so the sender
// takes little of the machine's CPU and the receiver is measured rather than the sender. Needs `wrk`
// on PATH (Debian package wrk). Latency percentiles come from wrk's own histogram.
//
// Event mix: events are emitted in "customer lifecycles" of one event per type in --types
// (default: customer.created, customer.updated, customer.subscription.created, invoice.paid,
// charge.succeeded, checkout.session.completed). Every event has a unique evt_ id; every
// lifecycle has its own customer (unique cus_ id and unique e-mail) and its own
// subscription/invoice/charge/checkout-session/line-item ids. customer.updated modifies the
// customer of its own lifecycle (same cus_ id, created +1 s, with data.previous_attributes),
// as Stripe would. So with all six types and N lifecycles you expect N rows in each of
// customers, subscriptions, invoices, charges, checkout_sessions.
//
// Environment: STRIPE_NODE_DIR = dir whose node_modules holds `stripe` (for stripelink: its tests/ folder;
// the script's own dir is tried first). STRIPE_FIXTURES = path to fixtures3.json (else --fixtures,
// else tests/fixtures/stripe/fixtures3.json of this repository).
// Example, from the project root, against a running install whose webhook URL and signing secret you know:
//   STRIPE_NODE_DIR=tests node bench/webhook_load.mjs --url http://127.0.0.1:8080/webhooks/stripe/1 \
//     --secret whsec_... --count 20000 --concurrency 16 --sender wrk
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { createRequire } from 'node:module';
import { execFileSync, execSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ALL_TYPES = [
  'customer.created',
  'customer.updated',
  'customer.subscription.created',
  'invoice.paid',
  'charge.succeeded',
  'checkout.session.completed',
];

function parseArgs(argv) {
  const a = {
    url: null, secret: null, count: 5000, concurrency: 16, seed: null, types: ALL_TYPES.join(','),
    fixtures: process.env.STRIPE_FIXTURES || null, compact: false, keepalive: true, json: false,
    dump: null, timeoutMs: 30000, apiVersion: '2024-06-20', onStart: null, onEnd: null, sender: 'node',
  };
  for (let i = 2; i < argv.length; i++) {
    let k = argv[i];
    let v;
    if (k.includes('=')) { [k, v] = [k.slice(0, k.indexOf('=')), k.slice(k.indexOf('=') + 1)]; }
    const next = () => (v !== undefined ? v : argv[++i]);
    switch (k) {
      case '--url': a.url = next(); break;
      case '--secret': a.secret = next(); break;
      case '--count': a.count = parseInt(next(), 10); break;
      case '--concurrency': case '-c': a.concurrency = parseInt(next(), 10); break;
      case '--seed': a.seed = next(); break;
      case '--types': a.types = next(); break;
      case '--fixtures': a.fixtures = next(); break;
      case '--compact': a.compact = true; break;
      case '--no-keepalive': a.keepalive = false; break;
      case '--json': a.json = true; break;
      case '--dump': a.dump = next(); break;
      case '--sender': a.sender = next(); break;
      case '--timeout-ms': a.timeoutMs = parseInt(next(), 10); break;
      case '--api-version': a.apiVersion = next(); break;
      case '--on-start': a.onStart = next(); break;   // shell command run just before the first request
      case '--on-end': a.onEnd = next(); break;       // shell command run just after the last response
      case '-h': case '--help':
        { const lines = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
          console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n')); }
        process.exit(0);
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!a.url || !a.secret) throw new Error('--url and --secret are required (see --help)');
  if (!(a.count > 0) || !(a.concurrency > 0)) throw new Error('--count and --concurrency must be > 0');
  a.types = a.types.split(',').map((s) => s.trim()).filter(Boolean);
  for (const t of a.types) if (!ALL_TYPES.includes(t)) throw new Error(`unsupported type ${t}; supported: ${ALL_TYPES.join(',')}`);
  if (a.seed === null) a.seed = String(Date.now() % 1e9);
  return a;
}

function loadStripe() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dirs = [here, process.env.STRIPE_NODE_DIR].filter(Boolean);
  for (const d of dirs) {
    try { return createRequire(path.join(d, 'package.json'))('stripe'); } catch {}
  }
  throw new Error(`cannot find the stripe SDK; npm install stripe in one of: ${dirs.join(', ')}`);
}

function loadFixtures(p) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const text = fs.readFileSync(p || path.join(here, '..', 'tests', 'fixtures', 'stripe', 'fixtures3.json'), 'utf8');
  return JSON.parse(text).resources;
}

// --- deterministic ids -------------------------------------------------------------------
function mulberry32(seed) {
  return function () {
    seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function hashSeed(s) { let h = 2166136261; for (const ch of String(s)) { h ^= ch.charCodeAt(0); h = Math.imul(h, 16777619); } return h >>> 0; }
const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function makeIds(seed) {
  const rnd = mulberry32(hashSeed(seed));
  const seedTag = (() => { let n = hashSeed('tag' + seed), s = ''; for (let i = 0; i < 4; i++) { s += B62[n % 62]; n = Math.floor(n / 62); } return s; })();
  let counter = 0;
  const rchars = (n) => { let s = ''; for (let i = 0; i < n; i++) s += B62[Math.floor(rnd() * 62)]; return s; };
  const b62 = (n, w) => { let s = ''; do { s = B62[n % 62] + s; n = Math.floor(n / 62); } while (n > 0); return s.padStart(w, '0'); };
  // prefix + random body + seed tag + per-run counter  => unique within a run and across seeds
  const id = (prefix, len) => prefix + rchars(len - 10) + seedTag + b62(counter++, 6);
  return { id, rnd, rchars, seedTag };
}

// --- payload builders --------------------------------------------------------------------
const clone = (o) => structuredClone(o);
const FIRST = ['Jenny', 'Ravi', 'Aiko', 'Lucas', 'Amara', 'Mateo', 'Freya', 'Omar', 'Chen', 'Sofia', 'Noah', 'Zara'];
const LAST = ['Rosen', 'Patel', 'Tanaka', 'Silva', 'Okafor', 'Garcia', 'Larsen', 'Haddad', 'Wei', 'Rossi', 'Kim', 'Novak'];
const CITIES = [['San Francisco', 'CA', '94103', 'US'], ['Berlin', null, '10115', 'DE'], ['Dublin', null, 'D02 X285', 'IE'],
  ['Toronto', 'ON', 'M5V 2T6', 'CA'], ['Sydney', 'NSW', '2000', 'AU'], ['Paris', null, '75002', 'FR']];

function buildEvents(fx, opts) {
  const { id, rnd, rchars, seedTag } = makeIds(opts.seed);
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
  const now = Math.floor(Date.now() / 1000);
  const price = clone(fx.subscription.items.data[0].price);   // one shared catalogue price
  const out = [];
  const groups = Math.ceil(opts.count / opts.types.length);

  const envelope = (type, obj, created, prev) => ({
    id: id('evt_1', 28),
    object: 'event',
    api_version: opts.apiVersion,
    created,
    data: prev ? { object: obj, previous_attributes: prev } : { object: obj },
    livemode: false,
    pending_webhooks: 1,
    request: { id: type === 'invoice.paid' || type === 'charge.succeeded' ? null : id('req_', 18), idempotency_key: null },
    type,
  });

  for (let g = 0; g < groups && out.length < opts.count; g++) {
    const t0 = now - 3600 + g;                      // lifecycle start (seconds)
    const first = pick(FIRST), last = pick(LAST), [city, state, zip, country] = pick(CITIES);
    const name = `${first} ${last}`;
    const email = `${first.toLowerCase()}.${last.toLowerCase()}+s${seedTag}g${g}@example.com`; // unique per lifecycle
    const cusId = id('cus_', 18);
    const subId = id('sub_1', 24), siId = id('si_', 18), inId = id('in_1', 24), ilId = id('il_1', 24);
    const chId = id('ch_3', 24), piId = id('pi_3', 24), pmId = id('pm_1', 24), txnId = id('txn_3', 24);
    const csId = 'cs_test_' + rchars(50) + seedTag + g.toString(36);
    const amount = price.unit_amount * (1 + Math.floor(rnd() * 3));
    const address = { city, country, line1: `${1 + Math.floor(rnd() * 999)} Market St`, line2: null, postal_code: zip, state };
    const periodStart = t0 + 2, periodEnd = periodStart + 30 * 86400;

    const customer = clone(fx.customer);
    Object.assign(customer, {
      id: cusId, email, name, created: t0, address, description: null, discount: null, shipping: null,
      phone: `+1555${String(Math.floor(rnd() * 1e7)).padStart(7, '0')}`,
      invoice_prefix: rchars(8).toUpperCase(), metadata: { bench_seed: String(opts.seed), lifecycle: String(g) },
      preferred_locales: ['en'],
    });
    customer.invoice_settings.default_payment_method = null;

    for (const type of opts.types) {
      if (out.length >= opts.count) break;
      let evt;
      switch (type) {
        case 'customer.created':
          evt = envelope(type, clone(customer), t0);
          break;
        case 'customer.updated': {
          const c = clone(customer);
          c.invoice_settings.default_payment_method = pmId;
          c.metadata = { ...c.metadata, plan: 'pro' };
          evt = envelope(type, c, t0 + 1, { invoice_settings: { default_payment_method: null }, metadata: { plan: null } });
          break;
        }
        case 'customer.subscription.created': {
          const s = clone(fx.subscription);
          const item = s.items.data[0];
          Object.assign(item, { id: siId, subscription: subId, created: t0 + 2, price: clone(price), quantity: amount / price.unit_amount,
            current_period_start: periodStart, current_period_end: periodEnd });
          delete item.plan; // fixture plan object is a placeholder ("obj_123", tiered, 797691627 months)
          s.items.url = `/v1/subscription_items?subscription=${subId}`;
          Object.assign(s, {
            id: subId, customer: cusId, created: t0 + 2, start_date: t0 + 2, billing_cycle_anchor: periodStart,
            billing_cycle_anchor_config: null, cancel_at: null, canceled_at: null, ended_at: null, cancel_at_period_end: false,
            trial_start: null, trial_end: null, latest_invoice: inId, status: 'active', default_payment_method: pmId,
            next_pending_invoice_item_invoice: null, pause_collection: null, pending_update: null, pending_invoice_item_interval: null,
            transfer_data: null, metadata: { lifecycle: String(g) }, billing_schedules: [],
          });
          evt = envelope(type, s, t0 + 2);
          break;
        }
        case 'invoice.paid': {
          const inv = clone(fx.invoice);
          const line = inv.lines.data[0];
          Object.assign(line, { id: ilId, invoice: inId, amount, subtotal: amount, quantity: amount / price.unit_amount,
            description: `${amount / price.unit_amount} × Pro (at $${(price.unit_amount / 100).toFixed(2)} / month)`,
            period: { start: periodStart, end: periodEnd },
            parent: { type: 'subscription_item_details', invoice_item_details: null,
              subscription_item_details: { invoice_item: null, proration: false, proration_details: { credited_items: null }, subscription: subId, subscription_item: siId } } });
          inv.lines.url = `/v1/invoices/${inId}/lines`;
          Object.assign(inv, {
            id: inId, customer: cusId, customer_email: email, customer_name: name, customer_address: address,
            subscription: subId, billing_reason: 'subscription_create', status: 'paid', created: t0 + 2,
            amount_due: amount, amount_paid: amount, amount_remaining: 0, amount_overpaid: 0, subtotal: amount,
            subtotal_excluding_tax: amount, total: amount, total_excluding_tax: amount, attempted: true, attempt_count: 1,
            auto_advance: false, number: `${customer.invoice_prefix}-0001`, due_date: null, effective_at: t0 + 2,
            period_start: periodStart, period_end: periodStart, next_payment_attempt: null, last_finalization_error: null,
            from_invoice: null, shipping_cost: null, webhooks_delivered_at: t0 + 2,
            hosted_invoice_url: `https://invoice.stripe.com/i/acct_bench/test_${rchars(40)}`,
            invoice_pdf: `https://pay.stripe.com/invoice/acct_bench/test_${rchars(40)}/pdf`,
            status_transitions: { finalized_at: t0 + 2, marked_uncollectible_at: null, paid_at: t0 + 3, voided_at: null },
            parent: { type: 'subscription_details', quote_details: null, subscription_details: { metadata: {}, subscription: subId } },
          });
          evt = envelope(type, inv, t0 + 3);
          break;
        }
        case 'charge.succeeded': {
          const ch = clone(fx.charge);
          Object.assign(ch, {
            id: chId, customer: cusId, invoice: inId, payment_intent: piId, payment_method: pmId, balance_transaction: txnId,
            amount, amount_captured: amount, captured: true, paid: true, status: 'succeeded', created: t0 + 3,
            description: 'Subscription creation', receipt_email: email, source: null, transfer_data: null,
            outcome: { network_status: 'approved_by_network', reason: null, risk_level: 'normal', risk_score: Math.floor(rnd() * 60),
              seller_message: 'Payment complete.', type: 'authorized', advice_code: null, network_advice_code: null, network_decline_code: null },
            receipt_url: `https://pay.stripe.com/receipts/payment/${rchars(60)}`,
            calculated_statement_descriptor: 'BENCH* PRO',
          });
          ch.billing_details = { ...ch.billing_details, email, name, address };
          ch.payment_method_details.card.last4 = String(1000 + Math.floor(rnd() * 9000));
          ch.payment_method_details.card.fingerprint = rchars(16);
          ch.refunds.url = `/v1/charges/${chId}/refunds`;
          evt = envelope(type, ch, t0 + 3);
          break;
        }
        case 'checkout.session.completed': {
          const cs = clone(fx['checkout.session']);
          Object.assign(cs, {
            id: csId, customer: cusId, customer_email: email, mode: 'subscription', subscription: subId, invoice: inId,
            payment_intent: null, status: 'complete', payment_status: 'paid', currency: 'usd',
            amount_subtotal: amount, amount_total: amount, url: null, created: t0, expires_at: t0 + 86400,
            client_reference_id: `user_${g}`, shipping_cost: null, shipping_address_collection: null, after_expiration: null,
            total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 }, currency_conversion: null,
            customer_creation: 'always', metadata: { lifecycle: String(g) },
          });
          cs.customer_details = { ...cs.customer_details, email, name, address };
          evt = envelope(type, cs, t0 + 4);
          break;
        }
      }
      out.push(evt);
    }
  }
  return out;
}

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

// wrk replays pre-signed requests: one record per event in a data file ("<signature>\n<bytes>\n<body>"),
// read once by the Lua script; done() prints one JSON line. The interrupt's delay adds a few ms to elapsed.
const WRK_LUA = String.raw`
-- requests: the n pre-signed events, each sent once. wrk calls request() once at start-up and never sends
-- that one (checked on wrk 4.1 against an access log), so the first call only primes. delay() lets exactly
-- n requests through and parks every connection after that; after the n-th response the script says
-- WRKDONE and the caller interrupts wrk, which otherwise sleeps for the whole -d.
-- done() runs in wrk's main Lua state: it reads the thread's counters (globals) through setup()'s handle.
local reqs, n, granted, want, primed = {}, 0, 0, 0, false
i, got, bad = 0, 0, 0
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function init(args)
  local f = assert(io.open(args[1], "rb"))
  local path = args[3]
  while true do
    local sig = f:read("*l")
    if not sig then break end
    local len = tonumber(f:read("*l"))
    local body = f:read(len)
    f:read("*l")
    n = n + 1
    reqs[n] = wrk.format("POST", path, {
      ["Content-Type"] = "application/json; charset=utf-8",
      ["Stripe-Signature"] = sig,
      ["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
      ["Accept"] = "*/*; q=0.5, application/xml",
      ["Cache-Control"] = "no-cache",
    }, body)
  end
  f:close()
  want = math.min(tonumber(args[2]), n)
end
function delay()
  if granted >= want then return 3600000 end
  granted = granted + 1
  return 0
end
function request()
  if not primed then primed = true; return reqs[1] end
  i = i + 1
  return reqs[math.min(i, n)]
end
function response(s, h, b)
  got = got + 1
  if s < 200 or s > 299 then bad = bad + 1 end
  if got == want then
    io.write("WRKDONE\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local t = threads[1]
  local got, i, bad = t:get("got"), t:get("i"), t:get("bad")
  io.write(string.format('WRKJSON {"requests":%d,"sent":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}\n',
    got, i, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, bad, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
`;

async function sendWithWrk(opts, stripe, events, bodies, byType, avgBytes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhook-load-wrk-'));
  try {
    const url = new URL(opts.url);
    const parts = [];
    for (let i = 0; i < bodies.length; i++) {
      const header = stripe.webhooks.generateTestHeaderString({ payload: bodies[i], secret: opts.secret });
      parts.push(`${header}\n${Buffer.byteLength(bodies[i])}\n`, bodies[i], '\n');
    }
    const data = path.join(dir, 'requests.dat');
    fs.writeFileSync(data, parts.join(''));
    const lua = path.join(dir, 'replay.lua');
    fs.writeFileSync(lua, WRK_LUA);
    const want = bodies.length;
    if (opts.onStart) execSync(opts.onStart, { stdio: 'inherit', shell: '/bin/bash' });
    const out = await new Promise((resolve, reject) => {
      const child = spawn('wrk', ['-t1', `-c${opts.concurrency}`, '-d600s', '--timeout', `${Math.ceil(opts.timeoutMs / 1000)}s`,
        '-s', lua, `${url.protocol}//${url.host}`, '--', data, String(want), url.pathname + url.search], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (c) => {
        const had = text.includes('WRKDONE');
        text += c;
        if (!had && text.includes('WRKDONE')) child.kill('SIGINT');
      });
      child.on('error', reject);
      child.on('close', (code) => (text.includes('WRKJSON') ? resolve(text) : reject(new Error(`wrk exited ${code}:\n${text}`))));
    });
    if (opts.onEnd) execSync(opts.onEnd, { stdio: 'inherit', shell: '/bin/bash' });
    const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
    if (!line) throw new Error(`wrk printed no result:\n${out}`);
    const w = JSON.parse(line.slice(8));
    if (w.sent !== want || w.requests !== want) throw new Error(`wrk sent ${w.sent} and got ${w.requests} responses for ${want} events`);
    const elapsed = w.duration_us / 1e6;
    const netErrors = w.connect_errors + w.read_errors + w.write_errors + w.timeouts;
    const r = {
      url: opts.url, seed: opts.seed, count: w.requests, concurrency: opts.concurrency, types: byType,
      avg_body_bytes: avgBytes, keepalive: true, sender: 'wrk',
      non_2xx: w.status_errors + netErrors, network_errors: netErrors, status: {},
      elapsed_s: +elapsed.toFixed(3), events_per_s: +(w.requests / elapsed).toFixed(1),
      latency_ms: { p50: w.p50 / 1000, p90: w.p90 / 1000, p99: w.p99 / 1000, max: w.max / 1000, mean: +(w.mean / 1000).toFixed(3) },
      loadgen_cpu_s: null, sample_errors: [],
    };
    if (w.status_errors === 0 && netErrors === 0) r.status = { 200: w.requests };
    if (opts.json) { console.log(JSON.stringify(r)); return; }
    console.log(`target        ${r.url}  (seed ${r.seed}, sender wrk, avg body ${avgBytes} B)`);
    console.log(`events sent   ${r.count}  concurrency ${r.concurrency}`);
    console.log(`non-2xx       ${r.non_2xx}  (network errors ${netErrors})`);
    console.log(`elapsed       ${r.elapsed_s} s`);
    console.log(`throughput    ${r.events_per_s} events/s`);
    console.log(`latency ms    p50 ${r.latency_ms.p50}  p90 ${r.latency_ms.p90}  p99 ${r.latency_ms.p99}  max ${r.latency_ms.max}  mean ${r.latency_ms.mean}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const opts = parseArgs(process.argv);
  const stripe = new (loadStripe())('sk_test_123');
  const fx = loadFixtures(opts.fixtures);
  const events = buildEvents(fx, opts);
  const bodies = events.map((e) => (opts.compact ? JSON.stringify(e) : JSON.stringify(e, null, 2))); // Stripe sends 2-space indented JSON
  if (opts.dump) fs.writeFileSync(opts.dump, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const byType = {};
  for (const e of events) byType[e.type] = (byType[e.type] || 0) + 1;
  const avgBytes = Math.round(bodies.reduce((s, b) => s + Buffer.byteLength(b), 0) / bodies.length);

  if (opts.sender === 'wrk') return sendWithWrk(opts, stripe, events, bodies, byType, avgBytes);
  if (opts.sender !== 'node') throw new Error(`--sender must be node or wrk, not ${opts.sender}`);
  const url = new URL(opts.url);
  const mod = url.protocol === 'https:' ? https : http;
  const agent = new mod.Agent({ keepAlive: opts.keepalive, maxSockets: opts.concurrency });
  const lat = new Float64Array(bodies.length);
  const statusCounts = {};
  let non2xx = 0, netErrors = 0, next = 0;
  const sampleErrors = [];

  const send = (i) => new Promise((resolve) => {
    const payload = bodies[i];
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret: opts.secret });
    const buf = Buffer.from(payload);
    const t = process.hrtime.bigint();
    const req = mod.request(url, {
      method: 'POST', agent, timeout: opts.timeoutMs,
      headers: {
        'content-type': 'application/json; charset=utf-8', 'content-length': buf.length,
        'stripe-signature': header, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        'cache-control': 'no-cache', accept: '*/*; q=0.5, application/xml',
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        lat[i] = Number(process.hrtime.bigint() - t) / 1e6;
        statusCounts[res.statusCode] = (statusCounts[res.statusCode] || 0) + 1;
        if (res.statusCode < 200 || res.statusCode > 299) {
          non2xx++;
          if (sampleErrors.length < 5) sampleErrors.push(`${res.statusCode} ${events[i].type}: ${Buffer.concat(chunks).toString().slice(0, 200)}`);
        }
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      lat[i] = Number(process.hrtime.bigint() - t) / 1e6;
      netErrors++; non2xx++;
      if (sampleErrors.length < 5) sampleErrors.push(`network ${events[i].type}: ${err.message}`);
      resolve();
    });
    req.end(buf);
  });

  if (opts.onStart) execSync(opts.onStart, { stdio: 'inherit', shell: '/bin/bash' });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const worker = async () => { while (true) { const i = next++; if (i >= bodies.length) return; await send(i); } };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, bodies.length) }, worker));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  if (opts.onEnd) execSync(opts.onEnd, { stdio: 'inherit', shell: '/bin/bash' });
  agent.destroy();

  const sorted = Array.from(lat).sort((a, b) => a - b);
  const r = {
    url: opts.url, seed: opts.seed, count: bodies.length, concurrency: opts.concurrency, types: byType,
    avg_body_bytes: avgBytes, keepalive: opts.keepalive,
    non_2xx: non2xx, network_errors: netErrors, status: statusCounts,
    elapsed_s: +elapsed.toFixed(3), events_per_s: +(bodies.length / elapsed).toFixed(1),
    latency_ms: { p50: +pct(sorted, 50).toFixed(2), p90: +pct(sorted, 90).toFixed(2), p99: +pct(sorted, 99).toFixed(2),
      max: +sorted[sorted.length - 1].toFixed(2), mean: +(sorted.reduce((s, x) => s + x, 0) / sorted.length).toFixed(2) },
    loadgen_cpu_s: { user: +(cpu.user / 1e6).toFixed(2), system: +(cpu.system / 1e6).toFixed(2) },
    sample_errors: sampleErrors,
  };
  if (opts.json) { console.log(JSON.stringify(r)); return; }
  console.log(`target        ${r.url}  (seed ${r.seed}, keepalive ${r.keepalive}, avg body ${avgBytes} B)`);
  console.log(`mix           ${Object.entries(byType).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  console.log(`events sent   ${r.count}  concurrency ${r.concurrency}`);
  console.log(`non-2xx       ${r.non_2xx}  (network errors ${netErrors}; status ${JSON.stringify(statusCounts)})`);
  console.log(`elapsed       ${r.elapsed_s} s`);
  console.log(`throughput    ${r.events_per_s} events/s`);
  console.log(`latency ms    p50 ${r.latency_ms.p50}  p90 ${r.latency_ms.p90}  p99 ${r.latency_ms.p99}  max ${r.latency_ms.max}  mean ${r.latency_ms.mean}`);
  console.log(`loadgen cpu   user ${r.loadgen_cpu_s.user} s  sys ${r.loadgen_cpu_s.system} s`);
  for (const e of sampleErrors) console.log(`  sample error: ${e}`);
}

main().catch((e) => { console.error(e?.stack || e); process.exit(2); });
