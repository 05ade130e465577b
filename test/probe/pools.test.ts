/**
 * `fcgi-spawn probe` as a health check of real pools: gunicorn (`-b fd://0`), the Node HTTP app and an SCGI
 * server, each under fcgi-spawn, probed through the CLI; and the protocol taken from the instance's record.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROBE_EXIT_CODES } from '../../src/commands/probe.js';
import { freePort } from '../helpers/processes.js';
import { FIXTURES, runCli, startSupervisor, testEnvironment, type RunningSupervisor } from '../helpers/supervisor.js';
import { findTool, needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';
import { makeSocketDir } from '../fastcgi/support.js';

async function startPool(t: { after(fn: () => Promise<void>): void }, args: string[]): Promise<RunningSupervisor> {
  const pool = startSupervisor(args);
  t.after(() => pool.cleanup());
  return pool;
}

test('probe --protocol http checks a gunicorn pool (gunicorn -b fd://0)', needs('gunicorn'), async (t) => {
  const port = await freePort();
  const pool = await startPool(t, ['-p', String(port), '--', findTool('gunicorn') as string, '--chdir', FIXTURES, '-b', 'fd://0', '-w', '1', 'wsgi_app:app']);
  const address = `127.0.0.1:${port}`;
  // Until gunicorn's worker has booted, connections queue: the probe answers once it has.
  const ok = await waitFor('gunicorn answering', async () => {
    const result = await runCli(['probe', '--protocol', 'http', '--timeout', '2', address, '/']);
    return result.code === PROBE_EXIT_CODES.ok ? result : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  assert.match(ok.stdout, /^HTTP\/1\.1 200 OK\n(.+\n)*Server: gunicorn\n/);
  assert.match(ok.stdout, /\n\npid=\d+\n$/);
  const missing = await runCli(['probe', '--protocol', 'http', address, '/status/404']);
  assert.equal(missing.code, PROBE_EXIT_CODES.status, missing.stderr);
  assert.match(missing.stdout, /^HTTP\/1\.1 404 Whatever\n/);
  assert.equal(missing.stderr, `fcgi-spawn: probe: ${address} answered status 404 for /status/404\n`);
  const exit = await pool.stop();
  assert.equal(exit.code, 0);
});

test('probe --protocol http checks the Node HTTP app; spoken to in FastCGI, it says what to try', async (t) => {
  const port = await freePort();
  const pool = await startPool(t, ['-p', String(port), '-F', '2', '--', process.execPath, join(FIXTURES, 'http-app.mjs')]);
  await pool.waitReady();
  const address = `127.0.0.1:${port}`;
  const ok = await runCli(['probe', '--protocol', 'http', address, '/?sleep=10']);
  assert.equal(ok.code, PROBE_EXIT_CODES.ok, ok.stderr);
  assert.match(ok.stdout, /^HTTP\/1\.1 200 OK\n(.+\n)+\npid=\d+\n$/);
  // No --protocol and nothing recorded: FastCGI, which Node's HTTP parser answers with a 400.
  const wrong = await runCli(['probe', address, '/']);
  assert.equal(wrong.code, PROBE_EXIT_CODES.protocol, wrong.stderr);
  assert.match(wrong.stderr, /; that is an HTTP server, not FastCGI \(--protocol http\)\n$/);
  const usage = await runCli(['probe', '--protocol', 'spdy', address]);
  assert.equal(usage.code, PROBE_EXIT_CODES.usage);
  assert.match(usage.stderr, /^fcgi-spawn: option '--protocol <name>' argument 'spdy' is invalid\. Allowed choices are fastcgi, http, scgi\.\n$/);
});

test('probe --protocol scgi checks an SCGI pool on a Unix socket', async (t) => {
  const dir = await makeSocketDir();
  t.after(() => dir.remove());
  const socket = join(dir.dir, 'scgi.sock');
  const pool = await startPool(t, ['-s', socket, '--', process.execPath, join(FIXTURES, 'scgi-app.mjs')]);
  await pool.waitReady();
  const vars = await runCli(['probe', '--protocol', 'scgi', '--param', 'HTTP_HOST=example.test', socket, '/vars?a=1']);
  assert.equal(vars.code, PROBE_EXIT_CODES.ok, vars.stderr);
  const [head, body] = vars.stdout.split('\n\n');
  assert.equal(head, 'Status: 200 Whatever\nContent-Type: application/json');
  const received = JSON.parse(body as string) as Record<string, string>;
  assert.equal(received.PATH_INFO, '/vars');
  assert.equal(received.QUERY_STRING, 'a=1');
  assert.equal(received.HTTP_HOST, 'example.test');
  assert.equal(received.SERVER_NAME, 'localhost');
  const httpForm = await runCli(['probe', '--protocol', 'scgi', socket, '/?form=http']);
  assert.equal(httpForm.code, PROBE_EXIT_CODES.ok, httpForm.stderr);
  assert.match(httpForm.stdout, /^HTTP\/1\.1 200 Whatever\n/);
  const unavailable = await runCli(['probe', '--protocol', 'scgi', socket, '/status/503']);
  assert.equal(unavailable.code, PROBE_EXIT_CODES.status);
});

test('without --protocol, probe speaks what the running instance records for that address', async (t) => {
  const port = await freePort();
  const name = `probe-default-${port}`;
  const pool = await startPool(t, ['-p', String(port), '--name', name, '--', process.execPath, join(FIXTURES, 'http-app.mjs')]);
  await pool.waitReady();
  const address = `127.0.0.1:${port}`;
  const before = await runCli(['probe', address, '/']);
  assert.equal(before.code, PROBE_EXIT_CODES.protocol, 'nothing recorded: FastCGI');
  // What a pool whose configuration says `protocol: http` has in its record (the supervisor writes it 0600).
  const recordPath = join(testEnvironment().FCGI_SPAWN_RUN_DIR as string, `${name}.json`);
  const record = JSON.parse(readFileSync(recordPath, 'utf8')) as { pools: Array<{ address: string; protocol?: string }> };
  assert.equal(record.pools[0]?.address, address);
  (record.pools[0] as { protocol?: string }).protocol = 'http';
  writeFileSync(recordPath, JSON.stringify(record), { mode: 0o600 });
  const after = await runCli(['probe', address, '/']);
  assert.equal(after.code, PROBE_EXIT_CODES.ok, after.stderr);
  assert.match(after.stdout, /^HTTP\/1\.1 200 OK\n/);
  // An explicit --protocol wins over the record.
  const told = await runCli(['probe', '--protocol', 'fastcgi', address, '/']);
  assert.equal(told.code, PROBE_EXIT_CODES.protocol);
  // Once the instance is gone its record decides nothing.
  assert.equal((await pool.stop()).code, 0);
  const gone = await runCli(['probe', address, '/']);
  assert.equal(gone.code, PROBE_EXIT_CODES.refused);
  assert.match(gone.stderr, /is a FastCGI server listening there\?\n$/);
});
