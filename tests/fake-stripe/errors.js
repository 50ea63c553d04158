'use strict';
// Errors in Stripe's wire shape: {"error":{"code","doc_url","message","param","type"}}.
// Handlers throw StripeError; the dispatcher turns it into the HTTP answer.

class StripeError extends Error {
  // status: HTTP status; fields: {type, message, code?, param?}; headers: extra response headers.
  constructor(status, fields, headers = {}) {
    super(fields.message);
    this.status = status;
    this.fields = fields;
    this.headers = headers;
  }

  body() {
    return errorBody(this.fields);
  }
}

// JSON text of an error object; omits code/param when absent, as Stripe does.
function errorBody({ type, message, code, param, extra }) {
  const error = {};
  if (code) {
    error.code = code;
    error.doc_url = `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
  }
  error.message = message;
  if (param) error.param = param;
  error.type = type;
  if (extra) Object.assign(error, extra);
  return JSON.stringify({ error });
}

function invalidRequest(message, { param, code, status = 400 } = {}) {
  return new StripeError(status, { type: 'invalid_request_error', message, code, param });
}

// 404 for GET /v1/<things>/<id>; 400 when the id came in a parameter (starting_after...).
function noSuch(label, id, param = 'id') {
  const status = param === 'id' ? 404 : 400;
  return invalidRequest(`No such ${label}: '${id}'`, { code: 'resource_missing', param, status });
}

function unknownParameter(name) {
  return invalidRequest(`Received unknown parameter: ${name}`, { code: 'parameter_unknown', param: name });
}

function missingParameter(name) {
  return invalidRequest(`Missing required param: ${name}.`, { code: 'parameter_missing', param: name });
}

function invalidInteger(name, value) {
  return invalidRequest(`Invalid integer: ${value}`, { code: 'parameter_invalid_integer', param: name });
}

function unrecognizedUrl(method, path) {
  return invalidRequest(
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs ` +
      'or we can help at https://support.stripe.com/.',
    { status: 404 },
  );
}

// Default bodies for injected faults, by HTTP status.
function faultFields(status) {
  if (status === 429) {
    return {
      type: 'invalid_request_error',
      code: 'rate_limit',
      message:
        'Request rate limit exceeded. You can learn more about rate limits here ' +
        'https://stripe.com/docs/rate-limits.',
    };
  }
  if (status === 409) {
    return {
      type: 'invalid_request_error',
      code: 'lock_timeout',
      message:
        'This object cannot be accessed right now because another API request or Stripe ' +
        'process is currently accessing it. If you see this error intermittently, retry the request.',
    };
  }
  if (status === 401) {
    return { type: 'invalid_request_error', message: 'Invalid API Key provided: (fault injection)' };
  }
  if (status >= 500) {
    return { type: 'api_error', message: 'An unknown error occurred' };
  }
  return { type: 'invalid_request_error', message: `Injected fault (HTTP ${status})` };
}

module.exports = {
  StripeError,
  errorBody,
  invalidRequest,
  noSuch,
  unknownParameter,
  missingParameter,
  invalidInteger,
  unrecognizedUrl,
  faultFields,
};
