// chaos.test.js - a stream of signed events with Stripe-style resends (each
// event resent until it is answered 2xx, some again after a 2xx, in no
// particular order) while the test kill -9s the FastCGI worker, then nginx
// (master and workers), then the sync worker, several rounds. At the end
// After the storm, a period where every delivery is refused (a wrong
// signature: 400) while Stripe keeps the events as undelivered, followed by a
// Catch up now that fetches them from Stripe's event list. At the end every
// event's effects are present exactly once (contacts, tags, orders, refunded
// amounts summed from partial refunds by id, one of them failing for every
// third customer, lost disputes, recurring payments), compared with a
// reference the test computes from the events it made.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startApp, adminClient, sleep, PG } = require('./harness');
const { start } = require('../fake-stripe/server');
const { fixtureObject, stripeEvent, wire, stripeHeader } = require('./events');

const CUSTOMERS = 40;          // their events arrive as webhooks, during the kills
const MISSED = 8;              // their events only through the catch-up
const T0 = 1700100000;
const OURS = '2025-08-27.basil';   // STRIPE_API_VERSION in src/stripe.h
const tagOf = (type) => `stripe-integration-${type.replace(/[._]/g, '-')}`;

// Builds each customer's events, and the state they must leave behind.
function scenario(first, count, t0, expect = { contacts: new Map(), orders: new Map(), recurring: new Map() }, step = 100) {
  const events = [];
  const customers = [];
  for (let i = first; i < first + count; i++) {
    const t = t0 + (i - first) * step;
    const email = `chaos${i}@example.com`;
    const cus = `cus_chaos${i}`;
    const sub = `sub_chaos${i}`;
    const customer = fixtureObject('customer', { id: cus, email, name: `Chaos Person${i}`, created: t });
    customers.push(customer);
    const subscription = (status, created) => fixtureObject('subscription', {
      id: sub, customer: cus, status, created: t + 10, canceled_at: status === 'canceled' ? created : null,
    });
    const charge = (suffix, amount, refunded, created, refunds) => fixtureObject('charge', {
      id: `ch_chaos${i}${suffix}`, amount, amount_captured: amount, amount_refunded: refunded,
      refunded: refunded === amount, currency: 'usd', status: 'succeeded', paid: true, customer: cus,
      created, billing_details: { email, name: `Chaos Person${i}`, phone: null },
      ...(refunds ? { refunds: { object: 'list', data: refunds, has_more: false } } : {}),
    });
    // charge a is refunded in two parts (100 + 200), each a refund of its own;
    // every third customer's second refund fails afterwards
    const refund = (n, amount, status) => fixtureObject('refund', {
      id: `re_chaos${i}a${n}`, charge: `ch_chaos${i}a`, amount, currency: 'usd', status, created: t + 25 + 5 * n,
    });
    const failing = i % 3 === 0;
    // every fourth customer (from the second) disputes charge b, and loses
    const disputed = i % 4 === 1;
    const dispute = (status) => fixtureObject('dispute', {
      id: `dp_chaos${i}b`, charge: `ch_chaos${i}b`, amount: 2000 + i, currency: 'usd', status, reason: 'fraudulent', created: t + 50,
    });
    const mine = [
      stripeEvent({ id: `evt_chaos${i}_1`, type: 'customer.created', created: t, object: customer }),
      stripeEvent({ id: `evt_chaos${i}_2`, type: 'customer.subscription.created', created: t + 10, object: subscription('active', t + 10) }),
      stripeEvent({ id: `evt_chaos${i}_3`, type: 'charge.succeeded', created: t + 20, object: charge('a', 1000 + i, 0, t + 20) }),
      stripeEvent({ id: `evt_chaos${i}_4`, type: 'charge.succeeded', created: t + 21, object: charge('b', 2000 + i, 0, t + 21) }),
      stripeEvent({ id: `evt_chaos${i}_r1`, type: 'refund.created', created: t + 30, object: refund(1, 100, 'succeeded') }),
      stripeEvent({ id: `evt_chaos${i}_r2`, type: 'refund.created', created: t + 35, object: refund(2, 200, 'succeeded') }),
      // the charge's own word: 300 refunded (half of them with the refunds listed)
      stripeEvent({ id: `evt_chaos${i}_5`, type: 'charge.refunded', created: t + 40, object: charge('a', 1000 + i, 300, t + 20,
        i % 2 === 0 ? [refund(2, 200, 'succeeded'), refund(1, 100, 'succeeded')] : undefined) }),
      stripeEvent({ id: `evt_chaos${i}_6`, type: 'customer.subscription.updated', created: t + 50, object: subscription('past_due', t + 50) }),
    ];
    if (i % 2 === 0) {
      mine.push(stripeEvent({ id: `evt_chaos${i}_7`, type: 'customer.subscription.deleted', created: t + 60, object: subscription('canceled', t + 60) }));
    }
    if (failing) {
      mine.push(stripeEvent({ id: `evt_chaos${i}_r3`, type: 'refund.failed', created: t + 45, object: refund(2, 200, 'failed') }));
    }
    if (disputed) {
      mine.push(stripeEvent({ id: `evt_chaos${i}_d1`, type: 'charge.dispute.created', created: t + 50, object: dispute('needs_response') }));
      mine.push(stripeEvent({ id: `evt_chaos${i}_d2`, type: 'charge.dispute.closed', created: t + 70, object: dispute('lost') }));
    }
    events.push(...mine);
    expect.contacts.set(email, new Set(['stripe-integration', ...mine.map((e) => tagOf(e.type))]));
    expect.orders.set(`ch_chaos${i}a`, { email, amount: 1000 + i, amount_refunded: failing ? 100 : 300, amount_lost: 0 });
    expect.orders.set(`ch_chaos${i}b`, { email, amount: 2000 + i, amount_refunded: 0, amount_lost: disputed ? 2000 + i : 0 });
    expect.recurring.set(sub, { email, status: i % 2 === 0 ? 'canceled' : 'past_due' });
  }
  return { events, customers, expect };
}

// A deterministic shuffle, so a failure can be replayed.
function shuffle(list, seed) {
  const out = list.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// The children of pid, with their command lines, from /proc.
function children(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      out.push({ pid: Number(d), cmd });
    } catch (_) { /* gone meanwhile */ }
  }
  return out;
}

const victims = {
  'fastcgi worker': (c) => c.cmd[1] === 'serve',
  nginx: (c) => /nginx/.test(c.cmd[0]),
  'sync worker': (c) => /stripelink-sync$/.test(c.cmd[0]),
};

// kill -9 of one kind of the supervisor's children. nginx goes with its
// workers: the master first (so it cannot start new ones), then the workers
// it had, which would otherwise live on holding the port and connections.
function kill(supervisor, kind) {
  const found = children(supervisor).filter(victims[kind]);
  for (const c of found) {
    const workers = kind === 'nginx' ? children(c.pid) : [];
    process.kill(c.pid, 'SIGKILL');
    for (const w of workers) {
      try { process.kill(w.pid, 'SIGKILL'); } catch (_) { /* already gone */ }
    }
  }
  return found.length;
}

test('chaos: kill -9 of every process while Stripe resends; every effect exactly once', async (t) => {
  const fake = await start({ port: 0 });
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url, STRIPELINK_THREADS: '8' });
  t.after(async () => { await app.stop(); await fake.close(); });
  const admin = await adminClient(app);
  const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: 'sk_test_chaos1' });
  assert.equal(res.status, 303, `connect answered ${res.status}`);
  const id = Number(/\/apps\/stripe\/(\d+)\//.exec(res.location)[1]);
  const endpoints = await (await fetch(`${fake.url}/_fake/webhook_endpoints`)).json();
  const secret = (Array.isArray(endpoints) ? endpoints : endpoints.data)
    .find((e) => e.url.endsWith(`/webhooks/stripe/${id}`)).secret;

  const { events, customers, expect } = scenario(0, CUSTOMERS, T0);
  // the catch-up lists what happened since the connection: the last minute
  const missed = scenario(CUSTOMERS, MISSED, Math.floor(Date.now() / 1000) - 80, expect, 2);
  customers.push(...missed.customers);
  // Stripe knows the customers, for events that arrive before customer.created
  await fetch(`${fake.url}/_fake/objects`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(customers),
  });

  const counts = { sent: 0, accepted: 0, refused: 0, networkErrors: 0, extraResends: 0, kills: {} };
  const deliver = async (ev) => {
    const body = wire(ev);
    try {
      const r = await fetch(`${app.base}/webhooks/stripe/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(body, secret) },
        body,
        signal: AbortSignal.timeout(20000),
      });
      await r.text();
      counts.sent++;
      return r.status;
    } catch (_) {
      counts.networkErrors++;
      return 0;
    }
  };
  // Stripe: resend until 2xx, with a pause that grows; every fifth event is
  // sent once more after its 2xx, as Stripe sometimes does
  const untilAccepted = async (ev) => {
    for (let attempt = 0; ; attempt++) {
      const s = await deliver(ev);
      if (s >= 200 && s < 300) return;
      counts.refused++;
      assert.ok(attempt < 400, `${ev.id} never accepted (last status ${s})`);
      await sleep(30 + Math.min(attempt, 10) * 20);
    }
  };
  const queue = shuffle(events, 7);
  let next = 0;
  let killing = true;
  const sender = async () => {
    while (next < queue.length) {
      const n = next++;
      await untilAccepted(queue[n]);
      counts.accepted++;
      if (n % 5 === 0) {
        counts.extraResends++;
        await untilAccepted(queue[n]);
      }
      await sleep(5);
    }
    // traffic goes on while the killer works: Stripe's duplicate deliveries
    for (let n = 0; killing; n = (n + 7) % queue.length) {
      counts.extraResends++;
      await untilAccepted(queue[n]);
      await sleep(20);
    }
  };
  // each kind once per round, each time after the supervisor restarted it
  const killer = async () => {
    const order = ['fastcgi worker', 'nginx', 'sync worker'];
    for (let round = 0; round < 3; round++) {
      for (const kind of order) {
        await sleep(300);
        for (let waited = 0; waited < 300 && !children(app.child.pid).some(victims[kind]); waited++) await sleep(50);
        await sleep(200);   /* let it take traffic first */
        const n = kill(app.child.pid, kind);
        counts.kills[kind] = (counts.kills[kind] || 0) + (n ? 1 : 0);
      }
    }
    killing = false;
  };
  await Promise.all([sender(), sender(), sender(), sender(), killer()]);

  // resends of everything, once more, after the storm: nothing changes
  for (const ev of events) await untilAccepted(ev);

  // Stripe cannot deliver for a while: every delivery is refused (400, a
  // signature made with another secret), and Stripe keeps the events as
  // undelivered; a catch-up brings them in
  for (const ev of missed.events) {
    const body = wire(ev);
    const r = await fetch(`${app.base}/webhooks/stripe/${id}`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(body, 'whsec_not_ours') },
    });
    await r.text();
    assert.equal(r.status, 400, `${ev.id} refused`);
  }
  const recorded = await fetch(`${fake.url}/_fake/events`, {
    method: 'POST',
    body: JSON.stringify({ delivered: false, events: missed.events.map((e) => ({ ...e, api_version: OURS })) }),
  });
  assert.equal(recorded.status, 200);
  const res2 = await admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/catchup`, {});
  assert.equal(res2.status, 303, 'Catch up now');
  // a refund or dispute listed before its charge (the list is newest first)
  // waits for it: the sync worker completes it once the charge is in
  const viaCatchup = () => Number(app.sql(
    `SELECT count(DISTINCT event_id) FROM integration_log WHERE connection_id = ${id} AND source = 'catchup'
     AND result IN ('processed', 'skipped', 'waiting')`).trim());
  for (let waited = 0; viaCatchup() < missed.events.length; waited++) {
    assert.ok(waited < 600, `the catch-up applied ${viaCatchup()} of ${missed.events.length} missed events`);
    await sleep(100);
  }
  events.push(...missed.events);

  const rows = (q) => app.rows(q);   // either engine
  // events that arrived before their customer's were answered as waiting:
  // the sync worker completes them off the request path
  for (let waited = 0; rows('SELECT count(*) AS n FROM pending_events')[0].n > 0; waited++) {
    assert.ok(waited < 600, 'waiting events were completed within 60 s');
    await sleep(100);
  }
  const contacts = rows(`SELECT c.email, ${PG ? "string_agg(t.name, ',')" : 'group_concat(t.name)'} AS tags FROM contacts c
    LEFT JOIN contact_tags ct ON ct.contact_id = c.id LEFT JOIN tags t ON t.id = ct.tag_id
    WHERE c.email LIKE 'chaos%@example.com' GROUP BY c.id`);
  assert.equal(contacts.length, expect.contacts.size, 'one contact per customer');
  for (const c of contacts) {
    assert.deepEqual(new Set(c.tags.split(',')), expect.contacts.get(c.email), `tags of ${c.email}`);
  }
  const orders = rows(`SELECT o.stripe_id, c.email, o.amount, o.amount_refunded, o.amount_lost FROM orders o
    JOIN contacts c ON c.id = o.contact_id WHERE o.stripe_id LIKE 'ch_chaos%'`);
  assert.equal(orders.length, expect.orders.size, 'one order per charge');
  for (const o of orders) {
    const { stripe_id: sid, ...rest } = o;
    assert.deepEqual(rest, expect.orders.get(sid), `order ${sid}`);
  }
  const recurring = rows(`SELECT r.subscription_id, c.email, r.status FROM recurring_payments r
    JOIN contacts c ON c.id = r.contact_id WHERE r.subscription_id LIKE 'sub_chaos%'`);
  assert.equal(recurring.length, expect.recurring.size, 'one recurring payment per subscription');
  for (const r of recurring) {
    const { subscription_id: sid, ...rest } = r;
    assert.deepEqual(rest, expect.recurring.get(sid), `recurring payment ${sid}`);
  }
  const refunds = rows("SELECT count(*) AS n FROM refunds WHERE charge_id LIKE 'ch_chaos%'")[0].n;
  const disputes = rows("SELECT count(*) AS n FROM disputes WHERE charge_id LIKE 'ch_chaos%'")[0].n;
  assert.equal(refunds, 2 * (CUSTOMERS + MISSED), 'two refunds per customer, each once');
  // each event applied once: processed, or skipped as older than what its
  // object already showed (its tags were still added); never twice
  const applied = rows(`SELECT event_id, count(*) AS n FROM integration_log
    WHERE connection_id = ${id} AND result IN ('processed', 'skipped') GROUP BY event_id`);
  assert.deepEqual(applied.map((a) => a.event_id).sort(), events.map((e) => e.id).sort(), 'every event applied');
  for (const a of applied) assert.equal(a.n, 1, `${a.event_id} applied ${a.n} times`);
  for (const kind of Object.keys(victims)) assert.equal(counts.kills[kind], 3, `${kind} killed 3 times`);
  t.diagnostic(`chaos: ${events.length} events, ${counts.sent} answered deliveries (${counts.accepted} accepted, ` +
    `${counts.refused} refused or failed, ${counts.networkErrors} network errors, ${counts.extraResends} resends after a 2xx); ` +
    `${missed.events.length} events refused, then brought in by a catch-up; ` +
    `killed ${JSON.stringify(counts.kills)}; compared ${contacts.length} contacts with their tags, ${orders.length} orders ` +
    `(refunded and lost amounts from ${refunds} refunds and ${disputes} disputes), ${recurring.length} recurring payments`);
});
