/**
 * How many workers a pool has, over time: the live children of its supervising process (fcgi-spawn's node
 * process, php-fpm's master), read from /proc/PID/task/TID/children every `everyMs` by the benchmark (its cost
 * is the benchmark's, not the pool's). Each child seen is recorded in the Ledger, so the end of the run proves
 * that the workers a dynamic pool started later are gone too.
 */
import { performance } from 'node:perf_hooks';
import { briefStat, canListChildren, childrenOf, tasksOf } from '../respawn/observe.js';
import type { Ledger } from '../servers/process.js';

export interface CountSample {
  /** performance.now() of the reading. */
  readonly at: number;
  readonly workers: number;
}

export interface WorkerCounter {
  readonly samples: readonly CountSample[];
  stop(): void;
}

/** The live (not zombie) children of `parent` now; each new one is adopted by the ledger (as a group leader when `leaders`). */
export function countChildren(parent: number, ledger: Ledger, label: string, leaders: boolean, seen: Set<number>, viaChildrenFiles = canListChildren()): number {
  let count = 0;
  for (const pid of childrenOf(parent, tasksOf(parent), viaChildrenFiles)) {
    const stat = briefStat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') continue;
    count += 1;
    if (!seen.has(pid)) {
      seen.add(pid);
      ledger.adopt(pid, label, leaders);
    }
  }
  return count;
}

/** Count the children of `parent` now and every `everyMs` until stop(). */
export function countWorkers(parent: number, ledger: Ledger, label: string, leaders: boolean, everyMs = 100): WorkerCounter {
  const samples: CountSample[] = [];
  const seen = new Set<number>();
  const viaChildrenFiles = canListChildren();
  const read = (): void => void samples.push({ at: performance.now(), workers: countChildren(parent, ledger, label, leaders, seen, viaChildrenFiles) });
  read();
  const timer = setInterval(read, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      read();
    },
  };
}

/** The samples taken in [from, to]. */
export function within(samples: readonly CountSample[], from: number, to: number): CountSample[] {
  return samples.filter((s) => s.at >= from && s.at <= to);
}

/** Milliseconds from `from` until the count first reached `target` (a reading at or before `from` counts as 0), or NaN if it did not by `to`. */
export function timeToReach(samples: readonly CountSample[], target: number, from: number, to: number): number {
  const before = samples.filter((s) => s.at <= from).pop();
  if (before && before.workers >= target) return 0;
  const reached = within(samples, from, to).find((s) => s.workers >= target);
  return reached ? reached.at - from : Number.NaN;
}
