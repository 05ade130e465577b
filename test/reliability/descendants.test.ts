/**
 * Every descendant accounted for: what a worker leaves outside its process group (a setsid()'d
 * child that keeps the listening socket) is adopted by the supervisor (a child subreaper), reaped
 * when it exits, stopped with its generation on reload and with the pool on stop; as a last resort a
 * process anywhere that still holds the socket at stop is named and killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { freePort, isAlive, killQuietly } from '../helpers/processes.js';
import { findTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';
import { readStat } from '../../src/os/proc.js';
import { socketInodesOf } from '../../src/os/process-tree.js';
import { canListen, children, socketHeld, socketInode, startLeavingPool } from './support.js';

test('a setsid()ed child of a worker that keeps the socket is stopped with the pool: the port can be bound again at once', async (t) => {
  const { port, pool, escapees, left } = await startLeavingPool(t, 2);
  const inode = socketInode(left[0] as number, 0);
  // Outside every worker's process group: the workers' stop signal never reaches them.
  for (const pid of left) assert.ok(!pool.workerPids.includes(readStat(pid)?.pgrp ?? -1), `escapee ${pid} is in a worker's group`);

  const stop = await runCli(['stop', '-p', String(port)]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /stopped/);
  const exit = await pool.waitExit();
  assert.equal(exit.code, 0, pool.log());
  assert.deepEqual(escapees.alive(), [], `left running after stop:\n${pool.log()}`);
  assert.equal(socketHeld(inode), false, 'something still holds the pool socket');
  assert.equal(await canListen(port), true);
});

test('a graceful stop (QUIT) lets the workers finish, then stops what they left behind', async (t) => {
  const { port, pool, left } = await startLeavingPool(t, 2);
  const stop = await runCli(['stop', '-p', String(port), '--graceful']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal((await pool.waitExit()).code, 0, pool.log());
  assert.deepEqual(left.filter(isAlive), [], pool.log());
  assert.equal(await canListen(port), true);
});

test('a child that outlives its worker is adopted by the supervisor and reaped when it exits', async (t) => {
  const { pool, left: [escapee] } = await startLeavingPool(t, 1);
  assert.ok(escapee !== undefined);
  const [worker] = pool.workerPids;
  assert.ok(worker !== undefined);
  killQuietly(worker, 'SIGKILL');
  // Reparented to the supervisor (a child subreaper), not to init.
  await waitFor(`escapee ${escapee} reparented`, () => readStat(escapee)?.ppid !== worker);
  assert.equal(readStat(escapee)?.ppid, pool.pid, 'the escapee went elsewhere than to the supervisor');
  await pool.waitForLine(new RegExp(`adopted process ${escapee} \\(sleep\\), left behind by a worker: it holds the socket of generation 1`));
  // When it exits, the supervisor reaps it: its /proc entry goes, no zombie is left among the supervisor's children.
  killQuietly(escapee, 'SIGKILL');
  await waitFor(`escapee ${escapee} reaped`, () => readStat(escapee) === undefined, { timeoutMs: 10_000 })
    .catch(() => assert.fail(`not reaped: ${JSON.stringify(children(pool.pid))}`));
  assert.deepEqual(children(pool.pid).filter((child) => child.state === 'Z'), []);
  await pool.waitForLine(new RegExp(`process ${escapee} \\(sleep\\) exited \\(killed by SIGKILL\\)`));
});

test('a reload stops what the old workers left holding the old socket; the new generation keeps its own', async (t) => {
  const { port, pool, escapees, left: old } = await startLeavingPool(t, 2, ['--stop-timeout', '2', '--steer-grace', '0.1']);
  const oldInode = socketInode(old[0] as number, 0);
  const reload = await runCli(['reload', '-p', String(port)]);
  assert.equal(reload.code, 0, `${reload.stderr}\n${pool.log()}`);
  await waitFor('the old escapees gone', () => old.every((pid) => !isAlive(pid)), { timeoutMs: 10_000 });
  assert.equal(socketHeld(oldInode), false, 'something still holds the retired socket');
  const current = escapees.alive();
  assert.equal(current.length, 2, `escapees of the new generation: ${current.join(',')}`);
  for (const pid of current) assert.notEqual(socketInode(pid, 0), oldInode);
  assert.match(pool.log(), /holds the socket of retired generation 1/);
});

test('at stop, a process outside the supervisor\'s tree that still holds the socket is named in the log and killed', { skip: findTool('python3') ? undefined : 'needs python3 (apt-get install python3)' }, async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '1', '--', join(FIXTURES, 'fcgi-responder.mjs')]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const [worker] = pool.workerPids;
  assert.ok(worker !== undefined);
  // Not a descendant of the supervisor: a child of the test takes a copy of the worker's fd 0.
  const borrower = spawn(findTool('python3') as string, [join(FIXTURES, 'borrow-socket.py'), String(worker), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let said = '';
  borrower.stdout?.on('data', (data: Buffer) => (said += data.toString()));
  const holder = await waitFor('the borrower holding the socket', () => Number(/holding (\d+)/.exec(said)?.[1] ?? 0) || undefined);
  t.after(() => killQuietly(holder, 'SIGKILL'));
  const inode = socketInode(worker, 0);
  assert.ok(socketInodesOf(holder).has(inode));
  const exit = await pool.stop();
  assert.equal(exit.code, 0, pool.log());
  assert.equal(isAlive(holder), false, `the borrower ${holder} still runs after stop:\n${pool.log()}`);
  assert.match(pool.log(), new RegExp(`process ${holder} \\(python3\\) still holds the socket of generation 1 on 127\\.0\\.0\\.1:${port} after the stop: SIGKILL`));
  assert.equal(socketHeld(inode), false);
  assert.equal(await canListen(port), true);
});
