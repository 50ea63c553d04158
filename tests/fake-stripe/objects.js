'use strict';
// Stripe objects built from Stripe's own examples (fixtures3.json `resources`).
//
// Generated objects are stored as small value records and rendered through a precompiled
// template: the fixture is deep-copied, each overridden field is replaced by a marker, the
// copy is serialised once and split at the markers, so rendering is string joining. The
// UTF-8 result is cached per record (cut around `customer` so an expanded customer can be
// spliced in), which makes a list page little more than a Buffer.concat.
// Objects inserted verbatim (/_fake/objects) are stored and rendered as plain JSON.

const fs = require('fs');
const path = require('path');

const DEFAULT_FIXTURES = path.resolve(__dirname, '../fixtures/stripe/fixtures3.json');

// A value already serialised to JSON (shared sub-objects such as prices).
class RawJson {
  constructor(value) {
    this.json = JSON.stringify(value);
  }
}

function encode(value) {
  switch (typeof value) {
    case 'number':
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'null';
    case 'string':
      return JSON.stringify(value);
    default:
      if (value === null) return 'null';
      return value instanceof RawJson ? value.json : JSON.stringify(value);
  }
}

// Set obj[a][b]... for a dotted path ('items.data.0.price').
function setPath(obj, dotted, value) {
  const keys = dotted.split('.');
  let node = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    if (node[keys[i]] === null || typeof node[keys[i]] !== 'object') {
      throw new Error(`fixture has no object at ${keys.slice(0, i + 1).join('.')}`);
    }
    node = node[keys[i]];
  }
  node[keys[keys.length - 1]] = value;
}

// How each generated kind differs from its fixture.
//   fixed:  path -> constant (fixture placeholders replaced by realistic values)
//   fields: path -> name of the per-object value rendered there
const SHAPES = {
  customer: {
    fixture: 'customer',
    fixed: { discount: null },
    fields: {
      id: 'id',
      created: 'created',
      email: 'email',
      name: 'name',
      invoice_prefix: 'invoice_prefix',
      livemode: 'livemode',
    },
  },
  charge: {
    fixture: 'charge',
    fixed: {
      source: null,
      transfer_data: null,
      calculated_statement_descriptor: 'FAKE STRIPE',
      'payment_method_details.card.wallet': null,
      'payment_method_details.card.installments': null,
    },
    fields: {
      id: 'id',
      created: 'created',
      amount: 'amount',
      amount_captured: 'amount_captured',
      amount_refunded: 'amount_refunded',
      captured: 'captured',
      paid: 'paid',
      refunded: 'refunded',
      status: 'status',
      failure_code: 'failure_code',
      failure_message: 'failure_message',
      currency: 'currency',
      customer: 'customer',
      description: 'description',
      'billing_details.email': 'billing_email',
      'billing_details.name': 'billing_name',
      receipt_email: 'receipt_email',
      balance_transaction: 'balance_transaction',
      payment_intent: 'payment_intent',
      payment_method: 'payment_method',
      'payment_method_details.card.overcapture.maximum_amount_capturable': 'amount',
      outcome: 'outcome',
      receipt_url: 'receipt_url',
      'refunds.url': 'refunds_url',
      livemode: 'livemode',
    },
  },
  subscription: {
    fixture: 'subscription',
    fixed: {
      billing_cycle_anchor_config: null,
      next_pending_invoice_item_invoice: null,
      pause_collection: null,
      pending_invoice_item_interval: null,
      pending_update: null,
      transfer_data: null,
      billing_thresholds: null,
      cancel_at_period_end: false,
      'items.data.0.billing_thresholds': null,
    },
    fields: {
      id: 'id',
      created: 'created',
      customer: 'customer',
      status: 'status',
      currency: 'currency',
      start_date: 'created',
      billing_cycle_anchor: 'created',
      cancel_at: 'cancel_at',
      canceled_at: 'canceled_at',
      ended_at: 'ended_at',
      trial_start: 'trial_start',
      trial_end: 'trial_end',
      'cancellation_details.reason': 'cancellation_reason',
      'items.data.0.id': 'item_id',
      'items.data.0.created': 'created',
      'items.data.0.subscription': 'id',
      'items.data.0.price': 'price',
      'items.data.0.plan': 'plan',
      'items.data.0.current_period_start': 'period_start',
      'items.data.0.current_period_end': 'period_end',
      'items.url': 'items_url',
      latest_invoice: 'latest_invoice',
      livemode: 'livemode',
    },
  },
  invoice: {
    fixture: 'invoice',
    fixed: {
      last_finalization_error: null,
      from_invoice: null,
      shipping_cost: null,
      amount_overpaid: 0,
      parent: null,
      due_date: null,
      next_payment_attempt: null,
      auto_advance: false,
      'lines.data.0.parent': null,
    },
    fields: {
      id: 'id',
      created: 'created',
      customer: 'customer',
      customer_email: 'customer_email',
      customer_name: 'customer_name',
      account_name: 'account_name',
      amount_due: 'amount',
      amount_paid: 'amount_paid',
      amount_remaining: 'amount_remaining',
      subtotal: 'amount',
      subtotal_excluding_tax: 'amount',
      total: 'amount',
      total_excluding_tax: 'amount',
      currency: 'currency',
      status: 'status',
      number: 'number',
      attempted: 'attempted',
      attempt_count: 'attempt_count',
      billing_reason: 'billing_reason',
      'status_transitions.finalized_at': 'finalized_at',
      'status_transitions.paid_at': 'paid_at',
      'status_transitions.voided_at': 'voided_at',
      'status_transitions.marked_uncollectible_at': 'uncollectible_at',
      'lines.data.0.id': 'line_id',
      'lines.data.0.invoice': 'id',
      'lines.data.0.amount': 'amount',
      'lines.data.0.subtotal': 'amount',
      'lines.data.0.currency': 'currency',
      'lines.data.0.description': 'line_description',
      'lines.data.0.livemode': 'livemode',
      'lines.data.0.period.start': 'period_start',
      'lines.data.0.period.end': 'period_end',
      'lines.url': 'lines_url',
      period_start: 'period_start',
      period_end: 'period_end',
      effective_at: 'finalized_at',
      webhooks_delivered_at: 'created',
      hosted_invoice_url: 'hosted_invoice_url',
      invoice_pdf: 'invoice_pdf',
      livemode: 'livemode',
    },
  },
  'checkout.session': {
    fixture: 'checkout.session',
    fixed: {
      after_expiration: null,
      shipping_cost: null,
      shipping_address_collection: null,
      currency_conversion: null,
      collected_information: null,
      payment_method_configuration_details: null,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    },
    fields: {
      id: 'id',
      created: 'created',
      expires_at: 'expires_at',
      customer: 'customer',
      customer_email: 'customer_email',
      customer_details: 'customer_details',
      amount_subtotal: 'amount',
      amount_total: 'amount',
      currency: 'currency',
      mode: 'mode',
      payment_status: 'payment_status',
      status: 'status',
      subscription: 'subscription',
      payment_intent: 'payment_intent',
      invoice: 'invoice',
      url: 'url',
      livemode: 'livemode',
    },
  },
};

// Serialise `obj` (whose overridden fields hold "@@name@@" markers) and split at the markers.
function compile(obj) {
  const parts = JSON.stringify(obj).split(/"@@([a-z0-9_]+)@@"/);
  return {
    literals: parts.filter((_, i) => i % 2 === 0),
    fields: parts.filter((_, i) => i % 2 === 1),
  };
}

function buildTemplate(resources, shape) {
  const copy = structuredClone(resources[shape.fixture]);
  if (!copy) throw new Error(`fixtures have no resources["${shape.fixture}"]`);
  for (const [p, value] of Object.entries(shape.fixed)) setPath(copy, p, value);
  for (const [p, name] of Object.entries(shape.fields)) setPath(copy, p, `@@${name}@@`);
  return compile(copy);
}

// Render template t with `values`; `raw` overrides fields with ready JSON (expansions).
// Joining an array yields a flat string, which converts to a Buffer faster than a rope.
function render(t, values, raw) {
  const parts = new Array(t.fields.length * 2 + 1);
  parts[0] = t.literals[0];
  for (let i = 0; i < t.fields.length; i++) {
    const name = t.fields[i];
    const r = raw === undefined ? undefined : raw[name];
    parts[2 * i + 1] = r === undefined ? encode(values[name]) : r;
    parts[2 * i + 2] = t.literals[i + 1];
  }
  return parts.join('');
}

// An object generated by seeding: compact values rendered through its kind's template.
class GeneratedRecord {
  constructor(kind, values) {
    this.kind = kind;
    this.id = values.id;
    this.created = values.created;
    this.values = values;
    this.encodedCache = null; // set by Catalog.encoded()
  }

  field(name) {
    return this.values[name];
  }
}

// An object stored verbatim (inserted through /_fake/objects, or a webhook endpoint).
class StoredRecord {
  constructor(obj) {
    this.id = obj.id;
    this.created = obj.created;
    this.obj = obj;
  }

  field(name) {
    return this.obj[name];
  }
}

// Encoded records are written into large shared slabs: millions of small Buffers would each
// carry their own backing store and make V8 collect garbage far more often.
class Arena {
  constructor(slabBytes = 16 * 1024 * 1024) {
    this.slabBytes = slabBytes;
    this.slab = Buffer.allocUnsafe(0);
    this.used = 0;
  }

  // `text` as UTF-8, in a view of the current slab.
  encode(text) {
    const worst = text.length * 3;
    if (this.used + worst > this.slab.length) {
      this.slab = Buffer.allocUnsafe(Math.max(this.slabBytes, worst));
      this.used = 0;
    }
    const n = this.slab.write(text, this.used, 'utf8');
    const view = this.slab.subarray(this.used, this.used + n);
    this.used += n;
    return view;
  }
}

const EXPAND_MARK = '\u0000expand\u0000';
const EXPAND_MARK_JSON = JSON.stringify(EXPAND_MARK);
// Inserted raw into rendered JSON to cut it around `customer`; cannot occur otherwise, since
// JSON.stringify escapes control characters inside strings.
const CUSTOMER_CUT = '\u0001';

// JSON of a stored object; `customer` (a Buffer) replaces its customer id when given.
function storedJson(obj, customer) {
  if (customer === undefined) return JSON.stringify(obj);
  return JSON.stringify({ ...obj, customer: EXPAND_MARK }).replace(EXPAND_MARK_JSON, () => customer.toString('utf8'));
}

// Loaded fixtures plus compiled templates. Throws if the fixture file is missing or malformed.
class Catalog {
  constructor(fixturesPath = process.env.STRIPE_FIXTURES || DEFAULT_FIXTURES) {
    const resources = JSON.parse(fs.readFileSync(fixturesPath, 'utf8')).resources;
    this.resources = resources;
    this.templates = {};
    for (const [kind, shape] of Object.entries(SHAPES)) this.templates[kind] = buildTemplate(resources, shape);
    this.priceFixture = resources.subscription.items.data[0].price;
    this.planFixture = resources.subscription.items.data[0].plan;
    this.customerDetailsFixture = resources['checkout.session'].customer_details;
    this.arena = new Arena();
  }

  // A generated record as UTF-8, cut around its `customer` value: {before, after} (after is
  // null for kinds without a customer field). Cached on the record, which never changes.
  encoded(record) {
    if (record.encodedCache) return record.encodedCache;
    const t = this.templates[record.kind];
    const full = this.arena.encode(render(t, record.values, { customer: CUSTOMER_CUT }));
    const cut = t.fields.includes('customer') ? full.indexOf(1) : -1;
    record.encodedCache =
      cut < 0 ? { before: full, after: null } : { before: full.subarray(0, cut), after: full.subarray(cut + 1) };
    return record.encodedCache;
  }

  // Append the record's JSON to `parts` (an array of Buffers). customerBuffer(id) returns the
  // customer to expand into `customer`, or undefined to leave the id.
  appendJson(parts, record, customerBuffer) {
    const id = record.field('customer');
    const expanded = customerBuffer && typeof id === 'string' ? customerBuffer(id) : undefined;
    if (!(record instanceof GeneratedRecord)) {
      parts.push(Buffer.from(storedJson(record.obj, expanded), 'utf8'));
      return;
    }
    const { before, after } = this.encoded(record);
    parts.push(before);
    if (after !== null) parts.push(expanded || Buffer.from(encode(id), 'utf8'), after);
  }

  // The record's JSON as one Buffer, optionally with its customer expanded.
  buffer(record, customerBuffer) {
    const parts = [];
    this.appendJson(parts, record, customerBuffer);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  // A price and its legacy plan for subscriptions, as shared pre-serialised sub-objects.
  pricePlan({ id, product, amount, interval, livemode }) {
    const price = structuredClone(this.priceFixture);
    Object.assign(price, { id, product, unit_amount: amount, unit_amount_decimal: String(amount), livemode });
    price.recurring = { ...price.recurring, interval, interval_count: 1 };
    price.transform_quantity = null;
    price.custom_unit_amount = null;
    const plan = structuredClone(this.planFixture);
    Object.assign(plan, {
      id,
      product,
      amount,
      amount_decimal: String(amount),
      billing_scheme: 'per_unit',
      created: price.created,
      currency: 'usd',
      interval,
      interval_count: 1,
      livemode,
      metadata: {},
      transform_usage: null,
    });
    return { price: new RawJson(price), plan: new RawJson(plan) };
  }

  // checkout.session.customer_details for an email/name.
  customerDetails(email, name) {
    return { ...this.customerDetailsFixture, email, name };
  }

  // The account object for GET /v1/account; settings: {id, name, display_name, email, country, patch}.
  account(settings) {
    const acct = structuredClone(this.resources.account);
    acct.id = settings.id;
    acct.email = settings.email;
    acct.country = settings.country;
    acct.charges_enabled = true;
    acct.payouts_enabled = true;
    acct.details_submitted = true;
    acct.business_profile.name = settings.name;
    acct.settings.dashboard.display_name = settings.display_name;
    acct.external_accounts.url = `/v1/accounts/${settings.id}/external_accounts`;
    for (const k of ['currently_due', 'eventually_due', 'past_due']) acct.requirements[k] = [];
    acct.requirements.disabled_reason = null;
    return deepMerge(acct, settings.patch || {});
  }

  // A webhook_endpoint object (without its secret), in the fixture's key order.
  webhookEndpoint(fields) {
    const base = structuredClone(this.resources.webhook_endpoint);
    const out = {};
    for (const k of Object.keys(base)) out[k] = k in fields ? fields[k] : base[k];
    return out;
  }
}

function deepMerge(target, patch) {
  for (const [k, v] of Object.entries(patch)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && target[k] && typeof target[k] === 'object') {
      deepMerge(target[k], v);
    } else {
      target[k] = v;
    }
  }
  return target;
}

module.exports = { Catalog, GeneratedRecord, StoredRecord, RawJson, DEFAULT_FIXTURES };
