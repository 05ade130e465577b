/**
 * A reload's new workers start at a lower CPU priority and get the supervisor's back once steered to
 * (runtime/start-priority.ts), on a real pool: a worker that takes 4 s before it listens is seen lowered
 * while it starts, and at the supervisor's niceness, every thread of it, once the reload finished.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { numericEntries } from '../../src/os/proc.js';
import { START_NICE_STEP } from '../../src/runtime/start-priority.js';
import { FIXTURES, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const SLOW_STARTER = join(FIXTURES, 'slow-starter.mjs');

function spawnedIn(pool: RunningSupervisor, generation: number): number | undefined {
  for (const line of pool.lines) {
    const match = new RegExp(`worker (\\d+) \\(slot 0, generation ${generation}\\) spawned`).exec(line);
    if (match) return Number(match[1]);
  }
  return undefined;
}

test("a reload's new worker starts lowered and serves at the supervisor's niceness", async (t) => {
  if (process.geteuid?.() !== 0) return t.skip('giving a niceness back needs root (CAP_SYS_NICE): not done otherwise');
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '1', '--steer-grace', '0.1', '--', process.execPath, SLOW_STARTER, '4000']);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const first = spawnedIn(pool, 1) as number;
  const own = getPriority(pool.pid);
  assert.equal(getPriority(first), own, 'the first generation starts as it always did');
  process.kill(pool.pid, 'SIGHUP');
  await waitFor(`generation 2 spawned\n${pool.log()}`, () => spawnedIn(pool, 2) !== undefined, { timeoutMs: 20_000 });
  const pid = spawnedIn(pool, 2) as number;
  // It listens only after 4 s: still starting when looked at (checked after the look).
  const starting = getPriority(pid);
  assert.ok(!pool.lines.some((line) => /reload: generation 2 ready/.test(line)), 'looked while it was starting');
  assert.equal(starting, Math.min(19, own + START_NICE_STEP));
  await waitFor(`reload finished\n${pool.log()}`, () => pool.lines.some((line) => /reload finished: generation 2 serving/.test(line)), { timeoutMs: 20_000 });
  const threads = numericEntries(`/proc/${pid}/task`);
  assert.ok(threads.length > 1, 'a Node worker has several threads');
  assert.deepEqual([...new Set(threads.map((tid) => getPriority(tid)))], [own], 'every thread back at the supervisor niceness');
  await pool.stop();
});
