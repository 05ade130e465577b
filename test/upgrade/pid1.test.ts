/**
 * A container's init: the supervisor as PID 1 of a PID namespace (`unshare --pid --fork`) upgrades in place on
 * SIGUSR2 and stays PID 1 — the namespace would end with it — while a request loop sees no failure; its adopted
 * workers are reaped by it, no zombie is left, and TERM still stops everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/supervisor.js';
import { freePort, isAlive, killQuietly } from '../helpers/processes.js';
import { probe, requestLoop } from '../helpers/fastcgi.js';
import { findTool, needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';
import { childPids } from '../../src/os/process-tree.js';
import { children, startAsPid1 } from '../reliability/support.js';

const root = process.geteuid?.() === 0 ? {} : { skip: 'needs root for unshare --pid' };
const tools = needs('unshare', 'fcgiwrap');
const HELLO = join(FIXTURES, 'cgi', 'hello.sh');

test('as PID 1, SIGUSR2 upgrades in place: still PID 1, no failed request, the adopted workers reaped, TERM stops everything', { ...root, ...tools }, async (t) => {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const { pool, init } = await startAsPid1(t, ['-p', String(port), '-F', '2', '--steer-grace', '0.1', '--allow-root', '--', findTool('fcgiwrap') as string]);
  const adopted = children(init).filter((c) => c.name === 'fcgiwrap').map((c) => c.pid);
  assert.equal(adopted.length, 2);

  let done = false;
  const loop = requestLoop(address, HELLO, () => done);
  await waitFor('requests flowing', async () => (await probe(address, HELLO)).code === 0);
  killQuietly(init, 'SIGUSR2');
  await pool.waitForLine(/info: upgrade finished: reloaded/, 60_000);
  done = true;
  const result = await loop;
  assert.deepEqual(result.failed, [], pool.log());
  assert.ok(isAlive(init), 'PID 1 is the same process');
  assert.match(pool.log(), /fcgi-spawn\[1\]: info: upgraded in place from \S+ to \S+ \(pid 1\)/);
  // The adopted workers were retired and reaped by PID 1: gone, not zombies.
  await waitFor('the adopted workers reaped', () => adopted.every((pid) => !isAlive(pid) && !children(init).some((c) => c.pid === pid)), { timeoutMs: 10_000 });
  assert.deepEqual(children(init).filter((c) => c.state === 'Z'), []);

  const members = [init, ...children(init).flatMap((c) => [c.pid, ...childPids(c.pid)])];
  killQuietly(init, 'SIGTERM');
  const exit = await pool.waitExit(15_000);
  assert.equal(exit.code, 0, pool.log());
  assert.deepEqual(members.filter(isAlive), []);
});
