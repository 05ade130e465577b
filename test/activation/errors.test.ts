/**
 * Socket activation handed over wrongly, each case through test/fixtures/activate.py (which sets LISTEN_* as systemd
 * does, then execs the supervisor): what libsystemd's sd_listen_fds treats as an error ends start-up with exit 2,
 * one line naming the value, and nothing left behind (no pidfile, no record, no socket file of ours, no worker);
 * what it treats as "not for us" (another LISTEN_PID or LISTEN_PIDFDID) is ignored, and the pool binds as usual.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, startSupervisor, testEnvironment } from '../helpers/supervisor.js';
import { findTool, needs } from '../helpers/tools.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { statusJson } from '../helpers/status.js';
import { pidfdInode } from '../../src/os/libc.js';
import { socketFds, tempDir, writeConfig, type PoolSpec } from './support.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ACTIVATE = join(FIXTURES, 'activate.py');
const RUN_DIR = testEnvironment().FCGI_SPAWN_RUN_DIR as string;

interface Case {
  readonly title: string;
  /** activate.py's arguments before `--`, given the test's directory and two free ports. */
  readonly launcher: (dir: string, ports: readonly [number, number]) => string[];
  /** The pools, given the same. */
  readonly pools?: (dir: string, ports: readonly [number, number]) => PoolSpec[];
  readonly error: RegExp;
}

function pool(name: string, listen: string): PoolSpec {
  return { name, listen, command: [process.execPath, RESPONDER], workers: 1 };
}

/** A Unix pool and a TCP pool on the second port: neither may be bound when start-up fails. */
const twoPools = (dir: string, [, port]: readonly [number, number]): PoolSpec[] => [pool('sock', join(dir, 'app.sock')), pool('tcp', `127.0.0.1:${port}`)];

const CASES: Case[] = [
  {
    title: 'a socket that matches no pool',
    launcher: (_dir, [port]) => [`tcp:127.0.0.1:${port}`],
    error: /^fcgi-spawn: socket activation: fd 3 \(127\.0\.0\.1:\d+\) matches no pool: name it after a pool \(FileDescriptorName=\) or listen where a pool is configured; pools: sock \(.*app\.sock\), tcp \(127\.0\.0\.1:\d+\)$/,
  },
  {
    title: 'a LISTEN_PID that is not a pid',
    launcher: (_dir, [port]) => [`tcp:127.0.0.1:${port}`, '--set', 'LISTEN_PID=12ab'],
    error: /^fcgi-spawn: socket activation: LISTEN_PID='12ab': expected a process id$/,
  },
  {
    title: 'a LISTEN_FDS that is not a number',
    launcher: (_dir, [port]) => [`tcp:127.0.0.1:${port}`, '--set', 'LISTEN_FDS=one'],
    error: /^fcgi-spawn: socket activation: LISTEN_FDS='one': expected a number of sockets \(1 to 256\)$/,
  },
  {
    title: 'LISTEN_FDS=0',
    launcher: (_dir, [port]) => [`tcp:127.0.0.1:${port}`, '--set', 'LISTEN_FDS=0'],
    error: /^fcgi-spawn: socket activation: LISTEN_FDS=0: expected 1 to 256 sockets$/,
  },
  {
    title: 'an over-large LISTEN_FDS',
    launcher: (_dir, [port]) => [`tcp:127.0.0.1:${port}`, '--set', 'LISTEN_FDS=100000'],
    error: /^fcgi-spawn: socket activation: LISTEN_FDS=100000: expected 1 to 256 sockets$/,
  },
  {
    title: 'a LISTEN_FDS above what was passed',
    // fd 4 is not systemd's: closed, or one of Node's own (an epoll or event fd), never a listening socket.
    launcher: (_dir, [port]) => [`tcp:127.0.0.1:${port}`, '--set', 'LISTEN_FDS=2'],
    error: /^fcgi-spawn: socket activation: (LISTEN_FDS: fd 4 is not (open|a socket)|fd 4 is not (a stream socket|listening).*)$/,
  },
  {
    title: 'a LISTEN_PIDFDID that is not a number',
    launcher: (_dir, [port]) => [`tcp:127.0.0.1:${port}`, '--set', 'LISTEN_PIDFDID=self'],
    error: /^fcgi-spawn: socket activation: LISTEN_PIDFDID='self': expected the inode number of a pidfd$/,
  },
  {
    title: 'an fd that is not a socket',
    launcher: (dir) => [`file:${join(dir, 'plain')}`],
    error: /^fcgi-spawn: socket activation: LISTEN_FDS: fd 3 is not a socket$/,
  },
  {
    title: 'a socket that is not listening',
    launcher: (_dir, [port]) => [`bound:127.0.0.1:${port}`],
    error: /^fcgi-spawn: socket activation: fd 3 is not listening: expected a socket systemd listens on \(Accept=no\)$/,
  },
  {
    title: 'a datagram socket',
    launcher: (dir) => [`dgram:${join(dir, 'dgram.sock')}`],
    error: /^fcgi-spawn: socket activation: fd 3 is not a stream socket: expected ListenStream=/,
  },
  {
    title: 'LISTEN_FDNAMES naming more sockets than LISTEN_FDS',
    launcher: (_dir, [port]) => [`tcp:127.0.0.1:${port}`, '--names', 'tcp:sock'],
    error: /^fcgi-spawn: socket activation: LISTEN_FDNAMES='tcp:sock' names 2 socket\(s\), LISTEN_FDS=1: expected one name per socket$/,
  },
  {
    title: 'two sockets for one pool',
    launcher: (dir, [port]) => [`tcp:127.0.0.1:${port}`, `unix:${join(dir, 'twice.sock')}`, '--names', 'tcp:tcp'],
    error: /^fcgi-spawn: socket activation: fd 4 'tcp' \(.*twice\.sock\) and fd 3 'tcp' \(127\.0\.0\.1:\d+\) both match pool tcp: expected one socket per pool$/,
  },
  {
    title: 'two pools claiming one socket (one by its name, one by its address)',
    // Named for pool sock, at the address pool tcp is configured with.
    launcher: (_dir, [, port]) => [`tcp:127.0.0.1:${port}`, '--names', 'sock'],
    error: /^fcgi-spawn: socket activation: pool tcp listens at 127\.0\.0\.1:(\d+), where fd 3 'sock' \(127\.0\.0\.1:\1\) goes to pool sock \(by its name\): expected one pool per socket; change pool tcp's listen or the socket's FileDescriptorName=$/,
  },
];

for (const { title, launcher, pools, error } of CASES) {
  test(`socket activation refused at start: ${title} (exit 2, one line, nothing left behind)`, needs('python3'), async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'plain'), 'not a socket\n');
    const ports = [await freePort(), await freePort()] as const;
    const config = writeConfig(dir, (pools ?? twoPools)(dir, ports));
    const name = `refused-${process.pid}-${CASES.findIndex((c) => c.title === title)}`;
    const prefix = [findTool('python3') as string, ACTIVATE, ...launcher(dir, ports), '--'];
    const supervisor = startSupervisor(['--config', config, '--name', name], { prefix });
    t.after(() => supervisor.cleanup());
    const exit = await supervisor.waitExit();
    assert.equal(exit.code, 2, supervisor.log());
    assert.equal(supervisor.stderrLines.filter((line) => line !== '').length, 1, supervisor.log());
    assert.match(supervisor.stderrLines[0] as string, error);
    assert.deepEqual(supervisor.workerPids, [], 'no worker was started');
    assert.ok(!existsSync(join(dir, 'app.sock')), 'the Unix pool\'s socket was never bound');
    assert.equal((await probe(`127.0.0.1:${ports[1]}`, '/', {}, 2_000)).code, 3, 'the TCP pool\'s port was never bound');
    assert.deepEqual(readdirSync(RUN_DIR).filter((file) => file.startsWith(`${name}.`)), [], 'no pidfile, record or control socket');
  });
}

async function startsAsUsual(t: TestContext, override: string): Promise<void> {
  const dir = tempDir(t);
  const [passed, own] = [await freePort(), await freePort()];
  const config = writeConfig(dir, [pool('tcp', `127.0.0.1:${own}`)]);
  const name = `not-ours-${process.pid}-${own}`;
  // The socket is named for the pool: were it taken, the pool would serve on it instead of its own address.
  const prefix = [findTool('python3') as string, ACTIVATE, `tcp:127.0.0.1:${passed}`, '--names', 'tcp', '--set', override, '--'];
  const supervisor = startSupervisor(['--config', config, '--name', name], { prefix });
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  assert.doesNotMatch(supervisor.log(), /socket activation/);
  const status = await statusJson(['--name', name]);
  assert.equal(status.pools[0]?.address, `127.0.0.1:${own}`);
  assert.equal((await probe(`127.0.0.1:${own}`)).code, 0);
  const passedInode = socketFds(supervisor.pid).get(3);
  for (const worker of status.pools[0]?.workers ?? []) {
    assert.ok(![...socketFds(worker.pid).values()].includes(passedInode as number), 'the worker holds no fd passed for another process');
    assert.doesNotMatch(readFileSync(`/proc/${worker.pid}/environ`, 'latin1'), /(^|\0)LISTEN_/);
  }
  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
}

test('socket activation: a LISTEN_PID of another process is not for us: the pool binds its own address, workers see none of it', needs('python3'), async (t) => {
  await startsAsUsual(t, 'LISTEN_PID=1');
});

const PIDFS = pidfdInode(process.pid) !== undefined ? {} : { skip: 'pidfds have no inode of their own before Linux 6.9: LISTEN_PIDFDID cannot be checked' };

test('socket activation: a LISTEN_PIDFDID of another process is not for us (systemd >= 257, Linux >= 6.9): the pool binds as usual', { ...needs('python3'), ...PIDFS }, async (t) => {
  await startsAsUsual(t, 'LISTEN_PIDFDID=1');
});
