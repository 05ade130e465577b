/**
 * kill -9 of the supervisor under load: its workers and what they left outside their groups keep the
 * port. The next `start` of the same name stops them (the workers it recorded, and whatever holds
 * the sockets it recorded), binds the port and serves; nothing of the first instance is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSupervisor } from '../helpers/supervisor.js';
import { isAlive } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { assertServing, startRequestLoop, socketHeld, socketInode, startLeavingPool } from './support.js';

test('after kill -9 of the supervisor under load, the next start stops its orphans, binds the port and serves', async (t) => {
  const { port, pool: first, escapees, left, args } = await startLeavingPool(t, 2, ['--stop-timeout', '2']);
  const oldInode = socketInode(left[0] as number, 0);
  const oldWorkers = first.workerPids;
  const load = startRequestLoop(port);
  t.after(() => load.stop());
  await waitFor('requests served', () => load.peek().ok >= 20);

  const killed = await first.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  // Orphaned, the workers keep serving on the socket.
  const served = load.peek().ok;
  await waitFor('requests still served by the orphans', () => load.peek().ok >= served + 20);
  assert.deepEqual(oldWorkers.filter((pid) => !isAlive(pid)), []);

  const second = startSupervisor(args);
  t.after(() => second.cleanup());
  await second.waitReady();
  await load.stop();
  assert.match(second.log(), /the previous supervisor \(pid \d+\) is gone but 2 of its workers run: stopping them/);
  assert.match(second.log(), /process \d+ \(sleep\) still holds its socket: stopping it/);
  assert.deepEqual([...oldWorkers, ...left].filter(isAlive), [], second.log());
  assert.equal(socketHeld(oldInode), false);

  await assertServing(t, port, 'by the new instance');
  const exit = await second.stop();
  assert.equal(exit.code, 0, second.log());
  assert.deepEqual([...second.strays(), ...escapees.alive()], []);
});
