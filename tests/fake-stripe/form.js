'use strict';
// Stripe's form encoding: `a=1&b[c]=2&d[]=x&d[1]=y` -> {a:'1', b:{c:'2'}, d:['x','y']}.
// Used for request bodies (application/x-www-form-urlencoded) and query strings.
// Both `key[]=` (push) and `key[0]=` (indexed, what stripe-node sends) build arrays.

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const INDEX_RE = /^\d+$/;

// Split `a[b][]` into ['a', 'b', '']; a malformed key is kept whole.
function splitKey(key) {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const parts = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/y;
  re.lastIndex = open;
  let m;
  while ((m = re.exec(key)) !== null) {
    parts.push(m[1]);
    if (re.lastIndex === key.length) return parts;
  }
  return [key];
}

function isArraySegment(part) {
  return part === '' || INDEX_RE.test(part);
}

function assign(root, parts, value) {
  if (parts.some((p) => FORBIDDEN.has(p))) return;
  let node = root;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const slot = Array.isArray(node) && part === '' ? node.length : part;
    if (i === parts.length - 1) {
      node[slot] = value;
      return;
    }
    const wantArray = isArraySegment(parts[i + 1]);
    const child = node[slot];
    if (child === null || typeof child !== 'object' || Array.isArray(child) !== wantArray) {
      node[slot] = wantArray ? [] : {};
    }
    node = node[slot];
  }
}

// Remove holes left by sparse indices (`a[0]=x&a[5]=y` -> ['x','y']).
function compactArrays(node) {
  if (node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.filter((v) => v !== undefined).map(compactArrays);
  for (const k of Object.keys(node)) node[k] = compactArrays(node[k]);
  return node;
}

// Parse a form/query string into nested objects and arrays. Never throws.
function parseForm(text) {
  const out = {};
  if (!text) return out;
  for (const [key, value] of new URLSearchParams(text)) assign(out, splitKey(key), value);
  return compactArrays(out);
}

module.exports = { parseForm, splitKey };
