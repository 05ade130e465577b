/**
 * What the status model keeps between reads, for the supervisor's life: the counters (status/counters.ts) and
 * the longest listen queue seen per pool. No timer samples anything: an idle supervisor makes no wake-ups, so
 * the maximum is taken whenever status or metrics are read (and by whoever else reads the queue and reports it).
 */
import type { PoolState } from '../core/pool-state.js';
import { StatusCounters } from './counters.js';
import type { PoolCountersStatus, WorkerCounts, WorkerStatus } from './types.js';

export class StatusModel {
  readonly counters = new StatusCounters();
  private readonly queueMax = new Map<string, number>();

  /** A queue length seen on the pool's serving socket; returns the maximum so far. */
  sampleQueue(pool: string, length: number | undefined): number {
    const max = Math.max(this.queueMax.get(pool) ?? 0, length ?? 0);
    this.queueMax.set(pool, max);
    return max;
  }

  /** The pool's counters: ours, plus those the process manager keeps in the pool's state. */
  poolCounters(name: string, state: PoolState, logLinesDropped: number): PoolCountersStatus {
    const own = this.counters.of(name);
    return {
      spawns: own.spawns,
      exits: { ...own.exits },
      failedStarts: own.failedStarts,
      reloads: { ...own.reloads },
      maxWorkersReached: state.maxWorkersReached,
      requestTimeouts: state.requestTimeouts,
      logLinesDropped,
    };
  }
}

/** Starting workers, then the others by their /proc activity; unknown (where /proc cannot tell) counts as busy. */
export function countWorkers(workers: readonly WorkerStatus[]): WorkerCounts {
  const counts = { starting: 0, idle: 0, busy: 0, listening: 0 };
  for (const worker of workers) {
    if (worker.state === 'starting') counts.starting += 1;
    else if (worker.activity === 'unknown') counts.busy += 1;
    else counts[worker.activity] += 1;
  }
  return counts;
}
