/**
 * Everything that happens to a supervisor, as data. Callbacks (signals, child exits, the timer,
 * the /proc probe) only turn what they saw into one of these and queue it; reconcile() decides.
 */
import type { Listening } from '../os/proc.js';

export type SupervisorSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGHUP' | 'SIGUSR1' | 'SIGTTIN' | 'SIGTTOU';

export interface ExitStatus {
  /** Exit code when the process exited by itself; null when a signal ended it. */
  readonly code: number | null;
  readonly signal: string | null;
}

export type Event =
  | { readonly type: 'start' }
  | { readonly type: 'signal'; readonly signal: SupervisorSignal }
  | { readonly type: 'spawned'; readonly slot: number; readonly pid: number }
  | { readonly type: 'spawn-failed'; readonly slot: number; readonly error: string }
  | { readonly type: 'exit'; readonly pid: number; readonly status: ExitStatus }
  | { readonly type: 'listening'; readonly pid: number; readonly how: Listening }
  | { readonly type: 'deadline' };

export function describeExit(status: ExitStatus): string {
  if (status.signal) return `killed by ${status.signal}`;
  return `exit status ${status.code ?? '?'}`;
}
