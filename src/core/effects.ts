/**
 * What the pool asks the runtime to do. The runtime executes these in order and reports back only
 * through events; it never decides.
 */
import type { LogFields, LogLevel } from '../log/logger.js';

export interface FailedWorker {
  readonly generation: number;
  readonly slot: number;
}

export type Effect =
  | { readonly type: 'spawn'; readonly generation: number; readonly slot: number }
  /** A signal to a worker's whole process group (php-cgi and fcgiwrap -c children included). */
  | { readonly type: 'signal'; readonly pgid: number; readonly signal: string }
  /**
   * The group leader is gone: is anyone of its group left (a master's children exit a moment after it)?
   * Answered by 'group-lingers' or 'group-gone'. With `signal`, that signal goes to the group first; with
   * `force` (the stop timeout passed), SIGKILL to whoever is still there, logged.
   */
  | { readonly type: 'reap-group'; readonly pgid: number; readonly signal?: string; readonly force?: boolean }
  /** Look in /proc whether the worker waits on its socket; answered with a 'listening' event. */
  | { readonly type: 'probe'; readonly generation: number; readonly pid: number }
  /** Look at a draining generation's queue and workers; answered with a 'drain-status' event. */
  | { readonly type: 'probe-drain'; readonly generation: number }
  | { readonly type: 'set-blocking'; readonly blocking: boolean }
  /** Bind a new generation's socket (joined to the group, not yet given connections); answered by generation-opened/-failed. */
  | { readonly type: 'open-generation'; readonly generation: number }
  /** New connections go to this generation's socket from now on. */
  | { readonly type: 'steer'; readonly generation: number }
  | { readonly type: 'shutdown-socket'; readonly generation: number }
  | { readonly type: 'close-socket'; readonly generation: number }
  /** Graceful stop of a Unix pool: remove the path so new connect()s fail. */
  | { readonly type: 'unlink-path' }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string; readonly fields?: LogFields }
  | { readonly type: 'reopen-logs' }
  /** Every slot became ready during start-up. */
  | { readonly type: 'started' }
  /** failedWorker: the slot whose failed starts rolled a reload back (its last stderr line tells why). */
  | { readonly type: 'reload-finished'; readonly requestIds: readonly number[]; readonly ok: boolean; readonly message: string; readonly failedWorker?: FailedWorker }
  /** No worker is left: release the sockets and end the supervisor with this code. */
  | { readonly type: 'exit'; readonly code: number; readonly reason?: string; readonly failedSlot?: number };
