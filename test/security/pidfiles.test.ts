/**
 * A pidfile is removed only while it still holds the pid it was written with, read without following a
 * link or blocking on a FIFO: an extra pidfile (-P) may sit in a directory the worker user can write, and
 * after a crash another instance or service may have taken the path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { DaemonSandbox } from '../helpers/daemon.js';
import { attackerDirectory, needsRoot, rootOnlyFile, runAsNobody, scratch } from '../helpers/attacker.js';
import { freePort, isAlive } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');

test('exit: a -P pidfile the worker user replaced with a FIFO or a link is left alone, and the supervisor does not hang on it', needsRoot(), async (t) => {
  const dir = scratch(t);
  const run = attackerDirectory(dir, 'run');
  const pidfile = join(run, 'pool.pid');
  for (const [what, plant] of [
    ['a FIFO', ['sh', '-c', 'rm -f "$0" && mkfifo "$0"', pidfile]],
    ['a link to a root file holding the pid', ['ln', '-sfn', join(dir, 'secret', 'pid'), pidfile]],
  ] as const) {
    const pool = startSupervisor(['-p', String(await freePort()), '-P', pidfile, '--', process.execPath, RESPONDER]);
    t.after(() => pool.cleanup());
    await pool.waitReady();
    // Never read what may be a FIFO: that would block this test for good.
    await waitFor('the pidfile', () => lstatSync(pidfile, { throwIfNoEntry: false })?.isFile() && readFileSync(pidfile, 'utf8') === `${pool.pid}\n`);
    const secret = rootOnlyFile(join(dir, 'secret'), 'pid');
    writeFileSync(secret, `${pool.pid}\n`);
    await runAsNobody([...plant]);
    const exit = await pool.stop('SIGTERM', 10_000);
    assert.equal(exit.code, 0, `${what}: ${pool.log()}`);
    const left = lstatSync(pidfile);
    assert.ok(left.isFIFO() || left.isSymbolicLink(), `${what} was removed`);
    assert.equal(readFileSync(secret, 'utf8'), `${pool.pid}\n`);
    rmSync(pidfile);
  }
});

/** A daemon started with `-P extra`, then killed by SIGKILL: it leaves its pidfiles and record behind. */
async function crashedDaemon(box: DaemonSandbox, port: number, extra: string): Promise<void> {
  const root = process.geteuid?.() === 0 ? ['--allow-root'] : [];
  const start = await box.cli(['start', '-p', String(port), '-P', extra, ...root, '--', process.execPath, RESPONDER]);
  assert.equal(start.code, 0, start.stderr);
  const record = box.record(`127.0.0.1-${port}`);
  assert.ok(record);
  process.kill(record.supervisor.pid, 'SIGKILL');
  await waitFor('the supervisor gone', () => !isAlive(record.supervisor.pid));
}

test('stop after a crash leaves a -P pidfile that another process has taken since', async (t) => {
  const box = new DaemonSandbox();
  t.after(() => box.cleanup());
  const port = await freePort();
  const extra = join(box.dir, 'pool.pid');
  await crashedDaemon(box, port, extra);
  // Another service now writes its pid there (ours: a process that is alive).
  writeFileSync(extra, `${process.pid}\n`);
  const stop = await box.cli(['stop', '-p', String(port)]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.ok(existsSync(extra), 'stop removed a pidfile that was not the instance\'s any more');
  assert.equal(readFileSync(extra, 'utf8'), `${process.pid}\n`);
  // Still holding the dead supervisor's pid, it goes.
  await crashedDaemon(box, port, extra);
  assert.equal((await box.cli(['stop', '-p', String(port)])).code, 0);
  assert.equal(existsSync(extra), false, 'the dead instance\'s own pidfile was left');
});
