/** "Address in use" names who holds it: another program is not another instance of ours. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { startNginx } from '../helpers/nginx.js';
import { needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';
import { probe } from '../helpers/fastcgi.js';
import { scratch, write, yamlCommand } from '../config/helpers.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ALLOW_ROOT = process.geteuid?.() === 0 ? ['--allow-root'] : [];

function start(port: number, ...more: string[]): ReturnType<typeof runCli> {
  return runCli(['start', '-n', '-p', String(port), ...more, ...ALLOW_ROOT, '--', process.execPath, RESPONDER]);
}

test('a port held by nginx: exit 3 naming nginx and its master pid, no hint at another instance', needs('nginx'), async (t) => {
  const nginx = await startNginx({ http: { address: '127.0.0.1:1' } });
  t.after(() => nginx.stop());
  const result = await start(nginx.port);
  assert.equal(result.code, 3, result.stderr);
  assert.equal(
    result.stderr,
    `fcgi-spawn: unable to bind 127.0.0.1:${nginx.port}: EADDRINUSE (address already in use); 127.0.0.1:${nginx.port} is held by nginx (pid ${nginx.pid})\n`,
  );
});

test('a port held on the wildcard address names what it is bound to', async (t) => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const result = await start(port);
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stderr, new RegExp(`EADDRINUSE \\(address already in use\\); 0\\.0\\.0\\.0:${port} is held by node \\(pid ${process.pid}\\)\\n$`));
});

test('a port held by another fcgi-spawn instance: named, with the status hint', async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '--', process.execPath, RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const result = await start(port, '--name', 'other');
  assert.equal(result.code, 3, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(`127\\.0\\.0\\.1:${port} is held by fcgi-spawn \\(pid ${pool.pid}\\): is another instance running\\? see 'fcgi-spawn status -p ${port}'\\n$`),
  );
  await pool.stop();
});

test('a Unix socket a server listens on: named the same way', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'held.sock');
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(() => server.close());
  const result = await runCli(['start', '-n', '-s', path, ...ALLOW_ROOT, '--', process.execPath, RESPONDER]);
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stderr, new RegExp(`socket ${path} is in use: a server accepts connections there; ${path} is held by node \\(pid ${process.pid}\\)\\n$`));
});

/** A port this test process holds on 127.0.0.1 (a node listener, as nginx would be). */
async function heldPort(t: { after: (fn: () => void) => void }): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return (server.address() as { port: number }).port;
}

test('several pools: the pool whose port is held is named, with its holder; nothing is left bound', async (t) => {
  const dir = scratch(t);
  const [free, held] = [await freePort(), await heldPort(t)];
  const file = write(
    join(dir, 'two.yaml'),
    `name: two\nallow-root: true\ncommand: ${yamlCommand()}\npools:\n  - {name: a, listen: "127.0.0.1:${free}"}\n  - {name: b, listen: "127.0.0.1:${held}"}\n`,
  );
  const result = await runCli(['start', '-n', '--config', file]);
  assert.equal(result.code, 3, result.stderr);
  assert.equal(
    result.stderr,
    `fcgi-spawn: pool b: unable to bind 127.0.0.1:${held}: EADDRINUSE (address already in use); 127.0.0.1:${held} is held by node (pid ${process.pid})\n`,
  );
  // Pool a's socket went with the failed start: its port binds again.
  const again = createServer();
  await new Promise<void>((resolve, reject) => again.once('error', reject).listen(free, '127.0.0.1', resolve));
  again.close();
});

test('a pool that update adds on a held port: not added, its holder named in the answer; the others serve on', async (t) => {
  const dir = scratch(t);
  const [a, held] = [await freePort(), await heldPort(t)];
  const text = (more: string): string => `name: grow\nallow-root: true\ncommand: ${yamlCommand()}\npools:\n  - {name: a, listen: "127.0.0.1:${a}"}\n${more}`;
  const file = write(join(dir, 'grow.yaml'), text(''));
  const pool = startSupervisor(['--config', file]);
  t.after(() => pool.cleanup());
  await waitFor('pool a answering', async () => (await probe(`127.0.0.1:${a}`)).code === 0, { timeoutMs: 30_000 });
  write(file, text(`  - {name: b, listen: "127.0.0.1:${held}"}\n`));
  const update = await runCli(['update', '--name', 'grow']);
  assert.equal(update.code, 1, update.stderr);
  assert.match(
    update.stderr,
    new RegExp(`: b: not added: unable to bind 127\\.0\\.0\\.1:${held}: EADDRINUSE \\(address already in use\\); 127\\.0\\.0\\.1:${held} is held by node \\(pid ${process.pid}\\)`),
  );
  assert.equal((await probe(`127.0.0.1:${a}`)).code, 0);
  await pool.stop();
});
