/** A running instance as `status` shows it: read from the supervisor's state, the pools' sockets and /proc. */
import { readFileSync } from 'node:fs';
import type { PoolState } from '../core/pool.js';
import { hasProcess } from '../core/slot.js';
import type { SupervisorState } from '../core/supervisor.js';
import type { InstanceStatus, PoolStatus, WorkerStatus } from '../control/protocol.js';
import type { PoolSockets } from '../os/pool-sockets.js';
import { ConnectionLook } from '../os/connections.js';
import { formatAddress } from '../os/sockaddr.js';
import { workerActivity } from '../os/worker-activity.js';
import type { PoolRuntime } from './pool-runtime.js';

/** Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every architecture we run on. */
const MS_PER_TICK = 10;

function rssKiB(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

function cpuMs(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
  } catch {
    return null;
  }
}

export interface StatusContext {
  readonly name: string;
  readonly configFile?: string;
  readonly startedAt: number;
  readonly now: number;
}

function poolStatus(name: string, state: PoolState, pool: PoolRuntime, now: number): PoolStatus {
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
  const queueLength = socket?.queueLength();
  const config = pool.config;
  return {
    name,
    address: formatAddress(config.address),
    backlog: config.backlog,
    queue: socket && queueLength !== undefined ? { length: queueLength, limit: config.backlog } : null,
    phase: state.phase,
    desiredWorkers: state.desiredWorkers,
    generation: serving?.id ?? 0,
    reloading: state.reload !== undefined,
    blocking: state.blocking,
    workers,
  };
}

export function instanceStatus(state: SupervisorState, poolOf: (key: string) => PoolRuntime | undefined, context: StatusContext): InstanceStatus {
  const pools: PoolStatus[] = [];
  for (const entry of state.pools) {
    const pool = poolOf(entry.key);
    if (pool) pools.push(poolStatus(entry.name, entry.state, pool, context.now));
  }
  const first = pools[0];
  return {
    name: context.name,
    pid: process.pid,
    uptimeMs: Math.round(context.now - context.startedAt),
    phase: state.phase,
    configFile: context.configFile ?? null,
    configError: state.configError ?? null,
    reloading: state.loading !== undefined || state.outstanding.length > 0 || pools.some((pool) => pool.reloading),
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
