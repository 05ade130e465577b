/**
 * The daemon as init scripts and people at a shell use it: start returns when ready, later commands
 * find the instance by name, address or pidfile, and nothing is ever signalled that is not ours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { FIXTURES } from '../helpers/supervisor.js';
import { daemonSandbox } from '../helpers/daemon.js';
import { freePort, isAlive, killQuietly } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ROOT_FLAG = process.geteuid?.() === 0 ? ['--allow-root'] : [];

test('start returns only when the pool is ready (a slow starter), then stop ends everything', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  const started = Date.now();
  const start = await box.cli(['start', '-p', String(port), ...ROOT_FLAG, '--', process.execPath, join(FIXTURES, 'slow-starter.mjs'), '1200']);
  assert.equal(start.code, 0, start.stderr);
  assert.ok(Date.now() - started >= 1200, 'start returned before the worker listened');
  assert.match(start.stdout, new RegExp(`fcgi-spawn: 127\\.0\\.0\\.1-${port} ready \\(pid \\d+\\) on 127\\.0\\.0\\.1:${port}`));
  // Ready means serving, at once:
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0);
  const record = box.record(`127.0.0.1-${port}`);
  assert.ok(record);
  assert.equal(readFileSync(join(box.runDir, `127.0.0.1-${port}.pid`), 'utf8'), `${record.supervisor.pid}\n`);
  const stop = await box.cli(['stop', '-p', String(port)]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(isAlive(record.supervisor.pid), false);
  assert.deepEqual(record.workers.map((w) => w.pid).filter(isAlive), []);
  assert.equal(existsSync(join(box.runDir, `127.0.0.1-${port}.pid`)), false, 'pidfile left behind');
  const again = await box.cli(['stop', '-p', String(port)]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /is not running/);
});

test('a bind failure is reported by the launching command, with exit 3', async (t) => {
  const box = daemonSandbox(t);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const start = await box.cli(['start', '-p', String(port), ...ROOT_FLAG, '--', process.execPath, RESPONDER]);
  assert.equal(start.code, 3, start.stderr);
  assert.match(start.stderr, new RegExp(`^fcgi-spawn: unable to bind 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  assert.deepEqual(box.records(), []);
});

test('a worker that cannot start: start exits 1 with its reason, leaves nothing behind', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  const start = await box.cli(['start', '-p', String(port), '--start-retries', '1', ...ROOT_FLAG, '--', process.execPath, join(FIXTURES, 'crasher.mjs'), '4']);
  assert.equal(start.code, 1, start.stderr);
  assert.match(start.stderr, /start failed: slot 0 failed to start 2 times; last: exited before it was ready \(exit status 4\)/);
  assert.deepEqual(box.records(), []);
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 3);
});

test('double start: exit 5 naming the running pid; status, list and JSON fields', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  const args = ['start', '--name', 'web', '-p', String(port), '-F', '2', ...ROOT_FLAG, '--', process.execPath, RESPONDER];
  assert.equal((await box.cli(args)).code, 0);
  const pid = box.record('web')?.supervisor.pid;
  const second = await box.cli(args);
  assert.equal(second.code, 5, second.stderr);
  assert.match(second.stderr, new RegExp(`web is already running \\(pid ${pid}\\)`));
  const status = await box.cli(['status', '--name', 'web', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const json = JSON.parse(status.stdout) as Record<string, unknown> & { workers: Array<Record<string, unknown>>; queue: { length: number; limit: number } };
  assert.equal(json.state, 'running');
  assert.equal(json.pid, pid);
  assert.equal(json.address, `127.0.0.1:${port}`);
  assert.equal(json.backlog, 1024);
  assert.deepEqual(json.queue, { length: 0, limit: 1024 });
  assert.equal(json.workers.length, 2);
  for (const worker of json.workers) {
    for (const key of ['pid', 'state', 'uptimeMs', 'restarts', 'lastExit', 'rssKiB', 'cpuMs', 'activity']) assert.ok(key in worker, `no ${key} in ${JSON.stringify(worker)}`);
    assert.equal(worker.state, 'ready');
    assert.ok((worker.rssKiB as number) > 1000);
  }
  const text = await box.cli(['status', '--name', 'web']);
  assert.match(text.stdout, /web: running, pid \d+, up \d+s/);
  const list = await box.cli(['list']);
  assert.match(list.stdout, /^web\s+running/m);
  assert.equal((await box.cli(['stop', '--name', 'web'])).code, 0);
  assert.equal((await box.cli(['status', '--name', 'web'])).code, 3);
});

test('a stale pidfile naming an unrelated live process: status 1-or-3, start replaces it, the process survives', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => killQuietly(bystander.pid as number));
  const { mkdirSync } = await import('node:fs');
  mkdirSync(box.runDir, { recursive: true, mode: 0o700 });
  const pidfile = join(box.runDir, `127.0.0.1-${port}.pid`);
  writeFileSync(pidfile, `${bystander.pid}\n`);
  const status = await box.cli(['status', '-p', String(port)]);
  assert.equal(status.code, 1, `${status.stdout}${status.stderr}`);
  const stop = await box.cli(['stop', '-p', String(port)]);
  assert.equal(stop.code, 0);
  assert.ok(isAlive(bystander.pid as number), 'stop signalled a process that was not ours');
  const start = await box.cli(['start', '-p', String(port), ...ROOT_FLAG, '--', process.execPath, RESPONDER]);
  assert.equal(start.code, 0, start.stderr);
  assert.equal((await box.cli(['stop', '-p', String(port)])).code, 0);
  assert.ok(isAlive(bystander.pid as number), 'a stop signalled a process that was not ours');
});

test('-P writes an extra pidfile that stop -P finds; restart keeps the settings', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  const extra = join(box.dir, 'pool.pid');
  const start = await box.cli(['start', '-p', String(port), '-F', '3', '-P', extra, '-e', 'GREETING=kept', ...ROOT_FLAG, '--', process.execPath, RESPONDER]);
  assert.equal(start.code, 0, start.stderr);
  const first = box.record(`127.0.0.1-${port}`);
  assert.ok(first);
  assert.equal(readFileSync(extra, 'utf8'), `${first.supervisor.pid}\n`);
  const restart = await box.cli(['restart', '-p', String(port)]);
  assert.equal(restart.code, 0, restart.stderr);
  const second = box.record(`127.0.0.1-${port}`);
  assert.ok(second && second.supervisor.pid !== first.supervisor.pid);
  assert.equal(second.workers.length, 3, 'restart lost -F 3');
  assert.equal(isAlive(first.supervisor.pid), false);
  const environ = readFileSync(`/proc/${second.workers[0]?.pid}/environ`, 'utf8');
  assert.match(environ, /(^|\0)GREETING=kept(\0|$)/);
  assert.equal((await box.cli(['stop', '-P', extra])).code, 0);
  assert.equal(existsSync(extra), false);
});

test('reload and scale through the CLI; a broken reload exits 1 and keeps the old workers', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  const { chmodSync } = await import('node:fs');
  const worker = join(box.dir, 'worker.sh');
  writeFileSync(worker, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(RESPONDER)}\n`);
  chmodSync(worker, 0o755);
  assert.equal((await box.cli(['start', '-p', String(port), '-F', '2', '--steer-grace', '0.1', '--start-retries', '1', ...ROOT_FLAG, '--', worker])).code, 0);
  const before = box.record(`127.0.0.1-${port}`)?.workers.map((w) => w.pid) ?? [];
  const reload = await box.cli(['reload', '-p', String(port)]);
  assert.equal(reload.code, 0, reload.stderr);
  assert.match(reload.stdout, /reloaded: generation 2 serving/);
  await waitFor('old workers gone', () => before.every((pid) => !isAlive(pid)));
  const serving = box.record(`127.0.0.1-${port}`)?.workers.map((w) => w.pid) ?? [];
  writeFileSync(worker, '#!/bin/sh\necho broken >&2; exit 3\n');
  const broken = await box.cli(['reload', '-p', String(port)]);
  assert.equal(broken.code, 1, broken.stdout);
  assert.match(broken.stderr, /reload failed/);
  // As a failed start does: the worker's own last word, and where to read more.
  assert.match(broken.stderr, /its last stderr line: broken; worker log: \//);
  assert.deepEqual(serving.filter(isAlive), serving);
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0);
  // New workers run what is on disk now: mend the deployment before asking for more of them.
  writeFileSync(worker, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(RESPONDER)}\n`);
  const up = await box.cli(['scale', '4', '-p', String(port)]);
  assert.equal(up.code, 0, up.stderr);
  await waitFor('4 workers recorded', () => box.record(`127.0.0.1-${port}`)?.workers.length === 4);
  assert.equal((await box.cli(['stop', '-p', String(port)])).code, 0);
});

test('the daemon survives its launching terminal session closing', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  // A shell in a session of its own stands in for a terminal: SIGHUP to its whole process group on close.
  const shell = spawn('setsid', ['sh', '-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(join(FIXTURES, '..', '..', 'bin', 'fcgi-spawn.js'))} start -p ${port} ${ROOT_FLAG.join(' ')} -- ${JSON.stringify(process.execPath)} ${JSON.stringify(RESPONDER)}; echo started; sleep 30`], {
    env: box.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => killQuietly(shell.pid as number, 'SIGKILL'));
  await new Promise<void>((resolve) => shell.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve()));
  const pgid = await waitFor('the shell session', () => {
    const stat = readFileSync(`/proc/${shell.pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  });
  box.remember();
  killQuietly(-pgid, 'SIGHUP');
  await waitFor('the session gone', () => !isAlive(shell.pid as number));
  const record = box.record(`127.0.0.1-${port}`);
  assert.ok(record && isAlive(record.supervisor.pid), 'the daemon died with the session');
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0);
  assert.equal((await box.cli(['stop', '-p', String(port)])).code, 0);
});

test('kill -9 of the daemon: the next start stops the orphans and takes the port', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  assert.equal((await box.cli(['start', '-p', String(port), '-F', '2', ...ROOT_FLAG, '--', process.execPath, RESPONDER])).code, 0);
  const record = box.record(`127.0.0.1-${port}`);
  assert.ok(record);
  process.kill(record.supervisor.pid, 'SIGKILL');
  await waitFor('the daemon gone', () => !isAlive(record.supervisor.pid));
  const orphans = record.workers.map((w) => w.pid);
  assert.ok(orphans.every(isAlive), 'workers should outlive a SIGKILLed supervisor (they hold the port)');
  assert.equal((await box.cli(['status', '-p', String(port)])).code, 1);
  const start = await box.cli(['start', '-p', String(port), '-F', '2', ...ROOT_FLAG, '--', process.execPath, RESPONDER]);
  assert.equal(start.code, 0, start.stderr);
  assert.deepEqual(orphans.filter(isAlive), [], 'orphans left running');
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0);
  assert.equal((await box.cli(['stop', '-p', String(port)])).code, 0);
});

test('reopen-logs after logrotate moved the log: new lines go to the new file', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  assert.equal((await box.cli(['start', '--name', 'logs', '-p', String(port), '--steer-grace', '0.1', ...ROOT_FLAG, '--', process.execPath, RESPONDER])).code, 0);
  const log = join(box.logDir, 'logs.log');
  await waitFor('the daemon log', () => readFileSync(log, 'utf8').includes('ready: 1 worker'));
  const { renameSync } = await import('node:fs');
  renameSync(log, `${log}.1`);
  const reopen = await box.cli(['reopen-logs', '--name', 'logs']);
  assert.equal(reopen.code, 0, reopen.stderr);
  await waitFor('a new log file', () => existsSync(log));
  assert.equal((await box.cli(['reload', '--name', 'logs'])).code, 0);
  await waitFor('the reload logged in the new file', () => readFileSync(log, 'utf8').includes('reload finished'));
  assert.doesNotMatch(readFileSync(`${log}.1`, 'utf8'), /reload finished/);
  assert.equal((await box.cli(['stop', '--name', 'logs'])).code, 0);
});

test('a stop that has to SIGKILL leaves no pidfile, record, control socket or socket file behind', async (t) => {
  const box = daemonSandbox(t);
  const path = join(box.dir, 'stuck.sock');
  // A worker that ignores the stop signal: the responder, with its graceful TERM handler replaced by nothing.
  const ignore = "await import(process.argv[1]); process.removeAllListeners('SIGTERM'); process.on('SIGTERM', () => {});";
  const ignoringTerm = [process.execPath, '--input-type=module', '-e', ignore, RESPONDER];
  assert.equal((await box.cli(['start', '--name', 'stuck', '-s', path, '--stop-timeout', '30', ...ROOT_FLAG, '--', ...ignoringTerm])).code, 0);
  const stop = await box.cli(['stop', '--name', 'stuck', '--timeout', '1']);
  assert.equal(stop.code, 1, stop.stdout);
  assert.match(stop.stderr, /did not stop within 1000 ms: killed/);
  const { readdirSync } = await import('node:fs');
  assert.deepEqual(readdirSync(box.runDir), []);
  assert.equal(existsSync(path), false);
  assert.equal((await box.cli(['status', '--name', 'stuck'])).code, 3);
});

test('-P with a pidfile that names another instance\'s pid acts on nothing', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  assert.equal((await box.cli(['start', '--name', 'bee', '-p', String(port), ...ROOT_FLAG, '--', process.execPath, RESPONDER])).code, 0);
  const pid = box.record('bee')?.supervisor.pid;
  const stale = join(box.dir, 'other.pid');
  writeFileSync(stale, `${pid}\n`);
  const status = await box.cli(['status', '-P', stale]);
  assert.notEqual(status.code, 0, status.stdout);
  assert.equal((await box.cli(['stop', '-P', stale])).code, 0);
  assert.ok(isAlive(pid as number), 'stop -P stopped an instance that never wrote that pidfile');
  assert.equal((await box.cli(['stop', '--name', 'bee'])).code, 0);
});

test('-P with the run directory\'s own pidfile: status and stop act on that instance', async (t) => {
  const box = daemonSandbox(t);
  const port = await freePort();
  assert.equal((await box.cli(['start', '--name', 'own', '-p', String(port), ...ROOT_FLAG, '--', process.execPath, RESPONDER])).code, 0);
  const pid = box.record('own')?.supervisor.pid as number;
  const own = join(box.runDir, 'own.pid');
  const status = await box.cli(['status', '-P', own]);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  const stop = await box.cli(['stop', '-P', own]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout + stop.stderr, /stopped/);
  await waitFor(`supervisor ${pid} gone`, () => !isAlive(pid));
  assert.equal(existsSync(own), false);
});
