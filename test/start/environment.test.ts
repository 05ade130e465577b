/**
 * What workers inherit: by default the supervisor's environment; with -u the user's HOME, USER, LOGNAME and SHELL
 * (not root's); with --clear-env only -e, --env-keep and those. Read from the real worker's /proc/PID/environ.
 * And the warning a non-loopback bind gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lookupUser } from '../../src/os/libc.js';
import { freePort } from '../helpers/processes.js';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const asRoot = { skip: process.geteuid?.() !== 0 ? 'needs root to switch users' : false };

function environ(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean);
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

async function workerEnvironment(t: { after: (fn: () => Promise<void>) => void }, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), ...args, '--', process.execPath, RESPONDER], { env });
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const [pid] = pool.workerPids;
  assert.ok(pid !== undefined, pool.log());
  const seen = environ(pid);
  await pool.stop();
  return seen;
}

test("-u USER: the worker gets USER's HOME, USER, LOGNAME and SHELL from passwd, not root's", asRoot, async (t) => {
  const user = lookupUser('www-data');
  assert.ok(user, 'www-data exists on Debian');
  const env = { ...process.env, HOME: '/root', USER: 'root', LOGNAME: 'root', SHELL: '/bin/bash', KEPT: 'inherited' };
  const seen = await workerEnvironment(t, ['-u', 'www-data'], env);
  assert.equal(seen.HOME, user.home);
  assert.equal(seen.USER, 'www-data');
  assert.equal(seen.LOGNAME, 'www-data');
  assert.equal(seen.SHELL, user.shell);
  assert.equal(seen.KEPT, 'inherited', 'without --clear-env the rest is inherited');
});

test('--clear-env: an empty environment plus -e, --env-keep and the -u variables; -e overrides them', asRoot, async (t) => {
  const env = { ...process.env, SECRET_TOKEN: 'hunter2', KEEP_ME: 'yes', PATH: '/usr/bin:/bin' };
  const seen = await workerEnvironment(t, ['-u', 'www-data', '--clear-env', '--env-keep', 'KEEP_ME', '--env-keep', 'PATH', '-e', 'APP_ENV=prod', '-e', 'SHELL=/bin/sh'], env);
  const user = lookupUser('www-data');
  assert.deepEqual(seen, { KEEP_ME: 'yes', PATH: '/usr/bin:/bin', HOME: user?.home, USER: 'www-data', LOGNAME: 'www-data', SHELL: '/bin/sh', APP_ENV: 'prod' });
});

test('without -u, the supervisor environment is inherited, secrets included; --clear-env drops it', async (t) => {
  const env = { ...process.env, SECRET_TOKEN: 'hunter2' };
  assert.equal((await workerEnvironment(t, [], env)).SECRET_TOKEN, 'hunter2');
  const cleared = await workerEnvironment(t, ['--clear-env', '-e', 'ONLY=this'], env);
  assert.deepEqual(cleared, { ONLY: 'this' });
});

test('a bind to 0.0.0.0 warns that FastCGI has no authentication; --allow-remote and loopback do not', async (t) => {
  const port = await freePort('0.0.0.0');
  const open = startSupervisor(['-a', '0.0.0.0', '-p', String(port), '--', process.execPath, RESPONDER]);
  t.after(() => open.cleanup());
  await open.waitReady();
  assert.match(open.log(), new RegExp(`warn: pool default listens on 0\\.0\\.0\\.0:${port}, reachable from other hosts: FastCGI has no authentication.*--allow-remote`));
  await open.stop();
  const allowed = startSupervisor(['-a', '0.0.0.0', '-p', String(port), '--allow-remote', '--', process.execPath, RESPONDER]);
  t.after(() => allowed.cleanup());
  await allowed.waitReady();
  assert.doesNotMatch(allowed.log(), /no authentication/);
  await allowed.stop();
});
