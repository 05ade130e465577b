/**
 * What the pool asks the runtime to do. The runtime executes these in order and reports back only
 * through events; it never decides.
 */
import type { LogFields, LogLevel } from '../log/logger.js';

export type Effect =
  | { readonly type: 'spawn'; readonly slot: number }
  /** A signal to a worker's whole process group (php-cgi and fcgiwrap -c children included). */
  | { readonly type: 'signal'; readonly pgid: number; readonly signal: string }
  /** The group leader is gone: kill what is left of its group so nothing stray holds the socket. */
  | { readonly type: 'reap-group'; readonly pgid: number }
  /** Look in /proc whether the worker waits on the socket; answered with a 'listening' event. */
  | { readonly type: 'probe'; readonly pid: number }
  | { readonly type: 'set-blocking'; readonly blocking: boolean }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string; readonly fields?: LogFields }
  | { readonly type: 'reopen-logs' }
  /** Every slot became ready during start-up. */
  | { readonly type: 'started' }
  /** No worker is left: release the socket and end the supervisor with this code. */
  | { readonly type: 'exit'; readonly code: number; readonly reason?: string };
