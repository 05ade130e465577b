/**
 * What happens to a supervisor of pools, and what it asks the runtime to do. A pool's own events and
 * effects (core/events.ts, core/effects.ts) travel inside, tagged with the pool's key (PoolEntry.key).
 */
import type { Configuration, PoolConfig } from '../config/types.js';
import type { LogFields, LogLevel } from '../log/logger.js';
import type { Effect, FailedWorker } from './effects.js';
import type { Event, SupervisorSignal } from './events.js';

export interface PoolWorker extends FailedWorker {
  readonly pool: string;
}

export type SupervisorEvent =
  | { readonly type: 'start' }
  | { readonly type: 'signal'; readonly signal: SupervisorSignal }
  | { readonly type: 'stop'; readonly graceful: boolean }
  /** Re-read the configuration and give every pool (or one) a new generation; cause: what asked (a watched path). */
  | { readonly type: 'reload'; readonly pool?: string; readonly requestId?: number; readonly cause?: string }
  /** Re-read the configuration and apply only the difference. */
  | { readonly type: 'update'; readonly requestId?: number; readonly cause?: string }
  /** Something to tell that only the log should hear (a path that cannot be watched). */
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'scale'; readonly workers: number; readonly pool?: string; readonly requestId?: number }
  | { readonly type: 'config-loaded'; readonly configuration: Configuration }
  | { readonly type: 'config-failed'; readonly reason: string }
  /** An added pool's socket is bound (or could not be). */
  | { readonly type: 'pool-opened'; readonly pool: string }
  | { readonly type: 'pool-open-failed'; readonly pool: string; readonly reason: string }
  | { readonly type: 'pool'; readonly pool: string; readonly event: Event }
  | { readonly type: 'deadline' };

export type SupervisorEffect =
  | { readonly type: 'pool'; readonly pool: string; readonly effect: Effect }
  /** Read the configuration again; answered by config-loaded or config-failed. */
  | { readonly type: 'load-config' }
  /** Bind an added pool's socket; answered by pool-opened or pool-open-failed. */
  | { readonly type: 'open-pool'; readonly pool: string; readonly config: PoolConfig }
  /** What the pool's next generation runs. */
  | { readonly type: 'configure-pool'; readonly pool: string; readonly config: PoolConfig }
  /** The pool has no process left and is gone: close its sockets, let go of its logs. */
  | { readonly type: 'release-pool'; readonly pool: string }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string; readonly fields?: LogFields }
  | { readonly type: 'reopen-logs' }
  /** Every pool became ready during start-up. */
  | { readonly type: 'started' }
  /** failedWorkers: the slots whose failed starts made it fail (the runtime adds their last stderr lines). */
  | { readonly type: 'request-done'; readonly requestIds: readonly number[]; readonly ok: boolean; readonly message: string; readonly failedWorkers?: readonly PoolWorker[] }
  | { readonly type: 'exit'; readonly code: number; readonly reason?: string; readonly failedPool?: string; readonly failedSlot?: number };
