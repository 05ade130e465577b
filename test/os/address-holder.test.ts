/** Who holds an address, read from /proc: real listeners (this process, nginx), real users. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressHolder } from '../../src/os/address-holder.js';
import { ROOT } from '../helpers/supervisor.js';
import { startNginx } from '../helpers/nginx.js';
import { needs } from '../helpers/tools.js';

async function listening(t: { after: (fn: () => void) => void }, ...args: unknown[]): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    (server.listen as (...a: unknown[]) => void)(...args, () => resolve());
  });
  t.after(() => server.close());
  return server;
}

function portOf(server: Server): number {
  return (server.address() as { port: number }).port;
}

test('a TCP listener on the same address: its process, by name and pid', async (t) => {
  const port = portOf(await listening(t, 0, '127.0.0.1'));
  assert.deepEqual(addressHolder({ kind: 'tcp', host: '127.0.0.1', port }), { pid: process.pid, name: 'node', bound: `127.0.0.1:${port}`, ours: false });
});

test('a wildcard listener covers the address asked for; [::] covers IPv4 too', async (t) => {
  const any4 = portOf(await listening(t, 0, '0.0.0.0'));
  assert.equal(addressHolder({ kind: 'tcp', host: '127.0.0.1', port: any4 })?.bound, `0.0.0.0:${any4}`);
  // 0.0.0.0 covers no IPv6 address.
  assert.equal(addressHolder({ kind: 'tcp', host: '::1', port: any4 }), undefined);
  const any6 = portOf(await listening(t, 0, '::'));
  assert.equal(addressHolder({ kind: 'tcp', host: '127.0.0.1', port: any6 })?.bound, `[::]:${any6}`);
  assert.equal(addressHolder({ kind: 'tcp', host: '::1', port: any6 })?.pid, process.pid);
});

test('a listener on another address of the same port is not the holder', async (t) => {
  const port = portOf(await listening(t, 0, '127.0.0.2'));
  assert.equal(addressHolder({ kind: 'tcp', host: '127.0.0.1', port }), undefined);
  assert.equal(addressHolder({ kind: 'tcp', host: '127.0.0.2', port })?.pid, process.pid);
});

test('a Unix socket path: the process listening there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'held.sock');
  await listening(t, path);
  assert.deepEqual(addressHolder({ kind: 'unix', path }), { pid: process.pid, name: 'node', bound: path, ours: false });
  assert.equal(addressHolder({ kind: 'unix', path: join(dir, 'nobody-here.sock') }), undefined);
});

test('nginx: its master, not one of the workers that inherited the socket', needs('nginx'), async (t) => {
  const nginx = await startNginx({ http: { address: '127.0.0.1:1' } });
  t.after(() => nginx.stop());
  assert.deepEqual(addressHolder({ kind: 'tcp', host: '127.0.0.1', port: nginx.port }), { pid: nginx.pid, name: 'nginx', bound: `127.0.0.1:${nginx.port}`, ours: false });
});

const asNobody = process.geteuid?.() !== 0 ? { skip: 'runs only as root (to become nobody)' } : needs('setpriv');

test('as another user /proc cannot tell whose socket it is: no answer', asNobody, async (t) => {
  const port = portOf(await listening(t, 0, '127.0.0.1'));
  const module = join(ROOT, 'dist', 'src', 'os', 'address-holder.js');
  const script = `import(${JSON.stringify(module)}).then((m) => console.log(JSON.stringify(m.addressHolder({ kind: 'tcp', host: '127.0.0.1', port: ${port} }) ?? null)))`;
  const output = await new Promise<string>((resolve, reject) => {
    execFile('setpriv', ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', process.execPath, '-e', script], { timeout: 20_000 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });
  assert.equal(output.trim(), 'null');
});
