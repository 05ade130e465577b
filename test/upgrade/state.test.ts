/**
 * The state an upgrade hands to the new program is believed only when every check passes
 * (control/upgrade-state.ts): real files in a private directory, a real listening socket and lock, real child
 * processes as workers. A file another user owns, a wider mode, a symlink, or a worker's pid swapped for another
 * process are each refused, and the file is gone once read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdtempSync, openSync, rmSync, symlinkSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUpgradeState, writeUpgradeState, UPGRADE_STATE_ENV, UPGRADE_STATE_VERSION, type UpgradeState } from '../../src/control/upgrade-state.js';
import { identityOf, type ProcessIdentity } from '../../src/control/record.js';
import { ListenSocket } from '../../src/os/listen-socket.js';
import { waitFor } from '../helpers/wait.js';
import { FIXTURES, runCli } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';

const euid = process.geteuid?.() ?? -1;

interface Fixture {
  readonly dir: string;
  readonly state: UpgradeState;
  readonly workers: readonly ChildProcess[];
}

function sleeper(t: { after: (fn: () => void) => void }): ChildProcess {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGKILL');
  });
  return child;
}

async function fixture(t: { after: (fn: () => void) => void }): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-upgrade-state-'));
  chmodSync(dir, 0o700);
  const lockFd = openSync(join(dir, 'x.lock'), 'w', 0o600);
  const socket = ListenSocket.openTcp({ kind: 'tcp', host: '127.0.0.1', port: 0 }, { backlog: 8 });
  const workers = [sleeper(t), sleeper(t)];
  t.after(() => {
    socket.close();
    closeSync(lockFd);
    rmSync(dir, { recursive: true, force: true });
  });
  const identities = await waitFor('the workers running', () => {
    const found = workers.map((child) => identityOf(child.pid as number));
    return found.every((identity) => identity !== undefined) ? (found as ProcessIdentity[]) : undefined;
  });
  const lock = fstatSync(lockFd);
  const state: UpgradeState = {
    version: UPGRADE_STATE_VERSION,
    id: 'test',
    from: '0.1.0',
    requestedAt: new Date().toISOString(),
    supervisor: identityOf(process.pid) as ProcessIdentity,
    lock: { fd: lockFd, dev: lock.dev, ino: lock.ino },
    pools: [{
      key: 'default',
      name: 'default',
      generation: 3,
      nextGeneration: 4,
      desiredWorkers: 2,
      blocking: true,
      socket: { fd: socket.fd, inode: socket.inode },
      workers: identities.map((identity, slot) => ({ slot, identity, ageMs: 1000, restarts: 0 })),
    }],
  };
  return { dir, state, workers };
}

test('a state written by this process, naming its own children and descriptors, is believed and removed once read', async (t) => {
  const { dir, state } = await fixture(t);
  const path = join(dir, 'x.upgrade');
  writeUpgradeState(path, state);
  const written = openSync(path, 'r');
  assert.equal(fstatSync(written).mode & 0o777, 0o600);
  closeSync(written);
  const read = readUpgradeState(path, euid);
  assert.equal(read.kind, 'ok', read.kind === 'refused' ? read.reason : '');
  assert.equal(existsSync(path), false);
});

test('a state file with another mode, another owner or behind a symlink is refused', async (t) => {
  const { dir, state } = await fixture(t);
  const path = join(dir, 'x.upgrade');

  writeUpgradeState(path, state);
  chmodSync(path, 0o644);
  const wide = readUpgradeState(path, euid);
  assert.deepEqual(wide, { kind: 'refused', reason: `${path} has mode 644, not 600` });
  assert.equal(existsSync(path), false);

  if (euid === 0) {
    writeUpgradeState(path, state);
    chownSync(path, 65534, 65534);
    assert.deepEqual(readUpgradeState(path, euid), { kind: 'refused', reason: `${path} is owned by uid 65534, not 0` });
  } else {
    t.diagnostic('owner check: needs root to give the file away (skipped part)');
  }

  const real = join(dir, 'elsewhere');
  writeUpgradeState(real, state);
  symlinkSync(real, path);
  assert.deepEqual(readUpgradeState(path, euid), { kind: 'refused', reason: `${path} is a symlink` });
  // The link was not followed: its target is still there, untouched.
  assert.equal(existsSync(real), true);
});

test('a worker pid swapped for another process, or for one that is not our child, is refused', async (t) => {
  const { dir, state, workers } = await fixture(t);
  const path = join(dir, 'x.upgrade');
  const pool = state.pools[0] as UpgradeState['pools'][number];
  const [first, second] = pool.workers as [UpgradeState['pools'][number]['workers'][number], UpgradeState['pools'][number]['workers'][number]];

  // A live child's pid under another start time (what a recycled pid looks like): not the process that was recorded.
  const swapped = { ...first, identity: { ...first.identity, pid: second.identity.pid, startTime: second.identity.startTime + 1 } };
  writeUpgradeState(path, { ...state, pools: [{ ...pool, workers: [swapped] }] });
  const wrong = readUpgradeState(path, euid);
  assert.equal(wrong.kind, 'refused');
  assert.match(wrong.kind === 'refused' ? wrong.reason : '', /process \d+ of pool default is not the worker that was recorded/);

  // A live process with its true identity, but not ours (our parent): never adopted.
  const parent = identityOf(process.ppid) as ProcessIdentity;
  writeUpgradeState(path, { ...state, pools: [{ ...pool, workers: [{ ...first, identity: parent }] }] });
  assert.deepEqual(readUpgradeState(path, euid), { kind: 'refused', reason: `${path}: process ${process.ppid} of pool default is not our child` });

  // A worker that exited since: its pid names nobody, or somebody else.
  (workers[1] as ChildProcess).kill('SIGKILL');
  await waitFor('the second worker gone', () => identityOf(second.identity.pid) === undefined);
  writeUpgradeState(path, state);
  assert.match((readUpgradeState(path, euid) as { reason: string }).reason, new RegExp(`process ${second.identity.pid} of pool default is not the worker that was recorded`));
});

test('descriptors that are not what the state says they are (the socket, the lock), or another process\'s state, are refused', async (t) => {
  const { dir, state } = await fixture(t);
  const path = join(dir, 'x.upgrade');
  const pool = state.pools[0] as UpgradeState['pools'][number];
  writeUpgradeState(path, { ...state, pools: [{ ...pool, socket: { ...pool.socket, fd: state.lock.fd } }] });
  assert.match((readUpgradeState(path, euid) as { reason: string }).reason, /is not pool default's listening socket/);
  writeUpgradeState(path, { ...state, lock: { ...state.lock, fd: pool.socket.fd } });
  assert.match((readUpgradeState(path, euid) as { reason: string }).reason, /is not the instance lock/);
  writeUpgradeState(path, { ...state, supervisor: identityOf(process.ppid) as ProcessIdentity });
  assert.match((readUpgradeState(path, euid) as { reason: string }).reason, /written for process \d+, not this one/);
});

test('a program started with a state it cannot trust refuses it with one line and exit 1, and starts nothing', async (t) => {
  const { dir, state } = await fixture(t);
  const path = join(dir, 'x.upgrade');
  // Written for this test process, handed to another one: the pid is not the reader's.
  writeUpgradeState(path, state);
  const port = await freePort();
  const result = await runCli(['start', '-n', '-p', String(port), ...(euid === 0 ? ['--allow-root'] : []), '--', process.execPath, join(FIXTURES, 'fcgi-responder.mjs')], {
    env: { ...process.env, [UPGRADE_STATE_ENV]: path },
  });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, new RegExp(`fcgi-spawn: upgrade: the state the previous program left was refused: ${path}: written for process ${process.pid}, not this one \\(pid \\d+\\)\\n$`));
  assert.equal(existsSync(path), false);
  assert.equal((await probe(`127.0.0.1:${port}`, '/', {}, 2_000)).code, 3, 'nothing listens on the port');
});
