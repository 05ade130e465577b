/**
 * Event-loop workers (Node): a FastCGI responder and an HTTP app on the inherited socket, fd 0 and
 * fd 3 (LISTEN_FDS). They set the shared socket non-blocking; spawning a sibling makes it blocking
 * again (libuv), so the supervisor must keep re-asserting the pool's mode through respawns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { freePort, isAlive } from '../helpers/processes.js';
import { pidInBody, probe } from '../helpers/fastcgi.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const HTTP_APP = join(FIXTURES, 'http-app.mjs');

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
}

test('the Node FastCGI responder is seen ready in epoll_wait and the socket goes non-blocking', async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '--', process.execPath, RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  assert.equal(pool.lines.filter((l) => /starting→ready \(socket in its epoll set\)/.test(l)).length, 2, pool.log());
  assert.match(pool.log(), /socket set to non-blocking/);
  const answer = await probe(`127.0.0.1:${port}`, '/hello');
  assert.equal(answer.code, 0, answer.err);
  assert.match(answer.out, /path=\/hello/);
  const exit = await pool.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(pool.strays(), []);
});

test('Node HTTP workers keep answering while siblings are killed and respawned', async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '3', '--', process.execPath, HTTP_APP]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  for (let round = 0; round < 4; round += 1) {
    const [victim] = pool.liveWorkers();
    assert.ok(victim !== undefined);
    process.kill(victim, round % 2 === 0 ? 'SIGKILL' : 'SIGTERM');
    await waitFor(`worker ${victim} replaced`, () => !isAlive(victim) && pool.liveWorkers().length === 3);
    await waitFor('the replacement ready', () => pool.lines.filter((l) => /starting→ready/.test(l)).length === 4 + round);
    // Every request must be answered: a worker stuck in a blocking accept() would hang some of them.
    const answers = await Promise.all(Array.from({ length: 12 }, () => httpGet(`http://127.0.0.1:${port}/`)));
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.match(answer.body, /pid=\d+/);
    }
  }
  const exit = await pool.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(pool.strays(), []);
});

test('--fd 3 hands the socket over the systemd way (LISTEN_FDS=1, LISTEN_PID = the worker pid)', async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '--fd', '3', '--', process.execPath, RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const answer = await probe(`127.0.0.1:${port}`, '/fd3');
  assert.equal(answer.code, 0, answer.err);
  const pid = pidInBody(answer.out);
  // The fixture uses fd 3 only when LISTEN_PID names itself: the pid that answered is a worker's.
  assert.ok(pid !== undefined && pool.workerPids.includes(pid), `${pid} not in ${pool.workerPids.join(',')}`);
  const http = startSupervisor(['-p', String(await freePort()), '--fd', '3', '--', process.execPath, HTTP_APP]);
  t.after(() => http.cleanup());
  await http.waitReady();
  await http.stop();
  await pool.stop();
  assert.deepEqual([...pool.strays(), ...http.strays()], []);
});

test('a slow starter is ready when it waits on the socket, not when a timer says so', async (t) => {
  const port = await freePort();
  const started = Date.now();
  const pool = startSupervisor(['-p', String(port), '--start-secs', '0.2', '--', process.execPath, join(FIXTURES, 'slow-starter.mjs'), '1500']);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  assert.ok(Date.now() - started >= 1500, `ready after ${Date.now() - started} ms, before the worker listened`);
  const ready = pool.lines.find((l) => /starting→ready/.test(l)) ?? '';
  assert.match(ready, /socket in its epoll set/);
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0);
  await pool.stop();
});
