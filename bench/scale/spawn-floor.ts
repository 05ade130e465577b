/**
 * What one child_process.spawn() costs a Node process on this machine, now: the floor under fcgi-spawn's CPU per
 * respawned worker, measured in the same run as the storms. libuv forks the whole supervisor (its page tables
 * with it) for every worker, where multiwatch's small C process forks itself; no work of our own per event can go
 * below this figure. A bare `node` spawns `count` short-lived children with piped stdout and stderr in their own
 * session (as workers are spawned) and reports its own CPU per spawn.
 */
import { spawnSync } from 'node:child_process';

const SCRIPT = `
const { spawn } = require('node:child_process');
const count = Number(process.argv[1]);
const env = { ...process.env };
let exited = 0;
const before = process.cpuUsage();
for (let i = 0; i < count; i += 1) {
  const child = spawn('/bin/true', [], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env }, cwd: '/', detached: true });
  child.stdout.resume();
  child.stderr.resume();
  child.on('exit', () => {
    exited += 1;
    if (exited < count) return;
    const used = process.cpuUsage(before);
    process.stdout.write(JSON.stringify({ cpuMsPerSpawn: (used.user + used.system) / 1000 / count, rssMiB: process.memoryUsage.rss() / 1048576 }));
  });
}
`;

export interface SpawnFloor {
  readonly spawns: number;
  /** The spawning node's user + system CPU per child, spawn to exit handled, ms. */
  readonly cpuMsPerSpawn: number;
  readonly rssMiB: number;
}

export function spawnFloor(count: number): SpawnFloor | undefined {
  const run = spawnSync(process.execPath, ['-e', SCRIPT, String(count)], { encoding: 'utf8', timeout: 120_000 });
  try {
    const parsed = JSON.parse(run.stdout) as { cpuMsPerSpawn: number; rssMiB: number };
    return { spawns: count, ...parsed };
  } catch {
    return undefined;
  }
}
