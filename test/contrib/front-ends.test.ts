/**
 * The front-end configurations in contrib/, rendered from the shipped templates and run by the real servers
 * from Debian (nginx, Apache, lighttpd) in front of a real pool: PHP answers through them, and reloads of the
 * pool (SIGHUP) under wrk fail no request.
 */
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startApache } from '../helpers/apache.js';
import { renderTemplate } from '../helpers/contrib.js';
import { startLighttpd } from '../helpers/lighttpd.js';
import { startNginxSite } from '../helpers/nginx.js';
import { freePort } from '../helpers/processes.js';
import { reloadRepeatedly } from '../helpers/reload.js';
import { FIXTURES, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { findTool, needs } from '../helpers/tools.js';
import type { RunningWebServer } from '../helpers/web-server.js';
import { assertClean, runWrk } from '../helpers/wrk.js';

const LOAD_SECONDS = 5;
const RELOADS = 3;

/** A document root with the PHP fixture as index.php, readable by www-data (Apache's children, -u workers). */
function documentRoot(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-site-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  copyFileSync(join(FIXTURES, 'php', 'hello.php'), join(dir, 'index.php'));
  chmodSync(join(dir, 'index.php'), 0o644);
  return dir;
}

async function startPool(t: TestContext, args: string[]): Promise<RunningSupervisor> {
  const pool = startSupervisor(['--steer-grace', '0.2', ...args]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  return pool;
}

async function startServer(t: TestContext, server: Promise<RunningWebServer>): Promise<RunningWebServer> {
  const running = await server;
  t.after(() => running.stop());
  return running;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/** wrk on url while the pool reloads RELOADS times: no failed request, every reload finished. */
async function reloadUnderLoad(t: TestContext, name: string, pool: RunningSupervisor, url: string): Promise<void> {
  const load = runWrk(url, LOAD_SECONDS);
  await reloadRepeatedly(pool, RELOADS, 1000);
  const result = await load;
  assertClean(name, result, pool);
  assert.doesNotMatch(pool.log(), /reload failed/);
  t.diagnostic(`${name}: ${result.requests} requests, ${RELOADS} reloads, max latency ${result.maxLatencyMs} ms`);
  assert.equal((await pool.stop()).code, 0);
  assert.deepEqual(pool.strays(), []);
}

test('nginx, fastcgi_pass (contrib/nginx/fcgi-spawn-php.conf) → php-cgi', needs('nginx', 'php-cgi', 'wrk'), async (t) => {
  const root = documentRoot(t);
  const socket = join(root, 'php.sock');
  const pool = await startPool(t, ['-s', socket, '-F', '4', '--', findTool('php-cgi') as string]);
  const nginx = await startServer(t, startNginxSite((port) => renderTemplate('nginx/fcgi-spawn-php.conf', { UPSTREAM: `unix:${socket}`, LISTEN: `127.0.0.1:${port}`, SERVER_NAME: 'localhost', ROOT: root })));
  const base = `http://127.0.0.1:${nginx.port}`;
  assert.match((await get(`${base}/`)).body, /^hello from php pid \d+\n$/);
  assert.equal((await get(`${base}/missing.php`)).status, 404);
  // cgi.fix_pathinfo would run index.php for this path; the template's try_files refuses it.
  assert.equal((await get(`${base}/nothing.php/index.php`)).status, 404);
  await reloadUnderLoad(t, 'nginx fastcgi', pool, `${base}/index.php`);
});

test('nginx, proxy_pass with upstream keepalive (contrib/nginx/fcgi-spawn-proxy.conf) → Node HTTP workers', needs('nginx', 'wrk'), async (t) => {
  const port = await freePort();
  const pool = await startPool(t, ['-p', String(port), '-F', '2', '--', process.execPath, join(FIXTURES, 'http-app.mjs')]);
  const nginx = await startServer(t, startNginxSite((listen) => renderTemplate('nginx/fcgi-spawn-proxy.conf', { UPSTREAM: `127.0.0.1:${port}`, LISTEN: `127.0.0.1:${listen}`, SERVER_NAME: 'localhost' })));
  const base = `http://127.0.0.1:${nginx.port}`;
  assert.match((await get(`${base}/`)).body, /^pid=\d+\n$/);
  await reloadUnderLoad(t, 'nginx proxy', pool, `${base}/`);
});

test('Apache, mod_proxy_fcgi on a Unix socket (contrib/apache/fcgi-spawn-php.conf) → php-cgi', needs('apache2', 'php-cgi', 'wrk'), async (t) => {
  const root = documentRoot(t);
  const socket = join(root, 'php.sock');
  // Apache's children are www-data: the pool's -u makes the socket theirs.
  const pool = await startPool(t, ['-s', socket, '-u', 'www-data', '-F', '2', '--', findTool('php-cgi') as string]);
  const apache = await startServer(t, startApache({ documentRoot: root, include: () => renderTemplate('apache/fcgi-spawn-php.conf', { SOCKET: socket }) }));
  const base = `http://127.0.0.1:${apache.port}`;
  assert.match((await get(`${base}/`)).body, /^hello from php pid \d+\n$/);
  assert.equal((await get(`${base}/missing.php`)).status, 404);
  await reloadUnderLoad(t, 'apache', pool, `${base}/index.php`);
});

test('lighttpd, mod_fastcgi with an external socket (contrib/lighttpd/fcgi-spawn-php.conf) → php-cgi', needs('lighttpd', 'php-cgi', 'wrk'), async (t) => {
  const root = documentRoot(t);
  const socket = join(root, 'php.sock');
  const pool = await startPool(t, ['-s', socket, '-F', '2', '--', findTool('php-cgi') as string]);
  const lighttpd = await startServer(t, startLighttpd({ documentRoot: root, include: renderTemplate('lighttpd/fcgi-spawn-php.conf', { SOCKET: socket }) }));
  const base = `http://127.0.0.1:${lighttpd.port}`;
  assert.match((await get(`${base}/`)).body, /^hello from php pid \d+\n$/);
  assert.equal((await get(`${base}/missing.php`)).status, 404);
  await reloadUnderLoad(t, 'lighttpd', pool, `${base}/index.php`);
});

test('every template documents the placeholders it uses, and only those', () => {
  for (const [file, values] of [
    ['nginx/fcgi-spawn-php.conf', { UPSTREAM: 'x', LISTEN: 'x', SERVER_NAME: 'x', ROOT: 'x' }],
    ['nginx/fcgi-spawn-proxy.conf', { UPSTREAM: 'x', LISTEN: 'x', SERVER_NAME: 'x' }],
    ['apache/fcgi-spawn-php.conf', { SOCKET: 'x' }],
    ['lighttpd/fcgi-spawn-php.conf', { SOCKET: 'x' }],
  ] as const) {
    const settings = renderTemplate(file, values).split('\n').filter((line) => !/^\s*#/.test(line));
    assert.doesNotMatch(settings.join('\n'), /@[A-Z_]+@/, file);
    assert.throws(() => renderTemplate(file, { ...values, EXTRA: 'x' }), /takes @/, `${file}: an unknown value`);
  }
});
