/**
 * "Gone" as the supervisor judges it (proc.ts hasExited): a process it counts as gone holds no descriptor.
 * A node worker killed by SIGKILL shows Z for its leader while its other threads still release the shared
 * descriptor table; a next start that binds in that window failed with EADDRINUSE (CI, stop 15).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { identityOf } from '../../src/control/record.js';
import { listeningSocketInodes } from '../../src/os/process-tree.js';
import { readStat } from '../../src/os/proc.js';
import { killQuietly } from '../helpers/processes.js';
import { socketInode } from '../reliability/support.js';
import { waitFor } from '../helpers/wait.js';

// Touches 200 MiB so that tearing down its memory keeps its other threads busy after the leader is Z.
const HOLDER = 'const b = []; for (let i = 0; i < 200; i++) b.push(Buffer.alloc(1 << 20, 1)); process.stdout.write("up"); setInterval(() => {}, 1000);';

async function listening(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

test('a killed multi-threaded process counts as gone only once its listening socket is closed', async (t) => {
  const seen = { zombieWithThreads: 0 };
  for (let round = 0; round < 8; round++) {
    const server = await listening();
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    const child = spawn(process.execPath, ['-e', HOLDER], { stdio: [fd, 'pipe', 'inherit'] });
    const pid = child.pid as number;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    t.after(() => killQuietly(pid));
    await new Promise((resolve) => child.stdout?.once('data', resolve));
    const inode = socketInode(pid, 0);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.ok(listeningSocketInodes().has(inode), 'the child holds the listening socket');

    process.kill(pid, 'SIGKILL');
    // Read until the verdict is "gone", and check the socket at that very moment.
    const verdict = await waitFor('the killed holder counted as gone', () => {
      const stat = readStat(pid);
      if (stat?.state === 'Z' && stat.threads > 1) seen.zombieWithThreads++;
      return identityOf(pid) === undefined ? { listening: listeningSocketInodes().has(inode) } : undefined;
    }, { intervalMs: 0 });
    assert.equal(verdict.listening, false, `round ${round}: pid ${pid} counted as gone while its socket still listens`);
    await exited;
  }
  t.diagnostic(`reads of a Z leader with live threads, counted as alive: ${seen.zombieWithThreads}`);
});
