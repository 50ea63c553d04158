// twonode.test.js - two stripelink nodes on one PostgreSQL database (issue
// 13): both started with the same STRIPELINK_DATABASE_URL and the same key
// file, behind one nginx upstream, against the fake Stripe.
//
//   * webhooks spread over both nodes; kill -9 of one node (every process
//     of it) mid-load: nginx sends what it could not deliver to the other
//     node, the sender resends what was not answered 200 (as Stripe does),
//     and every event has its effect exactly once;
//   * a historical sync of 10,000 customers split across both nodes (each
//     claims windows under a lease), one node killed midway: the other takes
//     over its windows when the lease runs out; every object is committed
//     once, and the account's rate limit holds for both nodes together;
//   * two Stripe accounts synced at once on both nodes: each account's
//     requests stay within its rate (a budget row per account), together
//     they go above one account's rate.
//
// It needs PostgreSQL: on the SQLite run (no STRIPELINK_TEST_PG) it starts
// a throwaway cluster of its own through the harness.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startApp, adminClient, csrfOf, setupToken, sleep, TOP, pgDatabase, pgDrop, startUpstream } = require('./harness');
const { fixtureObject, stripeEvent, wire, stripeHeader } = require('./events');

const KEY = 'sk_test_twonode1';
const RATE = 20;          // the test-key sync rate for both nodes together
const LEASE = 3;          // seconds: a dead node's windows move on after this
const APP_UA = /^stripelink\//;
const nowS = () => Math.floor(Date.now() / 1000);

async function startFake() {
  const child = spawn(process.execPath, [path.join(TOP, 'tests', 'fake-stripe', 'server.js'), '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fake-stripe did not start: ${out}`)), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    child.stderr.on('data', (d) => { out += d; });
  });
  const url = `http://127.0.0.1:${port}`;
  const ctl = async (method, p, body) => {
    const res = await fetch(`${url}/_fake/${p}`, {
      method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (res.status !== 200) throw new Error(`/_fake/${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    url,
    ctl,
    async appRequests(pathGlob) {
      const all = await ctl('GET', `requests?${new URLSearchParams({ path: pathGlob })}`);
      return all.filter((r) => APP_UA.test(r.headers['user-agent'] || ''));
    },
    close() {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}

// The most requests within any `ms` span.
function busiestWindow(reqs, ms = 1000) {
  const t = [...reqs].sort((a, b) => a.t_ms - b.t_ms);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi].t_ms - t[lo].t_ms >= ms) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

// Every process of a node (its supervisor, workers, nginx and nginx's
// workers), killed at once as a machine that dies would be.
function killNode(app) {
  const all = [];
  const walk = (pid) => {
    all.push(pid);
    let kids = '';
    try { kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }); } catch (_) { /* none */ }
    for (const k of kids.split('\n').filter(Boolean)) walk(Number(k));
  };
  walk(app.child.pid);
  for (const pid of all) {
    try { process.kill(pid, 'SIGKILL'); } catch (_) { /* gone */ }
  }
  return all.length;
}

test('two nodes on one PostgreSQL behind one nginx upstream', { timeout: 300000 }, async (t) => {
  const fake = await startFake();
  const db = await pgDatabase();
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-shared-'));
  const t0 = nowS() - 100000;
  await fake.ctl('POST', 'account', { patch: { created: t0 } });
  const env = (node) => ({
    STRIPELINK_DATABASE_URL: db.url,
    STRIPELINK_KEY_FILE: path.join(shared, 'secret.key'),   // the one key every node shares
    STRIPELINK_NODE_ID: node,
    STRIPELINK_STRIPE_API: fake.url,
    STRIPELINK_LEASE_SECONDS: String(LEASE),
    STRIPELINK_SYNC_RATE_TEST: String(RATE),
  });
  const nodes = { a: await startApp(env('node-a')) };
  nodes.b = await startApp(env('node-b'));   // after a: a made the key file
  let lb = null;
  t.after(async () => {
    if (lb) lb.stop();
    for (const n of Object.values(nodes)) await n.stop().catch(() => {});
    fake.close();
    pgDrop(db.name);
    fs.rmSync(shared, { recursive: true, force: true });
  });

  // The setup token node b printed works on node a: it is in the database.
  const viaA = await fetch(`${nodes.a.base}/setup?token=${setupToken(nodes.b)}`, { redirect: 'manual' });
  assert.equal(viaA.status, 200, 'node b\'s setup token opens the setup page on node a');
  const admin = await adminClient(nodes.a);
  const id = await (async () => {
    const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: KEY });
    assert.equal(res.status, 303, `connect: ${res.status} ${res.text.slice(0, 300)}`);
    return Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
  })();
  const q = (sql) => nodes.a.rows(sql);
  const one = (sql) => Object.values(q(sql)[0] || {})[0];

  // Wizard steps 2 and 3 for customers: email and name mapped.
  async function addCustomers(sync, conn = id) {
    const step2 = await admin.submit(`/apps/stripe/${conn}/resource`, `/apps/stripe/${conn}/resource`,
      { resource: 'customer', sync_type: sync });
    assert.equal(step2.status, 303, `step 2: ${step2.status}`);
    const mapUrl = `/apps/stripe/${conn}/mapping/customer`;
    const page = await admin.get(mapUrl);
    const fin = await admin.request('POST', mapUrl, {
      form: {
        csrf: csrfOf(page.text), email_path: 'email', id_path: '', id_target: '',
        rows: '1', path_0: 'name', meta_0: '', target_0: 'full_name', action: 'finish',
      },
    });
    assert.equal(fin.status, 303, `finishing the mapping: ${fin.status} ${fin.text.slice(0, 300)}`);
  }

  await t.test('a session made on one node is good on the other', async () => {
    const cookie = admin.cookieHeader();
    const res = await fetch(`${nodes.b.base}/apps`, { headers: { cookie }, redirect: 'manual' });
    assert.equal(res.status, 200, 'node b knows node a\'s session');
  });

  await t.test('webhooks spread over both nodes; kill -9 of one mid-load; every event once', async () => {
    await addCustomers('new');
    const eps = await fake.ctl('GET', 'webhook_endpoints');
    const secret = (eps.data || eps).find((e) => e.url.endsWith(`/webhooks/stripe/${id}`)).secret;
    lb = await startUpstream([nodes.a, nodes.b].map((n) => path.join(n.dataDir, 'run', 'stripelink.sock')));
    const N = 600;
    const events = Array.from({ length: N }, (_, i) => stripeEvent({
      id: `evt_two_${i}`, type: 'customer.created', created: nowS() - 60,
      object: fixtureObject('customer', { id: `cus_two_${i}`, email: `two${i}@nodes.example`, name: `Two ${i}` }),
    }));
    let sent = 0;
    let resent = 0;
    let killed = false;
    const statuses = {};
    // Stripe's way: each event until it is answered 200, a little later each time.
    async function deliver(ev) {
      const body = wire(ev);
      for (let attempt = 0; attempt < 40; attempt++) {
        let status = 0;
        try {
          const res = await fetch(`${lb.base}/webhooks/stripe/${id}`, {
            method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(body, secret) }, body,
          });
          status = res.status;
          await res.arrayBuffer();
        } catch (_) { status = -1; }
        statuses[status] = (statuses[status] || 0) + 1;
        if (status === 200) return;
        resent++;
        await sleep(100 * (attempt + 1));
      }
      throw new Error(`${ev.id} never answered 200: ${JSON.stringify(statuses)}`);
    }
    let next = 0;
    const servedBy = (n) => n.log().split('\n').filter((l) => /route=\/webhooks\/stripe\/:id status=200/.test(l)).length;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < N) {
        const ev = events[next++];
        await deliver(ev);
        sent++;
        if (!killed && sent >= N / 3) {
          killed = true;
          // both nodes took a share before one dies
          assert.ok(servedBy(nodes.a) > 0 && servedBy(nodes.b) > 0,
            `spread: a ${servedBy(nodes.a)}, b ${servedBy(nodes.b)}`);
          t.diagnostic(`killing node b after ${sent} events (a served ${servedBy(nodes.a)}, b ${servedBy(nodes.b)}); ${killNode(nodes.b)} processes`);
        }
      }
    }));
    t.diagnostic(`answers: ${JSON.stringify(statuses)}; resent ${resent}`);
    assert.equal(one(`SELECT count(*) FROM stripe_events WHERE connection_id = ${id} AND result = 'processed'`), N);
    assert.equal(one(`SELECT count(*) FROM contacts WHERE email_key LIKE 'two%@nodes.example'`), N, 'one contact per event');
    assert.deepEqual(q(`SELECT event_id, count(*) AS n FROM integration_log WHERE connection_id = ${id}
                        AND result = 'processed' GROUP BY event_id HAVING count(*) > 1`), [], 'no event applied twice');
    assert.equal(one(`SELECT count(*) FROM integration_log WHERE connection_id = ${id} AND result = 'processed'`), N);
  });

  await t.test('a historical sync of 10,000 customers split across both nodes, one killed midway', async () => {
    // node b comes back (a new machine, the same node name and key)
    await nodes.b.stop().catch(() => {});
    nodes.b = await startApp(env('node-b'));
    const N = 10000;
    await fake.ctl('POST', 'seed', { resource: 'customers', count: N, start_created: t0 + 10, created_step: 9 });
    // slow pages, so that the kill lands in the middle
    await fake.ctl('POST', 'faults', { rules: [{ path: '/v1/customers', method: 'GET', delay_ms: 120, count: -1 }] });
    await fake.ctl('DELETE', 'requests');
    const before = one(`SELECT count(*) FROM contacts`);
    const res = await admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/sync`, { resource: 'customer' });
    assert.equal(res.status, 303, `Sync history now: ${res.status}`);
    const job = one(`SELECT max(id) FROM sync_jobs WHERE connection_id = ${id}`);
    const until = async (what, fn, ms = 120000) => {
      const end = Date.now() + ms;
      for (;;) {
        const v = fn();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out: ${what}; windows ${JSON.stringify(q(`SELECT * FROM sync_windows WHERE job_id = ${job}`))}`);
        await sleep(100);
      }
    };
    await until('both nodes to hold windows', () => one(`SELECT count(DISTINCT lease_owner) FROM sync_windows WHERE job_id = ${job}
                                                         AND lease_owner IN ('node-a', 'node-b')`) === 2);
    await until('a third of the objects', () => one(`SELECT objects FROM sync_jobs WHERE id = ${job}`) >= N / 3);
    assert.equal(one(`SELECT state FROM sync_jobs WHERE id = ${job}`), 'running');
    const at = one(`SELECT objects FROM sync_jobs WHERE id = ${job}`);
    t.diagnostic(`killing node a at ${at} objects: ${killNode(nodes.a)} processes`);
    await until('the job to finish on node b', () => one(`SELECT state FROM sync_jobs WHERE id = ${job}`) === 'done');
    const j = q(`SELECT * FROM sync_jobs WHERE id = ${job}`)[0];
    assert.equal(j.objects, N, 'every object committed once');
    const owners = q(`SELECT lease_owner, count(*) AS n FROM sync_windows WHERE job_id = ${job} GROUP BY lease_owner`);
    t.diagnostic(`windows by node at the end: ${JSON.stringify(owners)}`);
    assert.equal(one(`SELECT count(*) FROM sync_windows WHERE job_id = ${job} AND done = 0`), 0);
    const reqs = await fake.appRequests('/v1/customers');
    await fake.ctl('DELETE', 'faults');
    // what Stripe has: every customer with an email is linked to a contact
    const emails = new Set();
    let linked = 0;
    for (let after = ''; ;) {
      const page = await (await fetch(`${fake.url}/v1/customers?limit=100${after ? `&starting_after=${after}` : ''}`,
        { headers: { authorization: `Bearer ${KEY}` } })).json();
      for (const c of page.data) {
        if (c.email && !c.id.startsWith('cus_two_')) { emails.add(c.email.toLowerCase()); linked++; }
      }
      if (!page.has_more) break;
      after = page.data[page.data.length - 1].id;
    }
    assert.equal(one(`SELECT count(*) FROM stripe_customers WHERE customer_id NOT LIKE 'cus_two_%'`), linked,
      'every customer with an email linked to its contact');
    assert.equal(one(`SELECT count(*) FROM contacts`) - before, emails.size, 'one contact per email');
    const peak = busiestWindow(reqs);
    t.diagnostic(`${reqs.length} list requests from both nodes; busiest second ${peak} (shared limit ${RATE}/s)`);
    assert.ok(peak <= RATE + 1, `${peak} list requests within one second at a shared limit of ${RATE}/s`);
  });

  await t.test('two Stripe accounts on both nodes: each account within its rate, together above it', async () => {
    // node a comes back; a second Stripe account is connected (the fake's
    // objects are the same for its key)
    await nodes.a.stop().catch(() => {});
    nodes.a = await startApp(env('node-a'));
    admin.base = nodes.a.base;   // the session is the database's: good on the new node
    const KEY2 = 'sk_test_twonode2';
    await fake.ctl('POST', 'account', { key: KEY2, id: 'acct_TwoNodeSecond', name: 'Second Shop' });
    const res = await admin.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: KEY2 });
    assert.equal(res.status, 303, `connecting the second account: ${res.status} ${res.text.slice(0, 300)}`);
    const id2 = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
    await fake.ctl('DELETE', 'requests');
    const sync = await admin.submit(`/apps/stripe/${id}`, `/apps/stripe/${id}/sync`, { resource: 'customer' });
    assert.equal(sync.status, 303, `Sync history now: ${sync.status}`);
    await addCustomers('historical', id2);
    const jobs = [id, id2].map((c) => one(`SELECT max(id) FROM sync_jobs WHERE connection_id = ${c}`));
    const end = Date.now() + 120000;
    while (!jobs.every((j) => one(`SELECT state FROM sync_jobs WHERE id = ${j}`) === 'done')) {
      if (Date.now() > end) throw new Error(`timed out: ${JSON.stringify(q(`SELECT id, state, objects FROM sync_jobs`))}`);
      await sleep(200);
    }
    for (const j of jobs) assert.equal(one(`SELECT objects FROM sync_jobs WHERE id = ${j}`), 10000, `job ${j}: every customer once`);
    // one budget row per account, in the database every node reserves from
    assert.deepEqual(q(`SELECT key FROM rate_budgets WHERE key LIKE 'sync:%:test' AND key != 'sync:*:test' ORDER BY key`)
      .map((r) => r.key), ['sync:acct_1FakeStripeTest0:test', 'sync:acct_TwoNodeSecond:test']);
    const reqs = await fake.appRequests('/v1/customers');
    const byKey = (key) => reqs.filter((r) => r.headers.authorization === `Bearer ${key}`);
    const first = busiestWindow(byKey(KEY));
    const second = busiestWindow(byKey(KEY2));
    const both = busiestWindow(reqs);
    t.diagnostic(`${byKey(KEY).length} + ${byKey(KEY2).length} list requests from both nodes; busiest second: ` +
      `${first} of the first account, ${second} of the second, ${both} together (${RATE}/s per account)`);
    assert.ok(first <= RATE + 1, `the first account: ${first} list requests within one second`);
    assert.ok(second <= RATE + 1, `the second account: ${second} list requests within one second`);
    assert.ok(both > RATE + 1, `together ${both} within one second: more than one account's ${RATE}/s`);
  });
});
