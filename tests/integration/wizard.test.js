// wizard.test.js - steps 2 (Resource) and 3 (Map fields) of the Stripe
// wizard over HTTP, against the real app and the fake Stripe: the three
// steps in order, validation next to the row, going back, adding and
// removing rows, editing a saved mapping, a second resource, CSRF on every
// POST, and the walk-through of issue 4's "What must show".
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startApp, Client, adminClient, csrfOf } = require('./harness');
const { start } = require('../fake-stripe/server');

// ---- reading the pages like a browser ----

function decode(s) {
  return s.replace(/&quot;/g, '"').replace(/&#39;|&#x27;|&apos;/g, "'").replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function attr(tag, name) {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? decode(m[1]) : null;
}

function hasFlag(tag, name) {
  return new RegExp(`\\s${name}(\\s|>|=|$)`).test(tag.replace(/"[^"]*"/g, '""'));
}

// The <select name=...> element's HTML, or null.
function selectOf(html, name) {
  const re = new RegExp(`<select\\b[^>]*\\bname="${name}"[^>]*>([\\s\\S]*?)</select>`);
  const m = re.exec(html);
  return m ? m[0] : null;
}

function options(selectHtml) {
  const out = [];
  const re = /<option\b([^>]*)>([\s\S]*?)<\/option>/g;
  let m;
  while ((m = re.exec(selectHtml)) !== null) {
    out.push({ value: attr(`<o ${m[1]}>`, 'value'), label: decode(m[2].trim()), selected: hasFlag(`<o ${m[1]}>`, 'selected') });
  }
  return out;
}

// What a browser would send for a select: the selected option, else the first.
function selectedValue(html, name) {
  const sel = selectOf(html, name);
  if (!sel) return undefined;
  const opts = options(sel);
  const chosen = opts.find((o) => o.selected) || opts[0];
  return chosen ? chosen.value : '';
}

// The successful controls of the first form posting to `action` (without
// its submit buttons), as a browser would send them.
function formState(html, action) {
  const start = html.indexOf(`action="${action}"`);
  assert.ok(start >= 0, `a form posting to ${action}`);
  const end = html.indexOf('</form>', start);
  const form = html.slice(html.lastIndexOf('<form', start), end);
  const state = {};
  const inputs = form.match(/<input\b[^>]*>/g) || [];
  for (const tag of inputs) {
    const name = attr(tag, 'name');
    if (!name) continue;
    const type = (attr(tag, 'type') || 'text').toLowerCase();
    if ((type === 'checkbox' || type === 'radio') && !hasFlag(tag, 'checked')) continue;
    state[name] = attr(tag, 'value') ?? (type === 'checkbox' || type === 'radio' ? 'on' : '');
  }
  const selects = form.match(/<select\b[^>]*>[\s\S]*?<\/select>/g) || [];
  for (const sel of selects) {
    const name = attr(sel.slice(0, sel.indexOf('>') + 1), 'name');
    const opts = options(sel);
    const chosen = opts.find((o) => o.selected) || opts[0];
    state[name] = chosen ? chosen.value : '';
  }
  return { state, html: form };
}

// The <tr> holding the control named `name` (for messages next to a row).
function rowOf(html, name) {
  const at = html.indexOf(`name="${name}"`);
  if (at < 0) return null;
  const s = html.lastIndexOf('<tr', at);
  const e = html.indexOf('</tr>', at);
  return html.slice(s, e);
}

function rowErrors(html) {
  return (html.match(/<p class="error row-error">([^<]*)<\/p>/g) || []).map((p) => decode(p.replace(/<[^>]+>/g, '')));
}

// ---- the test ----

test('wizard: resource, mapping, editing', async (t) => {
  const fake = await start({ port: 0 });
  t.after(() => fake.close());
  const app = await startApp({ STRIPELINK_STRIPE_API: fake.url });
  t.after(() => app.stop());
  const c = await adminClient(app);

  const mappingOf = (id, resource) => {
    const out = app.sql(`SELECT coalesce(mapping, 'NULL') FROM connection_resources WHERE connection_id = ${id} AND resource = '${resource}';`).trim();
    if (!out) return undefined;       // no row
    return out === 'NULL' ? null : JSON.parse(out);
  };
  const resourceRows = (id) => app.sql(`SELECT resource || ':' || sync_type || ':' || CASE WHEN mapping IS NULL THEN 0 ELSE 1 END
                                         FROM connection_resources WHERE connection_id = ${id} ORDER BY id;`)
    .trim().split('\n').filter(Boolean);
  const resourcesCell = async (id) => {
    const apps = await c.get('/apps');
    const m = new RegExp(`<td><a href="/apps/stripe/${id}">Stripe</a></td>(?:\\s*<td>[^<]*</td>){3}\\s*<td><span[^>]*>[^<]*</span></td>\\s*<td>([^<]*)</td>`).exec(apps.text);
    return m ? decode(m[1]) : null;
  };
  // Presses a submit button of the form on `page` (changing some fields first).
  async function press(page, action, changes = {}, button = {}) {
    const { state } = formState(page.text, action);
    return c.request('POST', action, { form: { ...state, ...changes, ...button } });
  }

  // A custom field for the Stripe Customer ID (the Fields page makes it).
  const field = await c.submit('/fields', '/fields', { label: 'Stripe Customer ID', type: 'text' });
  assert.equal(field.status, 303);
  assert.equal(app.sql("SELECT count(*) FROM fields WHERE key = 'stripe_customer_id';").trim(), '1');
  await c.submit('/fields', '/fields', { label: 'Plan', type: 'text' });
  await c.submit('/fields', '/fields', { label: 'Tier', type: 'text' });
  assert.equal(app.sql("SELECT count(*) FROM fields WHERE key = 'plan';").trim(), '1');

  let id;
  const step2 = () => `/apps/stripe/${id}/resource`;
  const step3 = (r) => `/apps/stripe/${id}/mapping/${r}`;

  await t.test('step 1: connect leads to step 2', async () => {
    const k = `sk_test_${crypto.randomBytes(12).toString('hex')}`;
    const res = await c.submit('/apps/stripe/connect', '/apps/stripe/connect', { secret_key: k });
    assert.equal(res.status, 303, res.text);
    id = Number(/^\/apps\/stripe\/(\d+)\/resource$/.exec(res.location)[1]);
  });

  await t.test('step 2 offers the five resources and the two sync types', async () => {
    const page = await c.get(step2());
    assert.equal(page.status, 200);
    assert.match(page.text, /<li[^>]*>2\. Resource<\/li>/);
    assert.match(page.text, /<label for="resource">Choose Resource<\/label>/);
    const opts = options(selectOf(page.text, 'resource')).filter((o) => o.value);
    assert.deepEqual(opts.map((o) => [o.value, o.label]), [
      ['charge', 'Charge'], ['customer', 'Customer'], ['subscription', 'Subscription'],
      ['invoice', 'Invoice'], ['checkout_session', 'Checkout Session']]);
    assert.match(page.text, /value="historical"[^>]*> Sync historical and new records/);
    assert.match(page.text, /value="new"[^>]*> Only sync new records/);
    assert.match(page.text, />Continue</);
    assert.deepEqual(resourceRows(id), [], 'looking at step 2 saves nothing');
  });

  await t.test('step 3 is not there before step 2 chose its resource', async () => {
    assert.equal((await c.get(step3('charge'))).status, 404);
    assert.equal((await c.get(step3('refund'))).status, 404);
    assert.equal((await c.get(`/apps/stripe/${id + 100}/resource`)).status, 404);
    assert.equal((await c.get(`/apps/stripe/${id}/done?resource=charge`)).status, 404);
  });

  await t.test('step 2 validation: a resource and a sync type are required', async () => {
    for (const [fields, message] of [
      [{ resource: '', sync_type: 'historical' }, /Choose a resource\./],
      [{ resource: 'refund', sync_type: 'historical' }, /Choose a resource\./],
      [{ resource: 'charge', sync_type: 'sometimes' }, /Choose a sync type\./],
      [{ resource: 'charge' }, /Choose a sync type\./],
    ]) {
      const res = await c.submit(step2(), step2(), fields);
      assert.equal(res.status, 422, JSON.stringify(fields));
      assert.match(res.text, message);
      assert.match(res.text, /role="alert"/);
    }
    assert.deepEqual(resourceRows(id), []);
  });

  await t.test('step 2 without a CSRF token: 403 and nothing saved', async () => {
    const res = await c.post(step2(), { resource: 'charge', sync_type: 'historical' });
    assert.equal(res.status, 403);
    const bad = await c.post(step2(), { resource: 'charge', sync_type: 'historical', csrf: 'f'.repeat(64) });
    assert.equal(bad.status, 403);
    assert.deepEqual(resourceRows(id), []);
  });

  let mapPage;
  await t.test('step 2 → step 3: Charge, historical and new', async () => {
    const page = await c.get(step2());
    const res = await press(page, step2(), { resource: 'charge', sync_type: 'historical' });
    assert.equal(res.status, 303);
    assert.equal(res.location, step3('charge'));
    assert.deepEqual(resourceRows(id), ['charge:historical:0']);
    mapPage = await c.get(res.location);
    assert.equal(mapPage.status, 200);
    assert.match(mapPage.text, /<li[^>]*>3\. Map fields<\/li>/);
    assert.match(mapPage.text, /Map fields · Charge/);
    assert.match(mapPage.text, /new fields are created on the <a href="\/fields">Fields<\/a> page/);
    // row 1: the email, required, from the charge's email fields
    const email = options(selectOf(mapPage.text, 'email_path')).filter((o) => o.value).map((o) => o.value);
    for (const p of ['billing_details.email', 'receipt_email', 'customer.email']) assert.ok(email.includes(p), p);
    assert.ok(!email.includes('billing_details.name'), 'only email fields for the email row');
    assert.match(rowOf(mapPage.text, 'email_path'), /<strong>Email<\/strong>/);
    assert.equal(selectedValue(mapPage.text, 'email_path'), 'billing_details.email', 'a sensible default');
    // row 2: the Stripe ID, optional
    const ids = options(selectOf(mapPage.text, 'id_path')).map((o) => o.value);
    assert.deepEqual(ids.filter(Boolean).sort(), ['customer', 'id', 'payment_intent'].sort());
    assert.equal(selectedValue(mapPage.text, 'id_path'), '');
    const idTargets = options(selectOf(mapPage.text, 'id_target')).map((o) => o.value);
    assert.ok(idTargets.includes('stripe_customer_id'));
    assert.ok(!idTargets.includes('email'), 'Email is the first row\'s');
    // further rows: every catalogue field, targets are existing fields + Full name
    const rows = Number(formState(mapPage.text, step3('charge')).state.rows);
    assert.ok(rows >= 1);
    const paths = options(selectOf(mapPage.text, 'path_0')).map((o) => o.value);
    for (const p of ['billing_details.name', 'customer', 'id', 'amount', 'metadata.*', 'customer.email']) {
      assert.ok(paths.includes(p), p);
    }
    const targets = options(selectOf(mapPage.text, 'target_0'));
    assert.ok(targets.some((o) => o.value === 'full_name' && /Full name \(split into First and Last name\)/.test(o.label)));
    for (const k of ['first_name', 'last_name', 'phone', 'stripe_customer_id', 'plan']) {
      assert.ok(targets.some((o) => o.value === k), k);
    }
    assert.match(mapPage.text, /name="action" value="add"[^>]*>Add field mapping</);
    assert.match(mapPage.text, /name="action" value="finish"[^>]*>Finish</);
    assert.equal(mappingOf(id, 'charge'), null, 'nothing mapped yet');
  });

  await t.test('the step indicator marks the current step (1, 2, 3)', async () => {
    for (const [p, step] of [['/apps/stripe/connect', '1. Connect'], [step2(), '2. Resource'], [step3('charge'), '3. Map fields']]) {
      const page = await c.get(p);
      assert.equal(page.status, 200);
      const steps = /<ol class="steps">([\s\S]*?)<\/ol>/.exec(page.text);
      assert.ok(steps, `${p} shows the steps`);
      assert.match(steps[1], new RegExp(`<li aria-current="step">${step.replace('.', '\\.')}</li>`),
        `${p}: the current step is marked; got ${steps[1]}`);
    }
  });

  await t.test('Add field mapping adds a row, Remove removes one; values kept, nothing saved', async () => {
    const before = formState(mapPage.text, step3('charge')).state;
    const rows = Number(before.rows);
    const added = await press(mapPage, step3('charge'), { email_path: 'receipt_email' }, { action: 'add' });
    assert.equal(added.status, 200);
    const after = formState(added.text, step3('charge')).state;
    assert.equal(Number(after.rows), rows + 1);
    assert.ok(selectOf(added.text, `path_${rows}`), 'the new row is there');
    assert.equal(after[`path_${rows}`], '');
    assert.equal(after.email_path, 'receipt_email', 'what was chosen is kept');
    for (let i = 0; i < rows; i++) {
      assert.equal(after[`path_${i}`], before[`path_${i}`]);
      assert.equal(after[`target_${i}`], before[`target_${i}`]);
    }
    // fill the new row, then remove row 0: the others move up
    const filled = await press(added, step3('charge'), { [`path_${rows}`]: 'amount', [`target_${rows}`]: 'plan' }, { remove: '0' });
    assert.equal(filled.status, 200);
    const left = formState(filled.text, step3('charge')).state;
    assert.equal(Number(left.rows), rows);
    assert.equal(left[`path_${rows - 1}`], 'amount');
    assert.equal(left[`target_${rows - 1}`], 'plan');
    if (rows > 1) assert.equal(left.path_0, before.path_1);
    assert.equal(left.email_path, 'receipt_email');
    assert.equal(mappingOf(id, 'charge'), null, 'adding and removing rows saves nothing');
  });

  await t.test('step 3 without a CSRF token: 403 and nothing saved (finish, add, remove)', async () => {
    const { state } = formState(mapPage.text, step3('charge'));
    delete state.csrf;
    for (const button of [{ action: 'finish' }, { action: 'add' }, { remove: '0' }]) {
      const res = await c.post(step3('charge'), { ...state, ...button });
      assert.equal(res.status, 403, JSON.stringify(button));
    }
    const res = await c.post(step3('charge'), { ...state, action: 'finish', csrf: '0'.repeat(64) });
    assert.equal(res.status, 403);
    assert.equal(mappingOf(id, 'charge'), null);
  });

  await t.test('validation: email missing, next to the email row; nothing saved', async () => {
    const res = await press(mapPage, step3('charge'), { email_path: '' }, { action: 'finish' });
    assert.equal(res.status, 422);
    assert.match(res.text, /Some rows need attention/);
    assert.match(rowOf(res.text, 'email_path'), /row-error">Choose the Stripe field that holds the email address\./);
    assert.equal(mappingOf(id, 'charge'), null);
    // a field that is not an email
    const notEmail = await press(mapPage, step3('charge'), { email_path: 'billing_details.name' }, { action: 'finish' });
    assert.equal(notEmail.status, 422);
    assert.match(rowOf(notEmail.text, 'email_path'), /does not hold an email address/);
    assert.equal(mappingOf(id, 'charge'), null);
  });

  await t.test('validation: the same CRM field twice, next to the second row', async () => {
    const res = await press(mapPage, step3('charge'), {
      rows: '2', path_0: 'billing_details.name', target_0: 'first_name', meta_0: '',
      path_1: 'shipping.name', target_1: 'first_name', meta_1: '',
    }, { action: 'finish' });
    assert.equal(res.status, 422);
    assert.doesNotMatch(rowOf(res.text, 'path_0'), /row-error/);
    assert.match(rowOf(res.text, 'path_1'), /row-error">First name is already filled by another row\./);
    // the form keeps what was chosen
    const kept = formState(res.text, step3('charge')).state;
    assert.equal(kept.path_1, 'shipping.name');
    assert.equal(kept.target_1, 'first_name');
    // Full name fills First and Last name: a Last name row clashes with it
    const split = await press(mapPage, step3('charge'), {
      rows: '2', path_0: 'billing_details.name', target_0: 'full_name', meta_0: '',
      path_1: 'shipping.name', target_1: 'last_name', meta_1: '',
    }, { action: 'finish' });
    assert.equal(split.status, 422);
    assert.match(rowOf(split.text, 'path_1'), /Last name is already filled by another row\./);
    // the ID row and a field row on the same CRM field
    const idTwice = await press(mapPage, step3('charge'), {
      id_path: 'customer', id_target: 'stripe_customer_id',
      rows: '1', path_0: 'id', target_0: 'stripe_customer_id', meta_0: '',
    }, { action: 'finish' });
    assert.equal(idTwice.status, 422);
    assert.match(rowOf(idTwice.text, 'path_0'), /Stripe Customer ID|stripe_customer_id/);
    assert.match(rowOf(idTwice.text, 'path_0'), /already filled by another row/);
    assert.equal(mappingOf(id, 'charge'), null);
  });

  await t.test('validation: a target that does not exist, an unknown Stripe field, a missing target', async () => {
    const res = await press(mapPage, step3('charge'), {
      rows: '1', path_0: 'billing_details.phone', target_0: 'fax_number', meta_0: '',
    }, { action: 'finish' });
    assert.equal(res.status, 422);
    assert.match(decode(rowOf(res.text, 'path_0')), /There is no CRM field "fax_number"; new fields are created on the Fields page\./);
    assert.equal(app.sql("SELECT count(*) FROM fields WHERE key = 'fax_number';").trim(), '0', 'no field is created');

    const unknownPath = await press(mapPage, step3('charge'), {
      rows: '1', path_0: 'billing_details.favourite_colour', target_0: 'phone', meta_0: '',
    }, { action: 'finish' });
    assert.equal(unknownPath.status, 422);
    assert.match(decode(rowOf(unknownPath.text, 'path_0')), /"billing_details\.favourite_colour" is not a Charge field\./);

    const noTarget = await press(mapPage, step3('charge'), { rows: '1', path_0: 'amount', target_0: '', meta_0: '' }, { action: 'finish' });
    assert.equal(noTarget.status, 422);
    assert.match(rowOf(noTarget.text, 'path_0'), /Choose the CRM field to fill\./);

    const idNoTarget = await press(mapPage, step3('charge'), { id_path: 'customer', id_target: '' }, { action: 'finish' });
    assert.equal(idNoTarget.status, 422);
    assert.match(rowOf(idNoTarget.text, 'id_path'), /Choose the CRM field to fill\./);

    const idNotId = await press(mapPage, step3('charge'), { id_path: 'amount', id_target: 'plan' }, { action: 'finish' });
    assert.equal(idNotId.status, 422);
    assert.match(decode(rowOf(idNotId.text, 'id_path')), /is not a Stripe ID/);

    const markup = await press(mapPage, step3('charge'), { rows: '1', path_0: 'metadata.*', meta_0: '"><b>meta</b>', target_0: '<img src=x>' }, { action: 'finish' });
    assert.equal(markup.status, 422);
    assert.ok(!markup.text.includes('<img src=x>') && !markup.text.includes('<b>meta</b>'), 'what was typed is shown as text');
    assert.equal(formState(markup.text, step3('charge')).state.meta_0, '"><b>meta</b>', 'and kept in the form');

    const noMetaKey = await press(mapPage, step3('charge'), { rows: '1', path_0: 'metadata.*', meta_0: '', target_0: 'plan' }, { action: 'finish' });
    assert.equal(noMetaKey.status, 422);
    assert.match(rowOf(noMetaKey.text, 'path_0'), /row-error/);
    assert.equal(mappingOf(id, 'charge'), null);
  });

  await t.test('going back from step 3 shows step 2 with the choice made', async () => {
    const back = /<a class="button" href="([^"]+)">Back<\/a>/.exec(mapPage.text);
    assert.ok(back, 'a Back link on step 3');
    assert.equal(decode(back[1]), `${step2()}?resource=charge`);
    const page = await c.get(decode(back[1]));
    assert.equal(page.status, 200);
    assert.equal(selectedValue(page.text, 'resource'), 'charge');
    assert.equal(formState(page.text, step2()).state.sync_type, 'historical');
  });

  await t.test('pressing Enter in the mapping form finishes (the default button is not Remove)', async () => {
    const { html } = formState(mapPage.text, step3('charge'));
    const first = /<button\b[^>]*>/.exec(html);
    assert.ok(first);
    assert.match(first[0], /value="finish"/,
      `the form's default button (the first submit button, used when Enter is pressed in a field) is: ${first[0]}`);
  });

  await t.test('the walk-through: billing email → Email, billing name → Full name, customer id → Stripe Customer ID; Finish', async () => {
    // start again from the step 3 page as a person would: remove the extra rows, set the rows
    let page = await c.get(step3('charge'));
    let rows = Number(formState(page.text, step3('charge')).state.rows);
    while (rows > 1) {
      page = await press(page, step3('charge'), {}, { remove: String(rows - 1) });
      assert.equal(page.status, 200);
      rows = Number(formState(page.text, step3('charge')).state.rows);
    }
    if (rows === 0) {
      page = await press(page, step3('charge'), {}, { action: 'add' });
      rows = 1;
    }
    const res = await press(page, step3('charge'), {
      email_path: 'billing_details.email',
      id_path: 'customer', id_target: 'stripe_customer_id',
      path_0: 'billing_details.name', meta_0: '', target_0: 'full_name',
    }, { action: 'finish' });
    assert.equal(res.status, 303, rowErrors(res.text).join(' | ') || res.text.slice(0, 500));
    assert.equal(res.location, `/apps/stripe/${id}/done?resource=charge`);
    const m = mappingOf(id, 'charge');
    assert.equal(m.resource, 'charge');
    assert.equal(m.email, 'billing_details.email');
    assert.deepEqual(m.id, { source: 'customer', target: 'stripe_customer_id' });
    assert.deepEqual(m.fields, [{ source: 'billing_details.name', target: 'full_name' }]);
    assert.deepEqual(resourceRows(id), ['charge:historical:1']);

    const done = await c.get(res.location);
    assert.equal(done.status, 200);
    assert.match(done.text, /<h1>Your Stripe integration is set up<\/h1>/);
    assert.match(done.text, /Charge records from <strong>Test Shop<\/strong> now become contacts/);
    assert.match(done.text, /records already in Stripe are being synced/);
    assert.match(done.text, /href="\/apps"[^>]*>Connected Apps</);

    assert.equal(await resourcesCell(id), 'Charge', 'Connected Apps lists Stripe with its resource');
    const apps = await c.get('/apps');
    assert.match(apps.text, new RegExp(`<td><a href="/apps/stripe/${id}">Stripe</a></td>\\s*<td>Test Shop</td>\\s*<td>Test</td>`));
    const appPage = await c.get(`/apps/stripe/${id}`);
    assert.match(appPage.text, /<tr><td>Charge<\/td><td>Historical and new records<\/td><td>Mapped<\/td>/);
    assert.ok(appPage.text.includes(`href="/apps/stripe/${id}/resource">Add resource</a>`), 'Add resource link');
  });

  await t.test('editing the saved mapping: prefilled, saved, confirmed', async () => {
    const page = await c.get(step3('charge'));
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.text, /aria-current="step"/, 'not the wizard any more');
    assert.match(page.text, />Save mapping</);
    assert.ok(page.text.includes(`<a class="button" href="/apps/stripe/${id}">Cancel</a>`));
    const s = formState(page.text, step3('charge')).state;
    assert.equal(s.email_path, 'billing_details.email');
    assert.equal(s.id_path, 'customer');
    assert.equal(s.id_target, 'stripe_customer_id');
    assert.equal(s.rows, '1');
    assert.equal(s.path_0, 'billing_details.name');
    assert.equal(s.target_0, 'full_name');

    // a validation error while editing keeps the saved mapping
    const bad = await press(page, step3('charge'), { target_0: 'no_such_field' }, { action: 'finish' });
    assert.equal(bad.status, 422);
    assert.match(bad.text, />Save mapping</);
    assert.deepEqual(mappingOf(id, 'charge').fields, [{ source: 'billing_details.name', target: 'full_name' }]);

    // add a phone row and a metadata row, change the email
    let edit = await press(page, step3('charge'), {}, { action: 'add' });
    edit = await press(edit, step3('charge'), {}, { action: 'add' });
    const res = await press(edit, step3('charge'), {
      email_path: 'receipt_email',
      path_1: 'billing_details.phone', target_1: 'phone',
      path_2: 'metadata.*', meta_2: 'plan_code', target_2: 'plan',
    }, { action: 'finish' });
    assert.equal(res.status, 303, rowErrors(res.text).join(' | '));
    assert.equal(res.location, `/apps/stripe/${id}/done?resource=charge&edited=1`);
    const done = await c.get(res.location);
    assert.match(done.text, /The Charge mapping was saved\./);
    const m = mappingOf(id, 'charge');
    assert.equal(m.email, 'receipt_email');
    assert.deepEqual(m.id, { source: 'customer', target: 'stripe_customer_id' });
    assert.deepEqual(m.fields, [
      { source: 'billing_details.name', target: 'full_name' },
      { source: 'billing_details.phone', target: 'phone' },
      { source: 'metadata.plan_code', target: 'plan' },
    ]);
    // and it reads back as saved
    const again = formState((await c.get(step3('charge'))).text, step3('charge')).state;
    assert.equal(again.email_path, 'receipt_email');
    assert.equal(again.path_2, 'metadata.*');
    assert.equal(again.meta_2, 'plan_code');
    assert.equal(again.target_2, 'plan');
    assert.deepEqual(resourceRows(id), ['charge:historical:1'], 'still one Charge resource');
    assert.equal(await resourcesCell(id), 'Charge');
  });

  await t.test("a customer's metadata key (Customer metadata row) is saved with its key", async () => {
    const page = await c.get(step3('charge'));
    const paths = options(selectOf(page.text, 'path_0')).map((o) => o.value);
    assert.ok(paths.includes('customer.metadata.*'), 'the catalogue offers the customer\'s metadata');
    const before = mappingOf(id, 'charge');
    const edit = await press(page, step3('charge'), {}, { action: 'add' });
    const n = Number(formState(edit.text, step3('charge')).state.rows) - 1;
    const res = await press(edit, step3('charge'), { [`path_${n}`]: 'customer.metadata.*', [`meta_${n}`]: 'tier', [`target_${n}`]: 'tier' },
      { action: 'finish' });
    assert.equal(res.status, 303, rowErrors(res.text).join(' | '));
    const saved = mappingOf(id, 'charge').fields.find((f) => f.target === 'tier');
    // restore the mapping before asserting, so later subtests start from it
    app.sql(`UPDATE connection_resources SET mapping = '${JSON.stringify(before)}' WHERE connection_id = ${id} AND resource = 'charge';`);
    assert.equal(saved.source, 'customer.metadata.tier', 'the metadata key typed next to "Customer metadata (key)" is kept');
  });

  await t.test('a second resource on the same connection: Customer, only new records', async () => {
    const appPage = await c.get(`/apps/stripe/${id}`);
    assert.ok(appPage.text.includes(`href="/apps/stripe/${id}/resource">Add resource</a>`));
    const page = await c.get(step2());
    assert.equal(page.status, 200);
    const res = await press(page, step2(), { resource: 'customer', sync_type: 'new' });
    assert.equal(res.status, 303);
    assert.equal(res.location, step3('customer'));
    const map = await c.get(res.location);
    assert.match(map.text, /Map fields · Customer/);
    assert.equal(selectedValue(map.text, 'email_path'), 'email');
    const emails = options(selectOf(map.text, 'email_path')).filter((o) => o.value).map((o) => o.value);
    assert.deepEqual(emails, ['email'], 'a customer has one email field');
    const fin = await press(map, step3('customer'), { id_path: 'id', id_target: 'stripe_customer_id' }, { action: 'finish' });
    assert.equal(fin.status, 303, rowErrors(fin.text).join(' | '));
    assert.equal(fin.location, `/apps/stripe/${id}/done?resource=customer`);
    const done = await c.get(fin.location);
    assert.match(done.text, /Your Stripe integration is set up/);
    assert.match(done.text, /New records are synced as Stripe sends them\./);
    const m = mappingOf(id, 'customer');
    assert.equal(m.email, 'email');
    assert.deepEqual(m.id, { source: 'id', target: 'stripe_customer_id' });
    assert.equal(mappingOf(id, 'charge').email, 'receipt_email', 'the Charge mapping is untouched');
    assert.deepEqual(resourceRows(id), ['charge:historical:1', 'customer:new:1']);
    assert.equal(await resourcesCell(id), 'Charge, Customer');
    const app2 = await c.get(`/apps/stripe/${id}`);
    assert.match(app2.text, /<tr><td>Customer<\/td><td>Only new records<\/td><td>Mapped<\/td>/);
  });

  await t.test("the Stripe app page's Edit mapping links open each resource's mapping", async () => {
    const appPage = await c.get(`/apps/stripe/${id}`);
    const links = [...appPage.text.matchAll(/<a href="([^"]*)">Edit mapping<\/a>/g)].map((m) => decode(m[1]));
    assert.deepEqual(links, [step3('charge'), step3('customer')], 'one Edit mapping link per resource, to its mapping');
    for (const [link, label] of [[links[0], 'Charge'], [links[1], 'Customer']]) {
      const res = await c.get(link);
      assert.equal(res.status, 200, link);
      assert.match(res.text, new RegExp(`Map fields · ${label}`));
    }
  });

  await t.test('going back keeps the sync type chosen', async () => {
    const page = await c.get(step2());
    const res = await press(page, step2(), { resource: 'invoice', sync_type: 'new' });
    assert.equal(res.status, 303);
    const map = await c.get(res.location);
    const back = /<a class="button" href="([^"]+)">Back<\/a>/.exec(map.text);
    assert.ok(back);
    const step2Again = await c.get(decode(back[1]));
    assert.equal(selectedValue(step2Again.text, 'resource'), 'invoice');
    // pressing Continue again without touching anything must not change the sync type
    const state = formState(step2Again.text, step2()).state;
    assert.equal(state.sync_type, 'new', 'the sync type chosen before ("Only sync new records") is shown checked');
  });

  await t.test('going back and choosing another resource: Connected Apps lists only what was set up', async () => {
    // invoice was chosen at step 2 above and then left: now pick Subscription instead
    const page = await c.get(`${step2()}?resource=invoice`);
    const res = await press(page, step2(), { resource: 'subscription', sync_type: 'historical' });
    assert.equal(res.status, 303);
    assert.equal(res.location, step3('subscription'));
    const map = await c.get(res.location);
    assert.equal(selectedValue(map.text, 'email_path'), 'customer.email');
    const fin = await press(map, step3('subscription'), {}, { action: 'finish' });
    assert.equal(fin.status, 303, rowErrors(fin.text).join(' | '));
    assert.equal(mappingOf(id, 'subscription').email, 'customer.email');
    assert.equal(await resourcesCell(id), 'Charge, Customer, Subscription',
      'the abandoned Invoice (never mapped) is not listed as a resource of the connection');
  });

  await t.test('choosing an already mapped resource at step 2 edits it, with its new sync type', async () => {
    const page = await c.get(step2());
    const res = await press(page, step2(), { resource: 'customer', sync_type: 'historical' });
    assert.equal(res.status, 303);
    assert.equal(res.location, step3('customer'));
    const map = await c.get(res.location);
    assert.equal(formState(map.text, step3('customer')).state.id_path, 'id', 'the saved mapping is shown');
    assert.ok(resourceRows(id).includes('customer:historical:1'));
  });

  await t.test('the Webhook events switches: CSRF checked, saved', async () => {
    const action = `/apps/stripe/${id}/settings`;
    const noToken = await c.post(action, { create_contact: 'on' });
    assert.equal(noToken.status, 403);
    assert.equal(app.sql(`SELECT create_contact || '' || create_order || '' || create_recurring FROM connections WHERE id = ${id};`).trim(), '111');
    const page = await c.get(`/apps/stripe/${id}`);
    const { state } = formState(page.text, action);
    assert.deepEqual(Object.keys(state).filter((k) => k !== 'csrf').sort(), ['create_contact', 'create_order', 'create_recurring']);
    delete state.create_order;
    const res = await c.request('POST', action, { form: state });
    assert.equal(res.status, 303);
    assert.equal(res.location, `/apps/stripe/${id}?notice=saved`);
    assert.equal(app.sql(`SELECT create_contact || '' || create_order || '' || create_recurring FROM connections WHERE id = ${id};`).trim(), '101');
    const after = await c.get(res.location);
    assert.match(after.text, /Settings saved\./);
    assert.equal(formState(after.text, action).state.create_order, undefined);
  });

  await t.test('someone not logged in cannot reach or post to the wizard', async () => {
    const anon = new Client(app.base);
    for (const p of [step2(), step3('charge'), `/apps/stripe/${id}`]) {
      const res = await anon.get(p);
      assert.equal(res.status, 303, p);
      assert.match(res.location, /^\/login/);
    }
    const post = await anon.post(step3('charge'), { email_path: 'receipt_email', action: 'finish' });
    assert.ok(post.status === 403 || post.status === 303, `status ${post.status}`);
    assert.equal(mappingOf(id, 'charge').email, 'receipt_email');
  });

  await t.test('after disconnecting, the wizard is closed and the mappings stay', async () => {
    const res = await c.submit(`/apps/stripe/${id}/disconnect`, `/apps/stripe/${id}/disconnect`, {});
    assert.equal(res.status, 303);
    assert.equal((await c.get(step2())).status, 404);
    assert.equal((await c.get(step3('charge'))).status, 404);
    const page = await c.get(`/apps/stripe/${id}`);
    assert.doesNotMatch(page.text, /Edit mapping/);
    assert.doesNotMatch(page.text, /Add resource/);
    assert.equal(mappingOf(id, 'charge').email, 'receipt_email');
    assert.ok(csrfOf((await c.get('/apps/stripe/connect')).text), 'connect is offered again');
  });
});
