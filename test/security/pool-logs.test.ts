/**
 * Worker logs of several pools (issue 9 with issue 7's pools): each pool's worker log is opened on its
 * own, at start and when `update` adds a pool, and each goes through the same checks as the supervisor
 * log. A pool whose worker log sits in a directory of the worker user (nobody) is refused: at start
 * with exit 4 before any pool serves; by `update` with the update failing and the running pools kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { attackerDirectory, needsRoot, NOBODY, scratch } from '../helpers/attacker.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { waitFor } from '../helpers/wait.js';

const COMMAND = JSON.stringify([process.execPath, join(FIXTURES, 'fcgi-responder.mjs')]);

/** A root 0644 config file (trusted) of `pools`, each a YAML flow mapping. */
function configFile(dir: string, name: string, pools: readonly string[]): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `name: ${name}\nallow-root: true\ncommand: ${COMMAND}\npools:\n${pools.map((pool) => `  - ${pool}\n`).join('')}`, { mode: 0o644 });
  return path;
}

test("start: a second pool's worker log in the worker user's directory is refused with exit 4, nothing created, no pool bound", needsRoot(), async (t) => {
  const dir = scratch(t);
  const logs = attackerDirectory(dir, 'logs');
  const [a, b] = [await freePort(), await freePort()];
  const file = configFile(dir, 'two-logs', [
    `{name: a, listen: "127.0.0.1:${a}", worker-log: ${JSON.stringify(join(dir, 'a.log'))}}`,
    `{name: b, listen: "127.0.0.1:${b}", worker-log: ${JSON.stringify(join(logs, 'b.log'))}}`,
  ]);
  const pool = startSupervisor(['--config', file]);
  t.after(() => pool.cleanup());
  const exit = await pool.waitExit();
  assert.equal(exit.code, 4, pool.log());
  assert.ok(
    pool.stderrLines.includes(
      `fcgi-spawn: refusing log file ${logs}/b.log: its directory ${logs} is owned by uid ${NOBODY}, not by root or uid 0; as uid 0 logs are written only where no other user can swap files (README: Security)`,
    ),
    pool.log(),
  );
  assert.deepEqual(readdirSync(logs), []);
  for (const port of [a, b]) assert.notEqual((await probe(`127.0.0.1:${port}`)).code, 0, `something listens on ${port}`);
});

test("update: a pool added with its worker log in the worker user's directory is refused, nothing created, the running pool kept", needsRoot(), async (t) => {
  const dir = scratch(t);
  const logs = attackerDirectory(dir, 'logs');
  const [a, b] = [await freePort(), await freePort()];
  const first = `{name: a, listen: "127.0.0.1:${a}", worker-log: ${JSON.stringify(join(dir, 'a.log'))}}`;
  const file = configFile(dir, 'added-log', [first]);
  const pool = startSupervisor(['--config', file]);
  t.after(() => pool.cleanup());
  await waitFor('pool a answering', async () => (await probe(`127.0.0.1:${a}`)).code === 0, { timeoutMs: 30_000 });
  const before = await runCli(['status', '--name', 'added-log', '--json']);
  const pids = (status: string): number[] => (JSON.parse(status) as { pools: Array<{ workers: Array<{ pid: number }> }> }).pools.flatMap((p) => p.workers.map((w) => w.pid));

  configFile(dir, 'added-log', [first, `{name: b, listen: "127.0.0.1:${b}", worker-log: ${JSON.stringify(join(logs, 'b.log'))}}`]);
  const update = await runCli(['update', '--name', 'added-log']);
  assert.notEqual(update.code, 0, update.stdout);
  assert.match(update.stderr, new RegExp(`refusing log file ${logs}/b\\.log: its directory ${logs} is owned by uid ${NOBODY}`));
  assert.deepEqual(readdirSync(logs), []);
  assert.notEqual((await probe(`127.0.0.1:${b}`)).code, 0, 'pool b listens');
  assert.equal((await probe(`127.0.0.1:${a}`)).code, 0, 'pool a stopped serving');
  const after = await runCli(['status', '--name', 'added-log', '--json']);
  assert.deepEqual(pids(after.stdout), pids(before.stdout));
  assert.equal((await pool.stop()).code, 0, pool.log());
});
