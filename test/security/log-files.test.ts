/**
 * Log files of a root supervisor where its worker user (nobody) can reach them (issue 9): a log directory
 * of theirs is refused at start; once running, links and FIFOs they plant in the place of the log are
 * refused on SIGUSR1, the root file they point at is untouched, nothing is created, and the supervisor
 * goes on writing to the file it had.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { assertUntouched, attackerDirectory, needsRoot, NOBODY, NOGROUP, rootOnlyFile, runAsNobody, scratch } from '../helpers/attacker.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
/** A worker that says who it is on stdout as it starts, then serves: each respawn writes one line to the worker log. */
const SAYS_HELLO = ['/bin/sh', '-c', 'echo "worker $$ started"; exec "$0" "$1"', process.execPath, RESPONDER];

function count(pool: RunningSupervisor, pattern: RegExp): number {
  return pool.lines.filter((line) => pattern.test(line)).length;
}

/** SIGUSR1, then the reopen's outcome in the supervisor log (on stderr). */
async function reopen(pool: RunningSupervisor): Promise<void> {
  const outcome = /log files reopened|refusing log file/;
  const before = count(pool, outcome);
  process.kill(pool.pid, 'SIGUSR1');
  await waitFor(`the reopen's outcome\n${pool.log()}`, () => count(pool, outcome) > before);
}

/** Kills the serving worker; resolves with its replacement's pid once that one is ready (its hello is written). */
async function respawn(pool: RunningSupervisor): Promise<number> {
  const [old] = pool.liveWorkers();
  assert.ok(old !== undefined, pool.log());
  const readyBefore = count(pool, /starting→ready/);
  process.kill(old, 'SIGKILL');
  await waitFor(`a ready replacement\n${pool.log()}`, () => count(pool, /starting→ready/) > readyBefore);
  const replacement = pool.liveWorkers().find((pid) => pid !== old);
  assert.ok(replacement !== undefined, pool.log());
  return replacement;
}

test('start: a log directory owned by the worker user is refused with exit 4, nothing created, nothing bound', needsRoot(), async (t) => {
  const dir = scratch(t);
  const logs = attackerDirectory(dir, 'logs');
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '--worker-log', join(logs, 'w.log'), '--', ...SAYS_HELLO]);
  t.after(() => pool.cleanup());
  const exit = await pool.waitExit();
  assert.equal(exit.code, 4, pool.log());
  assert.deepEqual(pool.stderrLines.filter((line) => line !== ''), [
    `fcgi-spawn: refusing log file ${logs}/w.log: its directory ${logs} is owned by uid ${NOBODY}, not by root or uid 0; as uid 0 logs are written only where no other user can swap files (README: Security)`,
  ]);
  assert.deepEqual(readdirSync(logs), []);
  assert.notEqual((await probe(`127.0.0.1:${port}`)).code, 0, 'something listens on the port');

  // The daemon's default log directory is never made inside a directory of another user.
  t.after(() => runCli(['stop', '-p', String(port)]));
  const daemon = await runCli(['start', '-p', String(port), '--allow-root', '--', ...SAYS_HELLO], { env: { ...process.env, FCGI_SPAWN_LOG_DIR: join(logs, 'fcgi-spawn') } });
  assert.equal(daemon.code, 4, daemon.stderr);
  assert.match(daemon.stderr, new RegExp(`^fcgi-spawn: refusing log directory ${logs}/fcgi-spawn: the directory ${logs} on the way is owned by uid ${NOBODY}`));
  assert.equal(existsSync(join(logs, 'fcgi-spawn')), false);
});

test('USR1 after the log directory was handed to the worker user: the link it put in place of the log is refused, the root file untouched', needsRoot(), async (t) => {
  const dir = scratch(t);
  const logs = join(dir, 'logs');
  mkdirSync(logs, { mode: 0o755 });
  const secret = rootOnlyFile(join(dir, 'secret'), 'shadow');
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '--worker-log', join(logs, 'w.log'), '--', ...SAYS_HELLO]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  // An operator (or a package script) gives the directory to the worker user while the supervisor runs.
  chownSync(logs, NOBODY, NOGROUP);
  await runAsNobody(['ln', '-sfn', secret, join(logs, 'w.log')]);
  await reopen(pool);
  // A worker writes after the reopen: with the old code its line went to the root file.
  await respawn(pool);
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0, 'the pool stopped serving');
  assert.equal((await pool.stop()).code, 0, pool.log());
  assertUntouched(secret, assert);
  assert.equal(count(pool, new RegExp(`error: refusing log file ${logs}/w\\.log: its directory ${logs} is owned by uid ${NOBODY}`)), 1, pool.log());
});

interface Planted {
  readonly log: string;
  readonly secret: string;
  readonly missing: string;
}

const STICKY_ATTACKS: readonly { what: string; plant: (p: Planted) => string[]; reason: RegExp }[] = [
  { what: 'a link to a root file', plant: (p) => ['ln', '-sfn', p.secret, p.log], reason: /it is a symbolic link/ },
  { what: 'a link to a missing path', plant: (p) => ['ln', '-sfn', p.missing, p.log], reason: /it is a symbolic link/ },
  { what: 'a FIFO', plant: (p) => ['mkfifo', p.log], reason: /it is not a regular file \(a FIFO\)/ },
];

for (const { what, plant, reason } of STICKY_ATTACKS) {
  test(`USR1 in a sticky log directory: ${what} put in place of the log is refused, the previous file stays in use`, needsRoot(), async (t) => {
    const dir = scratch(t);
    // Root's and sticky, as /tmp or /var/tmp: anyone may add a name, nobody may rename ours.
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    chmodSync(logs, 0o1777);
    const planted = { log: join(logs, 'w.log'), secret: rootOnlyFile(join(dir, 'secret'), 'shadow'), missing: join(dir, 'secret', 'crontab') };
    const port = await freePort();
    const pool = startSupervisor(['-p', String(port), '--worker-log', planted.log, '--', ...SAYS_HELLO]);
    t.after(() => pool.cleanup());
    await pool.waitReady();
    // logrotate (nocreate) moves the file; the worker user is faster than the reopen.
    const held = `${planted.log}.1`;
    renameSync(planted.log, held);
    await runAsNobody(plant(planted));
    await reopen(pool);
    assert.equal(existsSync(planted.missing), false, 'root created the target of the link');
    const pid = await respawn(pool);
    // Not stuck on a FIFO: the control socket answers.
    const status = await runCli(['status', '-p', String(port), '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((await pool.stop()).code, 0, pool.log());
    assertUntouched(planted.secret, assert);
    assert.match(readFileSync(held, 'utf8'), new RegExp(`worker ${pid} started`), 'the new worker\'s line is not in the previous file');
    assert.equal(count(pool, new RegExp(`error: refusing log file ${planted.log}: ${reason.source}; worker output still goes to the file opened before`)), 1, pool.log());
  });
}
