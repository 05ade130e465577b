/**
 * The upgrade as a web server sees it: nginx → a fcgiwrap pool run by a daemon of a copied package, wrk on an
 * instant and a 50 ms CGI request while `fcgi-spawn upgrade` replaces the daemon's program in place: zero non-2xx
 * responses, zero socket errors, the same supervisor pid, the new version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { FIXTURES } from '../helpers/supervisor.js';
import { daemonSandbox } from '../helpers/daemon.js';
import { freePort } from '../helpers/processes.js';
import { findTool, needs } from '../helpers/tools.js';
import { startNginx } from '../helpers/nginx.js';
import { assertClean, runWrk } from '../helpers/wrk.js';
import { copyPackage } from './package-copy.js';

const CGI = join(FIXTURES, 'cgi', 'hello.sh');
const LOAD_SECONDS = 10;

test('upgrade under wrk through nginx: no non-2xx response, no socket error, same pid, new version', needs('fcgiwrap', 'nginx', 'wrk'), async (t) => {
  const box = daemonSandbox(t);
  const copy = copyPackage(box.dir);
  const port = await freePort();
  const root = process.geteuid?.() === 0 ? ['--allow-root'] : [];
  const started = await copy.run(['start', '-p', String(port), '--name', 'up', '-F', '2', '--steer-grace', '0.2', ...root, '--', findTool('fcgiwrap') as string], box.env);
  box.remember();
  assert.equal(started.code, 0, started.stderr);
  const before = JSON.parse((await copy.run(['status', '--json', '--name', 'up'], box.env)).stdout) as { pid: number; version: string };
  const nginx = await startNginx({ fastcgi: { address: `127.0.0.1:${port}`, scripts: { '/': CGI } } });
  t.after(() => nginx.stop());
  const base = `http://127.0.0.1:${nginx.port}`;

  copy.setVersion('9.9.9-loaded');
  const load = Promise.all([runWrk(`${base}/`, LOAD_SECONDS), runWrk(`${base}/?sleep=0.05`, LOAD_SECONDS)]);
  await delay(1500); // pacing: the upgrade lands in the middle of the load, not synchronisation
  const upgraded = await copy.run(['upgrade', '--name', 'up'], box.env);
  const [fast, slow] = await load;
  const pool = { log: () => box.log('up') };
  assert.equal(upgraded.code, 0, `${upgraded.stderr}\n${pool.log()}`);
  assertClean('upgrade 0 ms', fast, pool);
  assertClean('upgrade 50 ms', slow, pool);
  const after = JSON.parse((await copy.run(['status', '--json', '--name', 'up'], box.env)).stdout) as { pid: number; version: string };
  assert.equal(after.pid, before.pid);
  assert.equal(after.version, '9.9.9-loaded');
  t.diagnostic(`upgrade under load: ${fast.requests} fast + ${slow.requests} slow requests, max latency ${fast.maxLatencyMs} / ${slow.maxLatencyMs} ms; ${upgraded.stdout.trim()}`);
  const stopped = await copy.run(['stop', '--name', 'up'], box.env);
  assert.equal(stopped.code, 0, stopped.stderr);
});
