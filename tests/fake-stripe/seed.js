'use strict';
// Generated test data (POST /_fake/seed). Everything is deterministic: which variant an
// object gets depends only on its index i within the seed batch (README "Data mix"), and
// ids/emails use per-prefix counters that never reset, so ids stay unique for the life of
// the process even across /_fake/reset.

const { GeneratedRecord, RawJson } = require('./objects');

const DAY = 86400;
const FIRST = ['Ada', 'Grace', 'Linus', 'Margaret', 'José', 'Zoë', 'Amara', 'Chen', 'Olga', 'Tariq', 'Ingrid', 'Kwame'];
const LAST = ['Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Núñez', 'Müller', 'Okafor', 'Wei', 'Petrova', 'Haddad', 'Berg', 'Mensah'];

const OUTCOME_FIELDS = { advice_code: null, network_advice_code: null, network_decline_code: null };
const OUTCOMES = {
  succeeded: new RawJson({
    ...OUTCOME_FIELDS,
    network_status: 'approved_by_network',
    reason: null,
    seller_message: 'Payment complete.',
    type: 'authorized',
  }),
  failed: new RawJson({
    ...OUTCOME_FIELDS,
    network_status: 'declined_by_network',
    reason: 'generic_decline',
    seller_message: 'The bank did not return any further details with this decline.',
    type: 'issuer_declined',
  }),
};

const SUBSCRIPTION_STATUS = ['active', 'active', 'active', 'active', 'active', 'active', 'trialing', 'past_due', 'canceled', 'unpaid'];
const INVOICE_STATUS = ['paid', 'paid', 'paid', 'paid', 'paid', 'paid', 'paid', 'open', 'void', 'uncollectible'];

function personName(i) {
  if (i % 10 === 9) return null;
  const first = FIRST[i % FIRST.length];
  if (i % 10 === 8) return first;
  return `${first} ${LAST[Math.floor(i / FIRST.length) % LAST.length]}`;
}

function customerEmail(i, n) {
  if (i % 50 === 49) return null;
  return i % 7 === 3 ? `Customer${n}@Example.Test` : `customer${n}@example.test`;
}

// Generators: (gen, i, created, customer) -> values. `customer` is a record or null.
const GENERATORS = {
  customers(gen, i, created) {
    const { id, n } = gen.id('cus');
    return {
      id,
      created,
      email: customerEmail(i, n),
      name: personName(i),
      invoice_prefix: n.toString(16).toUpperCase().padStart(8, '0'),
      livemode: gen.livemode,
    };
  },

  charges(gen, i, created, customer) {
    const { id, n, suffix } = gen.id('ch');
    const noEmail = i % 20 === 19;
    const variant = noEmail ? 'none' : !customer ? 'guest' : ['customer_and_billing', 'guest', 'customer_only'][i % 3];
    const failed = i % 25 === 11;
    const refunded = !failed && i % 10 === 7;
    const amount = 1000 + ((i * 137) % 9000);
    const guestEmail = `guest.charge${n}@example.test`;
    const withCustomer = variant === 'customer_and_billing' || variant === 'customer_only';
    const billingEmail = variant === 'guest' ? guestEmail : variant === 'customer_and_billing' ? customer.field('email') : null;
    const billingName = variant === 'guest' ? personName(i + 3) : variant === 'customer_and_billing' ? customer.field('name') : null;
    return {
      id,
      created,
      amount,
      amount_captured: failed ? 0 : amount,
      amount_refunded: refunded ? amount : 0,
      captured: !failed,
      paid: !failed,
      refunded,
      status: failed ? 'failed' : 'succeeded',
      failure_code: failed ? 'card_declined' : null,
      failure_message: failed ? 'Your card was declined.' : null,
      outcome: failed ? OUTCOMES.failed : OUTCOMES.succeeded,
      currency: i % 9 === 4 ? 'eur' : 'usd',
      customer: withCustomer ? customer.id : null,
      description: `Order #${n}`,
      billing_email: billingEmail,
      billing_name: billingName,
      receipt_email: variant === 'guest' ? guestEmail : null,
      balance_transaction: failed ? null : `txn_${suffix}`,
      payment_intent: `pi_${suffix}`,
      payment_method: `pm_${suffix}`,
      receipt_url: failed ? null : `https://pay.stripe.com/receipts/payment/fake_${id}`,
      refunds_url: `/v1/charges/${id}/refunds`,
      livemode: gen.livemode,
    };
  },

  subscriptions(gen, i, created, customer) {
    const { id, suffix } = gen.id('sub');
    const status = SUBSCRIPTION_STATUS[i % SUBSCRIPTION_STATUS.length];
    const yearly = i % 4 === 3;
    const amount = yearly ? 10000 + (i % 3) * 5000 : 1000 + (i % 3) * 1000;
    const { price, plan } = gen.pricePlan(yearly ? 'year' : 'month', amount);
    const canceled = status === 'canceled';
    const trialing = status === 'trialing';
    return {
      id,
      created,
      customer: customer ? customer.id : null,
      status,
      currency: 'usd',
      cancel_at: null,
      canceled_at: canceled ? created + 3 * DAY : null,
      ended_at: canceled ? created + 3 * DAY : null,
      cancellation_reason: canceled ? 'cancellation_requested' : null,
      trial_start: trialing ? created : null,
      trial_end: trialing ? created + 14 * DAY : null,
      item_id: `si_${suffix}`,
      price,
      plan,
      period_start: created,
      period_end: created + (yearly ? 365 : 30) * DAY,
      items_url: `/v1/subscription_items?subscription=${id}`,
      latest_invoice: null,
      livemode: gen.livemode,
    };
  },

  invoices(gen, i, created, customer) {
    const { id, n, suffix } = gen.id('in');
    const status = INVOICE_STATUS[i % INVOICE_STATUS.length];
    const amount = 1000 + ((i * 311) % 9000);
    const paid = status === 'paid';
    return {
      id,
      created,
      customer: customer ? customer.id : null,
      customer_email: customer ? customer.field('email') : null,
      customer_name: customer ? customer.field('name') : null,
      account_name: gen.accountName,
      amount,
      amount_paid: paid ? amount : 0,
      amount_remaining: status === 'open' || status === 'uncollectible' ? amount : 0,
      currency: 'usd',
      status,
      number: `FAKE-${String(n).padStart(6, '0')}`,
      attempted: status !== 'void',
      attempt_count: status === 'void' ? 0 : 1,
      billing_reason: 'manual',
      finalized_at: created,
      paid_at: paid ? created + 60 : null,
      voided_at: status === 'void' ? created + DAY : null,
      uncollectible_at: status === 'uncollectible' ? created + 7 * DAY : null,
      line_id: `il_${suffix}`,
      line_description: `Invoice item ${n}`,
      lines_url: `/v1/invoices/${id}/lines`,
      period_start: created - 30 * DAY,
      period_end: created,
      hosted_invoice_url: `https://invoice.stripe.com/i/fake_${id}`,
      invoice_pdf: `https://pay.stripe.com/invoice/fake_${id}/pdf`,
      livemode: gen.livemode,
    };
  },

  checkout_sessions(gen, i, created, customer) {
    const { id, n, suffix } = gen.id(gen.livemode ? 'cs_live' : 'cs_test');
    const expired = i % 10 === 9;
    const variant = expired ? 'expired' : !customer ? 'guest' : ['customer', 'guest', 'subscription'][i % 3];
    const guestEmail = `guest.session${n}@example.test`;
    let details = null;
    if (variant === 'guest') details = gen.customerDetails(guestEmail, personName(i + 5));
    if (variant === 'customer' || variant === 'subscription') {
      details = gen.customerDetails(customer.field('email'), customer.field('name'));
    }
    const subscription = variant === 'subscription' ? gen.child('subscriptions', 0, created, customer) : null;
    return {
      id,
      created,
      expires_at: created + DAY,
      customer: variant === 'customer' || variant === 'subscription' ? customer.id : null,
      customer_email: variant === 'guest' ? guestEmail : null,
      customer_details: details,
      amount: 1000 + ((i * 173) % 9000),
      currency: 'usd',
      mode: variant === 'subscription' ? 'subscription' : 'payment',
      payment_status: expired ? 'unpaid' : 'paid',
      status: expired ? 'expired' : 'complete',
      subscription: subscription ? subscription.id : null,
      payment_intent: variant === 'subscription' || expired ? null : `pi_${suffix}`,
      invoice: null,
      url: null,
      livemode: gen.livemode,
    };
  },
};

const KINDS = {
  customers: 'customer',
  charges: 'charge',
  subscriptions: 'subscription',
  invoices: 'invoice',
  checkout_sessions: 'checkout.session',
};

const RESOURCES = Object.keys(KINDS);

function intOption(value, name, fallback, min) {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}`);
  return value;
}

// Seed `spec.count` objects of `spec.resource` into `state`. Returns a summary; throws Error on bad input.
// spec: {resource, count, start_created?, created_step?, customers?, customer_pool?, livemode?, prerender?}
function seed(state, spec) {
  const started = process.hrtime.bigint();
  if (!GENERATORS[spec.resource]) throw new Error(`resource must be one of ${RESOURCES.join(', ')}`);
  const count = intOption(spec.count, 'count', 10, 0);
  const step = intOption(spec.created_step, 'created_step', 1, 0);
  const start = intOption(spec.start_created, 'start_created', Math.floor(state.nowMs() / 1000) - count * step, 0);
  const gen = new Generator(state, Boolean(spec.livemode));

  const pool = spec.resource === 'customers' ? [] : customerPool(gen, spec, count, start);
  const made = [];
  for (let i = 0; i < count; i++) {
    const customer = pool.length ? pool[i % pool.length] : null;
    made.push(gen.make(spec.resource, i, start + i * step, customer));
  }
  gen.flush(spec.prerender !== false);
  const summary = {
    resource: spec.resource,
    count,
    first_id: made.length ? made[0].id : null,
    last_id: made.length ? made[made.length - 1].id : null,
    customers_created: gen.created.customers,
    subscriptions_created: gen.created.subscriptions,
    ms: Number(process.hrtime.bigint() - started) / 1e6,
  };
  if (count <= 1000) summary.ids = made.map((r) => r.id);
  return summary;
}

// Customers the new objects point at (round robin). customers:true -> new ones (customer_pool,
// default ceil(count/2)); customers:false -> existing ones only; absent -> existing, else new.
function customerPool(gen, spec, count, start) {
  if (count === 0) return [];
  const existing = gen.state.collections.customers.ordered();
  const wantNew = spec.customers === true || (spec.customers === undefined && existing.length === 0);
  if (!wantNew) return existing.slice();
  const size = intOption(spec.customer_pool, 'customer_pool', Math.max(1, Math.ceil(count / 2)), 1);
  const pool = [];
  for (let j = 0; j < size; j++) pool.push(gen.make('customers', j, start - size + j, null));
  gen.created.customers = size;
  return pool;
}

// Per-seed context handed to generators; buffers records and stores them in one go.
class Generator {
  constructor(state, livemode) {
    this.state = state;
    this.livemode = livemode;
    this.accountName = state.account.name;
    this.buffers = {};
    this.created = { customers: 0, subscriptions: 0 };
    this.prices = new Map();
  }

  id(prefix) {
    return this.state.nextId(prefix);
  }

  make(resource, i, created, customer) {
    const record = new GeneratedRecord(KINDS[resource], GENERATORS[resource](this, i, created, customer));
    (this.buffers[resource] ||= []).push(record);
    return record;
  }

  // An object created as a side effect of another (a checkout session's subscription).
  child(resource, i, created, customer) {
    this.created[resource]++;
    return this.make(resource, i, created, customer);
  }

  pricePlan(interval, amount) {
    const key = `${interval}${amount}`;
    if (!this.prices.has(key)) {
      this.prices.set(key, this.state.catalog.pricePlan({
        id: `price_fake_${key}`,
        product: 'prod_fake_plan',
        amount,
        interval,
        livemode: this.livemode,
      }));
    }
    return this.prices.get(key);
  }

  customerDetails(email, name) {
    return this.state.catalog.customerDetails(email, name);
  }

  // Store the buffered records; with `prerender`, encode them now so list pages only copy bytes.
  flush(prerender) {
    for (const [resource, records] of Object.entries(this.buffers)) {
      if (prerender) for (const r of records) this.state.catalog.encoded(r);
      this.state.collections[resource].putMany(records);
    }
  }
}

module.exports = { seed };
