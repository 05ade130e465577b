/**
 * Chaos: a pool of 4 under a request loop while a random worker gets SIGKILL every 200 ms. The pool
 * is back to 4 ready workers after the storm, and a request fails only when the worker holding it was
 * killed: at most one request is in flight at a time, so failures never outnumber kills, and none is
 * refused or left waiting (the socket stays with the supervisor and the surviving workers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { childPids } from '../../src/os/process-tree.js';
import type { InstanceStatus } from '../../src/control/protocol.js';
import { assertServing, startRequestLoop } from './support.js';

const STORM_MS = 3_000;
const KILL_EVERY_MS = 200;

test('kill -9 of a random worker every 200 ms: requests fail only with their worker, and the pool is back to 4 ready', async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '4', '--', join(FIXTURES, 'fcgi-responder.mjs')]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const loop = startRequestLoop(port);
  t.after(() => loop.stop());
  let kills = 0;
  const stormEnds = Date.now() + STORM_MS;
  while (Date.now() < stormEnds) {
    // The supervisor's children are its workers here (they leave nothing behind).
    const workers = childPids(pool.pid);
    const victim = workers[Math.floor(Math.random() * workers.length)];
    if (victim !== undefined) {
      try {
        process.kill(victim, 'SIGKILL');
        kills += 1;
      } catch {
        // Exited meanwhile.
      }
    }
    await delay(KILL_EVERY_MS);
  }
  const during = await loop.stop();
  t.diagnostic(`${kills} kills; ${during.ok} requests served, ${during.failed} failed ${JSON.stringify(during.failures)}`);
  assert.ok(kills >= STORM_MS / KILL_EVERY_MS / 2, `only ${kills} kills`);
  assert.ok(during.ok > 0, `no request succeeded during the storm: ${JSON.stringify(during)}`);
  assert.ok(during.failed <= kills, `${during.failed} failed requests for ${kills} kills: ${JSON.stringify(during.failures)}`);
  for (const kind of Object.keys(during.failures)) assert.doesNotMatch(kind, /^(refused|timeout)/, JSON.stringify(during.failures));

  await waitFor('4 ready workers after the storm', async () => {
    const result = await runCli(['status', '-p', String(port), '--json']);
    const parsed = JSON.parse(result.stdout) as InstanceStatus;
    const ready = parsed.workers.filter((worker) => worker.state === 'ready');
    return parsed.phase === 'running' && parsed.workers.length === 4 && ready.length === 4;
  }, { timeoutMs: 30_000, intervalMs: 200 });

  await assertServing(t, port, 'after the storm');
  const exit = await pool.stop();
  assert.equal(exit.code, 0, pool.log());
  assert.deepEqual(pool.strays(), []);
});
