'use strict';
// Fault injection for /v1 requests (POST /_fake/faults). A rule fires for the next `count`
// requests matching its method and path (after letting `skip` matches through); the first
// matching rule with fires left wins.

const { errorBody, faultFields } = require('./errors');

const RULE_DEFAULTS = {
  path: '*', // exact path, or a prefix ending in '*' ("/v1/webhook_endpoints*")
  method: '*',
  status: null, // HTTP status to answer instead of running the request
  count: 1, // how many times it fires; -1 = forever
  skip: 0, // matching requests to let through before firing
  should_retry: null, // Stripe-Should-Retry header: true/false, or null for none
  retry_after: null, // Retry-After header (seconds), or null
  delay_ms: 0, // wait before answering
  drop: false, // send the headers and half of the body, then destroy the socket
  error: null, // fields merged into the error body: {type, message, code, param}
  raw_body: null, // send this text verbatim instead of a Stripe error body
  content_type: null,
};

function normaliseRule(input) {
  const rule = { ...RULE_DEFAULTS, ...input, fired: 0 };
  rule.method = String(rule.method).toUpperCase();
  if (rule.status !== null && !(Number.isInteger(rule.status) && rule.status >= 100 && rule.status < 600)) {
    throw new Error(`rule.status must be an HTTP status, got ${JSON.stringify(rule.status)}`);
  }
  if (!Number.isInteger(rule.count)) throw new Error('rule.count must be an integer (-1 = forever)');
  return rule;
}

function pathMatches(pattern, path) {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return path.startsWith(pattern.slice(0, -1));
  return pattern === path;
}

class Faults {
  constructor() {
    this.rules = [];
    this.unreachable = false;
  }

  // Apply a POST /_fake/faults body: `rules` replaces the rule list (or extends it with
  // append:true); `unreachable` toggles dropping every /v1 request. Throws on a bad rule.
  configure(body) {
    if (body.rules !== undefined) {
      if (!Array.isArray(body.rules)) throw new Error('rules must be an array');
      const rules = body.rules.map(normaliseRule);
      this.rules = body.append ? this.rules.concat(rules) : rules;
    }
    if (body.unreachable !== undefined) this.unreachable = Boolean(body.unreachable);
  }

  clear() {
    this.rules = [];
    this.unreachable = false;
  }

  // The rule that fires for this request (its counters updated), or null.
  take(method, path) {
    for (const rule of this.rules) {
      if (rule.count !== -1 && rule.fired >= rule.count) continue;
      if (rule.method !== '*' && rule.method !== method) continue;
      if (!pathMatches(rule.path, path)) continue;
      if (rule.skip > 0) {
        rule.skip--;
        continue;
      }
      rule.fired++;
      return rule;
    }
    return null;
  }

  snapshot() {
    return { unreachable: this.unreachable, rules: this.rules.map((r) => ({ ...r })) };
  }
}

// The {status, headers, body} a status rule answers with.
function faultResponse(rule) {
  const headers = {};
  if (rule.should_retry !== null) headers['Stripe-Should-Retry'] = String(Boolean(rule.should_retry));
  if (rule.retry_after !== null) headers['Retry-After'] = String(rule.retry_after);
  if (rule.content_type) headers['Content-Type'] = rule.content_type;
  const body = rule.raw_body !== null ? String(rule.raw_body) : errorBody({ ...faultFields(rule.status), ...rule.error });
  return { status: rule.status, headers, body };
}

module.exports = { Faults, faultResponse };
