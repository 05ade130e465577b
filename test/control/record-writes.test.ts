/**
 * The record's worker list costs what changed (issue 10): the same pids write nothing, a pid's identity is
 * read when it first appears, and a burst of changes is written at once, then at most once per
 * RECORD_WRITE_EVERY_MS with the latest list; a change of the supervisor's phase flushes what is pending.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimInstance, PublishedInstance, RECORD_WRITE_EVERY_MS, type Claimed } from '../../src/control/instance.js';
import { identityOf, type InstanceRecord } from '../../src/control/record.js';
import type { Logger } from '../../src/log/logger.js';
import { killQuietly } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const quiet: Logger = { log: () => undefined, reopen: () => undefined, close: async () => undefined };

function sleeper(t: { after: (fn: () => void) => void }): number {
  const child: ChildProcess = spawn('sleep', ['60'], { stdio: 'ignore', detached: true });
  t.after(() => killQuietly(-(child.pid as number), 'SIGKILL'));
  return child.pid as number;
}

async function setUp(t: { after: (fn: () => void) => void }, clock: { now: number }): Promise<{ claimed: Claimed; instance: PublishedInstance; read: () => InstanceRecord; ino: () => number }> {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-record-'));
  const runDir = join(dir, 'run');
  const claimed = await claimInstance({ name: 'rec', env: { FCGI_SPAWN_RUN_DIR: runDir }, euid: process.geteuid?.() ?? 0, stopSignal: 'SIGTERM', stopTimeoutMs: 1000, logger: quiet });
  const instance = new PublishedInstance(claimed, { address: '127.0.0.1:9', argv: [], cwd: dir, env: {} }, () => clock.now);
  t.after(() => {
    instance.remove();
    claimed.lock.release();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    claimed,
    instance,
    read: () => JSON.parse(readFileSync(claimed.paths.record, 'utf8')) as InstanceRecord,
    // A write is a rename of a new file over the record: a new inode.
    ino: () => statSync(claimed.paths.record).ino,
  };
}

test('the same worker list writes nothing; a burst is written at once, then once at the end of the window with the latest list', async (t) => {
  const clock = { now: 1000 };
  const { instance, read, ino } = await setUp(t, clock);
  const [a, b, c] = [sleeper(t), sleeper(t), sleeper(t)] as [number, number, number];
  await waitFor('the sleepers in /proc', () => [a, b, c].every((pid) => identityOf(pid) !== undefined));

  instance.setWorkers([a]);
  assert.deepEqual(read().workers, [identityOf(a)], 'the first change after a quiet spell is written at once');
  const first = ino();
  instance.setWorkers([a]);
  assert.equal(ino(), first, 'the same pids rewrote the record');

  clock.now += RECORD_WRITE_EVERY_MS / 10;
  instance.setWorkers([a, b]);
  instance.setWorkers([a, b, c]);
  assert.equal(ino(), first, 'changes within the window are written together at its end');
  assert.deepEqual(read().workers.map((w) => w.pid), [a]);
  await waitFor('the window over: the latest list written', () => read().workers.length === 3);
  assert.deepEqual(read().workers, [a, b, c].map(identityOf));

  // A pid that leaves the list leaves the record.
  clock.now += RECORD_WRITE_EVERY_MS * 2;
  instance.setWorkers([a, c]);
  assert.deepEqual(read().workers.map((w) => w.pid), [a, c]);
});

test('flush() writes a pending list at once; a pid that is already gone is left out', async (t) => {
  const clock = { now: 1000 };
  const { instance, read } = await setUp(t, clock);
  const a = sleeper(t);
  const gone = spawn('true', [], { stdio: 'ignore' });
  await new Promise((resolve) => gone.once('exit', resolve));
  await waitFor('the sleeper in /proc', () => identityOf(a) !== undefined);

  instance.setWorkers([a]);
  clock.now += 1;
  instance.setWorkers([a, gone.pid as number]);
  assert.deepEqual(read().workers.map((w) => w.pid), [a], 'pending: not yet written');
  instance.flush();
  assert.deepEqual(read().workers, [identityOf(a)], 'flushed, without the pid that names no process');
});
