/**
 * Which live process a record or a pidfile names. A recorded identity is pid + start time + boot id:
 * after a reboot the same pid with the same start time is another process. A bare pidfile (-P, no
 * record names it) is believed only for our supervisor's own command line: before, any process
 * with an argument ending in `fcgi-spawn` and a `start` passed, `sh /etc/init.d/fcgi-spawn start`
 * included, and `stop -P` signalled it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, FIXTURES, runCli } from '../helpers/supervisor.js';
import { DAEMON_NODE_FLAGS } from '../../src/control/command-line.js';
import { daemonSandbox } from '../helpers/daemon.js';
import { freePort, isAlive, killQuietly } from '../helpers/processes.js';
import { readStat } from '../../src/os/proc.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ROOT_FLAG = process.geteuid?.() === 0 ? ['--allow-root'] : [];
const ANOTHER_BOOT = '00000000-1111-4222-8333-444444444444';

/** A live process of ours, leading its own group (as workers do), ended by the test's cleanup. */
function bystander(t: { after: (fn: () => void) => void }, command: string, args: readonly string[]): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  t.after(() => killQuietly(-(child.pid as number), 'SIGKILL'));
  return child;
}

async function startTimeOf(pid: number): Promise<number> {
  return waitFor(`/proc/${pid}/stat`, () => readStat(pid)?.startTime);
}

test('a record written in another boot names no live process: status says dead, stop signals nothing', async (t) => {
  const box = daemonSandbox(t);
  mkdirSync(box.runDir, { mode: 0o700 });
  const supervisor = bystander(t, 'sleep', ['60']);
  const worker = bystander(t, 'sleep', ['60']);
  const identity = async (child: ChildProcess) => ({ pid: child.pid as number, startTime: await startTimeOf(child.pid as number), bootId: ANOTHER_BOOT });
  const record = {
    name: 'ghost',
    supervisor: await identity(supervisor),
    address: '127.0.0.1:1',
    startedAt: new Date().toISOString(),
    argv: [],
    cwd: '/',
    env: {},
    workers: [await identity(worker)],
  };
  writeFileSync(join(box.runDir, 'ghost.json'), JSON.stringify(record), { mode: 0o600 });
  writeFileSync(join(box.runDir, 'ghost.pid'), `${supervisor.pid}\n`);
  const status = await box.cli(['status', '--name', 'ghost', '--json']);
  assert.equal(status.code, 1, `${status.stdout}${status.stderr}`);
  const list = await box.cli(['list', '--json']);
  assert.deepEqual((JSON.parse(list.stdout) as Array<{ state: string; workers: number }>).map((r) => [r.state, r.workers]), [['dead', 0]]);
  const stop = await box.cli(['stop', '--name', 'ghost', '--timeout', '2']);
  assert.equal(stop.code, 0, `${stop.stdout}${stop.stderr}`);
  assert.match(stop.stdout, /ghost is not running$/m);
  assert.ok(isAlive(supervisor.pid as number), 'stop signalled the process a record of another boot named as its supervisor');
  assert.ok(isAlive(worker.pid as number), 'stop signalled the process a record of another boot named as a worker');
});

test('stop -P with a bare pidfile: a shell or a script merely named fcgi-spawn is not signalled; our supervisor is', async (t) => {
  const box = daemonSandbox(t);
  const script = join(box.dir, 'init.d', 'fcgi-spawn');
  mkdirSync(join(box.dir, 'init.d'));
  writeFileSync(script, 'sleep 60\n');
  const impostor = join(box.dir, 'fcgi-spawn.js');
  writeFileSync(impostor, 'setTimeout(() => {}, 60_000);\n');
  const lookalikes = [
    bystander(t, 'sh', [script, 'start']),
    // `sleep; exit` keeps sh itself running (no exec of the last command).
    bystander(t, 'sh', ['-c', 'sleep 60; exit 0', 'fcgi-spawn', 'start']),
    bystander(t, process.execPath, [impostor, 'start']),
    // The daemon's own node flags before a script that is not ours.
    bystander(t, process.execPath, [...DAEMON_NODE_FLAGS, impostor, 'start']),
  ];
  for (const child of lookalikes) {
    await startTimeOf(child.pid as number);
    const pidfile = join(box.dir, `${child.pid}.pid`);
    writeFileSync(pidfile, `${child.pid}\n`);
    const status = await box.cli(['status', '-P', pidfile]);
    assert.equal(status.code, 1, `${status.stdout}${status.stderr}`);
    const stop = await box.cli(['stop', '-P', pidfile, '--timeout', '2']);
    assert.equal(stop.code, 0, `${stop.stdout}${stop.stderr}`);
    assert.ok(isAlive(child.pid as number), `stop -P signalled ${child.spawnargs.join(' ')}`);
  }

  // The real thing, started under another run directory, so that no record here names its pidfile.
  const other = daemonSandbox(t);
  const port = await freePort();
  const extra = join(box.dir, 'pool.pid');
  const start = await other.cli(['start', '-p', String(port), '-P', extra, ...ROOT_FLAG, '--', process.execPath, RESPONDER]);
  assert.equal(start.code, 0, start.stderr);
  const pid = other.record(`127.0.0.1-${port}`)?.supervisor.pid as number;
  // The daemon runs with its node flags (daemonize.ts) before our bin, and is still recognised by them.
  assert.deepEqual(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1, 2 + DAEMON_NODE_FLAGS.length), [...DAEMON_NODE_FLAGS, BIN]);
  const status = await box.cli(['status', '-P', extra]);
  assert.match(status.stdout, new RegExp(`running \\(pid ${pid}\\)`), `${status.stdout}${status.stderr}`);
  const stop = await box.cli(['stop', '-P', extra]);
  assert.equal(stop.code, 0, `${stop.stdout}${stop.stderr}`);
  assert.match(stop.stdout, new RegExp(`stopped ${extra} \\(pid ${pid}\\)`));
  assert.equal(isAlive(pid), false);
});
