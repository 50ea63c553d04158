#!/usr/bin/env node
// gen_stripe_vectors.js - Stripe-Signature test cases made by Stripe's own
// Node library, so the C verifier is proven compatible with Stripe.
//
//   node tests/signature/gen_stripe_vectors.js OUT_DIR
//
// Writes OUT_DIR/stripe-<payload>-<variant>.case (format: README.md in this
// directory), after removing the *.case files already there. Secrets are
// fresh random whsec_ strings and `now` is the current time on every run
// (SIGNATURE_VECTORS_NOW=<unix seconds> pins it to replay a run). Every
// header comes from stripe.webhooks.generateTestHeaderString(); every case
// is then checked with stripe.webhooks.constructEvent() and the script
// exits non-zero if the library disagrees with the expected result.
//
// One deliberate difference: Stripe's library only rejects timestamps that
// are too old; stripelink also rejects ones more than the tolerance in the
// future. The "future-301s" variant records that (Stripe accepts, we refuse).
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const Stripe = require('stripe'); // tests/node_modules/stripe

const TOLERANCE = 300;
const webhooks = Stripe.webhooks;

function usage() {
  process.stderr.write('usage: node gen_stripe_vectors.js OUT_DIR\n');
  process.exit(2);
}

function randomSecret() {
  return 'whsec_' + crypto.randomBytes(24).toString('base64url');
}

function eventJson(type, object, extra) {
  const ev = {
    id: 'evt_' + crypto.randomBytes(12).toString('hex'),
    object: 'event',
    api_version: '2024-06-20',
    created: 1700000000,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    ...extra,
  };
  return JSON.stringify(ev, null, 2); // Stripe sends 2-space indented JSON
}

// Payloads: name -> the exact string Stripe would put on the wire.
function payloads() {
  const lines = [];
  for (let i = 0; i < 1000; i++) { // ~190 KB on the wire
    lines.push({
      id: `il_${i.toString(36).padStart(8, '0')}`,
      object: 'line_item',
      amount: 100 + i,
      currency: 'eur',
      description: `Line ${i}: Pflaumenmus für Jürgen — ${'x'.repeat(i % 40)}`,
    });
  }
  return {
    customer: eventJson('customer.created', {
      id: 'cus_NffrFeUfNV2Hib', object: 'customer',
      email: 'jenny.rosen@example.com', name: 'Jenny Rosen',
      metadata: {},
    }),
    unicode: eventJson('customer.updated', {
      id: 'cus_unicode', object: 'customer',
      email: 'zoë.ångström@example.com',
      name: 'Zoë Ångström 東京 مرحبا 🎉 e\u0301',
      description: 'line\u2028separator, quote " backslash \\ tab \t nul \u0000',
      metadata: { 'ключ': 'значение', emoji: '👩‍👩‍👧‍👦' },
    }),
    compact: JSON.stringify({ id: 'evt_compact', object: 'event', type: 'charge.succeeded', data: { object: { id: 'ch_1', amount: 2000 } } }),
    crlf: '{\r\n  "id": "evt_crlf",\r\n  "object": "event",\r\n  "type": "invoice.paid"\r\n}\r\n',
    empty_object: '{}',
    large: eventJson('invoice.paid', {
      id: 'in_large', object: 'invoice', customer: 'cus_large',
      lines: { object: 'list', data: lines, has_more: false },
    }),
  };
}

// Flips one ASCII byte near the middle of the body, keeping it UTF-8.
function tamper(buf) {
  const out = Buffer.from(buf);
  for (let i = Math.floor(out.length / 2); i < out.length; i++) {
    if (out[i] >= 0x21 && out[i] < 0x7f) {
      out[i] ^= 0x01;
      return out;
    }
  }
  throw new Error('nothing to tamper with');
}

// The variants of one payload. `stripe` is what Stripe's library must say
// ("accept" / "reject"); `expect` is what stripe_sig_verify must return.
function variants(body, now, current, previous, other) {
  const gen = (secret, timestamp, scheme) => webhooks.generateTestHeaderString({
    payload: body.toString('utf8'), secret, timestamp, ...(scheme ? { scheme } : {}),
  });
  const v1Of = (header) => header.split(',').find((i) => i.startsWith('v1=')).slice(3);
  const fresh = gen(current, now);
  return [
    { name: 'valid', secrets: [current], header: fresh, expect: 'ok', stripe: 'accept', builder: true },
    { name: 'age-300s', secrets: [current], header: gen(current, now - 300), expect: 'ok', stripe: 'accept', builder: true },
    { name: 'age-301s', secrets: [current], header: gen(current, now - 301), expect: 'auth', stripe: 'reject' },
    { name: 'future-301s', secrets: [current], header: gen(current, now + 301), expect: 'auth', stripe: 'accept' },
    { name: 'wrong-secret', secrets: [current], header: gen(other, now), expect: 'auth', stripe: 'reject' },
    { name: 'tampered', secrets: [current], header: fresh, body: tamper(body), expect: 'auth', stripe: 'reject' },
    { name: 'rotation-previous', secrets: [current], previous: [previous], header: gen(previous, now), expect: 'ok', stripe: 'accept' },
    { name: 'rotation-expired', secrets: [current], header: gen(previous, now), expect: 'auth', stripe: 'reject' },
    { name: 'rolling-two-v1-and-v0', secrets: [current],
      header: `t=${now},v1=${v1Of(gen(previous, now))},v1=${v1Of(fresh)},v0=${v1Of(gen(other, now))}`,
      expect: 'ok', stripe: 'accept' },
    { name: 'only-v0', secrets: [current], header: gen(current, now, 'v0'), expect: 'invalid', stripe: 'reject' },
    { name: 'missing-t', secrets: [current], header: fresh.split(',').filter((i) => !i.startsWith('t=')).join(','),
      expect: 'invalid', stripe: 'reject' },
  ];
}

function stripeAccepts(body, header, secrets, now) {
  return secrets.some((secret) => {
    try {
      webhooks.constructEvent(body, header, secret, TOLERANCE, undefined, now * 1000);
      return true;
    } catch (e) {
      if (e instanceof Stripe.errors.StripeSignatureVerificationError)
        return false;
      throw e;
    }
  });
}

function caseText(c, now, version) {
  let t = `# generated by gen_stripe_vectors.js with stripe-node ${version}\n`;
  t += `# ${c.payloadName}/${c.name}: Stripe's library ${c.stripe}s this\n`;
  for (const s of c.secrets) t += `secret: ${s}\n`;
  for (const s of c.previous || []) t += `previous_secret: ${s}\n`;
  t += `now: ${now}\ntolerance: ${TOLERANCE}\n`;
  t += `header: ${c.header}\n`;
  t += `body_hex: ${c.body.toString('hex')}\n`;
  t += `expect: ${c.expect}\n`;
  if (c.builder) t += 'check_builder: yes\n';
  return t;
}

function main() {
  const outDir = process.argv[2];
  if (!outDir || process.argv.length > 3) usage();
  const now = process.env.SIGNATURE_VECTORS_NOW
    ? Number.parseInt(process.env.SIGNATURE_VECTORS_NOW, 10)
    : Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(now) || now < 1000) throw new Error('bad SIGNATURE_VECTORS_NOW');
  const version = Stripe.PACKAGE_VERSION || require('stripe/package.json').version;
  const current = randomSecret();
  const previous = randomSecret();
  const other = randomSecret();

  fs.mkdirSync(outDir, { recursive: true });
  for (const f of fs.readdirSync(outDir))
    if (f.endsWith('.case')) fs.unlinkSync(path.join(outDir, f));

  let written = 0;
  const problems = [];
  for (const [payloadName, text] of Object.entries(payloads())) {
    const body = Buffer.from(text, 'utf8');
    for (const v of variants(body, now, current, previous, other)) {
      const c = { ...v, payloadName, body: v.body || body };
      const all = [...c.secrets, ...(c.previous || [])];
      const accepted = stripeAccepts(c.body, c.header, all, now);
      if (accepted !== (c.stripe === 'accept'))
        problems.push(`${payloadName}/${c.name}: stripe-node ${accepted ? 'accepted' : 'rejected'}, expected it to ${c.stripe}`);
      if (c.builder && c.header !== webhooks.generateTestHeaderString({ payload: text, secret: all[0], timestamp: Number(c.header.slice(2, c.header.indexOf(','))) }))
        problems.push(`${payloadName}/${c.name}: header is not reproducible`);
      const file = path.join(outDir, `stripe-${payloadName.replace(/_/g, '-')}-${c.name}.case`);
      fs.writeFileSync(file, caseText(c, now, version));
      written++;
    }
  }
  if (problems.length) {
    process.stderr.write('gen_stripe_vectors: Stripe\'s library disagrees:\n  ' + problems.join('\n  ') + '\n');
    process.exit(1);
  }
  process.stdout.write(`gen_stripe_vectors: wrote ${written} cases to ${outDir} (stripe-node ${version}, now=${now})\n`);
}

main();
