/** A running pool as `status` shows it: read from the supervisor's state, the sockets and /proc. */
import { readFileSync } from 'node:fs';
import type { PoolState } from '../core/pool.js';
import { hasProcess } from '../core/slot.js';
import type { InstanceStatus, WorkerStatus } from '../control/protocol.js';
import type { PoolSockets } from '../os/pool-sockets.js';
import { ConnectionLook } from '../os/connections.js';
import { workerActivity } from '../os/worker-activity.js';

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
  readonly address: string;
  readonly backlog: number;
  readonly startedAt: number;
  readonly now: number;
}

export function instanceStatus(state: PoolState, sockets: PoolSockets, context: StatusContext): InstanceStatus {
  const workers: WorkerStatus[] = [];
  for (const generation of state.generations) {
    const socket = sockets.get(generation.id);
    const look = socket ? new ConnectionLook(socket.identity) : undefined;
    for (const slot of generation.slots) {
      if (!hasProcess(slot)) continue;
      const activity = socket ? workerActivity(slot.pid, socket.identity, look)?.activity : undefined;
      workers.push({
        pid: slot.pid,
        slot: slot.index,
        generation: generation.id,
        state: slot.state,
        uptimeMs: Math.round(context.now - slot.startedAt),
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
  return {
    name: context.name,
    pid: process.pid,
    uptimeMs: Math.round(context.now - context.startedAt),
    address: context.address,
    backlog: context.backlog,
    queue: socket && queueLength !== undefined ? { length: queueLength, limit: context.backlog } : null,
    phase: state.phase,
    desiredWorkers: state.desiredWorkers,
    generation: serving?.id ?? 0,
    reloading: state.reload !== undefined,
    blocking: state.blocking,
    workers,
  };
}
