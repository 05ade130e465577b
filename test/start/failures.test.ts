/** Workers that die: crash loops with backoff, a start-up that gives up, kill -9 under load. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { cpuTicks, freePort, isAlive } from '../helpers/processes.js';
import { findTool, needs } from '../helpers/tools.js';
import { parentInBody, probe, requestLoop } from '../helpers/fastcgi.js';
import { waitFor } from '../helpers/wait.js';

const ALLOW_ROOT = process.geteuid?.() === 0 ? ['--allow-root'] : [];

test('start-up gives up after --start-retries failed starts: exit 1 with the reason, nothing left behind', async () => {
  const port = await freePort();
  const result = await runCli(['start', '-n', '-p', String(port), '--start-retries', '2', ...ALLOW_ROOT, '--', process.execPath, join(FIXTURES, 'crasher.mjs'), '7']);
  assert.equal(result.code, 1, result.stderr);
  const last = result.stderr.trim().split('\n').at(-1) ?? '';
  assert.match(last, /^fcgi-spawn: start failed: slot 0 failed to start 3 times; last: exited before it was ready \(exit status 7\)/);
  assert.match(last, /its last stderr line: crasher: failing on purpose \(exit 7\)/);
  // Backoff between the attempts is logged: 100 ms, then 200 ms.
  assert.match(result.stderr, /failed start 1, retrying in 100 ms/);
  assert.match(result.stderr, /failed start 2, retrying in 200 ms/);
  const again = await probe(`127.0.0.1:${port}`);
  assert.equal(again.code, 3, 'the socket is still open after a failed start');
});

test('a crash loop while running backs off, stays cheap, and recovers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'fail');
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '1', '-e', `FLAKY_MARKER=${marker}`, '--', process.execPath, join(FIXTURES, 'flaky.mjs')]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  writeFileSync(marker, '');
  const [first] = pool.workerPids;
  assert.ok(first !== undefined);
  const ticksBefore = cpuTicks(pool.pid);
  process.kill(first, 'SIGKILL');
  await pool.waitForLine(/failed start 4, retrying in 800 ms/, 20_000);
  const ticks = cpuTicks(pool.pid) - ticksBefore;
  // Four failed starts over ~1.5 s: the supervisor itself must stay near idle (a fork storm would not).
  assert.ok(ticks < 100, `supervisor used ${ticks} ticks of CPU during the crash loop`);
  const attempts = pool.workerPids.length;
  assert.ok(attempts <= 7, `${attempts} workers spawned: backoff is not holding them back`);
  unlinkSync(marker);
  await waitFor('the slot ready again', () => pool.lines.filter((l) => /starting→ready/.test(l)).length >= 2, { timeoutMs: 10_000 });
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0);
  await pool.stop();
  assert.deepEqual(pool.strays(), []);
});

test('kill -9 of a worker under a request loop: the replacement serves, only a request in flight may fail', needs('fcgiwrap'), async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '--', findTool('fcgiwrap') as string]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const address = `127.0.0.1:${port}`;
  const script = join(FIXTURES, 'cgi', 'hello.sh');
  const [victim] = pool.workerPids;
  assert.ok(victim !== undefined, pool.log());
  let done = false;
  const loops = Promise.all(Array.from({ length: 3 }, () => requestLoop(address, script, () => done)));
  try {
    await waitFor('some requests served', async () => (await probe(address, script)).code === 0);
    process.kill(victim, 'SIGKILL');
    await waitFor('the replacement ready', () => pool.lines.filter((l) => /starting→ready/.test(l)).length >= 3).catch((error: Error) => {
      throw new Error(`${error.message}\n${pool.log()}`);
    });
    const replacement = pool.workerPids.at(-1) as number;
    await waitFor('the replacement answering', async () => {
      // fcgiwrap forks the CGI script: the script's parent is the worker that answered. Read from the answer,
      // not from /proc: the script has exited (and may be reaped) by the time the answer is read.
      const answer = await probe(address, script);
      return parentInBody(answer.out) === replacement;
    }, { timeoutMs: 10_000, intervalMs: 1 });
  } finally {
    done = true;
  }
  const results = await loops;
  const failed = results.flatMap((r) => r.failed);
  const ok = results.reduce((sum, r) => sum + r.ok, 0);
  assert.ok(ok > 10, `only ${ok} requests served`);
  // fcgiwrap serves one request at a time: at most the one it held when killed can fail.
  assert.ok(failed.length <= 1, `failed requests: ${failed.join(' | ')}`);
  assert.equal(isAlive(victim), false);
  await pool.stop();
  assert.deepEqual(pool.strays(), []);
});
