'use strict';
// The /v1 routes: account, list/retrieve of the five synced resources (and of refunds and
// disputes), webhook endpoints.
// Each route: {method, pattern, perm (keys.js PERMISSIONS name), params (accepted top-level
// parameters), handler(ctx) -> {status, body}}. Handlers throw StripeError for Stripe errors.

const crypto = require('crypto');
const errors = require('./errors');
const { StoredRecord } = require('./objects');
const events = require('./events');

const MAX_WEBHOOK_ENDPOINTS = 16;
const LIST_PARAMS = ['limit', 'starting_after', 'ending_before', 'created', 'expand'];
const CREATED_BOUNDS = ['gt', 'gte', 'lt', 'lte'];
const SUBSCRIPTION_STATUSES = [
  'active', 'all', 'canceled', 'ended', 'incomplete', 'incomplete_expired', 'past_due', 'paused', 'trialing', 'unpaid',
];
const EVENT_TYPE_RE = /^(\*|[a-z_]+(\.[a-z_]+)+)$/;

function ok(body) {
  return { status: 200, body };
}

// ---- parameter parsing ------------------------------------------------------------------

function parseInteger(value, name) {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) throw errors.invalidInteger(name, value);
  return Number(value);
}

function parseLimit(value) {
  if (value === undefined) return 10;
  const limit = parseInteger(value, 'limit');
  if (limit < 1) throw errors.invalidRequest('This value must be greater than or equal to 1.', { param: 'limit' });
  if (limit > 100) throw errors.invalidRequest('This value must be less than or equal to 100.', { param: 'limit' });
  return limit;
}

// created=<ts> or created[gt|gte|lt|lte]=<ts> -> {createdMin, createdMax} (inclusive bounds).
function parseCreated(value) {
  if (value === undefined) return {};
  if (typeof value === 'string') {
    const at = parseInteger(value, 'created');
    return { createdMin: at, createdMax: at };
  }
  const out = {};
  for (const [op, raw] of Object.entries(value)) {
    if (!CREATED_BOUNDS.includes(op)) throw errors.unknownParameter(`created[${op}]`);
    const ts = parseInteger(raw, `created[${op}]`);
    if (op === 'gt' || op === 'gte') out.createdMin = Math.max(out.createdMin ?? -Infinity, op === 'gt' ? ts + 1 : ts);
    else out.createdMax = Math.min(out.createdMax ?? Infinity, op === 'lt' ? ts - 1 : ts);
  }
  return out;
}

function asList(value) {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

// Which expansions of `customer` are asked for; anything else is refused like Stripe does.
function wantsCustomer(expand, prefix) {
  let want = false;
  for (const path of asList(expand)) {
    if (path === `${prefix}customer`) want = true;
    else throw errors.invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
  }
  return want;
}

function noExpansions(expand) {
  const [first] = asList(expand);
  if (first !== undefined) throw errors.invalidRequest(`This property cannot be expanded (${first}).`, { param: 'expand' });
}

function cursor(value, name) {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw errors.invalidRequest(`Invalid ${name}: must be an object id`, { param: name });
  return value;
}

function pageQuery(form) {
  const startingAfter = cursor(form.starting_after, 'starting_after');
  const endingBefore = cursor(form.ending_before, 'ending_before');
  if (startingAfter !== undefined && endingBefore !== undefined) {
    throw errors.invalidRequest('You may only specify one of these parameters: ending_before, starting_after.', {
      param: 'ending_before',
    });
  }
  return { limit: parseLimit(form.limit), startingAfter, endingBefore, ...parseCreated(form.created) };
}

const LIST_HEAD = Buffer.from('{"object":"list","data":[');
const COMMA = Buffer.from(',');

// A list answer as a Buffer, concatenated from each item's (cached) encoding.
// append(parts, item) pushes one item's Buffers.
function listBody(url, items, hasMore, append) {
  const parts = [LIST_HEAD];
  items.forEach((item, i) => {
    if (i > 0) parts.push(COMMA);
    append(parts, item);
  });
  parts.push(Buffer.from(`],"has_more":${hasMore},"url":${JSON.stringify(url)}}`));
  return Buffer.concat(parts);
}

function andAll(predicates) {
  if (predicates.length === 0) return undefined;
  if (predicates.length === 1) return predicates[0];
  return (r) => predicates.every((p) => p(r));
}

// ---- the five synced resources ---------------------------------------------------------

const equals = (field) => (value) => (r) => r.field(field) === value;

function subscriptionStatus(value) {
  if (value === undefined) return (r) => r.field('status') !== 'canceled';
  if (!SUBSCRIPTION_STATUSES.includes(value)) {
    throw errors.invalidRequest(`Invalid status: must be one of ${SUBSCRIPTION_STATUSES.join(', ')}`, { param: 'status' });
  }
  if (value === 'all') return null;
  if (value === 'ended') return (r) => ['canceled', 'incomplete_expired'].includes(r.field('status'));
  return equals('status')(value);
}

// filters: parameter -> (value) -> predicate; `always` filters run even when the parameter is absent.
const RESOURCES = [
  { name: 'customers', url: '/v1/customers', perm: 'customer', filters: { email: equals('email') } },
  { name: 'charges', url: '/v1/charges', perm: 'charge', filters: { customer: equals('customer'), payment_intent: equals('payment_intent') } },
  {
    name: 'subscriptions',
    url: '/v1/subscriptions',
    perm: 'subscription',
    filters: { customer: equals('customer'), status: subscriptionStatus },
    always: ['status'],
  },
  { name: 'invoices', url: '/v1/invoices', perm: 'invoice', filters: { customer: equals('customer'), status: equals('status') } },
  { name: 'refunds', url: '/v1/refunds', perm: 'refund', filters: { charge: equals('charge'), payment_intent: equals('payment_intent') } },
  { name: 'disputes', url: '/v1/disputes', perm: 'dispute', filters: { charge: equals('charge'), payment_intent: equals('payment_intent') } },
  {
    name: 'checkout_sessions',
    url: '/v1/checkout/sessions',
    perm: 'checkout_session',
    filters: {
      customer: equals('customer'),
      status: equals('status'),
      payment_intent: equals('payment_intent'),
      subscription: equals('subscription'),
    },
  },
];

function listHandler(resource) {
  return ({ state, form }) => {
    const query = pageQuery(form);
    const predicates = [];
    for (const [param, make] of Object.entries(resource.filters)) {
      if (form[param] === undefined && !(resource.always || []).includes(param)) continue;
      const p = make(form[param]);
      if (p) predicates.push(p);
    }
    const expand = wantsCustomer(form.expand, 'data.') ? (id) => state.customerBuffer(id) : undefined;
    const { items, hasMore } = state.collections[resource.name].page({ ...query, filter: andAll(predicates) });
    return ok(listBody(resource.url, items, hasMore, (parts, r) => state.catalog.appendJson(parts, r, expand)));
  };
}

function retrieveHandler(resource) {
  return ({ state, form, params }) => {
    const collection = state.collections[resource.name];
    const record = collection.get(params.id);
    if (!record) throw errors.noSuch(collection.label, params.id);
    const expand = wantsCustomer(form.expand, '') ? (id) => state.customerBuffer(id) : undefined;
    return ok(state.catalog.buffer(record, expand));
  };
}

function resourceRoutes(resource) {
  return [
    {
      method: 'GET',
      pattern: resource.url,
      perm: resource.perm,
      params: [...LIST_PARAMS, ...Object.keys(resource.filters)],
      handler: listHandler(resource),
    },
    { method: 'GET', pattern: `${resource.url}/:id`, perm: resource.perm, params: ['expand'], handler: retrieveHandler(resource) },
  ];
}

// ---- webhook endpoints -----------------------------------------------------------------

function isLocalHost(hostname) {
  return /^(localhost|127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|\[::1\]|0\.0\.0\.0)/.test(hostname);
}

function validUrl(state, value) {
  if (value === undefined || value === '') throw errors.missingParameter('url');
  let url;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol)) {
    throw errors.invalidRequest(`Invalid URL: ${value}`, { param: 'url', code: 'url_invalid' });
  }
  if (state.config.public_urls_only && isLocalHost(url.hostname)) {
    throw errors.invalidRequest(
      'Invalid URL: URL must be publicly accessible. Consider using a tool like the Stripe CLI to test webhooks locally: https://github.com/stripe/stripe-cli',
      { param: 'url', code: 'url_invalid' },
    );
  }
  return value;
}

function validEvents(value) {
  if (value === undefined || value === '') throw errors.missingParameter('enabled_events');
  if (!Array.isArray(value)) throw errors.invalidRequest('Invalid array', { param: 'enabled_events' });
  if (value.length === 0) throw errors.missingParameter('enabled_events');
  value.forEach((event, i) => {
    if (typeof event !== 'string' || !EVENT_TYPE_RE.test(event)) {
      throw errors.invalidRequest(`Invalid enabled_events[${i}]: must be a valid event type, got '${event}'`, {
        param: `enabled_events[${i}]`,
      });
    }
  });
  return value;
}

function validString(value, name) {
  if (typeof value !== 'string') throw errors.invalidRequest(`Invalid string: ${JSON.stringify(value)}`, { param: name });
  return value;
}

function validBoolean(value, name) {
  if (value !== 'true' && value !== 'false') throw errors.invalidRequest(`Invalid boolean: ${value}`, { param: name });
  return value === 'true';
}

// Merge metadata like Stripe: `metadata[k]=` unsets k, `metadata=` clears everything.
function mergeMetadata(current, update) {
  if (update === undefined) return current;
  if (update === '') return {};
  if (typeof update !== 'object' || Array.isArray(update)) {
    throw errors.invalidRequest('Invalid metadata: must be an object', { param: 'metadata' });
  }
  const out = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (typeof v !== 'string') throw errors.invalidRequest(`Invalid metadata[${k}]`, { param: `metadata[${k}]` });
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

// The caller's endpoint `id` (same livemode as its key) or a 404.
function ownEndpoint(state, auth, id) {
  const record = state.collections.webhook_endpoints.get(id);
  if (!record || record.obj.livemode !== auth.livemode) throw errors.noSuch('webhook endpoint', id);
  return record;
}

function sameMode(auth) {
  return (r) => r.obj.livemode === auth.livemode;
}

function listEndpoints({ state, form, auth }) {
  const query = pageQuery(form);
  noExpansions(form.expand);
  const { items, hasMore } = state.collections.webhook_endpoints.page({ ...query, filter: sameMode(auth) });
  return ok(listBody('/v1/webhook_endpoints', items, hasMore, (parts, r) => parts.push(Buffer.from(JSON.stringify(r.obj)))));
}

function createEndpoint({ state, form, auth }) {
  const url = validUrl(state, form.url);
  const events = validEvents(form.enabled_events);
  const endpoints = state.collections.webhook_endpoints;
  let inMode = 0;
  for (const r of endpoints.ordered()) if (r.obj.livemode === auth.livemode) inMode++;
  if (inMode >= MAX_WEBHOOK_ENDPOINTS) {
    const mode = auth.livemode ? 'live' : 'test';
    throw errors.invalidRequest(`You have reached the maximum of ${MAX_WEBHOOK_ENDPOINTS} ${mode} webhook endpoints.`);
  }
  const { id } = state.nextId('we');
  const endpoint = state.catalog.webhookEndpoint({
    api_version: form.api_version === undefined ? null : validString(form.api_version, 'api_version'),
    application: null,
    created: Math.floor(state.nowMs() / 1000),
    description: form.description === undefined || form.description === '' ? null : validString(form.description, 'description'),
    enabled_events: events,
    id,
    livemode: auth.livemode,
    metadata: mergeMetadata({}, form.metadata),
    object: 'webhook_endpoint',
    status: 'enabled',
    url,
  });
  const secret = `whsec_${crypto.randomBytes(16).toString('hex')}`;
  endpoints.put(new StoredRecord(endpoint));
  state.secrets.set(id, secret);
  return ok(JSON.stringify(withSecret(endpoint, secret)));
}

// The endpoint with `secret` placed where Stripe puts it (after `object`).
function withSecret(endpoint, secret) {
  const out = {};
  for (const [k, v] of Object.entries(endpoint)) {
    out[k] = v;
    if (k === 'object') out.secret = secret;
  }
  return out;
}

function retrieveEndpoint({ state, auth, params }) {
  return ok(JSON.stringify(ownEndpoint(state, auth, params.id).obj));
}

function updateEndpoint({ state, auth, params, form }) {
  const record = ownEndpoint(state, auth, params.id);
  const next = { ...record.obj };
  if (form.url !== undefined) next.url = validUrl(state, form.url);
  if (form.enabled_events !== undefined) next.enabled_events = validEvents(form.enabled_events);
  if (form.description !== undefined) next.description = form.description === '' ? null : validString(form.description, 'description');
  if (form.disabled !== undefined) next.status = validBoolean(form.disabled, 'disabled') ? 'disabled' : 'enabled';
  next.metadata = mergeMetadata(record.obj.metadata, form.metadata);
  record.obj = next;
  return ok(JSON.stringify(next));
}

function deleteEndpoint({ state, auth, params }) {
  ownEndpoint(state, auth, params.id);
  state.collections.webhook_endpoints.remove(params.id);
  state.secrets.delete(params.id);
  return ok(JSON.stringify({ id: params.id, object: 'webhook_endpoint', deleted: true }));
}

// ---- events ---------------------------------------------------------------------------

function listEvents({ state, form }) {
  const query = pageQuery(form);
  noExpansions(form.expand);
  const { items, hasMore } = state.collections.events.page({ ...query, filter: events.eventFilter(state, form) });
  return ok(listBody('/v1/events', items, hasMore, (parts, r) => parts.push(Buffer.from(JSON.stringify(r.obj)))));
}

function retrieveEvent({ state, params }) {
  const record = state.collections.events.get(params.id);
  if (!record) throw errors.noSuch('event', params.id);
  return ok(JSON.stringify(record.obj));
}

// ---- the table -------------------------------------------------------------------------

const WEBHOOK_CREATE_PARAMS = ['url', 'enabled_events', 'api_version', 'description', 'metadata', 'connect', 'expand'];
const WEBHOOK_UPDATE_PARAMS = ['url', 'enabled_events', 'description', 'metadata', 'disabled', 'expand'];

const ROUTES = [
  { method: 'GET', pattern: '/v1/account', perm: 'account', params: ['expand'], handler: ({ state, auth }) => ok(state.accountJsonFor(auth.key)) },
  ...RESOURCES.flatMap(resourceRoutes),
  { method: 'GET', pattern: '/v1/webhook_endpoints', perm: 'webhook', params: ['limit', 'starting_after', 'ending_before', 'expand'], handler: listEndpoints },
  { method: 'POST', pattern: '/v1/webhook_endpoints', perm: 'webhook', params: WEBHOOK_CREATE_PARAMS, handler: createEndpoint },
  { method: 'GET', pattern: '/v1/webhook_endpoints/:id', perm: 'webhook', params: ['expand'], handler: retrieveEndpoint },
  { method: 'POST', pattern: '/v1/webhook_endpoints/:id', perm: 'webhook', params: WEBHOOK_UPDATE_PARAMS, handler: updateEndpoint },
  { method: 'DELETE', pattern: '/v1/webhook_endpoints/:id', perm: 'webhook', params: [], handler: deleteEndpoint },
  { method: 'GET', pattern: '/v1/events', perm: 'event', params: events.EVENT_PARAMS, handler: listEvents },
  { method: 'GET', pattern: '/v1/events/:id', perm: 'event', params: ['expand'], handler: retrieveEvent },
];

// Reject parameters the route does not know, as Stripe does (parameter_unknown).
function checkParams(route, form) {
  for (const name of Object.keys(form)) {
    if (!route.params.includes(name)) throw errors.unknownParameter(name);
  }
}

module.exports = { ROUTES, checkParams };
