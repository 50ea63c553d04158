'use strict';
// Measures the fake itself: seeding N objects and paging through them with limit=100.
//   node tests/fake-stripe/bench.js [resource] [count]     (defaults: charges 100000)
// Runs the server as a child process (as the benchmarks do) and, separately, times the
// server-side page work in-process (collection lookup + rendering, no HTTP).

const { spawn } = require('child_process');
const http = require('http');
const path = require('path');
const { start } = require('./server');

const resource = process.argv[2] || 'charges';
const count = Number(process.argv[3] || 100000);
const urlPath = resource === 'checkout_sessions' ? '/v1/checkout/sessions' : `/v1/${resource}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(port, method, reqPath, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: reqPath, agent, headers: { Authorization: 'Bearer sk_test_bench' } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function spawnServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.once('data', (line) => {
      const m = /listening on (\d+)/.exec(String(line));
      if (m) resolve({ child, port: Number(m[1]) });
      else reject(new Error(`unexpected output: ${line}`));
    });
    child.once('error', reject);
  });
}

async function overHttp() {
  const { child, port } = await spawnServer();
  try {
    await request(port, 'POST', '/_fake/config', JSON.stringify({ record_bodies: false }));
    let t = process.hrtime.bigint();
    const seeded = JSON.parse((await request(port, 'POST', '/_fake/seed', JSON.stringify({ resource, count }))).text);
    const seedMs = Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    let after = '';
    let pages = 0;
    let objects = 0;
    let bytes = 0;
    for (;;) {
      const res = await request(port, 'GET', `${urlPath}?limit=100${after}`);
      if (res.status !== 200) throw new Error(`page ${pages}: HTTP ${res.status} ${res.text}`);
      bytes += res.text.length;
      const page = JSON.parse(res.text);
      pages++;
      objects += page.data.length;
      if (!page.has_more) break;
      after = `&starting_after=${page.data[page.data.length - 1].id}`;
    }
    const pageMs = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(`HTTP  seed ${count} ${resource}: ${seedMs.toFixed(0)} ms (server-side ${seeded.ms.toFixed(0)} ms, +${seeded.customers_created} customers)`);
    console.log(`HTTP  paged ${objects} objects in ${pages} pages: ${pageMs.toFixed(0)} ms (${(pageMs / pages).toFixed(2)} ms/page incl. client JSON.parse, ${(bytes / 1e6).toFixed(0)} MB)`);
  } finally {
    child.kill('SIGTERM');
  }
}

// Server work only: the real list handler (paging + rendering to a Buffer), no sockets.
async function inProcess() {
  const fake = await start({ port: 0 });
  const { state } = fake;
  require('./seed').seed(state, { resource, count });
  const collection = state.collections[resource];
  let t = process.hrtime.bigint();
  const ordered = collection.ordered(); // the first read sorts and indexes
  const sortMs = Number(process.hrtime.bigint() - t) / 1e6;
  const route = require('./api').ROUTES.find((r) => r.method === 'GET' && r.pattern === urlPath);
  const auth = { key: 'sk_test_bench', livemode: false, restricted: false };
  const pages = Math.ceil(ordered.length / 100);
  let bytes = 0;
  t = process.hrtime.bigint();
  for (let p = 0; p < pages; p++) {
    const form = p === 0 ? { limit: '100' } : { limit: '100', starting_after: ordered[p * 100 - 1].id };
    bytes += route.handler({ state, auth, form, params: {} }).body.length;
  }
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(
    `SERVER first read (sort + index) ${sortMs.toFixed(0)} ms; ${pages} pages in ${ms.toFixed(0)} ms = ` +
      `${(ms / pages).toFixed(3)} ms/page (${(bytes / pages / 1024).toFixed(0)} KB/page)`,
  );
  await fake.close();
}

overHttp()
  .then(inProcess)
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
