/**
 * `restart` is a new start with the recorded settings: the workers' directory is the one `start`
 * ran in, and a `scale` does not survive it — which it says, with the command that brings it back.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, runCli } from '../helpers/supervisor.js';
import { DaemonSandbox, daemonSandbox } from '../helpers/daemon.js';
import { freePort } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ROOT_FLAG = process.geteuid?.() === 0 ? ['--allow-root'] : [];

async function desiredWorkers(box: DaemonSandbox, port: number): Promise<number> {
  const status = await box.cli(['status', '--json', '-p', String(port)]);
  assert.equal(status.code, 0, status.stderr);
  return (JSON.parse(status.stdout) as { desiredWorkers: number }).desiredWorkers;
}

// Each test has a sandbox of its own (run and log directories, ports) and waits on CLI runs and daemon start-ups;
// none runs a request loop or measures time: two at a time.
describe('restart', { concurrency: 2 }, () => {
  test('restart after a scale starts the recorded count, and says how to scale again', async (t) => {
    const box = daemonSandbox(t);
    const port = await freePort();
    const name = `127.0.0.1-${port}`;
    assert.equal((await box.cli(['start', '-p', String(port), '-F', '2', ...ROOT_FLAG, '--', process.execPath, RESPONDER])).code, 0);
    const up = await box.cli(['scale', '3', '-p', String(port)]);
    assert.equal(up.code, 0, up.stderr);
    await waitFor('3 workers recorded', () => box.record(name)?.workers.length === 3);
    const restart = await box.cli(['restart', '-p', String(port)]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(
      restart.stderr,
      `fcgi-spawn: ${name}: pool default now runs 2 worker(s), the count it starts with; it ran 3 before the restart ` +
        `(a 'scale' lasts until the supervisor stops): 'fcgi-spawn scale --name ${name} 3' runs 3 again\n`,
    );
    assert.equal(await desiredWorkers(box, port), 2);
    assert.equal(box.record(name)?.workers.length, 2);
    // The command it suggests does what it says.
    const again = await box.cli(['scale', '--name', name, '3']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await desiredWorkers(box, port), 3);
    assert.equal((await box.cli(['stop', '-p', String(port)])).code, 0);
  });

  async function poolWorkers(box: DaemonSandbox, name: string): Promise<Array<[string, number]>> {
    const status = await box.cli(['status', '--json', '--name', name]);
    assert.equal(status.code, 0, status.stderr);
    return (JSON.parse(status.stdout) as { pools: Array<{ name: string; desiredWorkers: number }> }).pools.map((pool) => [pool.name, pool.desiredWorkers]);
  }

  test('restart with several pools resets each scaled pool and names it in the scale command; an unscaled pool is not mentioned', async (t) => {
    const box = daemonSandbox(t);
    const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-restart-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const [a, b, c] = [await freePort(), await freePort(), await freePort()];
    const command = JSON.stringify([process.execPath, RESPONDER]);
    writeFileSync(
      join(dir, 'three.yaml'),
      `name: three\nallow-root: true\ncommand: ${command}\npools:\n` +
        `  - {name: a, listen: "127.0.0.1:${a}", workers: 2}\n  - {name: b, listen: "127.0.0.1:${b}"}\n  - {name: c, listen: "127.0.0.1:${c}"}\n`,
    );
    const start = await runCli(['start', '--config', 'three.yaml'], { env: box.env, cwd: dir, timeoutMs: 60_000 });
    box.remember();
    assert.equal(start.code, 0, start.stderr);
    for (const [pool, count] of [['a', '1'], ['b', '3']] as const) {
      const scaled = await box.cli(['scale', '--name', 'three', '--pool', pool, count]);
      assert.equal(scaled.code, 0, scaled.stderr);
    }
    assert.deepEqual(await poolWorkers(box, 'three'), [['a', 1], ['b', 3], ['c', 1]]);
    const restart = await box.cli(['restart', '--name', 'three']);
    assert.equal(restart.code, 0, restart.stderr);
    const said = (pool: string, now: number, was: number): string =>
      `fcgi-spawn: three: pool ${pool} now runs ${now} worker(s), the count it starts with; it ran ${was} before the restart ` +
      `(a 'scale' lasts until the supervisor stops): 'fcgi-spawn scale --name three --pool ${pool} ${was}' runs ${was} again\n`;
    assert.equal(restart.stderr, said('a', 2, 1) + said('b', 1, 3));
    assert.deepEqual(await poolWorkers(box, 'three'), [['a', 2], ['b', 1], ['c', 1]]);
    // The commands it suggests do what they say.
    for (const [pool, count] of [['a', '1'], ['b', '3']] as const) assert.equal((await box.cli(['scale', '--name', 'three', '--pool', pool, count])).code, 0);
    assert.deepEqual(await poolWorkers(box, 'three'), [['a', 1], ['b', 3], ['c', 1]]);
    assert.equal((await box.cli(['stop', '--name', 'three'])).code, 0);
  });

  test('restart without a scale says nothing about counts', async (t) => {
    const box = daemonSandbox(t);
    const port = await freePort();
    assert.equal((await box.cli(['start', '-p', String(port), '-F', '2', ...ROOT_FLAG, '--', process.execPath, RESPONDER])).code, 0);
    const restart = await box.cli(['restart', '-p', String(port)]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(restart.stderr, '');
    assert.equal(await desiredWorkers(box, port), 2);
    assert.equal((await box.cli(['stop', '-p', String(port)])).code, 0);
  });

  test('workers run in the directory start ran in, the daemon in /, and restart keeps both', async (t) => {
    const box = daemonSandbox(t);
    const port = await freePort();
    const name = `127.0.0.1-${port}`;
    const start = await runCli(['start', '-p', String(port), ...ROOT_FLAG, '--', process.execPath, RESPONDER], { env: box.env, cwd: box.dir, timeoutMs: 60_000 });
    box.remember();
    assert.equal(start.code, 0, start.stderr);
    const where = (): { supervisor: string; worker: string } => {
      const record = box.record(name);
      assert.ok(record?.workers[0]);
      return { supervisor: readlinkSync(`/proc/${record.supervisor.pid}/cwd`), worker: readlinkSync(`/proc/${record.workers[0].pid}/cwd`) };
    };
    assert.deepEqual(where(), { supervisor: '/', worker: realpathSync(box.dir) });
    // restart is run from elsewhere (runCli's default directory): the recorded directory wins.
    assert.equal((await box.cli(['restart', '-p', String(port)])).code, 0);
    assert.deepEqual(where(), { supervisor: '/', worker: realpathSync(box.dir) });
    assert.equal((await box.cli(['stop', '-p', String(port)])).code, 0);
  });
});
