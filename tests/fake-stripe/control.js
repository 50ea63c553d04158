'use strict';
// The /_fake control API (no auth, JSON in and out) used by tests to set the fake up and
// look inside it. Handlers get {state, body, query} and return a JSON-able value; a thrown
// Error becomes 400 {"error": message}. See README for each route.

const { seed } = require('./seed');
const { StoredRecord } = require('./objects');
const { recordEvents } = require('./events');
const money = require('./money');

// Stripe `object` value -> collection name and id prefix for /_fake/objects.
const OBJECT_TYPES = {
  customer: { collection: 'customers', prefix: 'cus' },
  charge: { collection: 'charges', prefix: 'ch' },
  subscription: { collection: 'subscriptions', prefix: 'sub' },
  invoice: { collection: 'invoices', prefix: 'in' },
  'checkout.session': { collection: 'checkout_sessions', prefix: 'cs_test' },
  refund: { collection: 'refunds', prefix: 're' },
  dispute: { collection: 'disputes', prefix: 'dp' },
  webhook_endpoint: { collection: 'webhook_endpoints', prefix: 'we' },
};

// Insert or replace objects verbatim; `secret` on a webhook_endpoint is kept aside.
function insertObjects(state, body) {
  const list = Array.isArray(body) ? body : Array.isArray(body.objects) ? body.objects : [body];
  const ids = [];
  for (const input of list) {
    const type = OBJECT_TYPES[input && input.object];
    if (!type) throw new Error(`object must be one of ${Object.keys(OBJECT_TYPES).join(', ')}`);
    const obj = { ...input };
    if (obj.id === undefined) obj.id = state.nextId(type.prefix).id;
    if (obj.created === undefined) obj.created = Math.floor(state.nowMs() / 1000);
    if (typeof obj.id !== 'string' || !Number.isInteger(obj.created)) throw new Error('id must be a string, created an integer');
    if (type.collection === 'webhook_endpoints') {
      if (obj.livemode === undefined) obj.livemode = false;
      state.secrets.set(obj.id, obj.secret || `whsec_fake_${obj.id}`);
      delete obj.secret;
    }
    state.collections[type.collection].put(new StoredRecord(obj));
    ids.push(obj.id);
  }
  return { inserted: ids.length, ids };
}

function pathMatches(pattern, path) {
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : pattern === path;
}

// Request log, optionally filtered: ?method=POST&path=/v1/charges*&since=<seq>&limit=N
function listRequests(state, query) {
  const since = Number(query.since || 0);
  const limit = query.limit ? Number(query.limit) : Infinity;
  const method = query.method && query.method.toUpperCase();
  const out = [];
  for (const entry of state.requests) {
    if (entry.seq <= since) continue;
    if (method && entry.method !== method) continue;
    if (query.path && !pathMatches(query.path, entry.path)) continue;
    out.push(entry);
    if (out.length >= limit) break;
  }
  return out;
}

function allEndpoints(state) {
  return state.collections.webhook_endpoints
    .ordered()
    .map((r) => ({ ...r.obj, secret: state.secrets.get(r.id) || null }));
}

// An endpoint by id (either mode), or a thrown Error.
function endpointRecord(state, id) {
  const record = state.collections.webhook_endpoints.get(id);
  if (!record) throw new Error(`no webhook endpoint ${id}`);
  return record;
}

// Stripe disables an endpoint that keeps failing: status 'disabled', no more deliveries.
function disableEndpoint({ state, params }) {
  const record = endpointRecord(state, params.id);
  record.obj = { ...record.obj, status: 'disabled' };
  return record.obj;
}

// Deleted at Stripe (in the dashboard, say): the API answers 404 for it from now on.
function deleteEndpoint({ state, params }) {
  endpointRecord(state, params.id);
  state.collections.webhook_endpoints.remove(params.id);
  state.secrets.delete(params.id);
  return { id: params.id, deleted: true };
}

function revokeKey({ state, body }) {
  if (typeof body.key !== 'string' || body.key === '') throw new Error('key must be a string');
  state.revokedKeys.add(body.key);
  return { revoked: state.revokedKeys.size };
}

function listRecordedEvents({ state, query }) {
  return state.collections.events.ordered().map((r) => ({ ...r.obj, delivered: state.eventDelivered.get(r.id) }))
    .slice(0, query.limit ? Number(query.limit) : undefined);
}

function snapshot(state) {
  return {
    counts: state.counts(),
    requests: { logged: state.requests.length, dropped: state.requestsDropped, last_seq: state.requestSeq },
    idempotency_keys: state.idempotency.size,
    faults: state.faults.snapshot(),
    account: state.account,
    config: state.config,
  };
}

function reset({ state }) {
  state.reset();
  return { ok: true };
}

function setFaults({ state, body }) {
  state.faults.configure(body);
  return state.faults.snapshot();
}

function clearFaults({ state }) {
  state.faults.clear();
  return { ok: true };
}

function clearRequests({ state }) {
  state.requests = [];
  return { ok: true };
}

function setAccount({ state, body }) {
  return state.setAccount(body);
}

// Stripe's clock as the fake keeps it: {offset_seconds, send_date}. Answers carry a Date header
// from it (none when send_date is false); objects and events made without `created` take it.
function setClock({ state, body }) {
  state.setClock(body);
  return clockView(state);
}

function clockView(state) {
  return { now: Math.floor(state.nowMs() / 1000), ...state.clock };
}

function setConfig({ state, body }) {
  state.setConfig(body);
  return state.config;
}

const ROUTES = [
  { method: 'POST', pattern: '/_fake/reset', handler: reset },
  { method: 'POST', pattern: '/_fake/seed', handler: ({ state, body }) => seed(state, body) },
  { method: 'POST', pattern: '/_fake/objects', handler: ({ state, body }) => insertObjects(state, body) },
  { method: 'GET', pattern: '/_fake/faults', handler: ({ state }) => state.faults.snapshot() },
  { method: 'POST', pattern: '/_fake/faults', handler: setFaults },
  { method: 'DELETE', pattern: '/_fake/faults', handler: clearFaults },
  { method: 'GET', pattern: '/_fake/requests', handler: ({ state, query }) => listRequests(state, query) },
  { method: 'DELETE', pattern: '/_fake/requests', handler: clearRequests },
  { method: 'GET', pattern: '/_fake/webhook_endpoints', handler: ({ state }) => allEndpoints(state) },
  { method: 'GET', pattern: '/_fake/state', handler: ({ state }) => snapshot(state) },
  { method: 'POST', pattern: '/_fake/account', handler: setAccount },
  { method: 'POST', pattern: '/_fake/config', handler: setConfig },
  { method: 'GET', pattern: '/_fake/clock', handler: ({ state }) => clockView(state) },
  { method: 'POST', pattern: '/_fake/clock', handler: setClock },
  { method: 'POST', pattern: '/_fake/events', handler: ({ state, body }) => recordEvents(state, body) },
  { method: 'GET', pattern: '/_fake/events', handler: listRecordedEvents },
  { method: 'POST', pattern: '/_fake/webhook_endpoints/:id/disable', handler: disableEndpoint },
  { method: 'DELETE', pattern: '/_fake/webhook_endpoints/:id', handler: deleteEndpoint },
  { method: 'POST', pattern: '/_fake/keys/revoke', handler: revokeKey },
  ...money.ROUTES,
];

module.exports = { ROUTES, insertObjects };
