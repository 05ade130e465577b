/**
 * The reaper follows every pool of a supervisor, not only the first: what any pool's workers leave
 * behind is named by its pool, stopped at the supervisor's stop, and a pool that an update moves
 * (removed as `b`, added again as `b#TICKET`) keeps its new workers when the old one is released.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { InstanceStatus } from '../../src/control/protocol.js';
import { readStat } from '../../src/os/proc.js';
import { probe } from '../helpers/fastcgi.js';
import { freePort, isAlive, killQuietly } from '../helpers/processes.js';
import { FIXTURES, runCli, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { waitFor } from '../helpers/wait.js';
import { scratch, write } from '../config/helpers.js';
import { canListen, Escapees } from './support.js';

const LEAVES_GROUP = join(FIXTURES, 'leaves-group.sh');

interface PoolSpec {
  readonly name: string;
  readonly port: number;
  readonly workers: number;
  readonly escapees: Escapees;
  /** More pool keys, as YAML flow entries (`stop-timeout: 60s`). */
  readonly extra?: string;
  /** More worker environment, as YAML flow entries. */
  readonly env?: string;
}

function poolLine(spec: PoolSpec): string {
  const env = [`ESCAPEE_PIDS: ${JSON.stringify(spec.escapees.file)}`, ...(spec.env ? [spec.env] : [])].join(', ');
  return `  - {name: ${spec.name}, listen: "127.0.0.1:${spec.port}", workers: ${spec.workers}, env: {${env}}${spec.extra ? `, ${spec.extra}` : ''}}\n`;
}

function configText(name: string, pools: readonly PoolSpec[]): string {
  return `name: ${name}\nallow-root: true\ncommand: [${JSON.stringify(LEAVES_GROUP)}]\nstop-timeout: 2s\npools:\n${pools.map(poolLine).join('')}`;
}

function escapeesFor(t: TestContext): Escapees {
  const escapees = new Escapees();
  t.after(() => escapees.cleanup());
  return escapees;
}

async function status(name: string): Promise<InstanceStatus> {
  const result = await runCli(['status', '--name', name, '--json']);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as InstanceStatus;
}

/** The live workers of the pool on this port. */
async function workersOn(name: string, port: number): Promise<number[]> {
  const pool = (await status(name)).pools.find((p) => p.address === `127.0.0.1:${port}`);
  return (pool?.workers ?? []).map((worker) => worker.pid).filter((pid) => pid > 0);
}

function startFromFile(t: TestContext, file: string): RunningSupervisor {
  const supervisor = startSupervisor(['--config', file]);
  t.after(() => supervisor.cleanup());
  return supervisor;
}

test('every pool\'s escapees are adopted under their own pool\'s name and stopped with the supervisor', async (t) => {
  const [a, b] = [{ name: 'a', port: await freePort(), workers: 1, escapees: escapeesFor(t) }, { name: 'b', port: await freePort(), workers: 2, escapees: escapeesFor(t) }];
  const file = write(join(scratch(t), 'reap-two.yaml'), configText('reap-two', [a, b]));
  const supervisor = startFromFile(t, file);
  await supervisor.waitReady();
  for (const spec of [a, b]) await waitFor(`pool ${spec.name}'s ${spec.workers} escapee(s)`, () => spec.escapees.alive().length === spec.workers);

  // The second pool's worker dies: its escapee is adopted, named by pool b's socket.
  const [worker] = await workersOn('reap-two', b.port);
  assert.ok(worker !== undefined);
  const escapee = b.escapees.alive().find((pid) => readStat(pid)?.ppid === worker);
  assert.ok(escapee !== undefined, `no escapee of worker ${worker} among ${b.escapees.alive().join(',')}`);
  killQuietly(worker, 'SIGKILL');
  await supervisor.waitForLine(new RegExp(`adopted process ${escapee} \\(sleep\\), left behind by a worker: it holds the socket of pool b generation 1 on 127\\.0\\.0\\.1:${b.port}`));

  const stop = await runCli(['stop', '--name', 'reap-two']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal((await supervisor.waitExit()).code, 0, supervisor.log());
  for (const spec of [a, b]) {
    assert.deepEqual(spec.escapees.alive(), [], `pool ${spec.name}'s escapees left running:\n${supervisor.log()}`);
    assert.equal(await canListen(spec.port), true, `pool ${spec.name}'s port`);
  }
});

test('an update that moves a pool stops the old pool\'s escapees when it is released, and leaves the new pool\'s workers alone', async (t) => {
  // The old pool's worker ignores TERM and has a long stop timeout: it is still there when the moved pool serves.
  const old: PoolSpec = { name: 'b', port: await freePort(), workers: 1, escapees: escapeesFor(t), extra: 'stop-timeout: 60s', env: `WORKER: ${JSON.stringify(join(FIXTURES, 'ignores-term.mjs'))}` };
  const moved: PoolSpec = { name: 'b', port: await freePort(), workers: 1, escapees: escapeesFor(t) };
  const file = write(join(scratch(t), 'reap-moved.yaml'), configText('reap-moved', [old]));
  const supervisor = startFromFile(t, file);
  await supervisor.waitReady();
  await waitFor('the old pool\'s escapee', () => old.escapees.alive().length === 1);
  const [oldWorker] = await workersOn('reap-moved', old.port);
  assert.ok(oldWorker !== undefined);

  write(file, configText('reap-moved', [moved]));
  const update = runCli(['update', '--name', 'reap-moved']);
  await waitFor('the moved pool serving', async () => (await probe(`127.0.0.1:${moved.port}`)).code === 0 && moved.escapees.alive().length === 1, { timeoutMs: 30_000 });
  const movedWorkers = await workersOn('reap-moved', moved.port);
  const movedEscapees = moved.escapees.alive();
  assert.equal(movedWorkers.length, 1);
  assert.ok(old.escapees.alive().length === 1 && isAlive(oldWorker), `the old pool is gone too early:\n${supervisor.log()}`);

  // The old pool's last worker goes: the pool is released, and so is its socket.
  killQuietly(oldWorker, 'SIGKILL');
  await waitFor('the old pool\'s escapee stopped', () => old.escapees.alive().length === 0, { timeoutMs: 10_000 });
  assert.equal((await update).code, 0, supervisor.log());
  await supervisor.waitForLine(new RegExp(`holds the socket of retired pool b generation 1 on 127\\.0\\.0\\.1:${old.port}: SIGTERM`));
  // A status round trip after the release: what the release did to other pools is done by now.
  assert.deepEqual(await workersOn('reap-moved', moved.port), movedWorkers, supervisor.log());
  assert.deepEqual(movedEscapees.filter(isAlive), movedEscapees, `the moved pool's escapee was stopped:\n${supervisor.log()}`);
  assert.doesNotMatch(supervisor.log(), new RegExp(`retired pool b generation \\d+ on 127\\.0\\.0\\.1:${moved.port}`));
  assert.equal(await canListen(old.port), true, 'the old port');

  await supervisor.stop();
  assert.deepEqual(moved.escapees.alive(), [], supervisor.log());
});
