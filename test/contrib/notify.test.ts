/**
 * systemd's notify protocol (Type=notify, NotifyAccess=main in contrib/systemd): a real AF_UNIX
 * datagram socket bound by the test stands where systemd's would, and `fcgi-spawn start -n` runs with
 * NOTIFY_SOCKET pointing at it. What systemd needs: READY=1 from the main pid once the pool serves,
 * RELOADING=1 with a CLOCK_MONOTONIC MONOTONIC_USEC when a reload starts and READY=1 when it ends,
 * STOPPING=1 on the way down — and no worker ever holding NOTIFY_SOCKET.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { monotonicUsec, python3, startNotifyReceiver, type NotifyReceiver } from './notify-receiver.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const skip = python3() ? {} : { skip: 'needs python3 to bind an AF_UNIX datagram socket (apt-get install python3)' };

/** Stop waiting for a message once the supervisor has exited: it will send nothing more. */
function exitedEarly(pool: RunningSupervisor): () => string | undefined {
  return () => (pool.running ? undefined : `the supervisor exited:\n${pool.log()}`);
}

function workerEnvironment(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  } catch {
    return [];
  }
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('start -n under NOTIFY_SOCKET: READY=1 when serving, RELOADING=1/READY=1 around a reload, STOPPING=1', skip, async (t) => {
  const dir = tempDir(t);
  const receiver: NotifyReceiver = await startNotifyReceiver(join(dir, 'notify.sock'));
  t.after(() => receiver.stop());
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '--', process.execPath, RESPONDER], {
    env: { ...process.env, NOTIFY_SOCKET: receiver.path, FCGI_SPAWN_RUN_DIR: join(dir, 'run') },
  });
  t.after(() => pool.cleanup());

  // Ready: READY=1 from the supervisor itself, naming itself as MAINPID; the pool answers by then.
  const { message: ready } = await receiver.waitFor({ READY: '1' }, { gaveUp: exitedEarly(pool) });
  assert.equal(ready.fields.MAINPID, String(pool.pid), ready.text);
  assert.equal(ready.pid, pool.pid, `sent by pid ${ready.pid}, not the supervisor ${pool.pid}: NotifyAccess=main would drop it`);
  assert.ok(ready.fields.STATUS, `no STATUS= in ${JSON.stringify(ready.text)}`);
  await pool.waitReady();
  const answer = await probe(`127.0.0.1:${port}`, '/');
  assert.equal(answer.code, 0, answer.err);

  // The workers must not be able to speak for the unit.
  const workers = pool.liveWorkers();
  assert.equal(workers.length, 2, pool.log());
  for (const pid of workers) {
    assert.ok(!workerEnvironment(pid).some((entry) => entry.startsWith('NOTIFY_SOCKET=')), `worker ${pid} inherited NOTIFY_SOCKET`);
  }

  // Reload: RELOADING=1 with MONOTONIC_USEC on the monotonic clock (systemd compares them), then READY=1.
  const beforeReload = receiver.messages.length;
  const linesBefore = pool.lines.length;
  const hupAt = monotonicUsec();
  process.kill(pool.pid, 'SIGHUP');
  await pool.waitForLine(/reload finished/, 30_000, linesBefore);
  const { message: reloading, index: reloadingAt } = await receiver.waitFor({ RELOADING: '1' }, { from: beforeReload, gaveUp: exitedEarly(pool) });
  assert.equal(reloading.pid, pool.pid);
  assert.match(reloading.fields.MONOTONIC_USEC ?? '', /^\d+$/, `MONOTONIC_USEC missing or not a number: ${JSON.stringify(reloading.text)}`);
  const stamp = BigInt(reloading.fields.MONOTONIC_USEC as string);
  assert.ok(stamp >= hupAt && stamp <= reloading.receivedUsec, `MONOTONIC_USEC=${stamp} not between the HUP (${hupAt}) and its arrival (${reloading.receivedUsec}): not CLOCK_MONOTONIC?`);
  const { message: reloaded } = await receiver.waitFor({ READY: '1' }, { from: reloadingAt + 1, gaveUp: exitedEarly(pool) });
  assert.equal(reloaded.pid, pool.pid);
  const afterReload = await probe(`127.0.0.1:${port}`, '/');
  assert.equal(afterReload.code, 0, afterReload.err);

  // Stop: STOPPING=1 from the supervisor, then a clean exit.
  const beforeStop = receiver.messages.length;
  const exit = await pool.stop('SIGTERM');
  assert.equal(exit.code, 0, pool.log());
  const { message: stopping } = await receiver.waitFor({ STOPPING: '1' }, { from: beforeStop });
  assert.equal(stopping.pid, pool.pid);
  assert.deepEqual(pool.strays(), []);
});

test('NOTIFY_SOCKET in the abstract namespace (@name) gets READY=1 too', skip, async (t) => {
  const dir = tempDir(t);
  const receiver = await startNotifyReceiver(`@fcgi-spawn-test-${process.pid}-${Date.now()}`);
  t.after(() => receiver.stop());
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '--', process.execPath, RESPONDER], {
    env: { ...process.env, NOTIFY_SOCKET: receiver.path, FCGI_SPAWN_RUN_DIR: join(dir, 'run') },
  });
  t.after(() => pool.cleanup());
  const { message } = await receiver.waitFor({ READY: '1', MAINPID: String(pool.pid) }, { gaveUp: exitedEarly(pool) });
  assert.equal(message.pid, pool.pid);
  const exit = await pool.stop('SIGTERM');
  assert.equal(exit.code, 0, pool.log());
  assert.deepEqual(pool.strays(), []);
});

test('a failed reload still ends with READY=1, or systemd would stay "reloading" until its timeout', skip, async (t) => {
  const dir = tempDir(t);
  const receiver = await startNotifyReceiver(join(dir, 'notify.sock'));
  t.after(() => receiver.stop());
  // A deployment that breaks: the same path, a worker that now exits at once.
  const worker = join(dir, 'worker.sh');
  writeFileSync(worker, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(RESPONDER)}\n`);
  chmodSync(worker, 0o755);
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '--start-retries', '1', '--', worker], {
    env: { ...process.env, NOTIFY_SOCKET: receiver.path, FCGI_SPAWN_RUN_DIR: join(dir, 'run') },
  });
  t.after(() => pool.cleanup());
  await receiver.waitFor({ READY: '1' }, { gaveUp: exitedEarly(pool) });
  const serving = pool.liveWorkers();
  writeFileSync(worker, '#!/bin/sh\necho "worker.sh: broken deployment" >&2\nexit 9\n');
  const before = receiver.messages.length;
  const linesBefore = pool.lines.length;
  process.kill(pool.pid, 'SIGHUP');
  await pool.waitForLine(/reload failed/, 30_000, linesBefore);
  const { index: reloadingAt } = await receiver.waitFor({ RELOADING: '1' }, { from: before, gaveUp: exitedEarly(pool) });
  const { message: back } = await receiver.waitFor({ READY: '1' }, { from: reloadingAt + 1, gaveUp: exitedEarly(pool) });
  assert.equal(back.pid, pool.pid);
  assert.match(back.fields.STATUS ?? '', /fail|roll/i, `STATUS= should say the reload failed: ${JSON.stringify(back.text)}`);
  assert.deepEqual(pool.liveWorkers().filter((pid) => serving.includes(pid)), serving, 'the old workers keep serving');
  const answer = await probe(`127.0.0.1:${port}`, '/');
  assert.equal(answer.code, 0, answer.err);
  const exit = await pool.stop('SIGTERM');
  assert.equal(exit.code, 0, pool.log());
});

test('a NOTIFY_SOCKET nobody listens on does not keep the pool from starting, reloading and stopping', async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '--', process.execPath, RESPONDER], {
    env: { ...process.env, NOTIFY_SOCKET: join(dir, 'nobody.sock'), FCGI_SPAWN_RUN_DIR: join(dir, 'run') },
  });
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const linesBefore = pool.lines.length;
  process.kill(pool.pid, 'SIGHUP');
  await pool.waitForLine(/reload finished/, 30_000, linesBefore);
  const answer = await probe(`127.0.0.1:${port}`, '/');
  assert.equal(answer.code, 0, answer.err);
  const exit = await pool.stop('SIGTERM');
  assert.equal(exit.code, 0, pool.log());
  assert.deepEqual(pool.strays(), []);
});
