/**
 * Socket activation with Debian's own systemd-socket-activate: it listens on a TCP and a Unix socket, waits for a
 * first connection, then execs the supervisor with LISTEN_FDS=2. The supervisor adopts both (TCP by its
 * fd name, the Unix socket by its address), serves through both, hands each pool's workers their socket as fd 0
 * and nothing else, reloads the Unix pool under request loops with 0 failed (systemd's socket shared by the new
 * generation, never renamed), refuses a TCP reload since systemd-socket-activate sets no SO_REUSEPORT, and
 * leaves systemd's Unix socket file where it is when it stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { findTool, needs } from '../helpers/tools.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { statusJson } from '../helpers/status.js';
import { waitFor } from '../helpers/wait.js';
import { loops, socketFds, tempDir, writeConfig } from './support.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');

test('systemd-socket-activate: a TCP and a Unix socket adopted, served, the Unix pool reloaded under load with 0 failed', needs('systemd-socket-activate'), async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const path = join(dir, 'app.sock');
  const name = `activated-${process.pid}`;
  const config = writeConfig(dir, [
    { name: 'tcp', listen: `127.0.0.1:${port}`, command: [process.execPath, RESPONDER], workers: 2 },
    { name: 'sock', listen: path, command: [process.execPath, RESPONDER], workers: 2 },
  ]);
  // systemd-socket-activate gives its command a clean environment: -E passes what the supervisor needs.
  const prefix = [findTool('systemd-socket-activate') as string, '-E', 'FCGI_SPAWN_RUN_DIR', '-E', 'PATH', '-l', `127.0.0.1:${port}`, '-l', path, '--fdname=tcp:unnamed'];
  const supervisor = startSupervisor(['--config', config, '--name', name], { prefix });
  t.after(() => supervisor.cleanup());
  // The socket exists before the pool: the first connection starts it, and is served once the workers are up.
  await waitFor('systemd-socket-activate listening', () => {
    try {
      return lstatSync(path).isSocket();
    } catch {
      return false;
    }
  });
  const fileInode = lstatSync(path).ino;
  const first = await probe(`127.0.0.1:${port}`, '/first', {}, 20_000);
  assert.equal(first.code, 0, `${first.err}\n${supervisor.log()}`);
  await supervisor.waitReady();
  assert.match(supervisor.log(), /socket activation: pool tcp adopts fd 3 'tcp' \(127\.0\.0\.1:\d+\) from systemd \(no SO_REUSEPORT/);
  assert.match(supervisor.log(), /socket activation: pool sock adopts fd 4 'unnamed' \(.*app\.sock\) from systemd/);
  assert.equal((await probe(path, '/unix')).code, 0);

  // Workers get their pool's socket at fd 0, as when the supervisor binds it, and none of systemd's variables.
  const held = socketFds(supervisor.pid);
  const [tcpInode, unixInode] = [held.get(3), held.get(4)];
  assert.ok(tcpInode && unixInode, `the supervisor keeps systemd's fds 3 and 4: ${JSON.stringify([...held])}`);
  const status = await statusJson(['--name', name]);
  for (const pool of status.pools) {
    const expected: number = pool.name === 'tcp' ? tcpInode : unixInode;
    const other: number = pool.name === 'tcp' ? unixInode : tcpInode;
    for (const worker of pool.workers) {
      const fds = socketFds(worker.pid);
      assert.equal(fds.get(0), expected, `worker ${worker.pid} of ${pool.name}: its socket at fd 0`);
      assert.ok(![...fds.values()].includes(other), `worker ${worker.pid} of ${pool.name} holds no other pool's socket`);
      assert.doesNotMatch(readFileSync(`/proc/${worker.pid}/environ`, 'latin1'), /(^|\0)LISTEN_/);
    }
  }

  // The Unix pool reloads on systemd's socket, three times, under request loops: nothing fails.
  const load = loops([{ address: path, path: '/' }, { address: `127.0.0.1:${port}`, path: '/' }]);
  let stopped = false;
  t.after(async () => {
    if (!stopped) await load.stop();
  });
  for (let i = 0; i < 3; i += 1) {
    const reload = await runCli(['reload', '--name', name, '--pool', 'sock']);
    assert.equal(reload.code, 0, `${reload.stderr}\n${supervisor.log()}`);
  }
  // TCP without SO_REUSEPORT: refused, with the fix; the old workers keep serving.
  const refused = await runCli(['reload', '--name', name, '--pool', 'tcp']);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, /no SO_REUSEPORT.*ReusePort=yes/);
  stopped = true;
  const result = await load.stop();
  assert.deepEqual(result.failed, [], `${result.failed.length} failed of ${result.ok + result.failed.length}`);
  assert.ok(result.ok > 50, `only ${result.ok} requests made it`);
  t.diagnostic(`${result.ok} requests, 0 failed, through 3 reloads of the Unix pool on systemd's socket`);
  assert.match(supervisor.log(), /generation 4 ready on the same socket \(systemd's\)/);
  assert.equal((await probe(`127.0.0.1:${port}`, '/')).code, 0);

  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
  // systemd's socket file is systemd's: not unlinked, and never renamed away (its inode is the one we were given).
  assert.ok(lstatSync(path).isSocket(), 'the Unix socket file stays');
  assert.equal(lstatSync(path).ino, fileInode, 'the same socket file systemd-socket-activate made');
});
