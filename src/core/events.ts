/**
 * Everything that happens to a supervisor, as data. Callbacks (signals, child exits, the timer,
 * /proc probes, control requests) only turn what they saw into one of these and queue it;
 * reconcile() decides.
 */
import type { Listening } from '../os/worker-activity.js';
import type { PoolPolicy } from './policy.js';

export type SupervisorSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGHUP' | 'SIGUSR1' | 'SIGTTIN' | 'SIGTTOU';

export interface ExitStatus {
  /** Exit code when the process exited by itself; null when a signal ended it. */
  readonly code: number | null;
  readonly signal: string | null;
}

/** What /proc showed of a draining generation. */
export interface DrainObservation {
  /** The listen queue's length (TCP_INFO, Unix sock_diag); null where it cannot be read. */
  readonly queue: number | null;
  /** Workers some process of whose group holds a connection accepted from the socket. */
  readonly busy: readonly number[];
  /** Workers some process of whose group is blocked in accept() on the socket. */
  readonly idle: readonly number[];
  /** Event-loop workers waiting in epoll_wait() with the socket in their set and no connection. */
  readonly listening?: readonly number[];
}

/** One worker at one /proc look of the process manager (os/worker-sample.ts). */
export interface WorkerSample {
  readonly pid: number;
  readonly activity: 'idle' | 'listening' | 'busy';
  /** Context switches of its process group: unchanged between two idle looks means it served nothing in between. */
  readonly switches: number;
  /** The sockets its group holds besides the listener, as one key: a new connection changes it. */
  readonly connections: string;
  /** Some thread waits for its client (reads a connection) or in an event loop: waiting, not stuck in a request. */
  readonly waitingOnClient: boolean;
  /** PSS of its process group in bytes, when asked for. */
  readonly pss?: number;
}

export type Event =
  | { readonly type: 'start' }
  | { readonly type: 'signal'; readonly signal: SupervisorSignal }
  | { readonly type: 'stop'; readonly graceful: boolean }
  /** A new generation; with a policy, the pool's new settings (a reloaded configuration) apply from now on. */
  | { readonly type: 'reload'; readonly requestId?: number; readonly policy?: PoolPolicy }
  | { readonly type: 'scale'; readonly workers: number; readonly requestId?: number; readonly policy?: PoolPolicy }
  /** shared: the new generation accepts on the serving generation's socket (one systemd owns: no second socket, no steering). */
  | { readonly type: 'generation-opened'; readonly generation: number; readonly shared?: boolean }
  | { readonly type: 'generation-failed'; readonly generation: number; readonly reason: string }
  /** notify: the worker got a ready pipe (ready: notify): it is ready when it says so, not when /proc sees it. */
  | { readonly type: 'spawned'; readonly generation: number; readonly slot: number; readonly pid: number; readonly notify?: boolean }
  | { readonly type: 'spawn-failed'; readonly generation: number; readonly slot: number; readonly error: string }
  | { readonly type: 'exit'; readonly pid: number; readonly status: ExitStatus }
  | { readonly type: 'listening'; readonly pid: number; readonly how: Listening }
  /** The worker wrote READY=1 to its ready pipe (runtime/ready-channel.ts). */
  | { readonly type: 'notified'; readonly pid: number }
  /** Its ready pipe can no longer say ready (closed without READY=1, or too much else written): why. */
  | { readonly type: 'notify-failed'; readonly pid: number; readonly reason: string }
  /** A line on its ready pipe that is not READY=1 (ignored, and said). */
  | { readonly type: 'notify-noise'; readonly pid: number; readonly line: string }
  /** Members of a process group outlived its leader, or none is left (answers to reap-group). */
  | { readonly type: 'group-lingers'; readonly pgid: number }
  | { readonly type: 'group-gone'; readonly pgid: number }
  | ({ readonly type: 'drain-status'; readonly generation: number } & DrainObservation)
  /** The serving socket's listen queue was seen non-empty (the queue watch); queue: its length where known. */
  | { readonly type: 'queue-waiting'; readonly generation: number; readonly queue: number | null }
  /** A /proc look at the serving generation's ready workers (answers the 'sample' effect). */
  | { readonly type: 'pool-sample'; readonly generation: number; readonly workers: readonly WorkerSample[] }
  | { readonly type: 'deadline' };

export function describeExit(status: ExitStatus): string {
  if (status.signal) return `killed by ${status.signal}`;
  return `exit status ${status.code ?? '?'}`;
}
