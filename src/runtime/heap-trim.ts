/**
 * Giving back the memory of a burst of respawns (issue 10). Every spawned worker carries a graph of objects for its
 * whole life (execa's promises and stream waiters, its pipes' sockets, its output capture); when it dies that graph
 * is garbage in V8's old space, which V8 collects only once the heap reaches its next limit and returns to the
 * system later still (its memory reducer waits for a quiet spell). Measured (256 fcgiwrap, all SIGKILLed at once,
 * three times, `node dist/bench/scale.js --workers 256`): the supervisor's RSS went 90.5 → 124.0 MiB, while heap
 * snapshots (each collects first) found the live heap the same before and after (22.5 → 23.4 MiB, the difference
 * compiled code): nothing is kept, it is garbage not yet collected. So once the respawns are over (no spawn for
 * QUIET_MS) and the heap grew by MIN_GROWTH_BYTES since the last look, one full collection runs; the collection
 * compacts (fullCollection below).
 *
 * One timer, armed only by a spawn: an idle supervisor makes no wake-ups.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** After the last spawn: the readiness probes of a storm's last workers are mostly done by then. */
export const QUIET_MS = 500;
/** Below this the collections V8 makes anyway are enough (a php-cgi recycled now and then grows it by ~0.1 MiB). */
export const MIN_GROWTH_BYTES = 4 * 1024 * 1024;

export interface HeapTrimOptions {
  /** A full collection. */
  readonly collect: () => void;
  /** The heap in use now, garbage included. */
  readonly usedBytes: () => number;
  readonly quietMs?: number;
  readonly minGrowthBytes?: number;
}

export class HeapTrim {
  private timer: NodeJS.Timeout | undefined;
  /** The heap in use after the last collection of ours (or at start). */
  private baseline: number;
  private readonly quietMs: number;
  private readonly minGrowthBytes: number;

  constructor(private readonly options: HeapTrimOptions) {
    this.baseline = options.usedBytes();
    this.quietMs = options.quietMs ?? QUIET_MS;
    this.minGrowthBytes = options.minGrowthBytes ?? MIN_GROWTH_BYTES;
  }

  /** A worker was spawned: look again once the spawns have stopped for quietMs. */
  spawned(): void {
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => this.look(), this.quietMs);
    // Never what keeps the supervisor alive.
    this.timer.unref();
  }

  /** A look is due (only between a spawn and the quiet spell after it). */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private look(): void {
    this.timer = undefined;
    const used = this.options.usedBytes();
    // V8's own collections since the last look count too: only what is still there now matters.
    if (used - this.baseline < this.minGrowthBytes) {
      this.baseline = Math.min(this.baseline, used);
      return;
    }
    this.options.collect();
    this.baseline = this.options.usedBytes();
  }
}

/**
 * V8's full collection, without a node flag on the command line (a daemon's command line keeps its shape:
 * control/command-line.ts; `start -n` under systemd runs without DAEMON_NODE_FLAGS): --expose-gc set at run time
 * gives `gc` to a context created after it, and is cleared again so no other context gets it.
 */
function fullCollection(): (() => void) | undefined {
  try {
    let gc: unknown;
    setFlagsFromString('--expose-gc');
    try {
      gc = runInNewContext('gc');
    } finally {
      // Node started with --expose-gc keeps it: only a flag set here is cleared.
      if (!process.execArgv.includes('--expose-gc')) setFlagsFromString('--no-expose-gc');
    }
    if (typeof gc !== 'function') return undefined;
    // Compacting: a plain full collection left old space at 41 MiB committed for 22.5 MiB live (the dead workers'
    // objects sit between the new ones' on the same pages) and RSS where it was; compacted, RSS went back to within
    // 5 % of its level before (measured: 77.6 → 81.1 MiB after four storms of 256), for about 110 ms of CPU per storm.
    return () => {
      setFlagsFromString('--compact-on-every-full-gc');
      try {
        (gc as () => void)();
      } finally {
        setFlagsFromString('--no-compact-on-every-full-gc');
      }
    };
  } catch {
    return undefined;
  }
}

/** The supervisor's trim, or undefined where this V8 gives no full collection (then V8 alone decides, as before). */
export function supervisorHeapTrim(): HeapTrim | undefined {
  const collect = fullCollection();
  return collect ? new HeapTrim({ collect, usedBytes: () => getHeapStatistics().used_heap_size }) : undefined;
}
