/** Where the pool listens: IPv4, IPv6, Unix sockets and every way binding can go wrong. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { freePort, isAlive, killQuietly } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ALLOW_ROOT = process.geteuid?.() === 0 ? ['--allow-root'] : [];

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function listen(server: Server, ...args: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    (server.listen as (...a: unknown[]) => void)(...args, () => resolve());
  });
}

async function ipv6Available(): Promise<boolean> {
  const server = createServer();
  try {
    await listen(server, 0, '::1');
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

test('IPv6: binds ::1 and serves', async (t) => {
  if (!(await ipv6Available())) return t.skip('no IPv6 loopback on this machine');
  const port = await freePort('::1');
  const pool = startSupervisor(['-a', '::1', '-p', String(port), '--', process.execPath, RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  assert.match(pool.log(), new RegExp(`ready: 1 worker on \\[::1\\]:${port}`));
  assert.equal((await probe(`[::1]:${port}`)).code, 0);
  await pool.stop();
});

test('Unix socket: mode and owner applied, file removed on exit', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'pool.sock');
  const asRoot = process.geteuid?.() === 0;
  const owner = asRoot ? ['-U', 'nobody', '-G', 'nogroup'] : [];
  const pool = startSupervisor(['-s', path, '-M', '0640', ...owner, '--', process.execPath, RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const stat = lstatSync(path);
  assert.ok(stat.isSocket());
  assert.equal(stat.mode & 0o777, 0o640);
  if (asRoot) assert.equal(stat.uid, 65534);
  assert.equal((await probe(path)).code, 0);
  const exit = await pool.stop();
  assert.equal(exit.code, 0);
  assert.equal(existsSync(path), false, 'socket file left behind');
});

test('Unix socket: a stale socket is replaced', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'stale.sock');
  // A server that dies by SIGKILL leaves its socket file behind, with nobody accepting on it.
  const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => killQuietly(holder.pid as number));
  await new Promise((resolve) => holder.stdout.once('data', resolve));
  holder.kill('SIGKILL');
  await waitFor('the holder gone', () => !isAlive(holder.pid as number));
  assert.ok(lstatSync(path).isSocket());
  const pool = startSupervisor(['-s', path, '--', process.execPath, RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  assert.equal((await probe(path)).code, 0);
  await pool.stop();
});

test('Unix socket: a live server at the path is refused (exit 3) and left alone', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'live.sock');
  const server = createServer((socket) => socket.end());
  await listen(server, path);
  t.after(() => server.close());
  const result = await runCli(['start', '-n', '-s', path, ...ALLOW_ROOT, '--', process.execPath, RESPONDER]);
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stderr, new RegExp(`unable to bind ${path}: socket ${path} is in use`));
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.ok(lstatSync(path).isSocket(), 'the live server lost its socket file');
});

test('Unix socket: a regular file at the path is refused (exit 3) and never deleted', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'not-a-socket');
  writeFileSync(path, 'precious\n');
  const result = await runCli(['start', '-n', '-s', path, ...ALLOW_ROOT, '--', process.execPath, RESPONDER]);
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stderr, /exists and is not a socket: refusing to replace it/);
  assert.equal(readFileSync(path, 'utf8'), 'precious\n');
});

test('a port in use is refused with exit 3, naming the address', async (t) => {
  const server = createServer();
  await listen(server, 0, '127.0.0.1');
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const result = await runCli(['start', '-n', '-p', String(port), ...ALLOW_ROOT, '--', process.execPath, RESPONDER]);
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stderr, new RegExp(`^fcgi-spawn: unable to bind 127\\.0\\.0\\.1:${port}: EADDRINUSE \\(address already in use\\)`));
});

test('a second pool on the same port is refused although the first set SO_REUSEPORT', async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '--', process.execPath, RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const sameName = await runCli(['start', '-n', '-p', String(port), ...ALLOW_ROOT, '--', process.execPath, RESPONDER]);
  assert.equal(sameName.code, 5, sameName.stderr);
  assert.match(sameName.stderr, new RegExp(`127\\.0\\.0\\.1-${port} is already running \\(pid ${pool.pid}\\)`));
  const second = await runCli(['start', '-n', '--name', 'other', '-p', String(port), ...ALLOW_ROOT, '--', process.execPath, RESPONDER]);
  assert.equal(second.code, 3, second.stderr);
  assert.match(second.stderr, /EADDRINUSE/);
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0, 'the first pool stopped serving');
  await pool.stop();
});

test('Unix socket: temporary sockets of a supervisor killed during a reload are removed at start', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'pool.sock');
  // A process that binds a reload's temporary path under its own pid, then dies by SIGKILL.
  const script = `const p = require('path').join(${JSON.stringify(dir)}, '.pool.sock.' + process.pid + '.2'); require('net').createServer().listen(p, () => console.log(p))`;
  const holder = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => killQuietly(holder.pid as number));
  const temporary = await new Promise<string>((resolve) => holder.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  holder.kill('SIGKILL');
  await waitFor('the holder gone', () => !isAlive(holder.pid as number));
  assert.ok(lstatSync(temporary).isSocket());
  const pool = startSupervisor(['-s', path, '--', process.execPath, RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  assert.equal(existsSync(temporary), false, 'abandoned temporary socket left behind');
  await pool.stop();
});
