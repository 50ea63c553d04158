'use strict';
// Self-test of the fake Stripe (tests/fake-stripe). Run: cd tests && node --test integration/fake_stripe.test.js

const { test, describe, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { start } = require('../fake-stripe/server');
const { parseForm } = require('../fake-stripe/form');

const KEY = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc';
const LIVE_KEY = 'sk_live_51HsomethingLive4242';

let fake;

// One HTTP exchange with the fake. Resolves {status, headers, text, json}; rejects on socket errors.
function call(method, urlPath, { key = KEY, form, json, headers = {} } = {}) {
  let body;
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (form !== undefined) {
    body = form;
    h['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  if (json !== undefined) {
    body = JSON.stringify(json);
    h['Content-Type'] = 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: fake.port, method, path: urlPath, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const get = (p, opts) => call('GET', p, opts);
const post = (p, form, opts = {}) => call('POST', p, { ...opts, form });
const control = (method, p, json) => call(method, `/_fake/${p}`, { key: null, json });

async function createEndpoint(n, key = KEY) {
  return post('/v1/webhook_endpoints', `url=https://shop.example.test/hook/${n}&enabled_events[]=charge.succeeded`, { key });
}

// Every object of a list, paging with starting_after; returns {ids, pages}.
async function pageAll(urlPath, limit) {
  const ids = [];
  let pages = 0;
  let after = '';
  for (;;) {
    const sep = urlPath.includes('?') ? '&' : '?';
    const res = await get(`${urlPath}${sep}limit=${limit}${after}`);
    assert.equal(res.status, 200, res.text);
    pages++;
    ids.push(...res.json.data.map((o) => o.id));
    if (!res.json.has_more) return { ids, pages };
    after = `&starting_after=${res.json.data[res.json.data.length - 1].id}`;
  }
}

before(async () => {
  fake = await start({ port: 0 });
});

after(async () => {
  await fake.close();
});

beforeEach(async () => {
  await control('POST', 'reset');
});

describe('form encoding', () => {
  test('brackets, pushes, indices, nesting', () => {
    assert.deepEqual(parseForm('enabled_events[]=a&enabled_events[]=b&metadata[k]=v&expand[0]=data.customer'), {
      enabled_events: ['a', 'b'],
      metadata: { k: 'v' },
      expand: ['data.customer'],
    });
    assert.deepEqual(parseForm('created[gte]=10&created[lt]=20&url=https%3A%2F%2Fx.test%2Fa%3Fb%3Dc'), {
      created: { gte: '10', lt: '20' },
      url: 'https://x.test/a?b=c',
    });
    assert.deepEqual(parseForm('enabled_events%5B%5D=a&a[0]=x&a[5]=y'), { enabled_events: ['a'], a: ['x', 'y'] });
    assert.deepEqual(parseForm('__proto__[x]=1&name=J+R'), { name: 'J R' });
  });
});

describe('collection paging matches a naive reference', () => {
  const { Collection } = require('../fake-stripe/collection');

  test('random windows, cursors, filters and limits', () => {
    const c = new Collection('thing');
    let seed = 7;
    const rand = (n) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const records = [];
    for (let i = 0; i < 300; i++) {
      const r = { id: `x_${String(i).padStart(4, '0')}`, created: 1000 + rand(60), odd: i % 2 === 1 };
      records.push(r);
      c.put(r);
    }
    const reference = [...records].sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
    for (let round = 0; round < 2000; round++) {
      const createdMin = rand(3) ? 1000 + rand(70) - 5 : undefined;
      const createdMax = rand(3) ? 1000 + rand(70) - 5 : undefined;
      const filter = rand(2) ? (r) => r.odd : undefined;
      const limit = 1 + rand(20);
      const cursorId = rand(3) ? reference[rand(300)].id : undefined;
      const backwards = cursorId !== undefined && rand(2) === 1;
      const matches = reference.filter(
        (r) =>
          (createdMin === undefined || r.created >= createdMin) &&
          (createdMax === undefined || r.created <= createdMax) &&
          (!filter || filter(r)),
      );
      const at = cursorId === undefined ? -1 : reference.findIndex((r) => r.id === cursorId);
      let expected;
      let more;
      if (backwards) {
        const before = matches.filter((r) => reference.indexOf(r) < at);
        expected = before.slice(-limit);
        more = before.length > limit;
      } else {
        const afterCursor = matches.filter((r) => reference.indexOf(r) > at);
        expected = afterCursor.slice(0, limit);
        more = afterCursor.length > limit;
      }
      const got = c.page({
        limit,
        createdMin,
        createdMax,
        filter,
        startingAfter: backwards ? undefined : cursorId,
        endingBefore: backwards ? cursorId : undefined,
      });
      assert.deepEqual(got.items.map((r) => r.id), expected.map((r) => r.id), `round ${round}`);
      assert.equal(got.hasMore, more, `round ${round} has_more`);
    }
  });
});

describe('account and keys', () => {
  test('GET /v1/account has the configurable name', async () => {
    let res = await get('/v1/account');
    assert.equal(res.status, 200);
    assert.equal(res.json.object, 'account');
    assert.match(res.json.id, /^acct_/);
    assert.equal(res.json.business_profile.name, 'Test Shop');
    assert.equal(res.json.settings.dashboard.display_name, 'Test Shop');
    assert.match(res.headers['request-id'], /^req_/);
    await control('POST', 'account', { name: 'Müller Bikes', id: 'acct_123' });
    res = await get('/v1/account');
    assert.equal(res.json.business_profile.name, 'Müller Bikes');
    assert.equal(res.json.settings.dashboard.display_name, 'Müller Bikes');
    assert.equal(res.json.id, 'acct_123');
  });

  test('a key can have an account of its own (a second Stripe account); reset forgets it', async () => {
    const other = 'sk_test_secondAccount42';
    const set = await control('POST', 'account', { key: other, id: 'acct_Second', name: 'Second Shop' });
    assert.equal(set.json.id, 'acct_Second');
    let res = await get('/v1/account', { key: other });
    assert.equal(res.json.id, 'acct_Second');
    assert.equal(res.json.business_profile.name, 'Second Shop');
    res = await get('/v1/account');
    assert.match(res.json.id, /^acct_1FakeStripe/, 'other keys keep the global account');
    assert.equal(res.json.business_profile.name, 'Test Shop');
    await control('POST', 'account', { key: other, patch: { created: 1234 } });
    res = await get('/v1/account', { key: other });
    assert.equal(res.json.id, 'acct_Second', 'a second change keeps the first');
    assert.equal(res.json.created, 1234);
    const denied = await get('/v1/webhook_endpoints', { key: 'rk_test_noweb_second' });
    assert.match(denied.json.error.message, /on account 'acct_1FakeStripe/);
    await control('POST', 'account', { key: 'rk_test_noweb_second', id: 'acct_Third' });
    assert.match((await get('/v1/webhook_endpoints', { key: 'rk_test_noweb_second' })).json.error.message,
      /on account 'acct_Third'/, 'a 403 names the key\'s own account');
    await control('POST', 'reset');
    assert.match((await get('/v1/account', { key: other })).json.id, /^acct_1FakeStripe/);
  });

  test('a missing key is a 401', async () => {
    const res = await get('/v1/account', { key: null });
    assert.equal(res.status, 401);
    assert.equal(res.json.error.type, 'invalid_request_error');
    assert.match(res.json.error.message, /^You did not provide an API key/);
  });

  test('an invalid key is a 401 with the key masked', async () => {
    for (const key of ['sk_test_invalid0000abcd', 'rk_live_revokedXYZabcd', 'pk_test_12345678abcd', 'sk_prod_12345678abcd']) {
      const res = await get('/v1/account', { key });
      assert.equal(res.status, 401, key);
      assert.deepEqual(Object.keys(res.json.error).sort(), ['message', 'type']);
      assert.equal(res.json.error.type, 'invalid_request_error');
      assert.match(res.json.error.message, /^Invalid API Key provided: .*\*+abcd$/);
      assert.ok(!res.json.error.message.includes(key.slice(8, -4)), 'middle of the key must be masked');
    }
    const res = await get('/v1/account', { key: 'sk_test_invalid0000abcd' });
    assert.equal(res.json.error.message, 'Invalid API Key provided: sk_test_***********abcd');
  });

  test('Basic auth works, and livemode follows the key', async () => {
    const basic = Buffer.from(`${LIVE_KEY}:`).toString('base64');
    const res = await post('/v1/webhook_endpoints', 'url=https://a.test/h&enabled_events[]=*', {
      key: null,
      headers: { Authorization: `Basic ${basic}` },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.livemode, true);
    assert.equal((await createEndpoint(1)).json.livemode, false);
  });

  test('a restricted key without webhook permission gets a 403 on webhook routes only', async () => {
    const key = 'rk_test_noweb51Habcd';
    assert.equal((await get('/v1/account', { key })).status, 200);
    let res = await get('/v1/webhook_endpoints', { key });
    assert.equal(res.status, 403);
    assert.equal(res.json.error.type, 'invalid_request_error');
    assert.match(res.json.error.message, /^The provided key 'rk_test_\*+abcd' does not have the required permissions/);
    assert.match(res.json.error.message, /'rak_webhook_read' permission/);
    assert.match(res.json.error.message, /on account 'acct_/);
    res = await createEndpoint(1, key);
    assert.equal(res.status, 403);
    assert.match(res.json.error.message, /'rak_webhook_write' permission would allow this request to continue\.$/);
    assert.equal((await createEndpoint(2, 'rk_test_fullaccess')).status, 200);
  });
});

describe('webhook endpoints', () => {
  test('the secret is returned on create only', async () => {
    const created = await post(
      '/v1/webhook_endpoints',
      'url=https://shop.example.test/hook&enabled_events[]=charge.succeeded&enabled_events[]=customer.created' +
        '&api_version=2024-06-20&description=CRM&metadata[connection]=7',
    );
    assert.equal(created.status, 200, created.text);
    const we = created.json;
    assert.match(we.id, /^we_/);
    assert.match(we.secret, /^whsec_[0-9a-f]{32}$/);
    assert.equal(we.object, 'webhook_endpoint');
    assert.equal(we.status, 'enabled');
    assert.deepEqual(we.enabled_events, ['charge.succeeded', 'customer.created']);
    assert.deepEqual(we.metadata, { connection: '7' });
    assert.equal(we.api_version, '2024-06-20');
    assert.equal(we.description, 'CRM');

    const fetched = await get(`/v1/webhook_endpoints/${we.id}`);
    assert.equal(fetched.status, 200);
    assert.equal(fetched.json.secret, undefined);
    const listed = await get('/v1/webhook_endpoints');
    assert.equal(listed.json.data.length, 1);
    assert.equal(listed.json.data[0].secret, undefined);
    assert.equal(listed.json.url, '/v1/webhook_endpoints');

    const all = (await control('GET', 'webhook_endpoints')).json;
    assert.equal(all[0].secret, we.secret);
  });

  test('update and delete', async () => {
    const we = (await createEndpoint(1)).json;
    let res = await post(`/v1/webhook_endpoints/${we.id}`, 'disabled=true&enabled_events[0]=invoice.paid&metadata[a]=b');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, 'disabled');
    assert.deepEqual(res.json.enabled_events, ['invoice.paid']);
    assert.equal(res.json.secret, undefined);
    res = await call('DELETE', `/v1/webhook_endpoints/${we.id}`);
    assert.deepEqual(res.json, { id: we.id, object: 'webhook_endpoint', deleted: true });
    res = await get(`/v1/webhook_endpoints/${we.id}`);
    assert.equal(res.status, 404);
    assert.equal(res.json.error.code, 'resource_missing');
    assert.equal(res.json.error.type, 'invalid_request_error');
    assert.equal(res.json.error.message, `No such webhook endpoint: '${we.id}'`);
    assert.equal((await call('DELETE', `/v1/webhook_endpoints/${we.id}`)).status, 404);
  });

  test('the 17th endpoint is refused with no code; live and test count separately', async () => {
    for (let i = 0; i < 16; i++) assert.equal((await createEndpoint(i)).status, 200);
    const res = await createEndpoint(16);
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, {
      error: { message: 'You have reached the maximum of 16 test webhook endpoints.', type: 'invalid_request_error' },
    });
    for (let i = 0; i < 16; i++) assert.equal((await createEndpoint(i, LIVE_KEY)).status, 200);
    const live = await createEndpoint(16, LIVE_KEY);
    assert.equal(live.json.error.message, 'You have reached the maximum of 16 live webhook endpoints.');
    const page = await get('/v1/webhook_endpoints?limit=10');
    assert.equal(page.json.data.length, 10);
    assert.equal(page.json.has_more, true);
    assert.ok(page.json.data.every((w) => w.livemode === false));
  });

  test('bad parameters are refused like Stripe does', async () => {
    let res = await post('/v1/webhook_endpoints', 'enabled_events[]=charge.succeeded');
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'parameter_missing');
    assert.equal(res.json.error.param, 'url');
    res = await post('/v1/webhook_endpoints', 'url=https://a.test/h&enabled_events[]=x&colour=red');
    assert.equal(res.json.error.code, 'parameter_unknown');
    assert.equal(res.json.error.param, 'colour');
    res = await post('/v1/webhook_endpoints', 'url=notaurl&enabled_events[]=charge.succeeded');
    assert.equal(res.json.error.code, 'url_invalid');
    await control('POST', 'config', { public_urls_only: true });
    res = await post('/v1/webhook_endpoints', 'url=http://127.0.0.1:8080/hook&enabled_events[]=charge.succeeded');
    assert.equal(res.status, 400);
    assert.match(res.json.error.message, /publicly accessible/);
  });
});

describe('lists', () => {
  const T0 = 1700000000;

  test('paging with limit, starting_after, has_more, newest first', async () => {
    const seeded = (await control('POST', 'seed', { resource: 'customers', count: 250, start_created: T0 })).json;
    assert.equal(seeded.count, 250);
    let res = await get('/v1/customers');
    assert.equal(res.json.object, 'list');
    assert.equal(res.json.url, '/v1/customers');
    assert.equal(res.json.data.length, 10, 'default limit is 10');
    assert.equal(res.json.data[0].id, seeded.last_id, 'newest first');
    assert.equal(res.json.data[0].created, T0 + 249);

    const { ids, pages } = await pageAll('/v1/customers', 100);
    assert.equal(pages, 3);
    assert.equal(ids.length, 250);
    assert.equal(new Set(ids).size, 250);
    assert.deepEqual([...ids].reverse(), seeded.ids);

    res = await get(`/v1/customers?limit=3&ending_before=${ids[5]}`);
    assert.deepEqual(res.json.data.map((c) => c.id), ids.slice(2, 5));
    assert.equal(res.json.has_more, true);
    res = await get(`/v1/customers?limit=100&ending_before=${ids[5]}`);
    assert.deepEqual(res.json.data.map((c) => c.id), ids.slice(0, 5));
    assert.equal(res.json.has_more, false);
    res = await get(`/v1/customers?limit=100&starting_after=${ids[249]}`);
    assert.deepEqual(res.json.data, []);
    assert.equal(res.json.has_more, false);
  });

  test('limit out of range, bad cursor and unknown parameters are 400s', async () => {
    await control('POST', 'seed', { resource: 'customers', count: 3 });
    for (const limit of ['0', '101', 'abc']) {
      const res = await get(`/v1/customers?limit=${limit}`);
      assert.equal(res.status, 400, limit);
      assert.equal(res.json.error.type, 'invalid_request_error');
      assert.equal(res.json.error.param, 'limit');
    }
    let res = await get('/v1/customers?starting_after=cus_nope');
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'resource_missing');
    assert.equal(res.json.error.param, 'starting_after');
    res = await get('/v1/customers?colour=red');
    assert.equal(res.json.error.code, 'parameter_unknown');
    res = await get('/v1/customers?expand[]=data.invoice');
    assert.equal(res.status, 400);
    res = await get('/v1/payouts');
    assert.equal(res.status, 404);
    assert.match(res.json.error.message, /^Unrecognized request URL \(GET: \/v1\/payouts\)/);
  });

  test('created[gte]/[lt] windows, also while paging', async () => {
    await control('POST', 'seed', { resource: 'invoices', count: 300, start_created: T0, customers: true });
    const res = await get(`/v1/invoices?limit=100&created[gte]=${T0 + 100}&created[lt]=${T0 + 150}`);
    assert.equal(res.json.data.length, 50);
    assert.equal(res.json.has_more, false);
    assert.ok(res.json.data.every((i) => i.created >= T0 + 100 && i.created < T0 + 150));
    const { ids } = await pageAll(`/v1/invoices?created[gt]=${T0 + 10}&created[lte]=${T0 + 200}`, 7);
    assert.equal(ids.length, 190);
    const exact = await get(`/v1/invoices?created=${T0 + 5}`);
    assert.equal(exact.json.data.length, 1);
    assert.equal((await get('/v1/invoices?created[gte]=soon')).json.error.code, 'parameter_invalid_integer');
  });

  test('expand[]=data.customer replaces the id with the customer', async () => {
    await control('POST', 'seed', { resource: 'charges', count: 60, start_created: T0, customers: true });
    const plain = (await get('/v1/charges?limit=100')).json.data;
    const expanded = (await get('/v1/charges?limit=100&expand[]=data.customer')).json.data;
    assert.equal(expanded.length, 60);
    let withCustomer = 0;
    plain.forEach((charge, k) => {
      const ex = expanded[k];
      assert.equal(ex.id, charge.id);
      if (charge.customer === null) {
        assert.equal(ex.customer, null);
        return;
      }
      withCustomer++;
      assert.equal(typeof charge.customer, 'string');
      assert.equal(ex.customer.object, 'customer');
      assert.equal(ex.customer.id, charge.customer);
      assert.deepEqual({ ...ex, customer: ex.customer.id }, charge);
    });
    assert.ok(withCustomer > 20);
    const one = await get(`/v1/charges/${plain.find((c) => c.customer).id}?expand[]=customer`);
    assert.equal(one.json.customer.object, 'customer');
    const missing = await get('/v1/charges/ch_nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.message, "No such charge: 'ch_nope'");
  });

  test('objects keep the fixture shape and the documented data mix', async () => {
    const fixtures = require(process.env.STRIPE_FIXTURES || path.resolve(__dirname, '../fixtures/stripe/fixtures3.json'));
    await control('POST', 'seed', { resource: 'charges', count: 40, start_created: T0, customers: true });
    const charges = (await get('/v1/charges?limit=100&expand[]=data.customer')).json.data.reverse(); // index order
    assert.deepEqual(Object.keys(charges[0]).sort(), Object.keys(fixtures.resources.charge).sort());
    charges.forEach((c, i) => {
      assert.equal(c.object, 'charge');
      if (i % 20 === 19) {
        assert.equal(c.customer, null, `charge ${i} has no customer`);
        assert.equal(c.billing_details.email, null);
      } else if (i % 3 === 0) {
        assert.equal(c.billing_details.email, c.customer.email);
      } else if (i % 3 === 1) {
        assert.equal(c.customer, null);
        assert.match(c.billing_details.email, /^guest\.charge\d+@example\.test$/);
      } else {
        assert.equal(c.billing_details.email, null);
        assert.equal(c.customer.object, 'customer');
      }
    });
    const customers = (await get('/v1/customers?limit=100')).json.data;
    assert.deepEqual(Object.keys(customers[0]).sort(), Object.keys(fixtures.resources.customer).sort());
    const emails = customers.map((c) => c.email).filter(Boolean).map((e) => e.toLowerCase());
    assert.equal(new Set(emails).size, emails.length, 'emails are unique, case-insensitively');
  });

  test('subscriptions hide canceled ones unless status=all', async () => {
    await control('POST', 'seed', { resource: 'subscriptions', count: 20, customers: true });
    const active = (await get('/v1/subscriptions?limit=100')).json.data;
    const all = (await get('/v1/subscriptions?limit=100&status=all')).json.data;
    assert.equal(all.length, 20);
    assert.equal(active.length, 18);
    assert.ok(active.every((s) => s.status !== 'canceled'));
    assert.equal((await get('/v1/subscriptions?limit=100&status=canceled')).json.data.length, 2);
    const checkout = (await control('POST', 'seed', { resource: 'checkout_sessions', count: 9, customers: true })).json;
    assert.equal(checkout.subscriptions_created, 3);
    const sessions = (await get('/v1/checkout/sessions?limit=100')).json;
    assert.equal(sessions.url, '/v1/checkout/sessions');
    const sub = sessions.data.find((s) => s.mode === 'subscription');
    assert.equal((await get(`/v1/subscriptions/${sub.subscription}`)).json.customer, sub.customer);
  });

  test('/_fake/objects stores objects verbatim and they can be expanded into', async () => {
    await control('POST', 'objects', {
      objects: [
        { object: 'customer', id: 'cus_verbatim', created: T0, email: 'v@example.test' },
        { object: 'charge', id: 'ch_verbatim', created: T0 + 1, customer: 'cus_verbatim', amount: 5 },
      ],
    });
    const res = await get('/v1/charges?expand[]=data.customer');
    assert.deepEqual(res.json.data, [
      { object: 'charge', id: 'ch_verbatim', created: T0 + 1, customer: { object: 'customer', id: 'cus_verbatim', created: T0, email: 'v@example.test' }, amount: 5 },
    ]);
  });
});

describe('faults, idempotency and the request log', () => {
  test('429 with Stripe-Should-Retry: false fires `count` times', async () => {
    await control('POST', 'faults', { rules: [{ path: '/v1/charges', method: 'GET', status: 429, count: 2, should_retry: false, retry_after: 1 }] });
    for (let i = 0; i < 2; i++) {
      const res = await get('/v1/charges');
      assert.equal(res.status, 429);
      assert.equal(res.headers['stripe-should-retry'], 'false');
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(res.json.error.code, 'rate_limit');
      assert.equal(res.json.error.type, 'invalid_request_error');
    }
    assert.equal((await get('/v1/charges')).status, 200);
    assert.equal((await get('/v1/customers')).status, 200);
  });

  test('skip lets matching requests through first; 500 is an api_error', async () => {
    await control('POST', 'faults', { rules: [{ path: '/v1/*', status: 500, skip: 1, should_retry: true }] });
    assert.equal((await get('/v1/account')).status, 200);
    const res = await get('/v1/account');
    assert.equal(res.status, 500);
    assert.equal(res.json.error.type, 'api_error');
    assert.equal(res.headers['stripe-should-retry'], 'true');
  });

  test('drop cuts the answer mid-body; unreachable drops at once', async () => {
    await control('POST', 'seed', { resource: 'customers', count: 20 });
    await control('POST', 'faults', { rules: [{ path: '/v1/customers', drop: true }] });
    await assert.rejects(get('/v1/customers'), /aborted|ECONNRESET|socket hang up/);
    assert.equal((await get('/v1/customers')).status, 200);

    await control('POST', 'faults', { unreachable: true });
    await assert.rejects(get('/v1/account'), /ECONNRESET|socket hang up/);
    assert.equal((await control('GET', 'state')).json.faults.unreachable, true);
    await control('DELETE', 'faults');
    assert.equal((await get('/v1/account')).status, 200);
  });

  test('delay_ms slows the answer', async () => {
    await control('POST', 'faults', { rules: [{ path: '/v1/account', delay_ms: 150 }] });
    const t = Date.now();
    assert.equal((await get('/v1/account')).status, 200);
    assert.ok(Date.now() - t >= 140);
  });

  test('Idempotency-Key replays the saved answer; other parameters are refused', async () => {
    const headers = { 'Idempotency-Key': 'key-1' };
    const form = 'url=https://a.test/h&enabled_events[]=charge.succeeded';
    const first = await post('/v1/webhook_endpoints', form, { headers });
    const again = await post('/v1/webhook_endpoints', form, { headers });
    assert.equal(again.json.id, first.json.id);
    assert.equal(again.json.secret, first.json.secret);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal((await get('/v1/webhook_endpoints')).json.data.length, 1);
    const other = await post('/v1/webhook_endpoints', `${form}&description=x`, { headers });
    assert.equal(other.status, 400);
    assert.equal(other.json.error.type, 'idempotency_error');
  });

  test('a dropped create still happened: the retry with the same key gets it', async () => {
    await control('POST', 'faults', { rules: [{ path: '/v1/webhook_endpoints', method: 'POST', drop: true }] });
    const form = 'url=https://a.test/h&enabled_events[]=charge.succeeded';
    const headers = { 'Idempotency-Key': 'key-2' };
    await assert.rejects(post('/v1/webhook_endpoints', form, { headers }));
    const retry = await post('/v1/webhook_endpoints', form, { headers });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal((await control('GET', 'webhook_endpoints')).json.length, 1);
  });

  test('requests are recorded with headers, raw body and parsed form', async () => {
    await post('/v1/webhook_endpoints', 'url=https://a.test/h&enabled_events[]=a.b', { headers: { 'Idempotency-Key': 'k9' } });
    await get('/v1/customers?limit=5&expand[]=data.customer');
    const log = (await control('GET', 'requests')).json;
    assert.equal(log.length, 2);
    assert.equal(log[0].method, 'POST');
    assert.equal(log[0].path, '/v1/webhook_endpoints');
    assert.equal(log[0].headers['idempotency-key'], 'k9');
    assert.equal(log[0].headers.authorization, `Bearer ${KEY}`);
    assert.equal(log[0].body, 'url=https://a.test/h&enabled_events[]=a.b');
    assert.deepEqual(log[0].form, { url: 'https://a.test/h', enabled_events: ['a.b'] });
    assert.equal(log[0].status, 200);
    assert.deepEqual(log[1].query, { limit: '5', expand: ['data.customer'] });
    assert.equal(typeof log[1].t_ms, 'number');
    const posts = (await control('GET', 'requests?method=POST')).json;
    assert.equal(posts.length, 1);
    await control('POST', 'config', { record_bodies: false });
    await post('/v1/webhook_endpoints', 'url=https://a.test/h&enabled_events[]=a.b');
    const last = (await control('GET', `requests?since=${log[1].seq}`)).json;
    assert.equal(last.length, 1);
    assert.equal(last[0].body, null);
    await control('DELETE', 'requests');
    assert.deepEqual((await control('GET', 'requests')).json, []);
  });
});

describe('clock', () => {
  test('answers carry Stripe\'s Date; /_fake/clock shifts it, leaves it out, and new objects take it', async () => {
    const near = (a, b, what) => assert.ok(Math.abs(a - b) <= 2, `${what}: ${a} vs ${b}`);
    const nowS = () => Math.floor(Date.now() / 1000);
    let res = await get('/v1/account');
    assert.equal(res.status, 200);
    assert.match(res.headers.date, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    near(Date.parse(res.headers.date) / 1000, nowS(), 'Date with no offset');

    const set = await control('POST', 'clock', { offset_seconds: -3600 });
    assert.equal(set.status, 200);
    assert.equal(set.json.offset_seconds, -3600);
    near(set.json.now, nowS() - 3600, 'the clock it reports');
    res = await get('/v1/customers?limit=1');
    near(Date.parse(res.headers.date) / 1000, nowS() - 3600, 'Date an hour behind');
    res = await get('/v1/customers/cus_nope');
    assert.equal(res.status, 404);
    near(Date.parse(res.headers.date) / 1000, nowS() - 3600, 'errors carry it too');
    const made = await control('POST', 'objects', { object: 'customer', email: 'clock@example.test' });
    res = await get(`/v1/customers/${made.json.ids[0]}`);
    near(res.json.created, nowS() - 3600, 'created by the fake\'s clock');

    await control('POST', 'clock', { send_date: false });
    res = await get('/v1/account');
    assert.equal(res.headers.date, undefined, 'no Date header');
    assert.deepEqual((await control('GET', 'clock')).json.send_date, false);
    assert.equal((await control('POST', 'clock', { offset_seconds: 1.5 })).status, 400);
    assert.equal((await control('POST', 'clock', { skew: 1 })).status, 400);

    await control('POST', 'reset');
    res = await get('/v1/account');
    near(Date.parse(res.headers.date) / 1000, nowS(), 'reset puts the clock back');
  });
});

describe('money: refunds and disputes', () => {
  test('a charge refunded in two parts, one failing: objects, amount_refunded and the events Stripe sends', async () => {
    await control('POST', 'objects', {
      id: 'ch_money1', object: 'charge', amount: 1000, amount_refunded: 0, refunded: false, currency: 'usd',
      status: 'succeeded', customer: null, created: 1700000000,
    });
    let res = await control('POST', 'charges/ch_money1/refunds', { amount: 300, created: 1700000100, delivered: false });
    assert.equal(res.status, 200);
    const first = res.json.refund;
    assert.match(first.id, /^re_/);
    assert.equal(first.charge, 'ch_money1');
    assert.equal(res.json.charge.amount_refunded, 300);
    assert.deepEqual(res.json.events.map((e) => e.type), ['refund.created', 'charge.refunded']);
    assert.equal(res.json.events[1].data.object.refunds, undefined, 'no refunds list unless asked');
    res = await control('POST', 'charges/ch_money1/refunds', { amount: 200, list: true, created: 1700000200 });
    assert.equal(res.json.charge.amount_refunded, 500);
    assert.deepEqual(res.json.events[1].data.object.refunds.data.map((r) => r.amount), [200, 300]);
    res = await control('POST', `refunds/${first.id}`, { status: 'failed', created: 1700000300 });
    assert.deepEqual(res.json.events.map((e) => e.type), ['refund.updated', 'refund.failed', 'charge.refund.updated']);
    assert.equal(res.json.charge.amount_refunded, 200);
    assert.equal(res.json.events[1].data.object.status, 'failed');
    // the API has them, and the event list filters them by type and delivery
    res = await get('/v1/refunds?charge=ch_money1');
    assert.deepEqual(res.json.data.map((r) => r.status).sort(), ['failed', 'succeeded']);
    res = await get(`/v1/refunds/${first.id}`);
    assert.equal(res.json.status, 'failed');
    res = await get('/v1/events?types[]=refund.created&types[]=refund.failed');
    assert.deepEqual(res.json.data.map((e) => e.type).sort(), ['refund.created', 'refund.created', 'refund.failed']);
    res = await get('/v1/events?type=refund.created&delivery_success=false');
    assert.equal(res.json.data.length, 1);
    res = await control('POST', 'charges/ch_nope/refunds', {});
    assert.equal(res.status, 400);
  });

  test('a dispute opened then lost: charge.dispute.created, charge.dispute.closed', async () => {
    await control('POST', 'objects', {
      id: 'ch_money2', object: 'charge', amount: 2500, amount_refunded: 0, currency: 'eur', status: 'succeeded', created: 1700000000,
    });
    let res = await control('POST', 'charges/ch_money2/disputes', { created: 1700000100 });
    const dp = res.json.dispute;
    assert.match(dp.id, /^dp_/);
    assert.equal(dp.amount, 2500);
    assert.equal(dp.status, 'needs_response');
    assert.deepEqual(res.json.events.map((e) => e.type), ['charge.dispute.created']);
    res = await control('POST', `disputes/${dp.id}`, { status: 'under_review' });
    assert.deepEqual(res.json.events.map((e) => e.type), ['charge.dispute.updated']);
    res = await control('POST', `disputes/${dp.id}`, { status: 'lost' });
    assert.deepEqual(res.json.events.map((e) => e.type), ['charge.dispute.closed']);
    assert.equal(res.json.events[0].data.object.status, 'lost');
    res = await get('/v1/disputes?charge=ch_money2');
    assert.equal(res.json.data[0].status, 'lost');
    res = await get('/v1/disputes', { key: 'rk_test_nodispute1234' });
    assert.equal(res.status, 403);
    assert.match(res.json.error.message, /rak_dispute_read/);
  });
});

describe('clients', () => {
  test('the CLI prints one line with the port', async () => {
    const child = spawn(process.execPath, [path.join(__dirname, '../fake-stripe/server.js'), '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise((resolve, reject) => {
        child.stdout.once('data', (d) => resolve(String(d)));
        child.once('error', reject);
      });
      const m = /^fake-stripe listening on (\d+)\n$/.exec(line);
      assert.ok(m, line);
      const res = await fetch(`http://127.0.0.1:${m[1]}/v1/account`, { headers: { Authorization: `Bearer ${KEY}` } });
      assert.equal(res.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
  });

  let Stripe = null;
  try {
    Stripe = require('stripe');
  } catch {
    Stripe = null;
  }

  test('the official stripe-node client works against it', { skip: Stripe ? false : 'stripe package not installed' }, async () => {
    await control('POST', 'seed', { resource: 'charges', count: 25, customers: true });
    const stripe = new Stripe(KEY, { host: '127.0.0.1', port: fake.port, protocol: 'http', maxNetworkRetries: 1 });
    const seen = [];
    for await (const charge of stripe.charges.list({ limit: 10, expand: ['data.customer'] })) seen.push(charge.id);
    assert.equal(seen.length, 25);
    const we = await stripe.webhookEndpoints.create({ url: 'https://a.test/h', enabled_events: ['charge.succeeded'] });
    assert.match(we.secret, /^whsec_/);
    const posts = (await control('GET', 'requests?method=POST')).json;
    assert.match(posts[0].headers['idempotency-key'], /.+/);
    await assert.rejects(stripe.webhookEndpoints.retrieve('we_missing'), (err) => err.statusCode === 404 && err.code === 'resource_missing');
  });
});
