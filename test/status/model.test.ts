/**
 * The status model as `status --json` shows it: workers by state, the listen queue of a Unix socket (sock_diag)
 * while a saturated pool has connections waiting and after, and counters that tell exits by cause and survive
 * a reload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { freePort, killQuietly } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { statusJson } from '../helpers/status.js';
import { findTool, needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const HOLDER = join(FIXTURES, 'python', 'hold-connection.py');

function openClient(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const client = connect(path);
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

test('a Unix pool: the listen queue counts connections waiting while every worker is busy, and 0 after', needs('python3'), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-queue-'));
  const path = join(dir, 'pool.sock');
  const supervisor = startSupervisor(['-s', path, '-F', '1', '-b', '16', '--', findTool('python3') as string, HOLDER]);
  const clients: Socket[] = [];
  t.after(async () => {
    for (const client of clients) client.destroy();
    await supervisor.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  await supervisor.waitReady();
  const selector = ['-s', path];
  const quiet = await statusJson(selector);
  assert.deepEqual(quiet.queue, { length: 0, limit: 16 }, 'an idle pool has nothing queued (sock_diag reads the Unix socket)');
  assert.equal(quiet.pools[0]?.queueMax, 0);
  assert.equal(quiet.pools[0]?.effectiveBacklog, 16, 'the limit as the kernel applies it');
  assert.deepEqual(quiet.pools[0]?.workerCounts, { starting: 0, idle: 1, busy: 0, listening: 0 });
  // The one worker takes the first connection and holds it; the other three wait in the queue.
  for (let i = 0; i < 4; i += 1) clients.push(await openClient(path));
  const saturated = await waitFor('three connections queued behind the busy worker', async () => {
    const status = await statusJson(selector);
    return status.pools[0]?.queue?.length === 3 ? status : undefined;
  });
  assert.deepEqual(saturated.pools[0]?.workerCounts, { starting: 0, idle: 0, busy: 1, listening: 0 });
  assert.equal(saturated.pools[0]?.queueMax, 3);
  const text = await runCli(['status', ...selector]);
  assert.match(text.stdout, /queue 3\/16 \(max 3\)/);
  for (const client of clients) client.destroy();
  const drained = await waitFor('the queue empty once the clients left', async () => {
    const status = await statusJson(selector);
    return status.pools[0]?.queue?.length === 0 && status.pools[0]?.workerCounts.idle === 1 ? status : undefined;
  });
  assert.equal(drained.pools[0]?.queueMax, 3, 'the maximum since start stays');
});

test('counters: exits by cause after kill -9, a crash and a clean exit, surviving a reload', async (t) => {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const selector = ['-p', String(port)];
  // --start-secs 0: a crash right after readiness is an ordinary crash here, not an early one held back.
  const supervisor = startSupervisor(['-p', String(port), '-F', '2', '--start-secs', '0', '--', process.execPath, RESPONDER]);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const first = await statusJson(selector);
  // The fields scripts read before the model existed are all still there.
  for (const key of ['name', 'pid', 'uptimeMs', 'phase', 'pools', 'address', 'backlog', 'queue', 'desiredWorkers', 'generation', 'blocking', 'workers']) {
    assert.ok(key in first, `status --json keeps ${key}`);
  }
  const pool = first.pools[0];
  assert.ok(pool);
  assert.equal(pool.pm, 'static');
  assert.deepEqual(pool.counters.exits, { clean: 0, crash: 0, signal: 0, 'request-timeout': 0, recycled: 0, retired: 0 });
  assert.equal(pool.counters.spawns, 2);
  assert.ok(first.workers.every((worker) => !Number.isNaN(Date.parse(worker.since))), 'each worker says since when');
  assert.ok(first.process.residentMemoryBytes > 0 && first.process.openFds > 0, "the supervisor's own process metrics");

  const exitsAfter = async (what: string, expected: Partial<Record<string, number>>, spawns: number): Promise<void> => {
    await waitFor(what, async () => {
      const status = await statusJson(selector);
      const counters = status.pools[0]?.counters;
      const ready = status.workers.filter((w) => w.state === 'ready').length === 2;
      return ready && counters?.spawns === spawns && Object.entries(expected).every(([cause, n]) => counters.exits[cause as 'clean'] === n);
    });
  };
  killQuietly(first.workers[0]?.pid as number, 'SIGKILL');
  await exitsAfter('the kill -9 counted as a signal exit, and the worker replaced', { signal: 1 }, 3);
  assert.equal((await probe(address, '/?exit=3')).code, 0);
  await exitsAfter('the exit status 3 counted as a crash', { signal: 1, crash: 1 }, 4);
  assert.equal((await probe(address, '/?exit=0')).code, 0);
  await exitsAfter('the exit status 0 counted as clean', { signal: 1, crash: 1, clean: 1 }, 5);

  const reload = await runCli(['reload', ...selector]);
  assert.equal(reload.code, 0, reload.stderr);
  await exitsAfter('the old generation retired', { signal: 1, crash: 1, clean: 1, retired: 2 }, 7);
  const after = await statusJson(selector);
  assert.equal(after.generation, 2, 'a new generation serves');
  assert.deepEqual(after.pools[0]?.counters.reloads, { ok: 1, rolledBack: 0 });
  assert.equal(after.pools[0]?.counters.failedStarts, 0);
});
