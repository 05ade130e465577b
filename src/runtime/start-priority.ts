/**
 * A reload's new workers start at a lower CPU priority, and get their own back when their generation is steered
 * to. On a busy machine with few cores, starting workers (a Node program compiles its code for ~150 ms of CPU)
 * compete with the serving ones for the same cores, and the requests in flight wait: measured with
 * bench/reload-under-load.ts. Niceness only weighs the scheduler's choice; a
 * starting worker still gets every idle cycle, so an idle machine reloads as fast as before.
 *
 * Only where the priority can be given back: lowering a niceness needs CAP_SYS_NICE (root), and a worker left
 * at a lower priority than configured would be worse than a slower reload. Linux niceness is per thread: what the
 * worker started with while lowered (its threads, its children: php-cgi's) is restored thread by thread, and only
 * the threads still at the lowered value (one that set its own niceness keeps it).
 */
import { getPriority, setPriority } from 'node:os';
import { groupDescendants, numericEntries } from '../os/proc.js';

/** How much lower a starting worker runs: weight 1024 → 335 (Linux CFS/EEVDF), a third of a serving worker. */
export const START_NICE_STEP = 5;

interface Lowered {
  readonly pid: number;
  /** The niceness the worker should have: its pool's `nice`, or the supervisor's. */
  readonly target: number;
  readonly lowered: number;
}

export class StartPriority {
  private readonly lowered = new Map<number, Lowered[]>();

  constructor(private readonly enabled: boolean = process.geteuid?.() === 0) {}

  /** Lowers a worker of a generation that is not serving yet; false when it was left as it is. */
  lower(generation: number, pid: number, target: number): boolean {
    const lowered = Math.min(19, target + START_NICE_STEP);
    if (!this.enabled || lowered === target) return false;
    try {
      setPriority(pid, lowered);
    } catch {
      return false; // gone already (ESRCH): its exit is reported as usual
    }
    this.lowered.set(generation, [...(this.lowered.get(generation) ?? []), { pid, target, lowered }]);
    return true;
  }

  /** The generation is steered to (or rolled back): every thread still at the lowered value gets its target back. */
  restore(generation: number): void {
    const workers = this.lowered.get(generation);
    if (workers === undefined) return;
    this.lowered.delete(generation);
    for (const worker of workers) {
      for (const pid of [worker.pid, ...groupDescendants(worker.pid)]) {
        for (const tid of numericEntries(`/proc/${pid}/task`)) restoreThread(tid, worker);
      }
    }
  }
}

function restoreThread(tid: number, worker: Lowered): void {
  try {
    if (getPriority(tid) === worker.lowered) setPriority(tid, worker.target);
  } catch {
    // The thread ended while we looked.
  }
}
