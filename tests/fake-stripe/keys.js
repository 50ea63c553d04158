'use strict';
// API key rules of the fake (see README "Keys").
//   valid:      sk_test_*, sk_live_*, rk_test_*, rk_live_* (no whitespace, something after the prefix)
//   rejected:   anything else, or a key containing "invalid" or "revoked" -> 401
//   restricted: an rk_ key containing a "no<perm>" token lacks that permission -> 403
//   livemode:   follows the prefix (_live_ -> true)

const { StripeError } = require('./errors');

const KEY_RE = /^(sk|rk)_(test|live)_\S+$/;
const PREFIX_RE = /^[a-z]{2}_(test|live)_/;

const NO_KEY_MESSAGE =
  'You did not provide an API key. You need to provide your API key in the Authorization header, ' +
  "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See " +
  'https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.';

// Permissions a restricted key can lack: token in the key -> Stripe's permission names.
const PERMISSIONS = {
  webhook: { token: 'noweb', read: 'rak_webhook_read', write: 'rak_webhook_write' },
  account: { token: 'noacct', read: 'rak_accounts_kyc_basic_read', write: 'rak_accounts_kyc_basic_write' },
  customer: { token: 'nocustomer', read: 'rak_customer_read', write: 'rak_customer_write' },
  charge: { token: 'nocharge', read: 'rak_charge_read', write: 'rak_charge_write' },
  subscription: { token: 'nosubscription', read: 'rak_subscription_read', write: 'rak_subscription_write' },
  invoice: { token: 'noinvoice', read: 'rak_invoice_read', write: 'rak_invoice_write' },
  checkout_session: { token: 'nocheckout', read: 'rak_checkout_session_read', write: 'rak_checkout_session_write' },
  event: { token: 'noevent', read: 'rak_event_read', write: 'rak_event_write' },
  refund: { token: 'norefund', read: 'rak_refund_read', write: 'rak_refund_write' },
  dispute: { token: 'nodispute', read: 'rak_dispute_read', write: 'rak_dispute_write' },
};

// The key from `Authorization: Bearer <key>` or Basic auth (`<key>:`), or null.
function keyFromAuthorization(header) {
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space < 0) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return value || null;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return (colon < 0 ? decoded : decoded.slice(0, colon)) || null;
  }
  return null;
}

// Stripe's masking: keep the `xx_mode_` prefix and the last 4 characters, one '*' per hidden one.
function maskKey(key) {
  const prefix = (PREFIX_RE.exec(key) || [''])[0];
  const tail = key.length - prefix.length > 4 ? key.slice(-4) : '';
  return prefix + '*'.repeat(key.length - prefix.length - tail.length) + tail;
}

function unauthorized(message) {
  return new StripeError(401, { type: 'invalid_request_error', message }, {
    'WWW-Authenticate': 'Basic realm="Stripe"',
  });
}

// Validate the request's key. Returns {key, livemode, restricted}; throws a 401 StripeError.
// revoked: a Set of keys revoked through the control API (/_fake/keys/revoke).
function authenticate(authorizationHeader, revoked) {
  const key = keyFromAuthorization(authorizationHeader);
  if (!key) throw unauthorized(NO_KEY_MESSAGE);
  if (!KEY_RE.test(key) || /invalid|revoked/.test(key) || (revoked && revoked.has(key))) {
    throw unauthorized(`Invalid API Key provided: ${maskKey(key)}`);
  }
  return { key, livemode: key.includes('_live_'), restricted: key.startsWith('rk_') };
}

// Throw Stripe's 403 when a restricted key lacks `permission` (a PERMISSIONS name) for `method`.
function authorize(auth, permission, method, accountId) {
  const perm = PERMISSIONS[permission];
  if (!perm || !auth.restricted || !auth.key.includes(perm.token)) return;
  const needed = method === 'GET' ? perm.read : perm.write;
  throw new StripeError(403, {
    type: 'invalid_request_error',
    message:
      `The provided key '${maskKey(auth.key)}' does not have the required permissions for this ` +
      `endpoint on account '${accountId}'. Having the '${needed}' permission would allow this ` +
      'request to continue.',
  });
}

module.exports = { authenticate, authorize, maskKey, keyFromAuthorization, PERMISSIONS };
