/**
 * A stop that cannot count on its workers: each ignores SIGTERM and has left a setsid()'d child
 * (which ignores SIGTERM too) holding the socket. `stop --timeout` set to the pool's stop timeout + 1 s
 * succeeds (exit 0: the supervisor was gone by then, or `stop` would have had to kill it), and once it
 * returns /proc shows nothing of the pool: no worker, no escapee, nothing holding the socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES, runCli } from '../helpers/supervisor.js';
import { isAlive } from '../helpers/processes.js';
import { canListen, socketHeld, socketInode, startLeavingPool } from './support.js';

const STOP_TIMEOUT_S = 2;

test('stop with workers that ignore TERM and children that left their group: all gone by the stop timeout + 1 s', async (t) => {
  const { port, pool, left } = await startLeavingPool(t, 2, ['--stop-timeout', String(STOP_TIMEOUT_S)], ['ESCAPEE_IGNORES_TERM=1', `WORKER=${join(FIXTURES, 'ignores-term.mjs')}`]);
  const inode = socketInode(left[0] as number, 0);
  const workers = pool.workerPids;
  assert.equal(workers.length, 2);

  const stop = await runCli(['stop', '-p', String(port), '--timeout', String(STOP_TIMEOUT_S + 1)]);
  assert.equal(stop.code, 0, `stop had to force it: ${stop.stderr}\n${pool.log()}`);
  assert.deepEqual([pool.pid, ...workers, ...left].filter(isAlive), [], pool.log());
  assert.equal(socketHeld(inode), false);
  assert.equal(await canListen(port), true);
  assert.match(pool.log(), /ignores-term: pid \d+ ignoring SIGTERM/);
});
