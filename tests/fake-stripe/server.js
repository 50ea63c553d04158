'use strict';
// A local fake of Stripe's HTTP API for stripelink's integration tests and benchmarks.
// Node standard library only; listens on 127.0.0.1. See README.md.
//
//   node tests/fake-stripe/server.js [--port N] [--fixtures PATH] [--account-name NAME]
//   const { start } = require('./tests/fake-stripe/server'); const fake = await start({ port: 0 });

const http = require('http');
const { parseForm } = require('./form');
const errors = require('./errors');
const { authenticate, authorize } = require('./keys');
const { Catalog } = require('./objects');
const { FakeState } = require('./state');
const { faultResponse } = require('./faults');
const api = require('./api');
const control = require('./control');

const DEFAULT_STRIPE_VERSION = '2024-06-20';
const MAX_BODY_BYTES = 64 * 1024 * 1024;

// ---- routing ---------------------------------------------------------------------------

// Turn '/v1/customers/:id' into a regex; returns the route with `regex` and `names`.
function compileRoute(route) {
  const names = [];
  const source = route.pattern.replace(/:([a-z_]+)/g, (_, name) => {
    names.push(name);
    return '([^/]+)';
  });
  return { ...route, regex: new RegExp(`^${source}$`), names };
}

const API_ROUTES = api.ROUTES.map(compileRoute);
const CONTROL_ROUTES = control.ROUTES.map(compileRoute);

// {route, params} for method+path, or null.
function matchRoute(routes, method, path) {
  for (const route of routes) {
    if (route.method !== method) continue;
    const m = route.regex.exec(path);
    if (!m) continue;
    const params = {};
    route.names.forEach((name, i) => {
      params[name] = decodeURIComponent(m[i + 1]);
    });
    return { route, params };
  }
  return null;
}

// ---- request/response plumbing ---------------------------------------------------------

function splitUrl(url) {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, queryString: '' } : { path: url.slice(0, q), queryString: url.slice(q + 1) };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length ? Buffer.concat(chunks).toString('utf8') : ''));
    req.on('error', reject);
  });
}

// body: a string or a Buffer.
function send(res, { status, headers, body }) {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  res.writeHead(status, { ...headers, 'Content-Length': buf.length });
  res.end(buf);
}

// Announce the full length, send half of the body, then cut the connection.
function sendPartial(req, res, { status, headers, body }) {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  res.writeHead(status, { ...headers, 'Content-Length': buf.length });
  res.write(buf.subarray(0, Math.max(1, buf.length >> 1)), () => req.socket.destroy());
}

function sendJson(res, status, value) {
  send(res, { status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- /v1 -------------------------------------------------------------------------------

function toResponse(run) {
  try {
    return { headers: {}, ...run() };
  } catch (err) {
    if (err instanceof errors.StripeError) return { status: err.status, headers: err.headers, body: err.body() };
    throw err;
  }
}

// Stripe's idempotency: the same key (per API key) replays the saved answer; reusing it for
// a different request throws a 400 idempotency_error. 5xx answers are not saved.
function idempotent(state, req, auth, path, rawBody, execute) {
  const key = req.headers['idempotency-key'];
  if (!key) return execute();
  const slot = `${auth.key}\n${key}`;
  const saved = state.idempotency.get(slot);
  if (saved && (saved.path !== path || saved.body !== rawBody)) {
    throw new errors.StripeError(400, {
      type: 'idempotency_error',
      message:
        'Keys for idempotent requests can only be used with the same parameters they were first used with. ' +
        `Try using a key other than '${key}' if you meant to execute a different request.`,
    });
  }
  if (saved) return { ...saved.response, headers: { ...saved.response.headers, 'Idempotent-Replayed': 'true' } };
  const response = execute();
  if (response.status < 500) state.idempotency.set(slot, { path, body: rawBody, response });
  return response;
}

// The answer to one /v1 request (auth, route, permissions, parameters, handler).
function answer(state, req, path, params, rawBody) {
  return toResponse(() => {
    const auth = authenticate(req.headers.authorization, state.revokedKeys);
    const match = matchRoute(API_ROUTES, req.method, path);
    if (!match) throw errors.unrecognizedUrl(req.method, path);
    authorize(auth, match.route.perm, req.method, state.accountFor(auth.key).id);
    api.checkParams(match.route, params);
    const execute = () => toResponse(() => match.route.handler({ state, auth, form: params, params: match.params }));
    return req.method === 'POST' ? idempotent(state, req, auth, path, rawBody, execute) : execute();
  });
}

let requestCounter = 0;

function decorate(req, response) {
  const headers = {
    'Content-Type': 'application/json',
    'Request-Id': `req_${(++requestCounter).toString(36).padStart(14, '0')}`,
    'Stripe-Version': req.headers['stripe-version'] || DEFAULT_STRIPE_VERSION,
    ...response.headers,
  };
  if (req.headers['idempotency-key']) headers['Idempotency-Key'] = req.headers['idempotency-key'];
  return { ...response, headers };
}

async function handleApi(state, req, res, path, queryString, rawBody) {
  const query = parseForm(queryString);
  const form = parseForm(rawBody);
  const entry = state.record({ t_ms: Date.now(), method: req.method, path, query, headers: req.headers, body: rawBody, form });
  if (state.faults.unreachable) {
    req.socket.destroy();
    return;
  }
  const rule = state.faults.take(req.method, path);
  if (rule && rule.delay_ms > 0) await sleep(rule.delay_ms);
  const raw = rule && rule.status !== null ? faultResponse(rule) : answer(state, req, path, { ...query, ...form }, rawBody);
  const response = decorate(req, raw);
  // Stripe's Date, from the fake's own clock (POST /_fake/clock shifts it or leaves it out)
  res.sendDate = false;
  if (state.clock.send_date) response.headers.Date = new Date(state.nowMs()).toUTCString();
  if (entry) entry.status = response.status;
  if (rule && rule.drop) sendPartial(req, res, response);
  else send(res, response);
}

// ---- /_fake ----------------------------------------------------------------------------

function handleControl(state, req, res, path, queryString, rawBody) {
  const match = matchRoute(CONTROL_ROUTES, req.method, path);
  if (!match) {
    sendJson(res, 404, { error: `no control route ${req.method} ${path}` });
    return;
  }
  let result;
  try {
    const body = rawBody.trim() ? JSON.parse(rawBody) : {};
    const query = Object.fromEntries(new URLSearchParams(queryString));
    result = match.route.handler({ state, body, query, params: match.params });
  } catch (err) {
    sendJson(res, 400, { error: err.message });
    return;
  }
  sendJson(res, 200, result);
}

// ---- server ----------------------------------------------------------------------------

function createServer(state) {
  return http.createServer((req, res) => {
    const { path, queryString } = splitUrl(req.url);
    readBody(req)
      .then((body) =>
        path.startsWith('/_fake/')
          ? handleControl(state, req, res, path, queryString, body)
          : handleApi(state, req, res, path, queryString, body),
      )
      .catch((err) => {
        process.stderr.write(`fake-stripe: ${req.method} ${req.url}: ${err.stack || err}\n`);
        if (!res.headersSent) sendJson(res, 500, { error: { type: 'api_error', message: String(err.message) } });
        else req.socket.destroy();
      });
  });
}

// Start a fake on 127.0.0.1. options: {port = 0, fixtures, accountName}.
// Resolves to {port, url, state, close()}; close() resolves once every connection is gone.
async function start({ port = 0, fixtures, accountName } = {}) {
  const state = new FakeState(new Catalog(fixtures), accountName === undefined ? {} : { name: accountName });
  const server = createServer(state);
  server.keepAliveTimeout = 60 * 1000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const bound = server.address().port;
      resolve({
        port: bound,
        url: `http://127.0.0.1:${bound}`,
        state,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (flag === '--port') options.port = Number(value());
    else if (flag === '--fixtures') options.fixtures = value();
    else if (flag === '--account-name') options.accountName = value();
    else throw new Error(`unknown argument: ${argv[i]}`);
  }
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port < 65536)) {
    throw new Error('--port must be an integer 0..65535');
  }
  return options;
}

async function main() {
  let fake;
  try {
    fake = await start(parseArgs(process.argv.slice(2)));
  } catch (err) {
    process.stderr.write(`fake-stripe: ${err.message}\n`);
    process.exit(2);
  }
  process.stdout.write(`fake-stripe listening on ${fake.port}\n`);
  const stop = () => fake.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();

module.exports = { start };
