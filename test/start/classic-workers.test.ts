/**
 * Classic prefork FastCGI programs from Debian (libfcgi's fcgiwrap, php-cgi) through a real pool:
 * they need a blocking socket, are seen ready in accept(), and recycle or fork children.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { freePort, groupMembers, isAlive } from '../helpers/processes.js';
import { findTool, needs } from '../helpers/tools.js';
import { pidInBody, probe } from '../helpers/fastcgi.js';
import { waitFor } from '../helpers/wait.js';

const CGI_SCRIPT = join(FIXTURES, 'cgi', 'hello.sh');
const PHP_SCRIPT = join(FIXTURES, 'php', 'hello.php');

test('fcgiwrap workers serve a CGI script and are seen ready blocked in accept()', needs('fcgiwrap'), async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '--', findTool('fcgiwrap') as string]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const readyLines = pool.lines.filter((line) => /starting→ready \(blocked in accept\)/.test(line));
  assert.equal(readyLines.length, 2, pool.log());
  const answers = await Promise.all(Array.from({ length: 6 }, () => probe(`127.0.0.1:${port}`, `${CGI_SCRIPT}?x=1`)));
  for (const answer of answers) {
    assert.equal(answer.code, 0, answer.err);
    assert.match(answer.out, /hello from cgi pid \d+/);
    assert.match(answer.out, /query=x=1/);
  }
  const exit = await pool.stop();
  assert.equal(exit.code, 0, pool.log());
  assert.deepEqual(pool.strays(), []);
});

test('php-cgi with PHP_FCGI_CHILDREN=2 recycles after PHP_FCGI_MAX_REQUESTS and the pool keeps serving', needs('php-cgi'), async (t) => {
  const port = await freePort();
  const pool = startSupervisor([
    '-p', String(port), '-F', '1', '-C', '2', '-e', 'PHP_FCGI_MAX_REQUESTS=3', '--', findTool('php-cgi') as string,
  ]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  // The master sits in wait4(); only its children accept: readiness must come from the group.
  assert.match(pool.log(), /starting→ready \(blocked in accept\)/);
  const [master] = pool.workerPids;
  assert.ok(master !== undefined);
  await waitFor('two php-cgi children in the master group', () => groupMembers(master).length === 3);
  const pids = new Set<number>();
  for (let i = 0; i < 20; i += 1) {
    const answer = await probe(`127.0.0.1:${port}`, PHP_SCRIPT);
    assert.equal(answer.code, 0, `request ${i}: ${answer.err}\n${pool.log()}`);
    const pid = pidInBody(answer.out);
    assert.ok(pid, answer.out);
    pids.add(pid);
  }
  // 20 requests over 2 children that each exit after 3: php-cgi re-forks them, so more than 2 pids answered.
  assert.ok(pids.size > 2, `only ${[...pids].join(',')} answered`);
  const members = groupMembers(master);
  const exit = await pool.stop();
  assert.equal(exit.code, 0, pool.log());
  // Children still there when their master died were sent SIGKILL: gone within moments.
  await waitFor('php-cgi master and children gone', () => members.every((pid) => !isAlive(pid)), { timeoutMs: 2_000 });
  assert.deepEqual(pool.strays(), []);
});

test('php-cgi without children: each worker exits after PHP_FCGI_MAX_REQUESTS and is respawned at once', needs('php-cgi'), async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '-e', 'PHP_FCGI_MAX_REQUESTS=5', '--', findTool('php-cgi') as string]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  for (let i = 0; i < 30; i += 1) {
    const answer = await probe(`127.0.0.1:${port}`, PHP_SCRIPT);
    assert.equal(answer.code, 0, `request ${i}: ${answer.err}\n${pool.log()}`);
  }
  // A replacement can serve its 5 requests from the queue and exit between two looks in /proc,
  // which counts as a failed start (a short backoff); what matters is that no request failed.
  await pool.waitForLine(/ready→exited \(exit status 0\): respawning/);
  // 30 requests at 5 per worker: at least 6 workers served them (their log lines may still be on the way).
  await waitFor('six workers spawned', () => pool.workerPids.length >= 6);
  await pool.stop();
  assert.deepEqual(pool.strays(), []);
});

test('TERM to a php-cgi pool with children leaves no process behind', needs('php-cgi'), async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '-C', '3', '--', findTool('php-cgi') as string]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const everyone = pool.workerPids.flatMap((pid) => groupMembers(pid));
  assert.ok(everyone.length >= 8, `expected 2 masters with 3 children each, saw ${everyone.length}`);
  const exit = await pool.stop('SIGTERM');
  assert.equal(exit.code, 0);
  await waitFor('every php-cgi process gone', () => everyone.every((pid) => !isAlive(pid)), { timeoutMs: 2_000 });
});

test('SIGKILL of a php-cgi master: its orphaned children are stopped and the slot respawned', needs('php-cgi'), async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '1', '-C', '2', '--', findTool('php-cgi') as string]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const [master] = pool.workerPids;
  assert.ok(master !== undefined);
  const children = await waitFor('php-cgi children', () => {
    const members = groupMembers(master).filter((pid) => pid !== master);
    return members.length === 2 ? members : undefined;
  });
  process.kill(master, 'SIGKILL');
  await waitFor('orphaned children gone', () => children.every((pid) => !isAlive(pid)));
  // They exit on the stop signal within milliseconds: nothing had to be killed, so nothing is said.
  assert.doesNotMatch(pool.log(), /outlived its leader/);
  await waitFor('a new master ready', () => pool.lines.filter((l) => /starting→ready/.test(l)).length >= 2);
  const answer = await probe(`127.0.0.1:${port}`, PHP_SCRIPT);
  assert.equal(answer.code, 0, answer.err);
  await pool.stop();
  assert.deepEqual(pool.strays(), []);
});
