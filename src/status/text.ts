/** The status model as `fcgi-spawn status` prints it for a person. */
import type { InstanceStatus, PoolStatus } from './types.js';

/** `45s`, `4m5s`, `3h20m`, `2d3h`. */
export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d${hours % 24}h`;
}

function counterLines(pool: PoolStatus): string[] {
  const c = pool.counters;
  const exits = Object.entries(c.exits).map(([cause, count]) => `${cause} ${count}`).join(', ');
  return [
    `    workers: ${pool.workerCounts.idle} idle, ${pool.workerCounts.busy} busy, ${pool.workerCounts.listening} listening, ${pool.workerCounts.starting} starting; pm ${pool.pm}`,
    `    spawns ${c.spawns}, failed starts ${c.failedStarts}, reloads ${c.reloads.ok} ok / ${c.reloads.rolledBack} rolled back, max workers reached ${c.maxWorkersReached}, request timeouts ${c.requestTimeouts}, log lines dropped ${c.logLinesDropped}`,
    `    exits: ${exits}`,
  ];
}

function poolTable(pool: PoolStatus): string[] {
  const queue = pool.queue ? `${pool.queue.length}/${pool.queue.limit} (max ${pool.queueMax})` : 'unknown';
  const kernel = pool.effectiveBacklog !== null && pool.effectiveBacklog !== pool.backlog ? ` (the kernel applies ${pool.effectiveBacklog})` : '';
  const head = [
    `  pool ${pool.name}: listening on ${pool.address}, backlog ${pool.backlog}${kernel}, queue ${queue}, ${pool.blocking ? 'blocking' : 'non-blocking'} socket${pool.reloading ? ' (reloading)' : ''}`,
    `    generation ${pool.generation}, ${pool.desiredWorkers} worker(s) wanted`,
    ...counterLines(pool),
    '    PID      SLOT GEN STATE     UP        RESTARTS LAST EXIT   RSS(KiB)  CPU(ms)  ACTIVITY',
  ];
  const rows = pool.workers.map((w) => {
    const lastExit = w.lastExit ? (w.lastExit.signal ?? `status ${w.lastExit.code}`) : '-';
    return `    ${String(w.pid).padEnd(8)} ${String(w.slot).padEnd(4)} ${String(w.generation).padEnd(3)} ${w.state.padEnd(9)} ${formatDuration(w.uptimeMs ?? 0).padEnd(9)} ${String(w.restarts).padEnd(8)} ${lastExit.padEnd(11)} ${String(w.rssKiB ?? '-').padEnd(9)} ${String(w.cpuMs ?? '-').padEnd(8)} ${w.activity}`;
  });
  return [...head, ...rows];
}

export function statusText(status: InstanceStatus): string {
  const lines = [
    `${status.name}: ${status.phase}${status.reloading ? ' (reloading)' : ''}, pid ${status.pid}, up ${formatDuration(status.uptimeMs)}${status.configFile ? `, from ${status.configFile}` : ''}${status.stats ? `, stats on ${status.stats}` : ''}`,
    ...(status.version !== undefined ? [`  version ${status.version}${status.upgrade ? `, upgraded in place from ${status.upgrade.from} at ${status.upgrade.at}: ${status.upgrade.state}${status.upgrade.state === 'in-progress' ? '' : ` (${status.upgrade.message})`}` : ''}`] : []),
    ...(status.configError ? [`  configuration error (the running pools keep their settings): ${status.configError}`] : []),
    ...status.pools.flatMap(poolTable),
  ];
  return `${lines.join('\n')}\n`;
}
