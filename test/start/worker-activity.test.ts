/**
 * What status, drain and readiness read of prefork workers (DESIGN.md "What a worker is doing"): a
 * master that only waits for its children (`fcgiwrap -c` in pause(), php-cgi in wait4) takes their
 * state, so its workers show idle and a reload or a graceful stop retires them at once instead of
 * at --graceful-timeout; a worker serving a request shows busy, whatever it waits in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { statusJson } from '../helpers/status.js';
import { findTool, needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const CGI = join(FIXTURES, 'cgi', 'hello.sh');
const PHP = join(FIXTURES, 'php', 'hello.php');

const masters = [
  { name: 'fcgiwrap -c 2', tool: 'fcgiwrap', command: () => ['--', findTool('fcgiwrap') as string, '-c', '2'], script: CGI },
  { name: 'php-cgi with PHP_FCGI_CHILDREN=2', tool: 'php-cgi', command: () => ['-C', '2', '--', findTool('php-cgi') as string], script: PHP },
];

for (const master of masters) {
  test(`${master.name}: idle in status; a reload and a graceful stop do not wait for --graceful-timeout`, needs(master.tool), async (t) => {
    const port = await freePort();
    const selector = ['-p', String(port)];
    // 60 s: every wait below gives up long before it, so only a drain that saw the workers idle passes.
    const pool = startSupervisor([...selector, '-F', '2', '--graceful-timeout', '60', '--steer-grace', '0.2', ...master.command()]);
    t.after(() => pool.cleanup());
    await pool.waitReady();
    await waitFor('both workers idle in status', async () => {
      const { workers } = await statusJson(selector);
      return workers.length === 2 && workers.every((worker) => worker.activity === 'idle');
    });
    const answer = await probe(`127.0.0.1:${port}`, master.script);
    assert.equal(answer.code, 0, answer.err);

    process.kill(pool.pid, 'SIGHUP');
    await waitFor('generation 2 serving', async () => {
      const status = await statusJson(selector);
      return status.generation === 2 && !status.reloading && status.workers.every((worker) => worker.generation === 2);
    }, { timeoutMs: 15_000 });

    const stop = await runCli(['stop', '--graceful', ...selector], { timeoutMs: 15_000 });
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await pool.waitExit(5_000)).code, 0);
    assert.doesNotMatch(pool.log(), /still busy at the graceful timeout/);
    assert.deepEqual(pool.strays(), []);
  });
}

test('fcgiwrap serving a request shows busy while it waits on its CGI, idle again after', needs('fcgiwrap'), async (t) => {
  const port = await freePort();
  const selector = ['-p', String(port)];
  const pool = startSupervisor([...selector, '-F', '2', '--', findTool('fcgiwrap') as string]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const inFlight = probe(`127.0.0.1:${port}`, `${CGI}?sleep=3`);
  await waitFor('one worker busy, one idle', async () => {
    const { workers } = await statusJson(selector);
    return workers.map((worker) => worker.activity).sort().join(',') === 'busy,idle';
  });
  assert.equal((await inFlight).code, 0);
  await waitFor('both idle again', async () => (await statusJson(selector)).workers.every((worker) => worker.activity === 'idle'));
  await pool.stop();
  assert.deepEqual(pool.strays(), []);
});
