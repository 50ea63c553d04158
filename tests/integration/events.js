// events.js - Stripe events for the integration suites, built from Stripe's
// own example objects (tests/fixtures/stripe/fixtures3.json) and signed with
// Stripe's own Node library, as Stripe would put them on the wire.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Stripe = require('stripe');

const FIXTURES_PATH = process.env.STRIPE_FIXTURES || path.resolve(__dirname, '../fixtures/stripe/fixtures3.json');
const FIXTURES = JSON.parse(fs.readFileSync(FIXTURES_PATH, 'utf8')).resources;

function clone(v) {
  return JSON.parse(JSON.stringify(v));
}

// Objects merge key by key; anything else (arrays, scalars, null) replaces.
function deepMerge(target, patch) {
  for (const [k, v] of Object.entries(patch || {})) {
    if (v && typeof v === 'object' && !Array.isArray(v) &&
        target[k] && typeof target[k] === 'object' && !Array.isArray(target[k])) {
      deepMerge(target[k], v);
    } else {
      target[k] = clone(v);
    }
  }
  return target;
}

// A copy of the fixtures' object `name` ("charge", "customer", ...; and
// "event.data.object", the example event's own object, a plan) with `set`
// merged in.
function fixtureObject(name, set) {
  const base = name === 'event.data.object' ? FIXTURES.event.data.object : FIXTURES[name];
  if (!base) throw new Error(`no fixture "${name}" in ${FIXTURES_PATH}`);
  return deepMerge(clone(base), set);
}

// A Stripe event around object.
function stripeEvent({ id, type, created, object }) {
  return {
    id, object: 'event', api_version: '2024-06-20', created, data: { object },
    livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type,
  };
}

// A charge.succeeded event of `amount` cents for `email`.
function chargeEvent(tag, email, amount = 1000, created = 1700030000) {
  return stripeEvent({
    id: `evt_${tag}`,
    type: 'charge.succeeded',
    created,
    object: fixtureObject('charge', {
      id: `ch_${tag}`, amount, amount_captured: amount, currency: 'usd', status: 'succeeded',
      paid: true, customer: null, billing_details: { email, name: 'Dee Skfull', phone: null },
    }),
  });
}

// Stripe puts 2-space indented JSON on the wire.
function wire(event) {
  return JSON.stringify(event, null, 2);
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

// The Stripe-Signature header Stripe's library makes for payload (now,
// unless told; with another scheme than v1 when given).
function stripeHeader(payload, secret, timestamp = nowSeconds(), scheme) {
  const opts = { payload, secret, timestamp };
  if (scheme) opts.scheme = scheme;
  return Stripe.webhooks.generateTestHeaderString(opts);
}

module.exports = { FIXTURES, clone, fixtureObject, stripeEvent, chargeEvent, wire, nowSeconds, stripeHeader };
