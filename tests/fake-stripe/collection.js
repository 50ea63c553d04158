'use strict';
// One resource's objects, kept newest first (created desc, then id desc) with an id -> index
// map, so a list page costs O(log n + limit): created[] windows are found by binary search
// and starting_after/ending_before by the map. Writes only mark the order dirty; it is
// rebuilt once, on the next read.

const errors = require('./errors');

function newestFirst(a, b) {
  if (a.created !== b.created) return b.created - a.created;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

class Collection {
  // label: how Stripe names the object in "No such <label>: 'id'" messages.
  constructor(label) {
    this.label = label;
    this.byId = new Map();
    this.sorted = [];
    this.position = new Map();
    this.dirty = false;
  }

  get size() {
    return this.byId.size;
  }

  get(id) {
    return this.byId.get(id);
  }

  // Insert or replace a record ({id, created, ...}).
  put(record) {
    this.byId.set(record.id, record);
    this.dirty = true;
  }

  // Append many records at once (seeding); same effect as put() for each.
  putMany(records) {
    for (const r of records) this.byId.set(r.id, r);
    this.dirty = true;
  }

  remove(id) {
    const had = this.byId.delete(id);
    if (had) this.dirty = true;
    return had;
  }

  clear() {
    this.byId.clear();
    this.sorted = [];
    this.position.clear();
    this.dirty = false;
  }

  // All records, newest first (borrowed: do not modify).
  ordered() {
    if (this.dirty) this.reorder();
    return this.sorted;
  }

  reorder() {
    this.sorted = Array.from(this.byId.values()).sort(newestFirst);
    this.position = new Map();
    for (let i = 0; i < this.sorted.length; i++) this.position.set(this.sorted[i].id, i);
    this.dirty = false;
  }

  // First index whose created is <= bound (array is created-descending).
  firstAtOrBelow(bound) {
    const a = this.sorted;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid].created > bound) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // One page. query: {limit, startingAfter, endingBefore, createdMin, createdMax, filter}.
  // Returns {items, hasMore}; throws a Stripe 400 for an unknown cursor id.
  page({ limit, startingAfter, endingBefore, createdMin, createdMax, filter }) {
    const all = this.ordered();
    const windowStart = createdMax === undefined ? 0 : this.firstAtOrBelow(createdMax);
    const windowEnd = createdMin === undefined ? all.length : this.firstAtOrBelow(createdMin - 1);
    if (endingBefore !== undefined) {
      const end = Math.min(this.cursor(endingBefore, 'ending_before'), windowEnd);
      return this.walk(all, end - 1, windowStart - 1, -1, limit, filter);
    }
    const start = startingAfter === undefined ? 0 : this.cursor(startingAfter, 'starting_after') + 1;
    return this.walk(all, Math.max(start, windowStart), windowEnd, 1, limit, filter);
  }

  cursor(id, param) {
    const at = this.position.get(id);
    if (at === undefined) throw errors.noSuch(this.label, id, param);
    return at;
  }

  // Collect up to limit matches from `from` towards `to` (exclusive), one extra to know has_more.
  walk(all, from, to, step, limit, filter) {
    const items = [];
    let hasMore = false;
    for (let i = from; step > 0 ? i < to : i > to; i += step) {
      const r = all[i];
      if (filter && !filter(r)) continue;
      if (items.length === limit) {
        hasMore = true;
        break;
      }
      items.push(r);
    }
    if (step < 0) items.reverse();
    return { items, hasMore };
  }
}

module.exports = { Collection };
