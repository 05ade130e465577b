/**
 * A worker that becomes ready and then crashes at once (a PHP extension that segfaults on every
 * request): its slot backs off like failed starts instead of respawning it as fast as it dies, says
 * so in status, and starts counting afresh once a worker stays up for --start-secs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { statusJson } from '../helpers/status.js';
import { waitFor } from '../helpers/wait.js';

const CRASH_AFTER_READY = join(FIXTURES, 'crash-after-ready.mjs');

test('workers that crash right after readiness are backed off, show their failures, and are forgiven once they stay up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'crash');
  const port = await freePort();
  const selector = ['-p', String(port)];
  const pool = startSupervisor([...selector, '-F', '2', '-e', `CRASH_MARKER=${marker}`, '--', process.execPath, CRASH_AFTER_READY, '300', 'SIGSEGV']);
  t.after(() => pool.cleanup());
  await pool.waitReady();

  writeFileSync(marker, '');
  const since = Date.now();
  const before = pool.workerPids.length;
  for (const pid of pool.liveWorkers()) process.kill(pid, 'SIGKILL');
  // From now on every worker crashes 300 ms after it is ready: without a backoff, each slot would be
  // respawned every ~0.5 s and status would show no failures (readiness used to clear them).
  const crashing = await waitFor('a worker whose slot counts 3 failures in a row, in status', async () => {
    const { workers } = await statusJson(selector);
    return workers.find((worker) => worker.failures >= 3);
  }, { timeoutMs: 30_000 });
  assert.deepEqual(crashing.lastExit, { code: null, signal: 'SIGSEGV' });
  const elapsed = Date.now() - since;
  const spawned = pool.workerPids.length - before;
  // Waits doubling from 100 ms: n respawns of one slot take at least 100 × (2^n − 1) ms.
  const atMostPerSlot = Math.floor(Math.log2(elapsed / 100 + 1));
  assert.ok(spawned <= 2 * atMostPerSlot, `${spawned} spawns in ${elapsed} ms, at most ${2 * atMostPerSlot} with the backoff\n${pool.log()}`);
  assert.match(pool.log(), /ready→exited \(killed by SIGSEGV\) \d+ ms after it became ready: early crash 3, retrying in 400 ms/);

  rmSync(marker);
  await waitFor('both slots forgiven once their workers stayed up', async () => {
    const { workers } = await statusJson(selector);
    return workers.length === 2 && workers.every((worker) => worker.state === 'ready' && worker.failures === 0);
  }, { timeoutMs: 30_000 });
  const exit = await pool.stop();
  assert.equal(exit.code, 0, pool.log());
  assert.deepEqual(pool.strays(), []);
});
