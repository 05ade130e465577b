/**
 * Reload mechanics on real pools: reloads in a row, a rollback when the new workers cannot start
 * (the old keep serving, the address never stops accepting), steering that stays right after both,
 * on TCP and on a Unix socket; coalesced requests; scaling; graceful stop with a request in flight.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { servingConnection } from '../../src/os/connections.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { childrenOf, freePort, isAlive } from '../helpers/processes.js';
import { findTool, needs } from '../helpers/tools.js';
import { pidInBody, probe } from '../helpers/fastcgi.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A worker program that can be swapped between working and broken, as a deployment would. */
function swappableWorker(dir: string): { path: string; good(): void; crashing(): void; notExecutable(): void } {
  const path = join(dir, 'worker.sh');
  const write = (body: string, mode = 0o755): void => {
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, mode);
  };
  const good = (): void => write(`exec ${JSON.stringify(process.execPath)} ${JSON.stringify(RESPONDER)}`);
  good();
  return {
    path,
    good,
    crashing: () => write('echo "worker.sh: broken deployment" >&2; exit 9'),
    notExecutable: () => write('exit 0', 0o644),
  };
}

function count(pool: RunningSupervisor, pattern: RegExp): number {
  return pool.lines.filter((line) => pattern.test(line)).length;
}

async function reload(pool: RunningSupervisor, outcome: RegExp): Promise<void> {
  const before = count(pool, outcome);
  process.kill(pool.pid, 'SIGHUP');
  await waitFor(`reload outcome ${outcome}\n${pool.log()}`, () => count(pool, outcome) > before, { timeoutMs: 20_000 });
}

/** Pids of the workers of the newest generation that finished starting. */
function newestGeneration(pool: RunningSupervisor): number[] {
  const ready = pool.lines.map((l) => /worker (\d+) \(slot \d+, generation (\d+)\) starting→ready/.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  const newest = Math.max(...ready.map((m) => Number(m[2])));
  return ready.filter((m) => Number(m[2]) === newest).map((m) => Number(m[1]));
}

/** Every one of `n` requests must be answered by a worker of the serving generation. */
async function assertServedBy(address: string, pids: number[], n = 12): Promise<void> {
  for (let i = 0; i < n; i += 1) {
    const answer = await probe(address, '/');
    assert.equal(answer.code, 0, answer.err);
    const pid = pidInBody(answer.out);
    assert.ok(pid !== undefined && pids.includes(pid), `answered by ${pid}, serving generation is ${pids.join(',')}`);
  }
}

// Every test has its own port or socket directory and supervisor, drives it by signals and waits for its log lines;
// none runs a request loop or measures time, and most of each is waiting on workers that start: two at a time.
describe('reload generations', { concurrency: 2 }, () => {
  for (const kind of ['tcp', 'unix'] as const) {
    test(`three reloads in a row, a rollback, and a reload after it (${kind})`, async (t) => {
      const dir = tempDir(t);
      const worker = swappableWorker(dir);
      const address = kind === 'tcp' ? `127.0.0.1:${await freePort()}` : join(dir, 'pool.sock');
      const listen = kind === 'tcp' ? ['-p', address.split(':')[1] as string] : ['-s', address];
      const pool = startSupervisor([...listen, '-F', '2', '--steer-grace', '0.1', '--start-retries', '1', '--', worker.path]);
      t.after(() => pool.cleanup());
      await pool.waitReady();
      for (let i = 0; i < 3; i += 1) {
        await reload(pool, /reload finished/);
        await assertServedBy(address, newestGeneration(pool));
      }
      const serving = newestGeneration(pool);
      worker.crashing();
      await reload(pool, /reload failed/);
      assert.match(pool.log(), /reload failed, generation 5 rolled back: slot \d failed to start 2 times/);
      assert.deepEqual(serving.filter(isAlive), serving, 'the old workers must survive a failed reload');
      await assertServedBy(address, serving);
      worker.notExecutable();
      // A program that cannot run is found when the configuration is read again: nothing changes.
      await reload(pool, /configuration not loaded: .*not executable/);
      await assertServedBy(address, serving);
      worker.good();
      await reload(pool, /reload finished/);
      const after = newestGeneration(pool);
      assert.notDeepEqual(after, serving);
      await assertServedBy(address, after);
      if (kind === 'unix') {
        const leftovers = (await import('node:fs')).readdirSync(dir).filter((name) => name.startsWith('.pool.sock'));
        assert.deepEqual(leftovers, [], 'temporary socket paths left behind');
      }
      const exit = await pool.stop();
      assert.equal(exit.code, 0);
      assert.deepEqual(pool.strays(), []);
      if (kind === 'unix') assert.equal(existsSync(address), false);
    });
  }

  test('after a rolled-back reload, a respawn in the serving generation runs what that generation ran', async (t) => {
    // Two copies of the program on PATH: a deploy puts a broken one in the directory searched first.
    const dir = tempDir(t);
    const first = join(dir, 'first');
    const second = join(dir, 'second');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(first);
    mkdirSync(second);
    const good = join(second, 'app.sh');
    writeFileSync(good, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(RESPONDER)}\n`);
    chmodSync(good, 0o755);
    const port = await freePort();
    const env = { ...process.env, PATH: `${first}:${second}:${process.env.PATH ?? ''}` };
    const pool = startSupervisor(['-p', String(port), '-F', '2', '--steer-grace', '0.1', '--start-retries', '1', '--', 'app.sh'], { env });
    t.after(() => pool.cleanup());
    await pool.waitReady();
    const serving = newestGeneration(pool);
    const broken = join(first, 'app.sh');
    writeFileSync(broken, '#!/bin/sh\necho "first/app.sh: broken deployment" >&2; exit 9\n');
    chmodSync(broken, 0o755);
    await reload(pool, /reload failed/);
    assert.match(pool.log(), /rolled back/);
    const victim = serving[0] as number;
    process.kill(victim, 'SIGKILL');
    const replacement = await waitFor('a replacement in generation 1 ready', () => {
      const pids = newestGeneration(pool).filter((pid) => pid !== victim && !serving.includes(pid));
      return pids.length > 0 ? pids : undefined;
    });
    assert.deepEqual(replacement.length, 1);
    assert.doesNotMatch(pool.log(), /generation 1\) exited before it was ready \(exit status 9\)/, 'the serving generation never ran the rejected program');
    assert.match(readFileSync(`/proc/${replacement[0]}/cmdline`, 'latin1'), /fcgi-responder\.mjs/);
    await assertServedBy(`127.0.0.1:${port}`, [...serving.filter(isAlive), ...replacement]);
    const exit = await pool.stop();
    assert.equal(exit.code, 0);
    assert.deepEqual(pool.strays(), []);
  });

  test('reload requests during a reload are coalesced into one more, never lost', async (t) => {
    const port = await freePort();
    const pool = startSupervisor(['-p', String(port), '-F', '1', '--steer-grace', '0.3', '--', process.execPath, RESPONDER]);
    t.after(() => pool.cleanup());
    await pool.waitReady();
    process.kill(pool.pid, 'SIGHUP');
    await pool.waitForLine(/reload: starting generation 2/);
    process.kill(pool.pid, 'SIGHUP');
    process.kill(pool.pid, 'SIGHUP');
    await pool.waitForLine(/reload finished: generation 3 serving/, 20_000);
    assert.equal(count(pool, /reload: starting generation/), 2);
    await assertServedBy(`127.0.0.1:${port}`, newestGeneration(pool), 4);
    await pool.stop();
  });

  test('TTIN adds a worker; TTOU retires one through a new generation', async (t) => {
    const port = await freePort();
    const pool = startSupervisor(['-p', String(port), '-F', '2', '--steer-grace', '0.1', '--', process.execPath, RESPONDER]);
    t.after(() => pool.cleanup());
    await pool.waitReady();
    process.kill(pool.pid, 'SIGTTIN');
    await waitFor('3 workers', () => count(pool, /starting→ready/) === 3);
    assert.equal(pool.liveWorkers().length, 3);
    process.kill(pool.pid, 'SIGTTOU');
    await pool.waitForLine(/reload finished: generation 2 serving/);
    await waitFor('2 workers left', () => pool.liveWorkers().length === 2);
    await assertServedBy(`127.0.0.1:${port}`, newestGeneration(pool), 4);
    await pool.stop();
  });

  test('QUIT lets a 2 s request in flight finish with 200, then exits', needs('fcgiwrap'), async (t) => {
    const port = await freePort();
    const pool = startSupervisor(['-p', String(port), '-F', '2', '--', findTool('fcgiwrap') as string]);
    t.after(() => pool.cleanup());
    await pool.waitReady();
    const inFlight = probe(`127.0.0.1:${port}`, `${join(FIXTURES, 'cgi', 'hello.sh')}?sleep=2`);
    // fcgiwrap forks the CGI script: once a worker has a child, the request is in flight.
    await waitFor('the request in flight', () => pool.workerPids.some((pid) => childrenOf(pid).length > 0));
    process.kill(pool.pid, 'SIGQUIT');
    const answer = await inFlight;
    assert.equal(answer.code, 0, answer.err);
    assert.match(answer.out, /Status: 200/);
    const exit = await pool.waitExit();
    assert.equal(exit.code, 0);
    assert.deepEqual(pool.strays(), []);
  });

  test('QUIT on a Unix socket removes the path first, then drains', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'quit.sock');
    const pool = startSupervisor(['-s', path, '-F', '1', '--', process.execPath, RESPONDER]);
    t.after(() => pool.cleanup());
    await pool.waitReady();
    const [worker] = pool.workerPids;
    assert.ok(worker !== undefined);
    const inode = Number(/socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${worker}/fd/0`))?.[1]);
    // Connections show the name the socket was bound at, in its private directory (os/socket-place.ts), not its public path.
    const bound = readFileSync('/proc/net/unix', 'utf8').split('\n').map((line) => line.trim().split(/\s+/)).find((fields) => Number(fields[6]) === inode)?.[7];
    assert.ok(bound !== undefined, `socket ${inode} not in /proc/net/unix`);
    const inFlight = probe(path, '/?sleep=800');
    await waitFor('the request in flight', () => servingConnection(worker, { inode, path: bound }));
    process.kill(pool.pid, 'SIGQUIT');
    await waitFor('path removed', () => !existsSync(path));
    const answer = await inFlight;
    assert.equal(answer.code, 0, answer.err);
    assert.equal((await pool.waitExit()).code, 0);
  });
});
