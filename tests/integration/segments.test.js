// segments.test.js - the contacts filter builder and saved segments over
// HTTP: building a filter from numbered condition rows, bad operands shown
// next to their row, saving, the Segments list with live counts, opening a
// segment, editing, exporting just its contacts as CSV, deleting.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { startApp, adminClient, parseCsv, csrfOf } = require('./harness');

// The query string of a filter: rows of [kind, value, extra].
function filterQuery(rows, extra = {}) {
  const p = new URLSearchParams(extra);
  rows.forEach(([kind, value = '', more = ''], i) => {
    p.set(`c${i}_kind`, kind);
    p.set(`c${i}_value`, value);
    p.set(`c${i}_extra`, more);
  });
  return p.toString();
}

function emailsOf(html) {
  return [...html.matchAll(/<a href="\/contacts\/\d+">([^<]+)<\/a>/g)].map((m) => m[1]).sort();
}

test('segments', async (t) => {
  const app = await startApp();
  t.after(() => app.stop());
  const admin = await adminClient(app);
  const now = Math.floor(Date.now() / 1000);
  const day = 86400;
  const iso = (t) => new Date(t * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

  // four contacts: tags, orders (one refunded, one failed), a subscription, a custom field
  const plan = await admin.submit('/fields', '/fields', { label: 'Plan', type: 'text' });
  assert.equal(plan.status, 303);
  app.sql(`
    INSERT INTO contacts (id, email, email_key, created_at, updated_at) VALUES
      (1, 'ann@example.com', 'ann@example.com', ${now - 300 * day}, ${now}),
      (2, 'bob@example.com', 'bob@example.com', ${now - 10 * day}, ${now}),
      (3, 'cat@example.com', 'cat@example.com', ${now - 900 * day}, ${now}),
      (4, 'dan@example.com', 'dan@example.com', ${now - 2 * day}, ${now});
    INSERT INTO tags (id, name) VALUES (1, 'stripe-integration'), (2, 'vip'), (3, 'stripe-integration-charge-succeeded');
    INSERT INTO contact_tags VALUES (1, 1), (1, 2), (1, 3), (2, 1), (4, 2);
    INSERT INTO orders (stripe_id, connection_id, contact_id, amount, amount_refunded, currency, status, created, updated_at) VALUES
      ('ch_1', 1, 1, 10000, 0, 'usd', 'paid', '${iso(now - 5 * day)}', ${now}),
      ('ch_2', 1, 1, 5000, 2000, 'usd', 'succeeded', '${iso(now - 40 * day)}', ${now}),
      ('ch_3', 1, 2, 3000, 0, 'usd', 'paid', '${iso(now - 100 * day)}', ${now}),
      ('ch_4', 1, 4, 90000, 0, 'usd', 'failed', '${iso(now - 1 * day)}', ${now});
    INSERT INTO recurring_payments (subscription_id, connection_id, contact_id, status, updated_at) VALUES
      ('sub_1', 1, 1, 'active', ${now}), ('sub_2', 1, 2, 'canceled', ${now});
    INSERT INTO contact_values SELECT 2, id, 'gold' FROM fields WHERE key = 'plan';`);

  await t.test('the builder offers every condition and the integration tags first', async () => {
    const res = await admin.get('/contacts');
    assert.equal(res.status, 200);
    for (const label of ['Has tag', 'Has not tag', 'Has an active recurring payment', 'Net revenue at least',
      'Net revenue below', 'Last order within (days)', 'No order within (days)', 'Number of orders at least',
      'Created between', 'Custom field equals', 'Custom field contains', 'Custom field is empty']) {
      assert.ok(res.text.includes(`>${label}</option>`), label);
    }
    assert.match(res.text, /name="c0_kind"/);
    assert.match(res.text, />Add condition</);
    const list = /<datalist id="tag-list">(.*?)<\/datalist>/.exec(res.text)[1];
    const tags = [...list.matchAll(/value="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(tags, ['stripe-integration', 'stripe-integration-charge-succeeded', 'vip']);
    const added = await admin.get(`/contacts?${filterQuery([['has_tag', 'vip']], { add: '1' })}`);
    assert.match(added.text, /name="c1_kind"/);
  });

  const cases = [
    [[['has_tag', 'vip']], ['ann@example.com', 'dan@example.com']],
    [[['not_tag', 'vip']], ['bob@example.com', 'cat@example.com']],
    [[['recurring_active']], ['ann@example.com']],
    [[['revenue_gte', '130', 'USD']], ['ann@example.com']],
    [[['revenue_lt', '130', 'usd']], ['bob@example.com', 'cat@example.com', 'dan@example.com']],
    [[['order_within', '7']], ['ann@example.com', 'dan@example.com']],
    [[['order_not_within', '30']], ['bob@example.com', 'cat@example.com']],
    [[['orders_gte', '2']], ['ann@example.com']],
    [[['created_between', iso(now - 20 * day).slice(0, 10), iso(now).slice(0, 10)]], ['bob@example.com', 'dan@example.com']],
    [[['field_equals', 'gold', 'plan']], ['bob@example.com']],
    [[['field_contains', 'OL', 'plan']], ['bob@example.com']],
    [[['field_empty', '', 'plan']], ['ann@example.com', 'cat@example.com', 'dan@example.com']],
    [[['has_tag', 'stripe-integration'], ['orders_gte', '1'], ['not_tag', 'vip']], ['bob@example.com']],
  ];
  for (const [rows, want] of cases) {
    await t.test(`filter ${rows.map((r) => r.join(' ')).join(' AND ')}`, async () => {
      const res = await admin.get(`/contacts?${filterQuery(rows)}`);
      assert.equal(res.status, 200);
      assert.deepEqual(emailsOf(res.text), want);
      assert.match(res.text, new RegExp(`<span class="count">${want.length}</span>`));
    });
  }

  await t.test('bad operands are shown next to their row and nothing is listed', async () => {
    const res = await admin.get(`/contacts?${filterQuery([['has_tag', 'vip'], ['revenue_gte', 'lots', 'usd'],
      ['order_within', '0'], ['field_equals', 'x', 'nosuch'], ['created_between', '2025-03-01', '2025-01-01']])}`);
    assert.equal(res.status, 200);
    assert.match(res.text, /id="c1_error">enter an amount like 100 or 99.50</);
    assert.match(res.text, /id="c2_error">enter between 1 and 36500 days</);
    assert.match(res.text, /id="c3_error">there is no such custom field</);
    assert.match(res.text, /id="c4_error">the end date is before the start date</);
    assert.doesNotMatch(res.text, /id="c0_error"/);
    assert.deepEqual(emailsOf(res.text), []);
    assert.doesNotMatch(res.text, /Save as segment/);
    assert.match(res.text, /value="lots"/); // what was typed is kept
  });

  let segmentId;
  await t.test('a filter is saved as a named segment; bad saves are refused with reasons', async () => {
    const q = filterQuery([['has_tag', 'stripe-integration'], ['revenue_gte', '100', 'usd']]);
    const page = await admin.get(`/contacts?${q}`);
    assert.match(page.text, /Save as segment/);
    const csrf = csrfOf(page.text);
    const form = Object.fromEntries(new URLSearchParams(q));
    const noName = await admin.post('/segments', { csrf, ...form, name: '  ' });
    assert.equal(noName.status, 422);
    assert.match(noName.text, /Give the segment a name/);
    const bad = await admin.post('/segments', { csrf, ...form, c1_value: 'x', name: 'Big' });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /Fix the conditions marked below/);
    assert.match(bad.text, /id="c1_error">enter an amount/);
    const none = await admin.post('/segments', { csrf, name: 'Empty' });
    assert.equal(none.status, 422);
    assert.match(none.text, /Add at least one condition/);
    const ok = await admin.post('/segments', { csrf, ...form, name: 'Big spenders' });
    assert.equal(ok.status, 303);
    assert.match(ok.location, /^\/segments\?saved=Big/);
    const dup = await admin.post('/segments', { csrf, ...form, name: 'big SPENDERS' });
    assert.equal(dup.status, 422);
    assert.match(dup.text, /already exists/);
    segmentId = app.sql("SELECT id FROM segments WHERE name = 'Big spenders';").trim();
    assert.ok(segmentId);
    const vip = await admin.post('/segments', { csrf, ...Object.fromEntries(new URLSearchParams(filterQuery([['has_tag', 'vip']]))), name: 'VIPs' });
    assert.equal(vip.status, 303);
  });

  await t.test('the Segments page lists each segment with its live count', async () => {
    const res = await admin.get('/segments');
    assert.equal(res.status, 200);
    assert.match(res.text, /aria-current="page">Segments</);
    assert.match(res.text, new RegExp(`<a href="/contacts\\?segment=${segmentId}">Big spenders</a></td>\\s*<td class="segment-count">1</td>`));
    assert.match(res.text, />VIPs<\/a><\/td>\s*<td class="segment-count">2<\/td>/);
    // live: a new order moves bob in
    app.sql(`INSERT INTO orders (stripe_id, connection_id, contact_id, amount, currency, status, created, updated_at)
             VALUES ('ch_9', 1, 2, 9000, 'usd', 'paid', '${iso(now)}', ${now});`);
    const again = await admin.get('/segments');
    assert.match(again.text, new RegExp(`>Big spenders</a></td>\\s*<td class="segment-count">2</td>`));
  });

  await t.test('a segment opens the contacts list filtered, and can be updated', async () => {
    const res = await admin.get(`/contacts?segment=${segmentId}`);
    assert.equal(res.status, 200);
    assert.deepEqual(emailsOf(res.text), ['ann@example.com', 'bob@example.com']);
    assert.match(res.text, /Segment “Big spenders”/);
    assert.match(res.text, /Update segment/);
    assert.match(res.text, new RegExp(`href="/contacts.csv\\?segment=${segmentId}"`));
    const q = filterQuery([['has_tag', 'stripe-integration'], ['revenue_gte', '120.01', 'usd']]);
    const upd = await admin.post(`/segments/${segmentId}`, { csrf: csrfOf(res.text), ...Object.fromEntries(new URLSearchParams(q)), name: 'Big spenders' });
    assert.equal(upd.status, 303);
    const after = await admin.get(`/contacts?segment=${segmentId}`);
    assert.deepEqual(emailsOf(after.text), ['ann@example.com']);
    assert.equal((await admin.get('/contacts?segment=999999')).status, 404);
  });

  await t.test('/contacts.csv?segment=<id> exports just that segment', async () => {
    const res = await admin.get(`/contacts.csv?segment=${segmentId}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/csv/);
    const rows = parseCsv(res.text);
    assert.equal(rows[0][0], 'email');
    assert.deepEqual(rows.slice(1).map((r) => r[0]), ['ann@example.com']);
    // the builder's own rows, saved or not, export what the list shows
    const q = filterQuery([['has_tag', 'vip']], { segment: segmentId });
    const page = await admin.get(`/contacts?${q}`);
    const href = /href="(\/contacts\.csv\?[^"]+)"/.exec(page.text)[1].replace(/&amp;/g, '&');
    const rowsCsv = parseCsv((await admin.get(href)).text);
    assert.deepEqual(rowsCsv.slice(1).map((r) => r[0]), ['ann@example.com', 'dan@example.com']);
    const bad = await admin.get(`/contacts.csv?${filterQuery([['orders_gte', 'many']])}`);
    assert.equal(bad.status, 400);
    const all = parseCsv((await admin.get('/contacts.csv')).text);
    assert.equal(all.length, 5);
    assert.equal((await admin.get('/contacts.csv?segment=999999')).status, 404);
    assert.equal((await admin.get('/contacts.csv?segment=abc')).status, 400);
  });

  await t.test('a segment is deleted, its contacts kept', async () => {
    const page = await admin.get('/segments');
    const del = await admin.post(`/segments/${segmentId}/delete`, { csrf: csrfOf(page.text) });
    assert.equal(del.status, 303);
    assert.equal(app.sql(`SELECT count(*) FROM segments WHERE id = ${segmentId};`).trim(), '0');
    assert.equal(app.sql('SELECT count(*) FROM contacts;').trim(), '4');
    const gone = await admin.post(`/segments/${segmentId}/delete`, { csrf: csrfOf(page.text) });
    assert.equal(gone.status, 404);
  });
});
