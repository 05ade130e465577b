/**
 * As PID 1 of a PID namespace (a container's init), every orphan in it is the supervisor's child:
 * what workers leave behind must be reaped, not pile up as zombies (3 `[fcgiwrap] <defunct>` in 5 s
 * were seen), and TERM still stops everything. Run under `unshare --pid --fork --mount-proc`; the
 * test reads the namespace from outside through the supervisor's host pid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, isAlive, killQuietly } from '../helpers/processes.js';
import { findTool, needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';
import { childPids } from '../../src/os/process-tree.js';
import { children, startAsPid1 } from './support.js';

const ROUNDS = 3;
const root = process.geteuid?.() === 0 ? {} : { skip: 'needs root for unshare --pid' };
const tools = needs('unshare', 'fcgiwrap');

test('as PID 1, the children of killed fcgiwrap -c masters are reaped (no zombies) and TERM stops everything', { ...root, ...tools }, async (t) => {
  const port = await freePort();
  const { pool, init } = await startAsPid1(t, ['-p', String(port), '-F', '2', '--stop-timeout', '2', '--allow-root', '--', findTool('fcgiwrap') as string, '-c', '2']);

  const killed: number[] = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    const masters = await waitFor(`round ${round}: two fcgiwrap masters with two children each`, () => {
      const live = children(init).filter((c) => c.state !== 'Z' && c.name === 'fcgiwrap');
      return live.length === 2 && live.every((m) => children(m.pid).filter((c) => c.state !== 'Z').length === 2) ? live : undefined;
    }, { timeoutMs: 15_000 });
    for (const master of masters) {
      killed.push(...childPids(master.pid));
      killQuietly(master.pid, 'SIGKILL');
    }
    // The masters' children are reparented to PID 1 (the supervisor) and killed with their group.
    await waitFor(`round ${round}: the killed masters' children gone`, () => killed.every((pid) => !isAlive(pid)), { timeoutMs: 10_000 });
  }
  // Gone, not zombies: reaped by PID 1 (their /proc entries vanish).
  await waitFor('no zombie among the children of PID 1', () => children(init).every((c) => c.state !== 'Z'), { timeoutMs: 10_000 })
    .catch(() => assert.fail(`zombies under PID 1: ${JSON.stringify(children(init).filter((c) => c.state === 'Z'))}\n${pool.log()}`));
  assert.deepEqual(killed.filter((pid) => children(init).some((c) => c.pid === pid)), []);

  const members = [init, ...children(init).flatMap((c) => [c.pid, ...childPids(c.pid)])];
  killQuietly(init, 'SIGTERM');
  const exit = await pool.waitExit(15_000);
  assert.equal(exit.code, 0, pool.log());
  assert.match(pool.log(), /stopped: every worker exited/);
  assert.match(pool.log(), /fcgi-spawn\[1\]: info: running as PID 1/);
  assert.deepEqual(members.filter(isAlive), []);
});
