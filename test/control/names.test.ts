/**
 * Every name fcgi-spawn derives is one it accepts back: `list` shows `__1-9001` for [::1]:9001, and
 * `status --name __1-9001` used to answer "invalid --name". A socket path with odd bytes gets a name
 * that is valid and its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/supervisor.js';
import { DaemonSandbox, daemonSandbox } from '../helpers/daemon.js';
import { freePort } from '../helpers/processes.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ROOT_FLAG = process.geteuid?.() === 0 ? ['--allow-root'] : [];

async function listed(box: DaemonSandbox): Promise<Array<{ name: string; state: string; address: string }>> {
  const list = await box.cli(['list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  return JSON.parse(list.stdout) as Array<{ name: string; state: string; address: string }>;
}

test('the name derived for an IPv6 address is accepted by --name', async (t) => {
  const box = daemonSandbox(t);
  const missing = await box.cli(['status', '--name', '__1-9001']);
  assert.equal(missing.code, 3, missing.stderr);
  assert.equal(missing.stdout, '__1-9001: not running\n');
  const port = await freePort('::1');
  assert.equal((await box.cli(['start', '-a', '::1', '-p', String(port), ...ROOT_FLAG, '--', process.execPath, RESPONDER])).code, 0);
  const [row] = await listed(box);
  assert.deepEqual([row?.name, row?.state, row?.address], [`__1-${port}`, 'running', `[::1]:${port}`]);
  const status = await box.cli(['status', '--name', `__1-${port}`, '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((await box.cli(['stop', '--name', `__1-${port}`])).code, 0);
});

test('a socket path with a newline gets a valid name of its own, usable as --name', async (t) => {
  const box = daemonSandbox(t);
  const odd = join(box.dir, 'a\nb.sock');
  const plain = join(box.dir, 'a_b.sock');
  for (const path of [odd, plain]) {
    const start = await box.cli(['start', '-s', path, ...ROOT_FLAG, '--', process.execPath, RESPONDER]);
    assert.equal(start.code, 0, `${JSON.stringify(path)}: ${start.stderr}`);
  }
  const names = (await listed(box)).map((row) => row.name);
  assert.equal(names.length, 2, `the two paths got one name: ${JSON.stringify(names)}`);
  for (const name of names) {
    assert.match(name, /^[A-Za-z0-9_@][A-Za-z0-9._@-]*$/);
    assert.equal((await box.cli(['status', '--name', name])).code, 0, name);
  }
  assert.equal((await box.cli(['stop', '-s', odd])).code, 0);
  assert.equal((await box.cli(['stop', '-s', plain])).code, 0);
  assert.deepEqual(await listed(box), []);
});
