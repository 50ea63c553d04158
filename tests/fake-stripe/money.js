'use strict';
// A charge's money story, the way Stripe tells it: refunds (created, updated, failed,
// canceled) and disputes (opened, updated, closed). Each control route changes the objects
// (the refund or dispute, and the charge's amount_refunded / refunded / disputed) and records
// the events Stripe would send, in its order, through recordEvents (see events.js). The
// answer holds the objects and the events, so a test can deliver them itself (signed) or let
// a catch-up fetch them (delivered: false). See README "Money".

const { StoredRecord } = require('./objects');
const { recordEvents } = require('./events');

// Refund statuses that are part of a charge's amount_refunded (Stripe: until it fails or is
// canceled).
const REFUND_COUNTS = new Set(['pending', 'requires_action', 'succeeded']);
const REFUND_STATUSES = new Set([...REFUND_COUNTS, 'failed', 'canceled']);
const DISPUTE_OPEN = new Set(['warning_needs_response', 'warning_under_review', 'needs_response', 'under_review']);
const DISPUTE_CLOSED = new Set(['won', 'lost', 'warning_closed', 'prevented']);

function now() {
  return Math.floor(Date.now() / 1000);
}

function clone(v) {
  return JSON.parse(JSON.stringify(v));
}

// The charge `id` as a stored (mutable) record; a generated one is materialised first.
function chargeRecord(state, id) {
  const charges = state.collections.charges;
  const record = charges.get(id);
  if (!record) throw new Error(`no charge ${id}`);
  if (record instanceof StoredRecord) return record;
  const stored = new StoredRecord(JSON.parse(state.catalog.buffer(record).toString('utf8')));
  charges.put(stored);
  return stored;
}

function recordOf(state, collection, id, what) {
  const record = state.collections[collection].get(id);
  if (!record) throw new Error(`no ${what} ${id}`);
  return record;
}

// The charge's refunds, newest first, as Stripe lists them.
function refundsOf(state, chargeId) {
  return state.collections.refunds.ordered().filter((r) => r.obj.charge === chargeId).map((r) => clone(r.obj));
}

// Sets the charge's amount_refunded / refunded from its refunds that count.
function settleCharge(state, record) {
  const refunded = refundsOf(state, record.id)
    .filter((r) => REFUND_COUNTS.has(r.status))
    .reduce((sum, r) => sum + r.amount, 0);
  record.obj = { ...record.obj, amount_refunded: refunded, refunded: refunded >= record.obj.amount && refunded > 0 };
}

// The charge as an event's data.object; with `list`, its refunds embedded (older API
// versions, or expand[]=refunds), else without (newer versions).
function chargeSnapshot(state, record, list) {
  const obj = clone(record.obj);
  if (list) {
    const data = refundsOf(state, record.id);
    obj.refunds = { object: 'list', data, has_more: false, total_count: data.length, url: `/v1/charges/${record.id}/refunds` };
  } else {
    delete obj.refunds;
  }
  return obj;
}

// Records events ({type, object}) as created at body.created (default now), delivered or not
// (body.delivered, default true), in body.api_version; returns them as stored.
function record(state, body, events) {
  const created = body.created === undefined ? now() : body.created;
  const list = events.map((e) => ({ type: e.type, created, api_version: body.api_version, data: { object: e.object } }));
  const { ids } = recordEvents(state, { events: list, delivered: body.delivered === undefined ? true : body.delivered });
  return ids.map((id) => clone(state.collections.events.get(id).obj));
}

// POST /_fake/charges/:id/refunds {amount?, status?, reason?, created?, list?, delivered?,
// api_version?}: a refund of amount (default: what is left) → refund.created, then
// charge.refunded (when it counts).
function createRefund({ state, params, body }) {
  const charge = chargeRecord(state, params.id);
  const status = body.status || 'succeeded';
  if (!REFUND_STATUSES.has(status)) throw new Error(`unknown refund status ${status}`);
  const amount = body.amount === undefined ? charge.obj.amount - (charge.obj.amount_refunded || 0) : body.amount;
  if (!Number.isInteger(amount) || amount <= 0) throw new Error('amount must be a positive integer');
  const refund = {
    ...clone(state.catalog.resources.refund),
    id: body.id || state.nextId('re').id,
    amount,
    charge: charge.id,
    currency: charge.obj.currency,
    created: body.created === undefined ? now() : body.created,
    payment_intent: charge.obj.payment_intent || null,
    reason: body.reason || null,
    status,
  };
  state.collections.refunds.put(new StoredRecord(refund));
  settleCharge(state, charge);
  const events = [{ type: 'refund.created', object: clone(refund) }];
  if (REFUND_COUNTS.has(status)) events.push({ type: 'charge.refunded', object: chargeSnapshot(state, charge, body.list) });
  return { refund, charge: chargeSnapshot(state, charge, body.list), events: record(state, body, events) };
}

// POST /_fake/refunds/:id {status, created?, delivered?, api_version?}: the refund's new
// status → refund.updated (and refund.failed when it failed), charge.refund.updated.
function updateRefund({ state, params, body }) {
  const refundRecord = recordOf(state, 'refunds', params.id, 'refund');
  if (!REFUND_STATUSES.has(body.status)) throw new Error(`unknown refund status ${body.status}`);
  refundRecord.obj = { ...refundRecord.obj, status: body.status };
  if (body.status === 'failed') refundRecord.obj.failure_reason = body.failure_reason || 'lost_or_stolen_card';
  const charge = chargeRecord(state, refundRecord.obj.charge);
  settleCharge(state, charge);
  const refund = clone(refundRecord.obj);
  const events = [{ type: 'refund.updated', object: refund }];
  if (body.status === 'failed') events.push({ type: 'refund.failed', object: refund });
  events.push({ type: 'charge.refund.updated', object: refund });
  return { refund, charge: chargeSnapshot(state, charge, false), events: record(state, body, events) };
}

// POST /_fake/charges/:id/disputes {amount?, status?, reason?, created?, delivered?,
// api_version?}: a dispute of the charge → charge.dispute.created.
function createDispute({ state, params, body }) {
  const charge = chargeRecord(state, params.id);
  const status = body.status || 'needs_response';
  if (!DISPUTE_OPEN.has(status)) throw new Error(`a new dispute is open, not ${status}`);
  const dispute = {
    ...clone(state.catalog.resources.dispute),
    id: body.id || state.nextId('dp').id,
    amount: body.amount === undefined ? charge.obj.amount : body.amount,
    charge: charge.id,
    currency: charge.obj.currency,
    created: body.created === undefined ? now() : body.created,
    payment_intent: charge.obj.payment_intent || null,
    reason: body.reason || 'fraudulent',
    status,
  };
  state.collections.disputes.put(new StoredRecord(dispute));
  charge.obj = { ...charge.obj, disputed: true };
  return { dispute, events: record(state, body, [{ type: 'charge.dispute.created', object: clone(dispute) }]) };
}

// POST /_fake/disputes/:id {status, created?, delivered?, api_version?}: → charge.dispute.closed
// for won, lost, warning_closed, prevented; charge.dispute.updated otherwise.
function updateDispute({ state, params, body }) {
  const disputeRecord = recordOf(state, 'disputes', params.id, 'dispute');
  if (!DISPUTE_OPEN.has(body.status) && !DISPUTE_CLOSED.has(body.status)) {
    throw new Error(`unknown dispute status ${body.status}`);
  }
  disputeRecord.obj = { ...disputeRecord.obj, status: body.status };
  const dispute = clone(disputeRecord.obj);
  const type = DISPUTE_CLOSED.has(body.status) ? 'charge.dispute.closed' : 'charge.dispute.updated';
  return { dispute, events: record(state, body, [{ type, object: dispute }]) };
}

const ROUTES = [
  { method: 'POST', pattern: '/_fake/charges/:id/refunds', handler: createRefund },
  { method: 'POST', pattern: '/_fake/refunds/:id', handler: updateRefund },
  { method: 'POST', pattern: '/_fake/charges/:id/disputes', handler: createDispute },
  { method: 'POST', pattern: '/_fake/disputes/:id', handler: updateDispute },
];

module.exports = { ROUTES, REFUND_COUNTS };
