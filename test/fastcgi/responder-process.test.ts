/**
 * The fixture worker as fcgi-spawn runs it: a separate process with an already listening socket at fd 0
 * (or fd 3 under LISTEN_FDS), probed through the real probe, stopped with a real signal.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, it } from 'node:test';
import { PROBE_EXIT_CODES, runProbe } from '../../src/commands/probe.js';
import { captureOutput, listen, portOf, waitForExit } from './support.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/fcgi-responder.mjs', import.meta.url));
const EXIT_DEADLINE_MS = 10_000;

interface Worker {
  readonly child: ChildProcess;
  readonly address: string;
  readonly stderr: string[];
}

function listeningFd(server: net.Server): number {
  const handle = (server as unknown as { _handle?: { fd?: unknown } | null })._handle;
  if (typeof handle?.fd !== 'number' || handle.fd < 0) throw new Error(`server handle fd ${String(handle?.fd)}: expected a file descriptor`);
  return handle.fd;
}

/**
 * Binds a port here, hands the listening socket to the worker at fd 0 or 3, then closes our copy at once:
 * a listening server in this process would accept connections meant for the worker.
 */
async function spawnWorker(at: 0 | 3): Promise<Worker> {
  const server = net.createServer();
  await listen(server, { host: '127.0.0.1' });
  const fd = listeningFd(server);
  const stdio: StdioOptions = at === 0 ? [fd, 'ignore', 'pipe'] : ['ignore', 'ignore', 'pipe', fd];
  // LISTEN_PID must be the worker's own pid, known only after fork: set it in an exec wrapper.
  const child =
    at === 0
      ? spawn(process.execPath, [FIXTURE], { stdio })
      : spawn('/bin/sh', ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', process.execPath, FIXTURE], {
          stdio,
          env: { ...process.env, LISTEN_FDS: '1', LISTEN_FDNAMES: 'test' },
        });
  const address = `127.0.0.1:${portOf(server)}`;
  await new Promise((resolve) => server.close(resolve));
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
  return { child, address, stderr };
}

describe('fcgi-responder.mjs as a real worker process', () => {
  const started: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await waitForExit(child, EXIT_DEADLINE_MS);
    }
  });

  for (const at of [0, 3] as const) {
    it(`answers a probe on the socket at fd ${at} and exits 0 on SIGTERM`, async () => {
      const worker = await spawnWorker(at);
      started.push(worker.child);
      const output = captureOutput();
      // The socket listens already: the connection waits in its queue until the worker accepts.
      const code = await runProbe(worker.address, '/from-test?x=1', { timeoutMs: EXIT_DEADLINE_MS, ...output });
      assert.equal(code, PROBE_EXIT_CODES.ok, `probe stderr: ${output.err.join('')} worker stderr: ${worker.stderr.join('')}`);
      assert.equal(output.out.join(''), `Status: 200\nContent-Type: text/plain\n\npid=${worker.child.pid}\npath=/from-test\n`);

      assert.ok(worker.child.pid !== undefined);
      process.kill(worker.child.pid, 'SIGTERM');
      assert.deepEqual(await waitForExit(worker.child, EXIT_DEADLINE_MS), { code: 0, signal: null });
      assert.equal(worker.stderr.join(''), '');
    });
  }

  it('answers with the requested status, then exits with the requested code', async () => {
    const worker = await spawnWorker(0);
    started.push(worker.child);
    const output = captureOutput();
    const code = await runProbe(worker.address, '/?status=503&exit=7', { timeoutMs: EXIT_DEADLINE_MS, ...output });
    assert.equal(code, PROBE_EXIT_CODES.status);
    assert.match(output.out.join(''), /^Status: 503\n/);
    assert.deepEqual(await waitForExit(worker.child, EXIT_DEADLINE_MS), { code: 7, signal: null });
  });
});
