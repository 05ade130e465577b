/**
 * `fcgi-spawn upgrade` replaces the running daemon's program by the one now on disk, in place: same pid, the
 * sockets and the workers kept and then reloaded onto new workers, under request loops on two pools (fcgiwrap and
 * a Node FastCGI responder) that see no failed request. A broken new program is refused before anything changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/supervisor.js';
import { daemonSandbox, type DaemonSandbox } from '../helpers/daemon.js';
import { freePort, isAlive } from '../helpers/processes.js';
import { probe, requestLoop } from '../helpers/fastcgi.js';
import { findTool, needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';
import { copyPackage, type PackageCopy } from './package-copy.js';

const HELLO = join(FIXTURES, 'cgi', 'hello.sh');
const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ROOT = process.geteuid?.() === 0;

interface StatusView {
  readonly pid: number;
  readonly version: string;
  readonly upgrade: { readonly id: string; readonly state: string; readonly from: string; readonly to: string } | null;
  readonly pools: readonly { readonly name: string; readonly generation: number; readonly workers: readonly { readonly pid: number; readonly state: string; readonly generation: number }[] }[];
}

async function status(box: DaemonSandbox, copy: PackageCopy): Promise<StatusView> {
  const result = await copy.run(['status', '--json', '--name', 'up'], box.env);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as StatusView;
}

function workerPids(view: StatusView): number[] {
  return view.pools.flatMap((pool) => pool.workers.map((worker) => worker.pid)).sort();
}

/** Two pools from one file: fcgiwrap and a Node responder, two workers each. */
async function startTwoPools(box: DaemonSandbox, copy: PackageCopy): Promise<{ cgi: string; app: string }> {
  const [cgiPort, appPort] = [await freePort(), await freePort()];
  const file = join(box.dir, 'pools.yaml');
  writeFileSync(file, [
    ...(ROOT ? ['allow-root: true'] : []),
    'steer-grace: 0.1',
    'pools:',
    '  - name: cgi',
    `    listen: 127.0.0.1:${cgiPort}`,
    `    command: ${JSON.stringify([findTool('fcgiwrap')])}`,
    '    workers: 2',
    '  - name: app',
    `    listen: 127.0.0.1:${appPort}`,
    `    command: ${JSON.stringify([process.execPath, RESPONDER])}`,
    '    workers: 2',
    '',
  ].join('\n'));
  const started = await copy.run(['start', '--config', file, '--name', 'up'], box.env);
  box.remember();
  assert.equal(started.code, 0, started.stderr);
  return { cgi: `127.0.0.1:${cgiPort}`, app: `127.0.0.1:${appPort}` };
}

test('upgrade under request loops: same pid, new version, every worker replaced, no failed request, nothing left after stop', needs('fcgiwrap'), async (t) => {
  const box = daemonSandbox(t);
  const copy = copyPackage(box.dir);
  const { cgi, app } = await startTwoPools(box, copy);
  const before = await status(box, copy);
  assert.equal(before.upgrade, null);
  const oldWorkers = workerPids(before);
  assert.equal(oldWorkers.length, 4);

  copy.setVersion('9.9.9-upgraded');
  let done = false;
  const loops = Promise.all([requestLoop(cgi, HELLO, () => done), requestLoop(app, '/', () => done)]);
  // Requests are flowing before the upgrade begins.
  const warm = await probe(cgi, HELLO);
  assert.equal(warm.code, 0, warm.err);
  const upgraded = await copy.run(['upgrade', '--name', 'up'], box.env);
  const after = await status(box, copy);
  // And still after it finished, on the new workers.
  await waitFor('a request served by the new workers', async () => (await probe(app, '/')).code === 0);
  done = true;
  const [cgiLoop, appLoop] = await loops;
  const log = box.log('up');
  assert.equal(upgraded.code, 0, `${upgraded.stderr}\n${log}`);
  assert.match(upgraded.stdout, /upgraded from 0\.1\.0 to 9\.9\.9-upgraded \(pid \d+\)/);

  assert.equal(after.pid, before.pid, 'the supervisor kept its pid');
  assert.equal(after.version, '9.9.9-upgraded');
  assert.equal(after.upgrade?.state, 'done');
  assert.equal(after.upgrade?.from, before.version);
  assert.deepEqual(cgiLoop.failed, [], log);
  assert.deepEqual(appLoop.failed, [], log);
  assert.ok(cgiLoop.ok > 0 && appLoop.ok > 0);
  // Each pool reloaded onto this program's workers; the adopted ones were retired and reaped.
  for (const pool of after.pools) assert.ok(pool.workers.every((worker) => worker.generation > 1 && worker.state === 'ready'), JSON.stringify(pool));
  assert.equal(workerPids(after).length, 4);
  for (const pid of oldWorkers) assert.equal(isAlive(pid), false, `adopted worker ${pid} is gone`);
  assert.match(log, /upgraded in place from 0\.1\.0 to 9\.9\.9-upgraded/);
  // The state file is gone: it was good for one execve.
  assert.deepEqual(readdirSync(box.runDir).filter((name) => name.endsWith('.upgrade')), []);

  const stopped = await copy.run(['stop', '--name', 'up'], box.env);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(isAlive(before.pid), false);
  await waitFor('nothing of the instance left in /proc', () => box.marked().length === 0 && workerPids(after).every((pid) => !isAlive(pid)));
});

test('a broken new program is refused (exit 6): the running supervisor, its version and its workers are untouched', needs('fcgiwrap'), async (t) => {
  const box = daemonSandbox(t);
  const copy = copyPackage(box.dir);
  const { cgi } = await startTwoPools(box, copy);
  const before = await status(box, copy);
  copy.breakProgram();

  // The daemon is asked through a working client (the broken one is what it would exec).
  const good = copyPackage(join(box.dir, 'client'));
  const refused = await good.run(['upgrade', '--name', 'up'], box.env);
  assert.equal(refused.code, 6, refused.stderr);
  assert.match(refused.stderr, /^fcgi-spawn: up: upgrade refused: the new program \(.*\) failed '--version': exit status 1: fcgi-spawn: broken build\n$/);

  const after = await status(box, good);
  assert.equal(after.pid, before.pid);
  assert.equal(after.version, before.version);
  assert.equal(after.upgrade, null);
  assert.deepEqual(workerPids(after), workerPids(before));
  assert.equal((await probe(cgi, HELLO)).code, 0);
  assert.deepEqual(readdirSync(box.runDir).filter((name) => name.endsWith('.upgrade')), []);
});

test('a new program whose workers cannot start keeps the adopted ones serving (upgrade exits 1); their output still reaches the worker log', needs('fcgiwrap'), async (t) => {
  const box = daemonSandbox(t);
  const copy = copyPackage(box.dir);
  const flag = join(box.dir, 'refuse-to-start');
  const worker = join(box.dir, 'worker.sh');
  writeFileSync(worker, `#!/bin/sh\n[ -e ${flag} ] && { echo "refusing to start: ${flag} exists" >&2; exit 1; }\nexec ${findTool('fcgiwrap')}\n`, { mode: 0o755 });
  const say = join(box.dir, 'say.sh');
  writeFileSync(say, `#!/bin/sh\necho "said $QUERY_STRING" >&2\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n`, { mode: 0o755 });
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const started = await copy.run(['start', '-p', String(port), '--name', 'up', '-F', '2', '--start-retries', '1', '--steer-grace', '0.1', ...(ROOT ? ['--allow-root'] : []), '--', worker], box.env);
  box.remember();
  assert.equal(started.code, 0, started.stderr);
  const before = await status(box, copy);

  copy.setVersion('9.9.9-upgraded');
  writeFileSync(flag, '');
  const upgraded = await copy.run(['upgrade', '--name', 'up', '--timeout', '30'], box.env, 90_000);
  const log = box.log('up');
  assert.equal(upgraded.code, 1, `${upgraded.stdout}\n${upgraded.stderr}\n${log}`);
  assert.match(upgraded.stderr, /^fcgi-spawn: up: reload failed: .*the adopted workers keep serving\n$/);

  const after = await status(box, copy);
  assert.equal(after.pid, before.pid);
  assert.equal(after.version, '9.9.9-upgraded');
  assert.equal(after.upgrade?.state, 'failed');
  assert.deepEqual(workerPids(after), workerPids(before), 'the adopted workers serve on');
  // Their stderr, through the pipe the previous program handed over, lands in the worker log of this one.
  const answer = await probe(address, say, { QUERY_STRING: 'after-upgrade' });
  assert.equal(answer.code, 0, answer.err);
  await waitFor('the adopted worker\'s stderr line in the worker log', () => readFileSync(join(box.logDir, 'up.workers.log'), 'utf8').includes('said after-upgrade'));

  // Fixed on disk: a reload now replaces them, and the reaper collects the adopted workers' exits.
  rmSync(flag);
  const reloaded = await copy.run(['reload', '--name', 'up'], box.env);
  assert.equal(reloaded.code, 0, `${reloaded.stderr}\n${box.log('up')}`);
  await waitFor('the adopted workers gone', () => workerPids(before).every((pid) => !isAlive(pid)));
  const stopped = await copy.run(['stop', '--name', 'up'], box.env);
  assert.equal(stopped.code, 0, stopped.stderr);
  await waitFor('nothing of the instance left in /proc', () => box.marked().length === 0);
});

test('SIGUSR2 upgrades a pool on a Unix socket in place, under a request loop, and the path stays served', needs('fcgiwrap'), async (t) => {
  const box = daemonSandbox(t);
  const copy = copyPackage(box.dir);
  const path = join(box.dir, 'pool.sock');
  const started = await copy.run(['start', '-s', path, '--name', 'up', '-F', '2', '--steer-grace', '0.1', ...(ROOT ? ['--allow-root'] : []), '--', findTool('fcgiwrap') as string], box.env);
  box.remember();
  assert.equal(started.code, 0, started.stderr);
  const before = await status(box, copy);

  copy.setVersion('9.9.9-usr2');
  let done = false;
  const loop = requestLoop(path, HELLO, () => done);
  await waitFor('requests flowing', async () => (await probe(path, HELLO)).code === 0);
  process.kill(before.pid, 'SIGUSR2');
  const after = await waitFor('the upgrade done', async () => {
    const result = await copy.run(['status', '--json', '--name', 'up'], box.env);
    const view = result.code === 0 ? (JSON.parse(result.stdout) as StatusView) : undefined;
    return view?.upgrade?.state === 'done' ? view : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200 });
  await waitFor('a request on the new workers', async () => (await probe(path, HELLO)).code === 0);
  done = true;
  const result = await loop;
  const log = box.log('up');
  assert.equal(after.pid, before.pid);
  assert.equal(after.version, '9.9.9-usr2');
  assert.deepEqual(result.failed, [], log);
  for (const pid of workerPids(before)) assert.equal(isAlive(pid), false, `adopted worker ${pid} is gone`);
  const text = await copy.run(['status', '--name', 'up'], box.env);
  assert.match(text.stdout, /^ {2}version 9\.9\.9-usr2, upgraded in place from 0\.1\.0 at \S+: done \(reloaded: generation 2 serving\)$/m);

  const stopped = await copy.run(['stop', '--name', 'up'], box.env);
  assert.equal(stopped.code, 0, stopped.stderr);
  await waitFor('nothing of the instance left in /proc', () => box.marked().length === 0);
  assert.deepEqual(readdirSync(box.dir).filter((name) => name.endsWith('.sock')), [], 'the socket path is removed at stop');
});
