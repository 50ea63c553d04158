// install.test.js - `make install` into a temporary DESTDIR, then what it
// installed: the systemd unit passes `systemd-analyze verify`, the nginx
// site template renders into a config `nginx -t` accepts (with a
// self-signed certificate made here), and the installed tree runs without
// systemd (`stripelink run --no-nginx`) behind a test nginx using that site
// file on loopback ports: /healthz through TLS, HTTP -> HTTPS, and the
// security headers on nginx's own 413 and 404. Also the file modes of the
// data directory and, as root, the workers' switch to the service user.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const { TOP, startApp, freePort, sleep } = require('./harness');

const ROOT_USER = process.getuid() === 0;
const hasUser = (name) => spawnSync('getent', ['passwd', name]).status === 0;
const groupId = (name) => {
  const r = spawnSync('getent', ['group', name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split(':')[2]) : null;
};
const WEB_GID = groupId('www-data');

// The app's own security headers (src/http.c): nginx adds the same on its
// own pages, and never a second copy on the app's.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function mode(p) {
  return fs.statSync(p).mode & 0o7777;
}

function octal(n) {
  return `0${n.toString(8)}`;
}

// One request with node:https (trusting only our certificate) or node:http.
function request(url, { method = 'GET', body, ca } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method, ca, headers: body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    if (body) req.end(body); else req.end();
  });
}

function assertSecurityHeaders(res, where) {
  assert.equal(res.headers['content-security-policy'], CSP, `${where}: one CSP with frame-ancestors`);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', where);
  assert.equal(res.headers['x-frame-options'], 'DENY', where);
  assert.equal(res.headers['referrer-policy'], 'no-referrer', where);
}

// `make install DESTDIR=<tmp> PREFIX=/usr`, once for the whole file.
let destdir;
function installed() {
  if (destdir) return destdir;
  destdir = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-install-'));
  // nginx's workers (www-data) read static/ under it, as from /usr/share
  fs.chmodSync(destdir, 0o755);
  execFileSync('make', ['--no-print-directory', '-s', 'install', `DESTDIR=${destdir}`, 'PREFIX=/usr'],
    { cwd: TOP, stdio: ['ignore', 'pipe', 'pipe'] });
  return destdir;
}
test.after(() => { if (destdir) fs.rmSync(destdir, { recursive: true, force: true }); });

test('make install puts every file in its place, with its mode', () => {
  const d = installed();
  const expect = [
    ['usr/bin/stripelink', 0o755],
    ['usr/lib/stripelink/stripelink', 0o755],
    ['usr/lib/stripelink/stripelink-sync', 0o755],
    ['usr/share/stripelink/templates/layout.tpl', 0o644],
    ['usr/share/stripelink/static/app.css', 0o644],
    ['usr/share/stripelink/static/errors/413.html', 0o644],
    ['usr/share/stripelink/nginx/nginx.conf.in', 0o644],
    ['usr/share/stripelink/nginx/site.conf.in', 0o644],
    ['usr/share/stripelink/README.md', 0o644],
    ['etc/systemd/system/stripelink.service', 0o644],
    ['etc/stripelink/stripelink.env', 0o640],
    ['var/lib/stripelink', 0o700],
  ];
  for (const [p, m] of expect) {
    const full = path.join(d, p);
    assert.ok(fs.existsSync(full), `${p} installed`);
    assert.equal(octal(mode(full)), octal(m), `${p} mode`);
  }
  const unit = fs.readFileSync(path.join(d, 'etc/systemd/system/stripelink.service'), 'utf8');
  assert.doesNotMatch(unit, /@[A-Z]+@/, 'every @NAME@ of the unit is filled in');
  assert.match(unit, /^ExecStart=\/usr\/lib\/stripelink\/stripelink run --no-nginx$/m);
  assert.match(unit, /^ReadWritePaths=\/var\/lib\/stripelink$/m);
  assert.match(unit, /^EnvironmentFile=\/etc\/stripelink\/stripelink.env$/m);
  const wrapper = fs.readFileSync(path.join(d, 'usr/bin/stripelink'), 'utf8');
  assert.match(wrapper, /exec \/usr\/lib\/stripelink\/stripelink "\$@"/);
  // the command in PATH reads the settings file, the caller's environment winning
  const sh = spawnSync('sh', ['-n', path.join(d, 'usr/bin/stripelink')]);
  assert.equal(sh.status, 0, 'the wrapper is valid sh');
});

test('make uninstall removes the programs and keeps the data and settings', () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'stripelink-uninstall-'));
  try {
    execFileSync('make', ['--no-print-directory', '-s', 'install', `DESTDIR=${d}`, 'PREFIX=/usr'], { cwd: TOP, stdio: 'pipe' });
    fs.writeFileSync(path.join(d, 'var/lib/stripelink/stripelink.db'), 'data');
    execFileSync('make', ['--no-print-directory', '-s', 'uninstall', `DESTDIR=${d}`, 'PREFIX=/usr'], { cwd: TOP, stdio: 'pipe' });
    for (const gone of ['usr/bin/stripelink', 'usr/lib/stripelink', 'usr/share/stripelink', 'etc/systemd/system/stripelink.service'])
      assert.ok(!fs.existsSync(path.join(d, gone)), `${gone} removed`);
    assert.equal(fs.readFileSync(path.join(d, 'var/lib/stripelink/stripelink.db'), 'utf8'), 'data');
    assert.ok(fs.existsSync(path.join(d, 'etc/stripelink/stripelink.env')));
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

// systemd-analyze verify needs the unit's dependencies (sysinit.target,
// network-online.target...) and checks that ExecStart exists. With --root it
// looks for both inside the install tree, so the tree gets a copy of the
// unit files of Debian's systemd package (installed by the Makefile's test
// packages); --man=no --generators=no: no man pages and no generators in a
// container. verify exits 0 on mere warnings: its output must be empty too.
function verifyUnit(root) {
  const units = path.join(root, 'usr/lib/systemd/system');
  if (!fs.existsSync(units)) {
    fs.mkdirSync(path.dirname(units), { recursive: true });
    fs.cpSync('/lib/systemd/system', units, { recursive: true, dereference: false, verbatimSymlinks: true });
  }
  return spawnSync('systemd-analyze', ['verify', `--root=${root}`, '--man=no', '--generators=no',
    '/etc/systemd/system/stripelink.service'], { encoding: 'utf8' });
}

test('systemd-analyze verify accepts the installed unit, and would catch a broken one', () => {
  const d = installed();
  const ok = verifyUnit(d);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((ok.stdout + ok.stderr).trim(), '', 'no warnings');

  // the check is not vacuous: a unit whose program is missing, or with a
  // misspelt value, is reported
  const unitPath = path.join(d, 'etc/systemd/system/stripelink.service');
  const good = fs.readFileSync(unitPath, 'utf8');
  try {
    fs.writeFileSync(unitPath, good.replace('/usr/lib/stripelink/stripelink run', '/usr/lib/stripelink/missing run'));
    const missing = verifyUnit(d);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /missing is not executable/);
    fs.writeFileSync(unitPath, good.replace('Restart=on-failure', 'Restart=sometimes'));
    const typo = verifyUnit(d);
    assert.match(typo.stderr, /restart specifier/);
  } finally {
    fs.writeFileSync(unitPath, good);
  }
});

// A self-signed certificate for "localhost", made with the openssl CLI.
function selfSigned(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'],
  { stdio: 'pipe' });
  return { cert, key };
}

// The site template with its @NAMES@ filled in, inside a minimal nginx
// main config (as /etc/nginx/nginx.conf includes sites-enabled/*).
function renderNginx(d, { httpsPort, httpPort, socket, cert, key }) {
  const dir = path.join(d, 'test-nginx');
  fs.mkdirSync(dir, { recursive: true });
  const vars = {
    '@DOMAIN@': 'localhost',
    '@PUBLIC_URL@': `https://localhost:${httpsPort}`,
    '@HTTPS_LISTEN@': `127.0.0.1:${httpsPort}`,
    '@HTTP_LISTEN@': `127.0.0.1:${httpPort}`,
    '@CERT@': cert,
    '@CERT_KEY@': key,
    '@ROOT@': path.join(d, 'usr/share/stripelink'),
    '@SOCKET@': socket,
  };
  let site = fs.readFileSync(path.join(d, 'usr/share/stripelink/nginx/site.conf.in'), 'utf8');
  for (const [k, v] of Object.entries(vars)) site = site.split(k).join(v);
  assert.doesNotMatch(site, /@[A-Z_]+@/, 'every @NAME@ of the site file is documented and filled in');
  fs.writeFileSync(path.join(dir, 'site.conf'), site);
  // as root nginx's workers run as www-data, as the system's nginx does
  const user = ROOT_USER && WEB_GID !== null ? 'user www-data www-data;' : '';
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `${user}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path ${dir}/client_body;
    fastcgi_temp_path ${dir}/fastcgi;
    proxy_temp_path ${dir}/proxy;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    include ${dir}/site.conf;
}
`);
  return { dir, conf: path.join(dir, 'nginx.conf') };
}

function startProcess(cmd, args, env) {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (x) => { log += x; });
  child.stderr.on('data', (x) => { log += x; });
  const exited = new Promise((r) => child.on('exit', r));
  return {
    child,
    log: () => log,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

// Starts the installed program (no systemd) with --no-nginx and a test
// nginx serving the rendered site; returns what the checks need.
async function startInstalled(t, extraEnv = {}) {
  const d = installed();
  const data = fs.mkdtempSync(path.join(d, 'var/lib/stripelink-'));
  const [httpsPort, httpPort] = [await freePort(), await freePort()];
  const tls = selfSigned(fs.mkdtempSync(path.join(d, 'tls-')));
  const socket = path.join(data, 'run/stripelink.sock');
  const ngx = renderNginx(d, { httpsPort, httpPort, socket, cert: tls.cert, key: tls.key });
  const nginxTest = spawnSync('nginx', ['-t', '-p', ngx.dir, '-c', ngx.conf], { encoding: 'utf8' });
  assert.equal(nginxTest.status, 0, `nginx -t on the rendered site file:\n${nginxTest.stderr}`);
  assert.match(nginxTest.stderr, /test is successful/);

  const env = {
    PATH: process.env.PATH,
    STRIPELINK_DATA: data,
    STRIPELINK_ROOT: path.join(d, 'usr/share/stripelink'),
    STRIPELINK_PUBLIC_URL: `https://localhost:${httpsPort}`,
    STRIPELINK_PBKDF2_ITERATIONS: '1000',
    STRIPELINK_THREADS: '4',
    STRIPELINK_STRIPE_API: 'http://127.0.0.1:9',
    ...extraEnv,
  };
  const app = startProcess(path.join(d, 'usr/lib/stripelink/stripelink'), ['run', '--no-nginx'], env);
  for (let i = 0; i < 200 && !fs.existsSync(socket); i++) await sleep(50);
  const web = startProcess('nginx', ['-p', ngx.dir, '-c', ngx.conf], process.env);
  t.after(async () => {
    await web.stop('SIGQUIT');
    await app.stop();
    fs.rmSync(data, { recursive: true, force: true });
  });
  const ca = fs.readFileSync(tls.cert);
  const base = `https://localhost:${httpsPort}`;
  let last = '';
  for (let i = 0; ; i++) {
    try {
      const res = await request(`${base}/healthz`, { ca });
      if (res.status === 200) break;
      last = `${res.status} ${res.text.slice(0, 200)}`;
    } catch (e) { last = e.message; }
    if (i > 300) throw new Error(`no /healthz through TLS (${last})\n${app.log()}\n${web.log()}`);
    await sleep(50);
  }
  return { d, data, base, httpPort, httpsPort, ca, app, web };
}

test('the installed tree runs without systemd behind nginx with the site file: TLS, redirect, headers, modes', async (t) => {
  const s = await startInstalled(t);

  await t.test('/healthz answers through TLS, with HSTS', async () => {
    const res = await request(`${s.base}/healthz`, { ca: s.ca });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.text).status, 'ok');
    assert.equal(res.headers['strict-transport-security'], 'max-age=63072000');
    assertSecurityHeaders(res, '/healthz');
  });

  await t.test('plain HTTP is redirected to the https URL, path and query kept', async () => {
    const res = await request(`http://127.0.0.1:${s.httpPort}/contacts?q=x`);
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, `https://localhost:${s.httpsPort}/contacts?q=x`);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });

  await t.test("nginx's own 413 and 404 pages carry the security headers", async () => {
    const big = await request(`${s.base}/login`, { method: 'POST', body: 'x'.repeat(1024 * 1024 + 10), ca: s.ca });
    assert.equal(big.status, 413);
    assert.match(big.text, /413 · Payload Too Large/);
    assertSecurityHeaders(big, '413');
    assert.equal(big.headers['strict-transport-security'], 'max-age=63072000');
    const missing = await request(`${s.base}/static/no-such.css`, { ca: s.ca });
    assert.equal(missing.status, 404);
    assertSecurityHeaders(missing, 'static 404');
    // the app's own 404 keeps its headers, not doubled by nginx
    const appMissing = await request(`${s.base}/no/such/page`, { ca: s.ca });
    assert.equal(appMissing.status, 404);
    assertSecurityHeaders(appMissing, 'app 404');
    const css = await request(`${s.base}/static/app.css`, { ca: s.ca });
    assert.equal(css.status, 200);
    assert.match(css.headers['content-type'], /text\/css/);
  });

  await t.test('the webhook path reaches the app on the same server', async () => {
    const res = await request(`${s.base}/webhooks/stripe/999`, { method: 'POST', body: '{}', ca: s.ca });
    assert.equal(res.status, 404);
    assert.match(res.headers['content-type'], /json/);
  });

  await t.test('data directory 0700 (0710 with the www-data group for nginx), database, -wal, -shm and key 0600', () => {
    const st = fs.statSync(s.data);
    if (ROOT_USER && WEB_GID !== null) {
      assert.equal(octal(st.mode & 0o7777), '0710');
      assert.equal(st.gid, WEB_GID);
    } else {
      assert.equal(octal(st.mode & 0o7777), '0700');
    }
    for (const f of ['stripelink.db', 'stripelink.db-wal', 'stripelink.db-shm', 'secret.key'])
      assert.equal(octal(mode(path.join(s.data, f))), '0600', f);
    const sock = fs.statSync(path.join(s.data, 'run/stripelink.sock'));
    assert.equal(sock.mode & 0o007, 0, 'the socket is closed to others');
    if (ROOT_USER && WEB_GID !== null) assert.equal(sock.gid, WEB_GID, 'the socket is in www-data\'s group');
  });

  await t.test('a missing service user is said once and the workers keep running', { skip: !ROOT_USER || hasUser('stripelink') }, () => {
    const said = s.app.log().match(/user "stripelink" does not exist/g) || [];
    assert.equal(said.length, 1, s.app.log());
  });
});

test('started as root, the workers run as the service user and own the data', { skip: !ROOT_USER && 'needs root' }, async (t) => {
  const s = await startInstalled(t, { STRIPELINK_USER: 'nobody' });
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  const supervisor = s.app.child.pid;
  const children = execFileSync('ps', ['-o', 'pid=,uid=,args=', '--ppid', String(supervisor)], { encoding: 'utf8' })
    .trim().split('\n').map((l) => l.trim().split(/\s+/));
  const byName = Object.fromEntries(children.map(([pid, uid, cmd, arg]) => [arg === 'serve' ? 'serve' : path.basename(cmd), { pid, uid: Number(uid) }]));
  assert.equal(byName.serve?.uid, nobody, `FastCGI worker runs as nobody: ${JSON.stringify(children)}`);
  assert.equal(byName['stripelink-sync']?.uid, nobody, `sync worker runs as nobody: ${JSON.stringify(children)}`);
  assert.equal(fs.statSync(`/proc/${supervisor}`).uid, 0, 'the supervisor stays root');
  for (const f of ['.', 'stripelink.db', 'secret.key', 'run'])
    assert.equal(fs.statSync(path.join(s.data, f)).uid, nobody, `${f} belongs to the service user`);
  // the worker as nobody still answers, writes included (a session on login)
  const token = fs.readFileSync(path.join(s.data, 'setup-token'), 'utf8').trim();
  const res = await request(`${s.base}/setup?token=${token}`, { ca: s.ca });
  assert.equal(res.status, 200, 'the setup page, with the token the workers read as the service user');
  assert.doesNotMatch(s.app.log(), /does not exist|cannot switch/);
});

test("the development nginx (nginx.conf.in) puts the security headers on its own 413 and 404", async (t) => {
  const app = await startApp();
  t.after(() => app.stop());
  const big = await fetch(`${app.base}/login`, { method: 'POST', body: 'x'.repeat(1024 * 1024 + 10), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(big.status, 413);
  const missing = await fetch(`${app.base}/static/no-such.css`);
  assert.equal(missing.status, 404);
  for (const [res, where] of [[big, '413'], [missing, 'static 404']]) {
    assertSecurityHeaders({ headers: Object.fromEntries(res.headers) }, where);
  }
  const st = fs.statSync(app.dataDir);
  assert.equal(st.mode & 0o077 & ~0o010, 0, 'the data directory is closed to others');
  for (const f of ['stripelink.db', 'stripelink.db-wal', 'stripelink.db-shm', 'secret.key'])
    assert.equal(octal(mode(path.join(app.dataDir, f))), '0600', f);
});
