/**
 * Python workers that wait in poll/select (or epoll) before accept(): gunicorn's sync and gthread
 * workers under their master, and the standard library's socketserver. Each is seen ready, serves,
 * shows as idle (or listening) in status, and reloads under a request loop without a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { startRequestLoop } from '../helpers/request-loop.js';
import { statusJson } from '../helpers/status.js';
import { findTool, needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const PYTHON = join(FIXTURES, 'python');
const SOCKETSERVER = join(PYTHON, 'socketserver-http.py');
const RELOADS = 2;

interface Scenario {
  readonly name: string;
  readonly tools: string[];
  readonly command: () => string[];
  /** How the ready line names what the worker was seen waiting in. */
  readonly readyAs: string;
  readonly activity: 'idle' | 'listening';
}

const gunicorn = (...args: string[]) => (): string[] => [findTool('gunicorn') as string, '-b', 'fd://0', '--chdir', PYTHON, ...args, 'app:app'];

const scenarios: Scenario[] = [
  { name: 'gunicorn (sync worker)', tools: ['gunicorn'], command: gunicorn(), readyAs: 'in poll/select holding the socket', activity: 'idle' },
  { name: 'gunicorn -k gthread', tools: ['gunicorn'], command: gunicorn('-k', 'gthread', '--threads', '2'), readyAs: 'socket in its epoll set', activity: 'listening' },
  { name: 'socketserver (poll)', tools: ['python3'], command: () => [findTool('python3') as string, SOCKETSERVER, 'poll'], readyAs: 'in poll/select holding the socket', activity: 'idle' },
  { name: 'socketserver (select)', tools: ['python3'], command: () => [findTool('python3') as string, SOCKETSERVER, 'select'], readyAs: 'in poll/select holding the socket', activity: 'idle' },
];

for (const scenario of scenarios) {
  test(`${scenario.name}: ready, serves, ${scenario.activity} in status, reloads under a request loop without a failure`, needs(...scenario.tools), async (t) => {
    const port = await freePort();
    const selector = ['-p', String(port)];
    // A drain that waited for the graceful timeout would outlast the test's own deadlines.
    const pool = startSupervisor([...selector, '-F', '2', '--steer-grace', '0.2', '--graceful-timeout', '60', '--', ...scenario.command()]);
    t.after(() => pool.cleanup());
    await pool.waitReady(30_000);
    const readyLines = pool.lines.filter((line) => line.includes(`starting→ready (${scenario.readyAs})`));
    assert.equal(readyLines.length, 2, pool.log());

    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^pid=\d+$/m);
    await waitFor(`both workers ${scenario.activity} in status`, async () => {
      const { workers } = await statusJson(selector);
      return workers.length === 2 && workers.every((worker) => worker.activity === scenario.activity);
    });
    // They wait for the socket to be readable, then accept(): where another worker was faster they
    // need EAGAIN, not a blocking accept() (gunicorn's master kills a worker stuck there at --timeout).
    assert.equal((await statusJson(selector)).blocking, false, pool.log());

    const loop = startRequestLoop(`http://127.0.0.1:${port}/?sleep=20`);
    try {
      await waitFor('the request loop under way', () => loop.ok >= 10);
      for (let generation = 2; generation <= RELOADS + 1; generation += 1) {
        process.kill(pool.pid, 'SIGHUP');
        await waitFor(`generation ${generation} serving`, async () => {
          const status = await statusJson(selector);
          return status.generation === generation && !status.reloading;
        }, { timeoutMs: 30_000 });
      }
      const before = loop.ok;
      await waitFor('requests answered after the last reload', () => loop.ok >= before + 10);
    } finally {
      const result = await loop.stop();
      assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.ok + result.failures.length} requests failed\n${pool.log()}`);
      t.diagnostic(`${scenario.name}: ${result.ok} requests over ${RELOADS} reloads`);
    }
    assert.doesNotMatch(pool.log(), /reload failed|still busy at the graceful timeout/);
    const exit = await pool.stop();
    assert.equal(exit.code, 0, pool.log());
    assert.deepEqual(pool.strays(), []);
  });
}

test('gunicorn is ready once its worker has imported the app, not when the master waits on its pipe', needs('gunicorn'), async (t) => {
  const port = await freePort();
  const importMs = 1500;
  const pool = startSupervisor(['-p', String(port), '-e', `APP_IMPORT_DELAY_MS=${importMs}`, '--', ...gunicorn()()]);
  t.after(() => pool.cleanup());
  await pool.waitReady(30_000);
  // The master holds the socket (a dup) and sleeps in pselect6 on its signal pipe from the moment it
  // has forked the worker; counting it would call the pool ready while the app is still importing.
  const line = await pool.waitForLine(/starting→ready/);
  const afterMs = Number(/after_ms=(\d+)/.exec(line)?.[1]);
  assert.ok(afterMs >= importMs, `ready after ${afterMs} ms, before the app was imported (${importMs} ms): ${line}`);
  await pool.stop();
  assert.deepEqual(pool.strays(), []);
});
