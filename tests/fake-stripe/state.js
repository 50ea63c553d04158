'use strict';
// Everything the fake remembers: one global account, the objects, webhook endpoints (with
// their secrets), fault rules, the request log and saved idempotent responses.

const { Collection } = require('./collection');
const { Faults } = require('./faults');

const DEFAULT_ACCOUNT = {
  id: 'acct_1FakeStripeTest0',
  name: 'Test Shop',
  display_name: 'Test Shop',
  email: 'owner@example.test',
  country: 'US',
  patch: {},
};

const DEFAULT_CONFIG = {
  record_requests: true, // keep a request log at all
  record_bodies: true, // keep raw bodies and parsed forms in the log
  request_log_cap: 200000, // oldest entries are dropped beyond this
  public_urls_only: false, // reject webhook URLs on localhost/private ranges, as live Stripe does
};

// Stripe's clock: ours shifted by offset_seconds; send_date false leaves the Date header out.
const DEFAULT_CLOCK = { offset_seconds: 0, send_date: true };

class FakeState {
  // accountDefaults: account fields /_fake/reset returns to (e.g. {name: 'My Shop'}).
  constructor(catalog, accountDefaults = {}) {
    this.catalog = catalog;
    this.accountDefaults = { ...DEFAULT_ACCOUNT, ...accountDefaults };
    if ('name' in accountDefaults && !('display_name' in accountDefaults)) {
      this.accountDefaults.display_name = accountDefaults.name;
    }
    this.counters = new Map(); // id prefix -> last number; survives reset so ids stay unique
    this.requestSeq = 0;
    this.collections = {
      customers: new Collection('customer'),
      charges: new Collection('charge'),
      subscriptions: new Collection('subscription'),
      invoices: new Collection('invoice'),
      checkout_sessions: new Collection('checkout.session'),
      refunds: new Collection('refund'),
      disputes: new Collection('dispute'),
      webhook_endpoints: new Collection('webhook endpoint'),
      events: new Collection('event'),
    };
    this.faults = new Faults();
    this.reset();
  }

  // Forget all data, faults, logs and settings (counters excepted).
  reset() {
    for (const c of Object.values(this.collections)) c.clear();
    this.secrets = new Map(); // webhook endpoint id -> whsec_...
    this.revokedKeys = new Set(); // keys answered 401 from now on (/_fake/keys/revoke)
    this.eventDelivered = new Map(); // event id -> did its delivery to the endpoints succeed
    this.idempotency = new Map(); // api key + "\n" + Idempotency-Key -> saved answer
    this.requests = [];
    this.requestsDropped = 0;
    this.faults.clear();
    this.config = { ...DEFAULT_CONFIG };
    this.clock = { ...DEFAULT_CLOCK };
    this.account = null;
    this.keyAccounts = new Map(); // API key -> {account, json}: that key's own account (POST /_fake/account with `key`)
    this.setAccount(this.accountDefaults);
  }

  // Next id for `prefix` -> {id: "<prefix>_<14 base36 digits>", n, suffix}; ids sort by age.
  nextId(prefix) {
    const n = (this.counters.get(prefix) || 0) + 1;
    this.counters.set(prefix, n);
    const suffix = n.toString(36).padStart(14, '0');
    return { id: `${prefix}_${suffix}`, n, suffix };
  }

  // Change the account: {id, name, display_name, email, country, patch}. `name` sets both the
  // business name and the dashboard display name unless display_name is given too. With `key`,
  // only that API key's account changes (made from the global account on first use): another
  // Stripe account, for tests with several. Returns the account changed.
  setAccount({ key, ...changes }) {
    for (const k of Object.keys(changes)) {
      if (!(k in DEFAULT_ACCOUNT)) throw new Error(`unknown account field: ${k}`);
    }
    if (key !== undefined && (typeof key !== 'string' || key === '')) throw new Error('key must be a string');
    const own = key !== undefined ? this.keyAccounts.get(key) : null;
    const next = { ...(own ? own.account : this.account || this.accountDefaults), ...changes };
    if ('name' in changes && !('display_name' in changes)) next.display_name = changes.name;
    const json = JSON.stringify(this.catalog.account(next));
    if (key !== undefined) {
      this.keyAccounts.set(key, { account: next, json });
    } else {
      this.account = next;
      this.accountJson = json;
    }
    return next;
  }

  // The account an API key sees: its own, else the global one.
  accountFor(key) {
    const own = this.keyAccounts.get(key);
    return own ? own.account : this.account;
  }

  accountJsonFor(key) {
    const own = this.keyAccounts.get(key);
    return own ? own.json : this.accountJson;
  }

  // Milliseconds since the epoch on the fake Stripe's clock.
  nowMs() {
    return Date.now() + this.clock.offset_seconds * 1000;
  }

  // {offset_seconds: integer, send_date: boolean}, either or both.
  setClock(changes) {
    for (const [k, v] of Object.entries(changes)) {
      if (!(k in DEFAULT_CLOCK)) throw new Error(`unknown clock key: ${k}`);
      if (k === 'offset_seconds' && !Number.isInteger(v)) throw new Error('offset_seconds must be an integer');
      if (k === 'send_date' && typeof v !== 'boolean') throw new Error('send_date must be a boolean');
      this.clock[k] = v;
    }
  }

  setConfig(changes) {
    for (const [k, v] of Object.entries(changes)) {
      if (!(k in DEFAULT_CONFIG)) throw new Error(`unknown config key: ${k}`);
      if (typeof v !== typeof DEFAULT_CONFIG[k]) throw new Error(`config ${k} must be a ${typeof DEFAULT_CONFIG[k]}`);
      this.config[k] = v;
    }
  }

  // Customer `id` as UTF-8 JSON (used to expand `customer` fields), or undefined.
  customerBuffer(id) {
    const record = this.collections.customers.get(id);
    return record && this.catalog.buffer(record);
  }

  // Append a request to the log (unless disabled); returns the entry or null.
  record(entry) {
    if (!this.config.record_requests) return null;
    entry.seq = ++this.requestSeq;
    if (!this.config.record_bodies) {
      entry.body = null;
      entry.form = null;
    }
    this.requests.push(entry);
    const cap = this.config.request_log_cap;
    if (this.requests.length > cap) {
      const drop = this.requests.length - Math.floor(cap * 0.9);
      this.requests.splice(0, drop);
      this.requestsDropped += drop;
    }
    return entry;
  }

  counts() {
    const out = {};
    for (const [name, c] of Object.entries(this.collections)) out[name] = c.size;
    return out;
  }
}

module.exports = { FakeState, DEFAULT_ACCOUNT };
