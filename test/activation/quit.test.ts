/**
 * QUIT (graceful stop) of a pool on a Unix socket systemd owns: the socket file is systemd's and stays (the same
 * inode), a request in flight is answered, the supervisor exits 0 leaving no worker, and a client that connects
 * once the last worker is gone is not refused: its connection waits in systemd's queue for the next start.
 * test/fixtures/activate.py --hold keeps a copy of the socket, as systemd does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { findTool, needs } from '../helpers/tools.js';
import { isAlive, killQuietly } from '../helpers/processes.js';
import { pidInBody, probe } from '../helpers/fastcgi.js';
import { statusJson } from '../helpers/status.js';
import { waitFor } from '../helpers/wait.js';
import { tempDir, writeConfig } from './support.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ACTIVATE = join(FIXTURES, 'activate.py');

test('QUIT on systemd\'s Unix socket: the file stays, the request in flight is answered, later clients wait in systemd\'s queue', needs('python3'), async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.sock');
  const holdFile = join(dir, 'systemd.pid');
  const name = `quit-${process.pid}`;
  const config = writeConfig(dir, [{ name: 'sock', listen: path, command: [process.execPath, RESPONDER], workers: 2 }]);
  const prefix = [findTool('python3') as string, ACTIVATE, `unix:${path}`, '--names', 'sock', '--hold', holdFile, '--'];
  const supervisor = startSupervisor(['--config', config, '--name', name], { prefix });
  t.after(() => supervisor.cleanup());
  const holder = await waitFor('the stand-in for systemd holding the socket', () => {
    try {
      return Number(readFileSync(holdFile, 'utf8'));
    } catch {
      return undefined;
    }
  });
  t.after(() => killQuietly(holder, 'SIGKILL'));
  await supervisor.waitReady();
  const fileInode = lstatSync(path).ino;
  const workers = supervisor.liveWorkers();

  const inFlight = probe(path, '/slow?sleep=3000', {}, 20_000);
  // The request is with a worker before the stop begins.
  await waitFor('a worker busy with the slow request', async () => ((await statusJson(['--name', name])).pools[0]?.workerCounts.busy ?? 0) >= 1, { timeoutMs: 5_000 });
  const exit = await supervisor.stop('SIGQUIT', 30_000);
  assert.equal(exit.code, 0, supervisor.log());
  const answer = await inFlight;
  assert.equal(answer.code, 0, answer.err);
  assert.ok(workers.includes(pidInBody(answer.out) ?? -1));
  assert.deepEqual(supervisor.strays(), []);
  assert.match(supervisor.log(), /graceful stop: .*app\.sock is systemd's socket and stays/);

  assert.equal(lstatSync(path).ino, fileInode, 'systemd\'s socket file is where it was');
  assert.ok(isAlive(holder));
  // Not refused (exit 3): connected, and waiting for a worker of the next start (exit 4, timeout).
  const later = await probe(path, '/', {}, 1_000);
  assert.equal(later.code, 4, later.err);
  assert.match(later.err, /connected/);
});
