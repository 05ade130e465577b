/**
 * A pool on a socket systemd passed, removed by `update` and added again: the supervisor kept systemd's fd (the
 * table of adopted sockets, os/adopted-sockets.ts), so the pool gets the same socket back instead of trying to bind
 * an address systemd's socket holds. TCP without SO_REUSEPORT too: nothing is bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { findTool, needs } from '../helpers/tools.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { statusJson } from '../helpers/status.js';
import { socketFds, tempDir, writeConfig, type PoolSpec } from './support.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ACTIVATE = join(FIXTURES, 'activate.py');

test('update: pools on systemd\'s sockets removed, then added again, get the same sockets back and serve', needs('python3'), async (t) => {
  const dir = tempDir(t);
  const [port, ownPort] = [await freePort(), await freePort()];
  const path = join(dir, 'app.sock');
  const name = `readd-${process.pid}`;
  const keep: PoolSpec = { name: 'keep', listen: `127.0.0.1:${ownPort}`, command: [process.execPath, RESPONDER], workers: 1 };
  const adopted: PoolSpec[] = [
    { name: 'sock', listen: path, command: [process.execPath, RESPONDER], workers: 1 },
    { name: 'tcp', listen: `127.0.0.1:${port}`, command: [process.execPath, RESPONDER], workers: 1 },
  ];
  const config = writeConfig(dir, [keep, ...adopted]);
  const prefix = [findTool('python3') as string, ACTIVATE, `unix:${path}`, `tcp:127.0.0.1:${port}`, '--names', 'sock:tcp', '--'];
  const supervisor = startSupervisor(['--config', config, '--name', name], { prefix });
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const held = socketFds(supervisor.pid);
  const [unixInode, tcpInode] = [held.get(3), held.get(4)];
  assert.ok(unixInode && tcpInode, supervisor.log());
  const fileInode = lstatSync(path).ino;

  writeConfig(dir, [keep]);
  const removed = await runCli(['update', '--name', name]);
  assert.equal(removed.code, 0, `${removed.stderr}\n${supervisor.log()}`);
  assert.deepEqual((await statusJson(['--name', name])).pools.map((pool) => pool.name), ['keep']);
  // Still held by the supervisor (as systemd holds its own copy): the next pool on them takes them.
  const kept = socketFds(supervisor.pid);
  assert.equal(kept.get(3), unixInode);
  assert.equal(kept.get(4), tcpInode);
  assert.equal(lstatSync(path).ino, fileInode, 'systemd\'s socket file is left where it is');

  writeConfig(dir, [keep, ...adopted]);
  const added = await runCli(['update', '--name', name]);
  assert.equal(added.code, 0, `${added.stderr}\n${supervisor.log()}`);
  assert.match(supervisor.log(), /socket activation: pool sock adopts again fd 3 'sock' \(.*app\.sock\) from systemd/);
  assert.match(supervisor.log(), /socket activation: pool tcp adopts again fd 4 'tcp' \(127\.0\.0\.1:\d+\) from systemd/);
  const status = await statusJson(['--name', name]);
  for (const pool of status.pools.filter((p) => p.name !== 'keep')) {
    const expected: number = pool.name === 'sock' ? unixInode : tcpInode;
    assert.ok(pool.workers.length > 0);
    for (const worker of pool.workers) assert.equal(socketFds(worker.pid).get(0), expected, `pool ${pool.name}'s worker on systemd's socket`);
  }
  assert.equal((await probe(path, '/')).code, 0);
  assert.equal((await probe(`127.0.0.1:${port}`, '/')).code, 0);
  assert.equal((await probe(`127.0.0.1:${ownPort}`, '/')).code, 0);

  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
  assert.equal(lstatSync(path).ino, fileInode, 'systemd\'s socket file stays after the stop');
});
