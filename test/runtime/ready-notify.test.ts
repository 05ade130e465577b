/**
 * `ready: notify` with real processes: a worker that listens at once but warms up is not counted ready (and a
 * reload does not steer to it, nor retire the old generation) until it writes READY=1 to the pipe
 * FCGI_SPAWN_READY_FD names; one that never does fails the start at --start-timeout with the reason; and what a
 * worker writes or does to the pipe decides only whether it is ready, nothing else.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { freePort, isAlive } from '../helpers/processes.js';
import { statusJson } from '../helpers/status.js';
import { waitFor } from '../helpers/wait.js';

const WARM_UP = join(FIXTURES, 'worker', 'warm-up.mjs');
const READY_PIPE = join(FIXTURES, 'worker', 'ready-pipe.mjs');
const ALLOW_ROOT = process.geteuid?.() === 0 ? ['--allow-root'] : [];

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function get(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(response.status, 200);
  return response.text();
}

function start(t: TestContext, args: readonly string[]): RunningSupervisor {
  const pool = startSupervisor(args);
  t.after(() => pool.cleanup());
  return pool;
}

test('a warming-up worker seen listening is not ready until READY=1; start-up waits for it', async (t) => {
  const trigger = join(tempDir(t), 'warm');
  const port = await freePort();
  const pool = start(t, ['-p', String(port), '-F', '2', '--ready', 'notify', '--name', `notify-${port}`, '--', process.execPath, WARM_UP, trigger]);
  // Both listen on the socket (an event loop, in /proc) yet are still starting: /proc readiness would have said ready.
  const seen = await waitFor('both workers listening, neither ready', async () => {
    const workers = (await statusJson(['--name', `notify-${port}`]).catch(() => undefined))?.workers;
    return workers?.length === 2 && workers.every((w) => w.state === 'starting' && w.activity === 'listening') ? workers : undefined;
  }, { timeoutMs: 10_000 });
  assert.equal(seen.length, 2);
  assert.doesNotMatch(pool.log(), /info: ready: /, 'start-up is not complete');
  writeFileSync(trigger, '');
  await pool.waitReady();
  assert.equal(pool.lines.filter((l) => /starting→ready \(READY=1 on its ready pipe\)/.test(l)).length, 2, pool.log());
  assert.match(await get(port), /^pid=\d+\n$/);
  assert.equal((await pool.stop()).code, 0);
  assert.deepEqual(pool.strays(), []);
});

test('a reload keeps the old generation serving until every new worker wrote READY=1', async (t) => {
  const trigger = join(tempDir(t), 'warm');
  writeFileSync(trigger, '');
  const port = await freePort();
  const name = `notify-reload-${port}`;
  const pool = start(t, ['-p', String(port), '-F', '2', '--ready', 'notify', '--steer-grace', '0.2', '--name', name, '--', process.execPath, WARM_UP, trigger]);
  await pool.waitReady();
  const old = new Set(pool.liveWorkers());
  unlinkSync(trigger);
  process.kill(pool.pid, 'SIGHUP');
  await waitFor('the new workers listening, not ready', async () => {
    const workers = (await statusJson(['--name', name])).workers.filter((w) => !old.has(w.pid));
    return workers.length === 2 && workers.every((w) => w.state === 'starting' && w.activity === 'listening');
  }, { timeoutMs: 10_000 });
  // Every new connection still reaches the old generation, which is neither draining nor retired.
  for (let i = 0; i < 10; i += 1) assert.ok(old.has(Number(/pid=(\d+)/.exec(await get(port))?.[1])), 'answered by an old worker');
  assert.doesNotMatch(pool.log(), /generation 2 ready|reload finished/);
  assert.ok([...old].every(isAlive));
  writeFileSync(trigger, '');
  await pool.waitForLine(/info: reload finished: generation 2 serving/);
  const answeredBy = Number(/pid=(\d+)/.exec(await get(port))?.[1]);
  assert.ok(!old.has(answeredBy), 'answered by a new worker');
  await waitFor('the old workers gone', () => [...old].every((pid) => !isAlive(pid)));
  assert.equal((await pool.stop()).code, 0);
  assert.deepEqual(pool.strays(), []);
});

test('a worker that never writes READY=1 fails the start at --start-timeout, with the reason; nothing left behind', async (t) => {
  const port = await freePort();
  const never = join(tempDir(t), 'never');
  const result = await runCli(['start', '-n', '-p', String(port), '--ready', 'notify', '--start-timeout', '1s', '--start-retries', '0', ...ALLOW_ROOT, '--', process.execPath, WARM_UP, never]);
  assert.equal(result.code, 1, result.stderr);
  const last = result.stderr.trim().split('\n').at(-1) ?? '';
  assert.match(last, /^fcgi-spawn: start failed: slot 0 failed to start 1 times; last: did not write READY=1 to its ready pipe \(the fd FCGI_SPAWN_READY_FD names\) within 1000 ms/);
  const spawned = [...result.stderr.matchAll(/worker (\d+) \(slot \d+, generation \d+\) spawned/g)].map((m) => Number(m[1]));
  assert.ok(spawned.length > 0 && spawned.every((pid) => !isAlive(pid)), 'the worker is gone');
});

test('lines other than READY=1 are said and ignored; a second READY=1 after the first harms nothing', async (t) => {
  const port = await freePort();
  const noisy = start(t, ['-p', String(port), '--ready', 'notify', '--', process.execPath, READY_PIPE, 'noise']);
  await noisy.waitReady();
  assert.match(noisy.log(), /wrote "hello" to its ready pipe: not READY=1, ignored/);
  assert.match(noisy.log(), /wrote "READY=2" to its ready pipe: not READY=1, ignored/);
  assert.match(await get(port), /^pid=\d+ fd=3\n$/, 'the pipe is fd 3 beside the socket at fd 0');
  assert.equal((await noisy.stop()).code, 0);

  const again = await freePort();
  const twice = start(t, ['-p', String(again), '--ready', 'notify', '--', process.execPath, READY_PIPE, 'twice']);
  await twice.waitReady();
  await twice.waitForLine(/wrote READY=1 twice/);
  const [pid] = twice.liveWorkers();
  assert.ok(pid !== undefined && isAlive(pid), 'no SIGPIPE for the second write');
  assert.match(await get(again), new RegExp(`^pid=${pid} `));
  assert.equal((await twice.stop()).code, 0);
  assert.deepEqual(twice.strays(), []);
});

test('a worker that closes its ready pipe, or floods it, fails its start at once with that reason', async () => {
  for (const [mode, reason] of [
    ['close', 'closed its ready pipe without writing READY=1'],
    ['flood', 'wrote \\d+ bytes to its ready pipe without a READY=1 line'],
  ] as const) {
    const port = await freePort();
    // The default --start-timeout (30 s) is not what ends these.
    const result = await runCli(['start', '-n', '-p', String(port), '--ready', 'notify', '--start-retries', '0', ...ALLOW_ROOT, '--', process.execPath, READY_PIPE, mode]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr.trim().split('\n').at(-1) ?? '', new RegExp(`start failed: slot 0 failed to start 1 times; last: ${reason}`), mode);
  }
});

test('with --fd 3 the ready pipe is fd 4, and fcgi-spawn/worker finds both', async (t) => {
  const port = await freePort();
  const pool = start(t, ['-p', String(port), '--fd', '3', '--ready', 'notify', '--', process.execPath, READY_PIPE, 'noise']);
  await pool.waitReady();
  assert.match(await get(port), /^pid=\d+ fd=4\n$/);
  assert.equal((await pool.stop()).code, 0);

  const helper = await freePort();
  const trigger = join(tmpdir(), `fcgi-spawn-notify-fd3-${helper}`);
  writeFileSync(trigger, '');
  t.after(() => rmSync(trigger, { force: true }));
  const warm = start(t, ['-p', String(helper), '--fd', '3', '--ready', 'notify', '--', process.execPath, WARM_UP, trigger]);
  await warm.waitReady();
  assert.match(await get(helper), /^pid=\d+\n$/);
  assert.equal((await warm.stop()).code, 0);
  assert.deepEqual(warm.strays(), []);
});
