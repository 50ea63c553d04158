// harness.js - starts the real stripelink (its supervisor, nginx and the
// FastCGI worker) on a free loopback port with a temporary data directory,
// and drives it over HTTP like a browser would (cookies, CSRF tokens).
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const TOP = path.resolve(__dirname, '..', '..');
// STRIPELINK_TEST_BIN runs the suites against another build of the program
// (tests/run.sh integration-asan points it at the AddressSanitizer build).
const BIN = process.env.STRIPELINK_TEST_BIN || path.join(TOP, 'cgi-bin', 'stripelink');
const SANITIZER = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- PostgreSQL: STRIPELINK_TEST_PG=1 runs every app on its own database
// of a throwaway PostgreSQL 15 cluster: the one tests/run.sh started
// (STRIPELINK_TEST_PG_SERVER, a postgresql:// URL without a database), or
// one this process starts with tests/pg.sh and stops when it exits.
const PG = process.env.STRIPELINK_TEST_PG === '1';
const PSQL = '/usr/lib/postgresql/15/bin/psql';
let pgServer = process.env.STRIPELINK_TEST_PG_SERVER || null;
let pgDbCount = 0;

async function pgCluster() {
  if (pgServer) return pgServer;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-pg-'));
  const port = await freePort();
  const url = execFileSync('sh', [path.join(TOP, 'tests', 'pg.sh'), 'start', dir, String(port)], { encoding: 'utf8' }).trim();
  process.on('exit', () => {
    try { execFileSync('sh', [path.join(TOP, 'tests', 'pg.sh'), 'stop', dir]); } catch (_) { /* gone */ }
  });
  pgServer = url.replace(/\/[^/]*$/, '');
  return pgServer;
}

// One SELECT statement (json_agg can wrap it), not a script or a write.
function isSelect(query) {
  const q = query.trim().replace(/;\s*$/, '');
  return /^(SELECT|WITH)\b/i.test(q) && !q.includes(';');
}

// One SELECT's rows as sqlite3 prints them: columns joined by '|', NULL
// empty, and booleans (SQLite has none: a comparison is 1 or 0) as 1/0 —
// psql's \gdesc says which columns are boolean.
function psqlLikeSqlite(url, query) {
  const q = query.trim().replace(/;\s*$/, '');
  const types = psql(url, `${q} \\gdesc\n`).split('\n').filter(Boolean).map((l) => l.slice(l.lastIndexOf('|') + 1));
  const out = psql(url, `${q};\n`);
  return out.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1).map((line) => {
    const cells = line.split('|');
    if (cells.length !== types.length) return line;   // a value with '|' in it: as printed
    return cells.map((c, i) => (types[i] === 'boolean' ? (c === 't' ? '1' : c === 'f' ? '0' : c) : c)).join('|');
  }).map((l) => `${l}\n`).join('');
}

function psql(url, query, extra = []) {
  return execFileSync(PSQL, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', ...extra, '-d', url, '-f', '-'],
    { input: query, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

// A fresh database on the cluster; returns its URL.
async function pgDatabase() {
  const server = await pgCluster();
  const name = `t${process.pid}_${++pgDbCount}`;
  psql(`${server}/postgres`, `CREATE DATABASE ${name};`);
  return { name, url: `${server}/${name}` };
}

function pgDrop(name) {
  try { psql(`${pgServer}/postgres`, `DROP DATABASE IF EXISTS ${name} WITH (FORCE);`); } catch (_) { /* gone */ }
}

// Starts the app; returns { base, dataDir, port, log(), stop(), sql() }.
async function startApp(extraEnv = {}) {
  const port = await freePort();
  // a test may name its own data directory (a small tmpfs, a restored copy)
  const ownDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-test-'));
  const dataDir = extraEnv.STRIPELINK_DATA || ownDir;
  // on PostgreSQL each app gets its own database, unless the test shares one
  // between nodes (STRIPELINK_DATABASE_URL given)
  const pgDb = PG && !extraEnv.STRIPELINK_DATABASE_URL ? await pgDatabase() : null;
  const env = {
    ...process.env,
    STRIPELINK_PORT: String(port),
    STRIPELINK_DATA: dataDir,
    STRIPELINK_ROOT: TOP,
    STRIPELINK_THREADS: '4',
    STRIPELINK_PBKDF2_ITERATIONS: '1000',
    STRIPELINK_INSECURE_TEST_HASHING: '1', // fast hashes, tests only (loud warning)
    STRIPELINK_STRIPE_API: 'http://127.0.0.1:9', // nothing listens: tests set a fake
    // catch-ups and endpoint checks only when asked: suites that count the
    // requests Stripe gets see only their own (catchup.test.js turns it on)
    STRIPELINK_CATCHUP_INTERVAL: '0',
    ...(pgDb ? { STRIPELINK_DATABASE_URL: pgDb.url } : {}),
    ...extraEnv,
  };
  const dbUrl = env.STRIPELINK_DATABASE_URL || null;
  const child = spawn(BIN, ['run'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let logText = '';
  child.stdout.on('data', (d) => { logText += d; });
  child.stderr.on('data', (d) => { logText += d; });
  const exited = new Promise((r) => child.on('exit', r));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.status === 200) break;
    } catch (_) { /* not up yet */ }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`stripelink did not start:\n${logText}`);
    }
    await sleep(50);
  }
  return {
    base,
    port,
    dataDir,
    env,
    child,
    log: () => logText,
    dbUrl,
    // Runs SQL against the app's database (test setup and inspection only;
    // the app itself is the one writer) with the sqlite3 shell, or psql on
    // PostgreSQL: rows as lines, columns joined by '|', either way.
    sql(query) {
      if (dbUrl) return isSelect(query) ? psqlLikeSqlite(dbUrl, query) : psql(dbUrl, query);
      return execFileSync('sqlite3', ['-cmd', '.timeout 5000', path.join(dataDir, 'stripelink.db'), query],
        { encoding: 'utf8' });
    },
    // The whole database as text (to look for what must not be there).
    dump() {
      if (dbUrl) {
        return execFileSync('/usr/lib/postgresql/15/bin/pg_dump', ['--no-owner', '-d', dbUrl],
          { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
      }
      return execFileSync('sqlite3', [path.join(dataDir, 'stripelink.db'), '.dump'],
        { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    },
    // One SELECT's rows as objects (column name → value), either engine.
    rows(query) {
      if (dbUrl) {
        if (!isSelect(query)) {
          psql(dbUrl, query);
          return [];
        }
        const out = psql(dbUrl, `SELECT coalesce(json_agg(x), '[]') FROM (${query.replace(/;\s*$/, '')}) x;`);
        // SQLite has no booleans: a comparison reads 1 or 0 there
        return JSON.parse(out.trim() || '[]').map((r) => Object.fromEntries(Object.entries(r)
          .map(([k, v]) => [k, v === true ? 1 : v === false ? 0 : v])));
      }
      const out = execFileSync('sqlite3', ['-json', '-cmd', '.timeout 5000', path.join(dataDir, 'stripelink.db'), query],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      return out.trim() ? JSON.parse(out) : [];
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(ownDir, { recursive: true, force: true });
      if (pgDb) pgDrop(pgDb.name);
      // a sanitizer build reports leaks and memory errors on its stderr
      const m = SANITIZER.exec(logText);
      if (m) throw new Error(`sanitizer report from ${BIN}:\n${logText.slice(Math.max(0, m.index - 200), m.index + 4000)}`);
    },
  };
}

// One nginx in front of several nodes' FastCGI sockets (the two-node test
// and benchmark). A request is passed to
// the other node only when it could not be handed to the first (error,
// timeout: nginx's default; a POST that reached a node is never sent twice).
async function startUpstream(sockets) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-upstream-'));
  const port = await freePort();
  for (const d of ['client_body', 'fastcgi', 'proxy', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, d));
  // as root, nginx's workers run as www-data, the group the sockets are shared with
  const user = process.getuid() === 0 ? 'user www-data www-data;' : '';
  const conf = `${user}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    fastcgi_temp_path ${dir}/fastcgi;
    proxy_temp_path ${dir}/proxy;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    client_max_body_size 1m;
    client_body_buffer_size 1m;
    upstream stripelink_nodes {
${sockets.map((s) => `        server unix:${s} max_fails=1 fail_timeout=30s;`).join('\n')}
    }
    server {
        listen 127.0.0.1:${port};
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_param HTTP_PROXY "";
            fastcgi_pass stripelink_nodes;
            fastcgi_next_upstream error timeout;
            fastcgi_read_timeout 30s;
        }
    }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { await fetch(`${base}/healthz`); break; } catch (_) { await sleep(50); }
  }
  return {
    base,
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// A browser-like client: keeps cookies, never follows redirects (tests
// assert on them), reads CSRF tokens out of forms.
class Client {
  constructor(base) {
    this.base = base;
    this.cookies = new Map();
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  keepCookies(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(method, p, { body, headers = {}, form } = {}) {
    const h = { ...headers };
    if (this.cookies.size) h.cookie = this.cookieHeader();
    let payload = body;
    if (form) {
      payload = new URLSearchParams(form).toString();
      h['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(this.base + p, { method, headers: h, body: payload, redirect: 'manual' });
    this.keepCookies(res);
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, location: res.headers.get('location') };
  }

  get(p, opts) { return this.request('GET', p, opts); }

  // GETs formPage, takes its CSRF token, POSTs fields to action.
  async submit(formPage, action, fields) {
    const page = await this.get(formPage);
    const csrf = csrfOf(page.text);
    if (!csrf) throw new Error(`no CSRF token on ${formPage} (status ${page.status})`);
    return this.request('POST', action, { form: { csrf, ...fields } });
  }

  post(p, fields) { return this.request('POST', p, { form: fields }); }
}

function csrfOf(html) {
  const m = /name="csrf" value="([0-9a-f]+)"/.exec(html);
  return m ? m[1] : null;
}

// The one-time setup token, as a person finds it: in the data directory's
// setup-token file (also printed on the console at start).
function setupToken(app) {
  // the data directory the app was given (a test may pass its own STRIPELINK_DATA)
  return fs.readFileSync(path.join(app.env.STRIPELINK_DATA || app.dataDir, 'setup-token'), 'utf8').trim();
}

// The setup URL (path and query) with the token.
function setupPath(app) {
  return `/setup?token=${setupToken(app)}`;
}

// Creates the first admin through the setup link and returns a logged-in
// client.
async function adminClient(app, username = 'owner', password = 'correct horse battery') {
  const c = new Client(app.base);
  const token = setupToken(app);
  const res = await c.submit(`/setup?token=${token}`, '/setup', { token, username, password });
  if (res.status !== 303) throw new Error(`setup failed: ${res.status} ${res.text}`);
  return c;
}

// Parses RFC 4180 CSV text into rows of cells.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(cell); cell = ''; }
    else if (ch === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++; }
    else cell += ch;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

module.exports = { TOP, BIN, PG, startUpstream, pgCluster, pgDatabase, pgDrop, psql, startApp, Client, csrfOf, adminClient, setupToken, setupPath, parseCsv, freePort, sleep };
