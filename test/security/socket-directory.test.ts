/**
 * A Unix socket in a directory its worker user can write (/run/php owned by www-data): that user
 * races symlinks into the socket's path, the reload's temporary path and the private directory
 * while the supervisor starts and reloads; the root file they point at keeps its owner and mode.
 * The supervisor's chown/chmod calls are slowed by 30 ms (slowOwnershipCalls) so that the old
 * code loses every time, not now and then.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { assertUntouched, attackerDirectory, needsRoot, rootOnlyFile, scratch, slowOwnershipCalls, spawnAsNobody, STOPPED_START } from '../helpers/attacker.js';
import { needs } from '../helpers/tools.js';
import { isAlive, killQuietly } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const RACER = join(FIXTURES, 'symlink-racer.mjs');
/** Starts that became ready, each followed by reloads: every bind is one attempt of the attacker. */
const ROUNDS = 2;
const RELOADS = 3;
/**
 * The racer can also make a start fail (it owns the directory): try this many times to get ROUNDS. On a
 * loaded machine (the full suite beside other work) six starts in a row once all failed.
 */
const MAX_STARTS = 12;

function count(pool: RunningSupervisor, pattern: RegExp): number {
  return pool.lines.filter((line) => pattern.test(line)).length;
}

/** Ready, or exited (the racer may make a start fail, which is not what this test is about). */
async function readyOrExited(pool: RunningSupervisor): Promise<boolean> {
  await waitFor(`ready or exited\n${pool.log()}`, () => !pool.running || count(pool, /info: ready: /) > 0, { timeoutMs: 20_000 });
  return pool.running;
}

const skip = needsRoot().skip ?? needs('strace').skip;

test('a worker user racing symlinks into the socket directory never gets a root file chmod-ed or chown-ed', { skip: skip ?? false }, async (t) => {
  const dir = scratch(t);
  const sockets = attackerDirectory(dir, 'run');
  const path = join(sockets, 'pool.sock');
  // Named like the socket, so that a chmod through a private directory swapped for a link lands on it too.
  const secret = rootOnlyFile(join(dir, 'secret'), 'pool.sock');
  const racer = spawnAsNobody([process.execPath, RACER, sockets, 'pool.sock', secret]);
  t.after(() => killQuietly(racer.pid as number, 'SIGKILL'));
  const said: string[] = [];
  racer.stdout?.on('data', (data: Buffer) => said.push(data.toString()));
  await waitFor('the racer started', () => said.join('').includes('racing'));

  let served = 0;
  let lastFailed = '';
  for (let start = 0; served < ROUNDS && start < MAX_STARTS; start += 1) {
    // The operator clears what the attacker left at the path, or no start would even try.
    if (lstatOrUndefined(path)) unlinkSync(path);
    const pool = startSupervisor(['-s', path, '-U', 'nobody', '-G', 'nogroup', '-M', '0666', '--steer-grace', '0.05', '--', process.execPath, RESPONDER], { prefix: STOPPED_START });
    t.after(() => pool.cleanup());
    await slowOwnershipCalls(pool.pid, t);
    if (await readyOrExited(pool)) {
      served += 1;
      for (let reload = 0; reload < RELOADS; reload += 1) {
        const before = count(pool, /reload (finished|failed)/);
        process.kill(pool.pid, 'SIGHUP');
        await waitFor(`reload ${reload} done\n${pool.log()}`, () => count(pool, /reload (finished|failed)/) > before, { timeoutMs: 20_000 });
        assertUntouched(secret, assert);
      }
      await pool.stop();
    } else lastFailed = pool.log();
    await pool.cleanup();
    assertUntouched(secret, assert);
  }
  racer.kill('SIGTERM');
  await waitFor('the racer gone', () => !isAlive(racer.pid as number));
  const swaps = Number(/swaps (\d+)/.exec(said.join(''))?.[1] ?? 0);
  assert.ok(swaps > 0, 'the racer never swapped anything: the attack did not run');
  assert.ok(served > 0, `no start became ready: no reload was attempted; the last start said:\n${lastFailed}`);
  // Nothing of ours is left but the private directories the racer moved away (empty, root 0700).
  for (const entry of readdirSync(sockets)) {
    const stat = lstatSync(join(sockets, entry));
    if (stat.uid === 0) assert.ok(stat.isDirectory() && entry.endsWith('.moved') && readdirSync(join(sockets, entry)).length === 0, `left behind: ${entry}`);
  }
});

function lstatOrUndefined(path: string): unknown {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
