'use strict';
// Stripe's event list: GET /v1/events and GET /v1/events/:id, plus the control side that
// records events as created (delivered to the endpoints or not). Delivery is kept aside
// (like a webhook secret) and only shows through `pending_webhooks` and the
// `delivery_success` filter.

const errors = require('./errors');
const { StoredRecord } = require('./objects');

const DEFAULT_EVENT_API_VERSION = '2024-06-20'; // what an account without a pinned version gets
const MAX_TYPES = 20; // Stripe: types[] takes at most 20 names
const EVENT_PARAMS = ['limit', 'starting_after', 'ending_before', 'created', 'type', 'types', 'delivery_success', 'expand'];

// type may end in '*' ("customer.*"), as Stripe allows.
function typeMatcher(pattern) {
  if (typeof pattern !== 'string' || pattern === '') throw errors.invalidRequest('Invalid type', { param: 'type' });
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return (t) => t.startsWith(prefix);
  }
  return (t) => t === pattern;
}

// The filter for one list request, or undefined for none.
function eventFilter(state, form) {
  const predicates = [];
  if (form.type !== undefined && form.types !== undefined) {
    throw errors.invalidRequest('You cannot specify both the type and types parameters.', { param: 'types' });
  }
  if (form.type !== undefined) {
    const match = typeMatcher(form.type);
    predicates.push((r) => match(r.obj.type));
  }
  if (form.types !== undefined) {
    const types = Array.isArray(form.types) ? form.types : [form.types];
    if (types.length > MAX_TYPES) {
      throw errors.invalidRequest(`Invalid array: types must have at most ${MAX_TYPES} items`, { param: 'types' });
    }
    const wanted = new Set(types);
    predicates.push((r) => wanted.has(r.obj.type));
  }
  if (form.delivery_success !== undefined) {
    if (form.delivery_success !== 'true' && form.delivery_success !== 'false') {
      throw errors.invalidRequest(`Invalid boolean: ${form.delivery_success}`, { param: 'delivery_success' });
    }
    const want = form.delivery_success === 'true';
    predicates.push((r) => state.eventDelivered.get(r.id) === want);
  }
  if (predicates.length === 0) return undefined;
  return (r) => predicates.every((p) => p(r));
}

// Records events as created at Stripe. body: {events: [...], delivered: bool} or one event;
// each needs `type` and `data.object`; id, created, api_version, livemode are filled in.
// `delivered` (default true; per event `delivered` wins) says whether Stripe's delivery to
// the endpoints succeeded: false makes `pending_webhooks` 1 and `delivery_success=false` list it.
function recordEvents(state, body) {
  const list = Array.isArray(body) ? body : Array.isArray(body.events) ? body.events : [body];
  const deliveredDefault = body.delivered === undefined ? true : Boolean(body.delivered);
  const now = Math.floor(state.nowMs() / 1000);
  const records = [];
  for (const input of list) {
    if (!input || typeof input.type !== 'string' || !input.data || typeof input.data.object !== 'object') {
      throw new Error('each event needs a type and data.object');
    }
    const delivered = input.delivered === undefined ? deliveredDefault : Boolean(input.delivered);
    const event = {
      id: input.id || state.nextId('evt').id,
      object: 'event',
      api_version: input.api_version === undefined ? DEFAULT_EVENT_API_VERSION : input.api_version,
      created: input.created === undefined ? now : input.created,
      data: input.data,
      livemode: Boolean(input.livemode),
      pending_webhooks: delivered ? 0 : 1,
      request: { id: null, idempotency_key: null },
      type: input.type,
    };
    if (!Number.isInteger(event.created)) throw new Error('created must be an integer');
    state.eventDelivered.set(event.id, delivered);
    records.push(new StoredRecord(event));
  }
  state.collections.events.putMany(records);
  return { inserted: records.length, ids: list.length <= 1000 ? records.map((r) => r.id) : undefined };
}

module.exports = { eventFilter, recordEvents, EVENT_PARAMS, DEFAULT_EVENT_API_VERSION };
