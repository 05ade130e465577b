/** One frame of `fcgi-spawn top`: every pool on a line (workers by state, queue, spawns per second, RSS). */
import { formatDuration } from './text.js';
import type { InstanceStatus, PoolStatus } from './types.js';

const COLUMNS = ['POOL', 'IDLE', 'BUSY', 'LISTEN', 'START', 'QUEUE', 'MAX', 'SPAWNS/S', 'RSS(MiB)', 'CPU(s)', 'EXITS', 'ADDRESS'] as const;

function rssMiB(pool: PoolStatus): string {
  const kib = pool.workers.reduce((sum, worker) => sum + (worker.rssKiB ?? 0), 0);
  return (kib / 1024).toFixed(1);
}

function cpuSeconds(pool: PoolStatus): string {
  return (pool.workers.reduce((sum, worker) => sum + (worker.cpuMs ?? 0), 0) / 1000).toFixed(1);
}

function exits(pool: PoolStatus): number {
  return Object.values(pool.counters.exits).reduce((sum, count) => sum + count, 0);
}

/**
 * Spawns per second since the previous frame (the pool's spawn counter over the time between the two reads);
 * '-' on the first frame.
 */
function spawnRate(pool: PoolStatus, previous: InstanceStatus | undefined, elapsedMs: number): string {
  const before = previous?.pools.find((p) => p.name === pool.name);
  if (!before || elapsedMs <= 0) return '-';
  return ((Math.max(0, pool.counters.spawns - before.counters.spawns) * 1000) / elapsedMs).toFixed(1);
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

export function topFrame(status: InstanceStatus, previous: InstanceStatus | undefined, elapsedMs: number, at: Date): string {
  const p = status.process;
  const head = `${status.name}: ${status.phase}${status.reloading ? ' (reloading)' : ''}, pid ${status.pid}, up ${formatDuration(status.uptimeMs)}, supervisor RSS ${(p.residentMemoryBytes / 1048576).toFixed(1)} MiB, CPU ${p.cpuSeconds.toFixed(1)} s — ${at.toTimeString().slice(0, 8)}`;
  const rows = status.pools.map((pool) => {
    const c = pool.workerCounts;
    return [
      pool.name,
      String(c.idle),
      String(c.busy),
      String(c.listening),
      String(c.starting),
      pool.queue ? String(pool.queue.length) : '?',
      String(pool.queueMax),
      spawnRate(pool, previous, elapsedMs),
      rssMiB(pool),
      cpuSeconds(pool),
      String(exits(pool)),
      pool.address,
    ];
  });
  return `${[head, ...table([COLUMNS, ...rows])].join('\n')}\n`;
}
