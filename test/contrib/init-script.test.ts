/**
 * contrib/init.d/fcgi-spawn run directly, as sysvinit or `service` would: `sh SCRIPT ACTION` with its
 * settings in a defaults file (FCGI_SPAWN_DEFAULTS) and its state in a run directory of the test's
 * own (FCGI_SPAWN_RUN_DIR). Exit codes are LSB's; what it starts must be gone after stop.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BIN, FIXTURES, ROOT, runCli } from '../helpers/supervisor.js';
import { freePort, groupMembers, isAlive, killQuietly } from '../helpers/processes.js';
import { pidInBody, probe } from '../helpers/fastcgi.js';
import { waitFor } from '../helpers/wait.js';

const SCRIPT = join(ROOT, 'contrib', 'init.d', 'fcgi-spawn');
const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
/** How long the launching command may keep the pipes open after it exited (a daemon must not hold them). */
const PIPES_GRACE_MS = 2_000;

interface ScriptResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The script exited, but something it started still held its stdout or stderr. */
  readonly pipesHeld: boolean;
}

interface Instance {
  readonly dir: string;
  readonly name: string;
  readonly port: number;
  readonly env: NodeJS.ProcessEnv;
  readonly extraPidfile: string;
  readonly logFile: string;
  /** Every supervisor and worker pid seen in `status --json`, for the final check and the cleanup. */
  readonly seen: { supervisors: Set<number>; workers: Set<number> };
}

interface StatusJson {
  readonly state: string;
  readonly pid: number;
  readonly workers: ReadonlyArray<{ readonly pid: number; readonly state: string }>;
}

function runScript(instance: Instance, ...args: string[]): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: instance.env, cwd: instance.dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = setTimeout(() => {
      killQuietly(child.pid as number, 'SIGKILL');
      reject(new Error(`sh ${SCRIPT} ${args.join(' ')} did not finish within 60 s:\n${stdout}${stderr}`));
    }, 60_000);
    let exitCode: number | null = null;
    let closeGrace: NodeJS.Timeout | undefined;
    const finish = (pipesHeld: boolean): void => {
      clearTimeout(deadline);
      clearTimeout(closeGrace);
      resolve({ code: exitCode, stdout, stderr, pipesHeld });
    };
    child.once('exit', (code) => {
      exitCode = code;
      // Output is complete at 'close'; a daemon still holding the pipes would delay it for ever.
      closeGrace = setTimeout(() => finish(true), PIPES_GRACE_MS);
    });
    child.once('close', () => finish(false));
  });
}

function said(result: ScriptResult): string {
  return `exit ${result.code}\n--- stdout:\n${result.stdout}--- stderr:\n${result.stderr}`;
}

function supervisorLog(instance: Instance): string {
  try {
    return `\n--- supervisor log:\n${readFileSync(instance.logFile, 'utf8')}`;
  } catch {
    return '';
  }
}

async function statusJson(instance: Instance): Promise<StatusJson> {
  const result = await runCli(['status', '--name', instance.name, '--json'], { env: instance.env });
  assert.equal(result.code, 0, `status --json: exit ${result.code}: ${result.stdout}${result.stderr}`);
  const status = JSON.parse(result.stdout) as StatusJson;
  instance.seen.supervisors.add(status.pid);
  for (const worker of status.workers) instance.seen.workers.add(worker.pid);
  return status;
}

function livePids(instance: Instance): number[] {
  return [...instance.seen.supervisors, ...instance.seen.workers].filter(isAlive);
}

/** Whatever the test left running, by pid: each worker's process group, then the supervisor. */
async function killEverything(instance: Instance): Promise<void> {
  const record = join(instance.env.FCGI_SPAWN_RUN_DIR as string, `${instance.name}.json`);
  try {
    const saved = JSON.parse(readFileSync(record, 'utf8')) as { supervisor: { pid: number }; workers: Array<{ pid: number }> };
    instance.seen.supervisors.add(saved.supervisor.pid);
    for (const worker of saved.workers) instance.seen.workers.add(worker.pid);
  } catch {
    // No record left: nothing more to learn.
  }
  for (const pid of instance.seen.supervisors) if (isAlive(pid)) killQuietly(pid, 'SIGKILL');
  for (const pid of instance.seen.workers) if (groupMembers(pid).length > 0) killQuietly(-pid, 'SIGKILL');
  for (const pid of instance.seen.workers) if (isAlive(pid)) killQuietly(pid, 'SIGKILL');
  await waitFor('everything the test started gone', () => livePids(instance).length === 0, { timeoutMs: 5_000 });
}

async function makeInstance(t: { after: (fn: () => Promise<void> | void) => void }, settings: (instance: Omit<Instance, 'env' | 'seen'> & { runDir: string }) => string | undefined): Promise<Instance> {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-initd-'));
  const port = await freePort();
  const runDir = join(dir, 'run');
  const defaults = join(dir, 'defaults');
  const base = { dir, name: `initd-${port}`, port, extraPidfile: join(dir, 'extra.pid'), logFile: join(dir, 'supervisor.log'), runDir };
  const text = settings(base);
  if (text !== undefined) writeFileSync(defaults, text);
  const nodeDir = dirname(process.execPath);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FCGI_SPAWN_DEFAULTS: defaults,
    FCGI_SPAWN_RUN_DIR: runDir,
    // Where a daemon keeps its logs unless told (--log-file, --worker-log): this test's directory too.
    FCGI_SPAWN_LOG_DIR: join(dir, 'log'),
    // bin/fcgi-spawn.js starts with `#!/usr/bin/env node`: the node running the tests first.
    PATH: `${nodeDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
  };
  const instance: Instance = { ...base, env, seen: { supervisors: new Set(), workers: new Set() } };
  t.after(async () => {
    await killEverything(instance);
    rmSync(dir, { recursive: true, force: true });
  });
  return instance;
}

function poolDefaults(instance: { name: string; port: number; extraPidfile: string; logFile: string }): string {
  const asRoot = process.geteuid?.() === 0 ? ' --allow-root' : '';
  return [
    '# written by test/contrib/init-script.test.ts',
    `FCGI_SPAWN_BIN=${BIN}`,
    `FCGI_SPAWN_NAME=${instance.name}`,
    `FCGI_SPAWN_ARGS="-p ${instance.port} -F 2 --stop-timeout 5 --log-file ${instance.logFile}${asRoot}"`,
    `FCGI_SPAWN_COMMAND="${process.execPath} ${RESPONDER}"`,
    `FCGI_SPAWN_PIDFILE=${instance.extraPidfile}`,
    'FCGI_SPAWN_STOP_TIMEOUT=20',
    '',
  ].join('\n');
}

// Each test has an instance of its own (directory, run directory, port, name) and spends its time waiting on the
// script's CLI runs; none runs a request loop or measures time: two at a time.
describe('the LSB init script', { concurrency: 2 }, () => {
  test('the init script starts, reports, reloads, restarts and stops a pool with LSB exit codes', { skip: /\s/.test(ROOT + tmpdir() + process.execPath) ? 'a path with whitespace cannot go through the defaults file' : false }, async (t) => {
    const instance = await makeInstance(t, poolDefaults);
    const address = `127.0.0.1:${instance.port}`;

    const before = await runScript(instance, 'status');
    assert.equal(before.code, 3, `status before start: ${said(before)}`);

    const started = await runScript(instance, 'start');
    assert.equal(started.code, 0, `start: ${said(started)}${supervisorLog(instance)}`);
    assert.equal(started.pipesHeld, false, 'start returned, but the daemon kept its stdout/stderr open: `$(service fcgi-spawn start)` would hang');
    const first = await statusJson(instance);
    assert.match(started.stdout, new RegExp(`${instance.name}.*${first.pid}|${first.pid}.*${instance.name}`), `start should print the name and pid: ${said(started)}`);
    assert.equal(first.workers.length, 2, JSON.stringify(first));
    assert.equal(readFileSync(instance.extraPidfile, 'utf8'), `${first.pid}\n`, 'FCGI_SPAWN_PIDFILE (start -P) holds the supervisor pid');
    // Ready means serving: start returned only once the workers waited on the socket.
    const served = await probe(address, '/');
    assert.equal(served.code, 0, served.err);

    const running = await runScript(instance, 'status');
    assert.equal(running.code, 0, `status while running: ${said(running)}`);

    const again = await runScript(instance, 'start');
    assert.equal(again.code, 0, `start of a running instance is success (LSB): ${said(again)}`);
    assert.equal((await statusJson(instance)).pid, first.pid, 'a second start must not replace the running supervisor');

    const reloaded = await runScript(instance, 'reload');
    assert.equal(reloaded.code, 0, `reload: ${said(reloaded)}${supervisorLog(instance)}`);
    const second = await statusJson(instance);
    assert.equal(second.pid, first.pid, 'reload keeps the supervisor');
    const oldWorkers = first.workers.map((w) => w.pid);
    const newWorkers = second.workers.map((w) => w.pid);
    assert.equal(newWorkers.length, 2, JSON.stringify(second));
    assert.deepEqual(newWorkers.filter((pid) => oldWorkers.includes(pid)), [], `reload must replace every worker: before ${oldWorkers}, after ${newWorkers}`);
    await waitFor(`old workers ${oldWorkers} gone after the reload`, () => oldWorkers.every((pid) => !isAlive(pid)), { timeoutMs: 5_000 });
    const afterReload = await probe(address, '/');
    assert.equal(afterReload.code, 0, afterReload.err);
    const answeredBy = pidInBody(afterReload.out);
    assert.ok(answeredBy !== undefined && newWorkers.includes(answeredBy), `answered by ${answeredBy}, not one of the new workers ${newWorkers}`);

    const forced = await runScript(instance, 'force-reload');
    assert.equal(forced.code, 0, `force-reload of a running instance: ${said(forced)}`);
    const third = await statusJson(instance);

    const restarted = await runScript(instance, 'restart');
    assert.equal(restarted.code, 0, `restart: ${said(restarted)}${supervisorLog(instance)}`);
    const fourth = await statusJson(instance);
    assert.notEqual(fourth.pid, first.pid, 'restart runs a new supervisor');
    assert.ok(!isAlive(first.pid), `the old supervisor ${first.pid} is still alive after restart`);
    assert.deepEqual(third.workers.map((w) => w.pid).filter(isAlive), [], 'the old workers are gone after restart');
    const afterRestart = await probe(address, '/');
    assert.equal(afterRestart.code, 0, afterRestart.err);

    const stopped = await runScript(instance, 'stop');
    assert.equal(stopped.code, 0, `stop: ${said(stopped)}${supervisorLog(instance)}`);
    assert.deepEqual(livePids(instance), [], `still alive after stop (pids seen in status --json: ${[...instance.seen.supervisors, ...instance.seen.workers]})`);
    assert.equal(existsSync(instance.extraPidfile), false, 'the extra pidfile is removed on stop');
    assert.equal(existsSync(join(instance.env.FCGI_SPAWN_RUN_DIR as string, `${instance.name}.pid`)), false, 'the run directory pidfile is removed on stop');
    const refused = await probe(address, '/', {}, 2_000);
    assert.equal(refused.code, 3, `the port still answers after stop: ${refused.out}${refused.err}`);

    const stoppedAgain = await runScript(instance, 'stop');
    assert.equal(stoppedAgain.code, 0, `stop of a stopped instance is success (LSB): ${said(stoppedAgain)}`);

    const after = await runScript(instance, 'status');
    assert.equal(after.code, 3, `status after stop: ${said(after)}`);
  });

  test('the init script on a stopped or unconfigured instance: LSB codes for each action', async (t) => {
    const configured = await makeInstance(t, poolDefaults);
    const reload = await runScript(configured, 'reload');
    assert.equal(reload.code, 7, `reload of a stopped instance is 7 (not running): ${said(reload)}`);
    const forceReload = await runScript(configured, 'force-reload');
    assert.equal(forceReload.code, 0, `force-reload of a stopped instance has nothing to do: ${said(forceReload)}`);
    const tryRestart = await runScript(configured, 'try-restart');
    assert.equal(tryRestart.code, 0, `try-restart of a stopped instance has nothing to do: ${said(tryRestart)}`);
    const status = await runScript(configured, 'status');
    assert.equal(status.code, 3, `try-restart must not have started it: ${said(status)}`);
    const unknown = await runScript(configured, 'frobnicate');
    assert.equal(unknown.code, 2, `an unknown action is 2 (invalid argument): ${said(unknown)}`);
    assert.match(unknown.stderr, /Usage: .*start\|stop\|restart/);
    const none = await runScript(configured);
    assert.equal(none.code, 2, `no action is 2: ${said(none)}`);

    const missing = await makeInstance(t, () => undefined);
    const start = await runScript(missing, 'start');
    assert.equal(start.code, 6, `start without a defaults file is 6 (not configured): ${said(start)}`);
    assert.match(start.stderr, /not configured/);
    const restart = await runScript(missing, 'restart');
    assert.equal(restart.code, 6, `restart without a defaults file is 6, before stopping anything: ${said(restart)}`);
    const stop = await runScript(missing, 'stop');
    assert.equal(stop.code, 0, `stop without a defaults file has nothing to stop: ${said(stop)}`);

    const incomplete = await makeInstance(t, (i) => `FCGI_SPAWN_BIN=${BIN}\nFCGI_SPAWN_NAME=${i.name}\nFCGI_SPAWN_ARGS="-p ${i.port}"\n`);
    const partial = await runScript(incomplete, 'start');
    assert.equal(partial.code, 6, `start without FCGI_SPAWN_COMMAND is 6: ${said(partial)}`);
    assert.match(partial.stderr, /FCGI_SPAWN_COMMAND/);

    const badOptions = await makeInstance(t, (i) => poolDefaults(i).replace('-F 2', '-F 0'));
    const refused = await runScript(badOptions, 'start');
    assert.equal(refused.code, 6, `options fcgi-spawn refuses (start exit 2) are 6, not configured: ${said(refused)}`);
    assert.match(refused.stderr, /--workers|-F/, said(refused));
  });

  test('init script: a failed reload is exit 1 and the old workers keep serving; restart takes the new defaults', async (t) => {
    let worker = '';
    const instance = await makeInstance(t, (i) => {
      // A deployment that can break: the same path, a worker that exits at once.
      worker = join(i.dir, 'worker.sh');
      writeFileSync(worker, `#!/bin/sh\nexec ${process.execPath} ${RESPONDER}\n`);
      chmodSync(worker, 0o755);
      return poolDefaults(i).replace('-F 2', '-F 2 --start-retries 1').replace(/^FCGI_SPAWN_COMMAND=.*$/m, `FCGI_SPAWN_COMMAND=${worker}`);
    });
    const address = `127.0.0.1:${instance.port}`;
    const started = await runScript(instance, 'start');
    assert.equal(started.code, 0, `start: ${said(started)}${supervisorLog(instance)}`);
    const serving = (await statusJson(instance)).workers.map((w) => w.pid);

    writeFileSync(worker, '#!/bin/sh\necho "worker.sh: broken deployment" >&2\nexit 9\n');
    const failed = await runScript(instance, 'reload');
    assert.equal(failed.code, 1, `a failed reload: ${said(failed)}${supervisorLog(instance)}`);
    assert.match(failed.stderr, /reload failed/, said(failed));
    assert.deepEqual((await statusJson(instance)).workers.map((w) => w.pid), serving, 'the old workers keep serving');
    const answer = await probe(address, '/');
    assert.equal(answer.code, 0, answer.err);

    // The defaults file changed (another port): reload keeps the options, restart takes the new ones.
    writeFileSync(worker, `#!/bin/sh\nexec ${process.execPath} ${RESPONDER}\n`);
    const newPort = await freePort();
    const defaults = instance.env.FCGI_SPAWN_DEFAULTS as string;
    writeFileSync(defaults, readFileSync(defaults, 'utf8').replace(`-p ${instance.port}`, `-p ${newPort}`));
    const restarted = await runScript(instance, 'restart');
    assert.equal(restarted.code, 0, `restart: ${said(restarted)}${supervisorLog(instance)}`);
    const moved = await probe(`127.0.0.1:${newPort}`, '/');
    assert.equal(moved.code, 0, `restart should listen on the new port ${newPort}: ${moved.err}`);
    assert.equal((await probe(address, '/', {}, 2_000)).code, 3, 'the old port is closed');
    await statusJson(instance);

    const stopped = await runScript(instance, 'stop');
    assert.equal(stopped.code, 0, `stop: ${said(stopped)}`);
    assert.deepEqual(livePids(instance), []);
  });

  test('init script after the supervisor was SIGKILLed: status 1 (dead, pidfile remains), start 0, no old worker left', async (t) => {
    const instance = await makeInstance(t, poolDefaults);
    const started = await runScript(instance, 'start');
    assert.equal(started.code, 0, `start: ${said(started)}${supervisorLog(instance)}`);
    const killed = await statusJson(instance);
    process.kill(killed.pid, 'SIGKILL');
    await waitFor(`supervisor ${killed.pid} gone`, () => !isAlive(killed.pid));

    const dead = await runScript(instance, 'status');
    assert.equal(dead.code, 1, `status of a SIGKILLed instance: ${said(dead)}`);
    const again = await runScript(instance, 'start');
    assert.equal(again.code, 0, `start after a SIGKILLed supervisor (its orphans still hold the port): ${said(again)}${supervisorLog(instance)}`);
    const fresh = await statusJson(instance);
    assert.notEqual(fresh.pid, killed.pid);
    assert.deepEqual(killed.workers.map((w) => w.pid).filter(isAlive), [], 'the orphaned workers of the killed supervisor are stopped');
    const answer = await probe(`127.0.0.1:${instance.port}`, '/');
    assert.equal(answer.code, 0, answer.err);

    const stopped = await runScript(instance, 'stop');
    assert.equal(stopped.code, 0, `stop: ${said(stopped)}`);
    assert.deepEqual(livePids(instance), []);
  });
});
