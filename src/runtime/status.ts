/**
 * A running instance as the status model (status/types.ts) shows it: read from the supervisor's state, the
 * pools' sockets, /proc and the model's counters. Every reader (the control socket's `status`, the stats HTTP
 * endpoint) builds it here.
 */
import type { PoolState } from '../core/pool.js';
import { hasProcess } from '../core/slot.js';
import type { SupervisorState } from '../core/supervisor.js';
import type { PoolSockets } from '../os/pool-sockets.js';
import { ConnectionLook } from '../os/connections.js';
import { formatAddress } from '../os/sockaddr.js';
import { workerActivity } from '../os/worker-activity.js';
import { countWorkers, type StatusModel } from '../status/model.js';
import { cpuMs, rssKiB, supervisorProcess } from '../status/process-stats.js';
import type { InstanceStatus, PoolStatus, WorkerStatus } from '../status/types.js';
import type { PoolRuntime } from './pool-runtime.js';

export interface StatusContext {
  readonly name: string;
  readonly configFile?: string;
  readonly version: string;
  /** The last in-place upgrade of this instance, as the new program sees it. */
  readonly upgrade?: import('./upgrade.js').UpgradeStatus;
  readonly startedAt: number;
  readonly now: number;
  /** Where the stats HTTP server listens, if anywhere. */
  readonly stats?: string;
  readonly model: StatusModel;
}

/** Wall-clock time of a moment on the monotonic clock `now` is read from. */
function wallClock(at: number, now: number): string {
  return new Date(Date.now() - (now - at)).toISOString();
}

function poolStatus(name: string, state: PoolState, pool: PoolRuntime, context: StatusContext): PoolStatus {
  const { now, model } = context;
  const sockets: PoolSockets = pool.sockets;
  const workers: WorkerStatus[] = [];
  for (const generation of state.generations) {
    const socket = sockets.get(generation.id);
    const look = socket ? new ConnectionLook(socket.identity) : undefined;
    for (const slot of generation.slots) {
      if (!hasProcess(slot)) continue;
      const activity = socket ? workerActivity(slot.pid, socket.identity, look)?.activity : undefined;
      workers.push({
        pool: name,
        pid: slot.pid,
        slot: slot.index,
        generation: generation.id,
        state: slot.state,
        since: wallClock(slot.state === 'ready' ? slot.readyAt : slot.startedAt, now),
        uptimeMs: Math.round(now - slot.startedAt),
        restarts: slot.restarts,
        failures: slot.failures,
        lastExit: slot.lastExit ?? null,
        rssKiB: rssKiB(slot.pid),
        cpuMs: cpuMs(slot.pid),
        activity: activity ?? 'unknown',
      });
    }
  }
  const serving = [...state.generations].reverse().find((g) => g.phase === 'serving') ?? state.generations[0];
  const socket = serving ? sockets.get(serving.id) : undefined;
  const queue = socket?.queue() ?? null;
  const config = pool.config;
  return {
    name,
    address: formatAddress(config.address),
    backlog: config.backlog,
    queue: queue ? { length: queue.length, limit: config.backlog } : null,
    effectiveBacklog: queue?.limit ?? null,
    queueMax: model.sampleQueue(name, queue?.length),
    pm: config.pm ?? 'static',
    phase: state.phase,
    desiredWorkers: state.desiredWorkers,
    generation: serving?.id ?? 0,
    reloading: state.reload !== undefined,
    blocking: state.blocking,
    workerCounts: countWorkers(workers),
    counters: model.poolCounters(name, state, pool.output.droppedLines()),
    workers,
  };
}

export function instanceStatus(state: SupervisorState, poolOf: (key: string) => PoolRuntime | undefined, context: StatusContext): InstanceStatus {
  const pools: PoolStatus[] = [];
  for (const entry of state.pools) {
    const pool = poolOf(entry.key);
    if (pool) pools.push(poolStatus(entry.name, entry.state, pool, context));
  }
  const first = pools[0];
  return {
    name: context.name,
    pid: process.pid,
    uptimeMs: Math.round(context.now - context.startedAt),
    phase: state.phase,
    configFile: context.configFile ?? null,
    version: context.version,
    upgrade: context.upgrade ?? null,
    configError: state.configError ?? null,
    reloading: state.loading !== undefined || state.outstanding.length > 0 || pools.some((pool) => pool.reloading),
    stats: context.stats ?? null,
    process: supervisorProcess(),
    pools,
    address: first?.address ?? '',
    backlog: first?.backlog ?? 0,
    queue: first?.queue ?? null,
    desiredWorkers: first?.desiredWorkers ?? 0,
    generation: first?.generation ?? 0,
    blocking: first?.blocking ?? true,
    workers: pools.flatMap((pool) => pool.workers),
  };
}
