/**
 * A TCP socket systemd passed with ReusePort=yes: a reload's new generation binds a socket of its own on the same
 * port, joining systemd's SO_REUSEPORT group, and is steered to as usual; systemd's socket stays open and
 * listening (the supervisor keeps fd 3). systemd-socket-activate cannot set SO_REUSEPORT, so test/fixtures/
 * activate.py hands the sockets over as systemd does (LISTEN_PID is its own pid, and it execs the supervisor).
 * Without ReusePort=yes the reload is refused: exit 1, one line naming the fix, the running workers untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { findTool, needs } from '../helpers/tools.js';
import { freePort } from '../helpers/processes.js';
import { pidInBody, probe } from '../helpers/fastcgi.js';
import { statusJson } from '../helpers/status.js';
import { loops, socketFds, tempDir, writeConfig } from './support.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ACTIVATE = join(FIXTURES, 'activate.py');

/** Inodes of the sockets listening on 127.0.0.1:port, as /proc/net/tcp lists them (state 0A). */
function listeningInodes(port: number): number[] {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] === local && fields[3] === '0A')
    .map((fields) => Number(fields[9]));
}

async function servingWorkers(name: string): Promise<{ generation: number; pids: number[] }> {
  const status = await statusJson(['--name', name]);
  const pool = status.pools[0];
  assert.ok(pool);
  return { generation: pool.generation, pids: pool.workers.filter((w) => w.generation === pool.generation).map((w) => w.pid) };
}

test('ReusePort=yes: TCP reloads on systemd\'s socket under request loops, 0 failed, each generation joining its SO_REUSEPORT group', needs('python3'), async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const name = `reuseport-${process.pid}`;
  const config = writeConfig(dir, [{ name: 'tcp', listen: address, command: [process.execPath, RESPONDER], workers: 2 }]);
  const prefix = [findTool('python3') as string, ACTIVATE, `tcp+reuseport:${address}`, '--names', 'tcp', '--'];
  const supervisor = startSupervisor(['--config', config, '--name', name], { prefix });
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  assert.match(supervisor.log(), /socket activation: pool tcp adopts fd 3 'tcp' \(127\.0\.0\.1:\d+\) from systemd$/m);
  const systemd = socketFds(supervisor.pid).get(3);
  assert.ok(systemd, 'the supervisor holds systemd\'s socket at fd 3');
  assert.deepEqual(listeningInodes(port), [systemd]);
  const first = await servingWorkers(name);

  // A request in flight on an old worker when the reload starts: the old socket keeps serving it while it drains.
  const inFlight = probe(address, '/slow?sleep=3000', {}, 20_000);
  const load = loops([{ address, path: '/' }]);
  let stopped = false;
  t.after(async () => {
    if (!stopped) await load.stop();
  });
  const seen = new Set<number>([systemd]);
  for (let i = 0; i < 4; i += 1) {
    const reload = await runCli(['reload', '--name', name, '--pool', 'tcp']);
    assert.equal(reload.code, 0, `${reload.stderr}\n${supervisor.log()}`);
    const serving = await servingWorkers(name);
    assert.equal(serving.generation, first.generation + i + 1);
    const inodes = new Set(serving.pids.map((pid) => socketFds(pid).get(0)));
    assert.equal(inodes.size, 1, `the workers of generation ${serving.generation} share one socket`);
    const [own] = [...inodes] as [number];
    if (i % 2 === 0) {
      // A socket of its own, listening on the same port beside systemd's: it joined systemd's group (a bind
      // without SO_REUSEPORT set on systemd's socket fails with EADDRINUSE).
      assert.ok(!seen.has(own), `generation ${serving.generation} has a new socket`);
      seen.add(own);
      assert.deepEqual(new Set(listeningInodes(port)), new Set([systemd, own]), 'systemd\'s socket and the serving generation\'s listen');
    } else {
      // Generations take turns (os/pool-sockets.ts): this one accepts on systemd's socket again, and the previous
      // one's socket left the group.
      assert.equal(own, systemd, `generation ${serving.generation} accepts on systemd's socket`);
      assert.deepEqual(listeningInodes(port), [systemd], 'the retired generation\'s socket left the group');
    }
    const answer = await probe(address, '/');
    assert.ok(serving.pids.includes(pidInBody(answer.out) ?? -1), `answered by generation ${serving.generation}: ${answer.out}`);
  }
  const slow = await inFlight;
  assert.equal(slow.code, 0, slow.err);
  assert.ok(first.pids.includes(pidInBody(slow.out) ?? -1), `the slow request was served by a worker of generation ${first.generation}`);
  stopped = true;
  const result = await load.stop();
  assert.deepEqual(result.failed, [], `${result.failed.length} failed of ${result.ok + result.failed.length}`);
  assert.ok(result.ok > 30, `only ${result.ok} requests made it`);
  t.diagnostic(`${result.ok} requests, 0 failed, through 4 TCP reloads on systemd's SO_REUSEPORT socket`);
  assert.equal(socketFds(supervisor.pid).get(3), systemd, 'systemd\'s socket is still held at fd 3');

  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
});

test('without ReusePort=yes a TCP reload is refused: exit 1, one line naming the fix, the running workers untouched and serving', needs('python3'), async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const name = `no-reuseport-${process.pid}`;
  const config = writeConfig(dir, [{ name: 'tcp', listen: address, command: [process.execPath, RESPONDER], workers: 2 }]);
  const prefix = [findTool('python3') as string, ACTIVATE, `tcp:${address}`, '--names', 'tcp', '--'];
  const supervisor = startSupervisor(['--config', config, '--name', name], { prefix });
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  assert.match(supervisor.log(), /pool tcp adopts fd 3 'tcp' \(127\.0\.0\.1:\d+\) from systemd \(no SO_REUSEPORT: set ReusePort=yes/);
  const before = await servingWorkers(name);
  const inodes = before.pids.map((pid) => socketFds(pid).get(0));

  const refused = await runCli(['reload', '--name', name, '--pool', 'tcp']);
  assert.equal(refused.code, 1, refused.stdout);
  const lines = refused.stderr.trim().split('\n');
  assert.equal(lines.length, 1, refused.stderr);
  assert.match(lines[0] as string, /^fcgi-spawn: .*no SO_REUSEPORT.*ReusePort=yes/);

  const after = await servingWorkers(name);
  assert.deepEqual(after, before, 'the same generation and the same workers');
  assert.deepEqual(after.pids.map((pid) => socketFds(pid).get(0)), inodes, 'on the same socket');
  assert.deepEqual(listeningInodes(port), [socketFds(supervisor.pid).get(3)], 'no second socket was left listening');
  const answer = await probe(address, '/');
  assert.equal(answer.code, 0, answer.err);
  assert.ok(before.pids.includes(pidInBody(answer.out) ?? -1));
  // A reload of every pool fails the same way; so does a rollback leave nothing running.
  const all = await runCli(['reload', '--name', name]);
  assert.equal(all.code, 1);
  assert.deepEqual((await servingWorkers(name)).pids, before.pids);
  assert.deepEqual(supervisor.liveWorkers().sort(), [...before.pids].sort(), 'no worker of a refused generation was started');

  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
});

test('ReusePort=yes: a reload that fails rolls back on either turn (onto systemd\'s socket, onto one of ours), 0 failed', needs('python3'), async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const name = `reuseport-rollback-${process.pid}`;
  const good = { name: 'tcp', listen: address, command: [process.execPath, RESPONDER], workers: 2 };
  const bad = { ...good, command: [process.execPath, join(FIXTURES, 'crasher.mjs'), '7'] };
  const config = writeConfig(dir, [good]);
  const prefix = [findTool('python3') as string, ACTIVATE, `tcp+reuseport:${address}`, '--names', 'tcp', '--'];
  const supervisor = startSupervisor(['--config', config, '--name', name], { prefix });
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const systemd = socketFds(supervisor.pid).get(3) as number;
  const load = loops([{ address, path: '/' }]);
  let stopped = false;
  t.after(async () => {
    if (!stopped) await load.stop();
  });
  const reload = async (expected: number): Promise<void> => {
    const result = await runCli(['reload', '--name', name, '--pool', 'tcp']);
    assert.equal(result.code, expected, `${result.stderr}\n${supervisor.log()}`);
  };
  // Serving on systemd's socket: the failed generation had a socket of its own, which leaves the group.
  writeConfig(dir, [bad]);
  await reload(1);
  assert.deepEqual(listeningInodes(port), [systemd]);
  writeConfig(dir, [good]);
  await reload(0);
  const serving = await servingWorkers(name);
  const own = socketFds(serving.pids[0] as number).get(0) as number;
  assert.notEqual(own, systemd);
  // Serving on ours: the failed generation was on systemd's socket, which stays; new connections go back to ours.
  writeConfig(dir, [bad]);
  await reload(1);
  assert.deepEqual(await servingWorkers(name), serving, 'the same workers serve');
  assert.deepEqual(new Set(listeningInodes(port)), new Set([systemd, own]));
  const answer = await probe(address, '/');
  assert.ok(serving.pids.includes(pidInBody(answer.out) ?? -1), answer.out);
  writeConfig(dir, [good]);
  await reload(0);
  assert.equal(socketFds((await servingWorkers(name)).pids[0] as number).get(0), systemd);
  stopped = true;
  const result = await load.stop();
  assert.deepEqual(result.failed, [], `${result.failed.length} failed of ${result.ok + result.failed.length}`);
  assert.ok(result.ok > 30, `only ${result.ok} requests made it`);
  t.diagnostic(`${result.ok} requests, 0 failed, through 2 rollbacks and 2 reloads on systemd's SO_REUSEPORT socket`);
  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
});
