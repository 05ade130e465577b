/**
 * The supervisor's loop: one queue of events, one dispatch that calls core's reconcile(), an
 * executor for the effects it returns, and one timer armed for the earliest deadline. Callbacks
 * (signals, exits, the timer) only enqueue; an idle supervisor makes no wake-ups at all.
 */
import { performance } from 'node:perf_hooks';
import { initialPoolState, nextDeadline, reconcile, type PoolPolicy, type PoolState } from '../core/pool.js';
import type { Effect } from '../core/effects.js';
import type { Event } from '../core/events.js';
import type { Logger } from '../log/logger.js';
import type { ListenSocket } from '../os/listen-socket.js';
import { groupListeningState, processGroupMembers } from '../os/proc.js';
import { describeError } from '../errors.js';

export interface WorkerLauncher {
  /** Start a worker for a slot; returns its pid (its process group id too). */
  spawn(slot: number, onExit: (pid: number, code: number | null, signal: string | null) => void): number;
}

export interface SupervisorOptions {
  readonly policy: PoolPolicy;
  readonly socket: ListenSocket;
  readonly launcher: WorkerLauncher;
  readonly logger: Logger;
  readonly onStarted: (state: PoolState) => void;
  readonly now?: () => number;
}

export interface SupervisorExit {
  readonly code: number;
  readonly reason?: string;
  /** The slot whose failed starts ended start-up, so its last stderr line can be told. */
  readonly failedSlot?: number;
}

export class Supervisor {
  private state: PoolState;
  private readonly queue: Event[] = [];
  private dispatching = false;
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  private finish!: (exit: SupervisorExit) => void;
  readonly finished: Promise<SupervisorExit>;
  private readonly now: () => number;

  constructor(private readonly options: SupervisorOptions) {
    this.state = initialPoolState(options.policy);
    this.now = options.now ?? (() => performance.now());
    this.finished = new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  get snapshot(): PoolState {
    return this.state;
  }

  start(): void {
    this.enqueue({ type: 'start' });
  }

  enqueue(event: Event): void {
    this.queue.push(event);
    if (!this.dispatching) this.dispatch();
  }

  private dispatch(): void {
    this.dispatching = true;
    try {
      for (let event = this.queue.shift(); event; event = this.queue.shift()) {
        const { state, effects } = reconcile(this.state, event, this.now());
        this.state = state;
        for (const effect of effects) this.execute(effect);
      }
    } finally {
      this.dispatching = false;
    }
    this.arm();
  }

  private arm(): void {
    const deadline = this.state.phase === 'stopped' ? undefined : nextDeadline(this.state);
    if (deadline === this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = deadline;
    if (deadline === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = undefined;
      this.enqueue({ type: 'deadline' });
    }, Math.max(0, Math.ceil(deadline - this.now())));
  }

  private execute(effect: Effect): void {
    const { logger, socket } = this.options;
    switch (effect.type) {
      case 'spawn':
        return this.spawn(effect.slot);
      case 'signal':
        return this.signalGroup(effect.pgid, effect.signal);
      case 'reap-group':
        return this.reapGroup(effect.pgid);
      case 'probe': {
        const how = groupListeningState(effect.pid, socket.identity);
        if (how) this.queue.push({ type: 'listening', pid: effect.pid, how });
        return;
      }
      case 'set-blocking':
        return socket.setBlocking(effect.blocking);
      case 'log':
        return logger.log(effect.level, effect.message, effect.fields);
      case 'reopen-logs':
        return logger.reopen();
      case 'started':
        return this.options.onStarted(this.state);
      case 'exit': {
        if (this.timer) clearTimeout(this.timer);
        const failed = this.state.slots.find((s) => s.failures > this.options.policy.startRetries);
        return this.finish({
          code: effect.code,
          ...(effect.reason ? { reason: effect.reason } : {}),
          ...(failed ? { failedSlot: failed.index } : {}),
        });
      }
    }
  }

  private spawn(slot: number): void {
    try {
      const pid = this.options.launcher.spawn(slot, (exitedPid, code, signal) =>
        this.enqueue({ type: 'exit', pid: exitedPid, status: { code, signal } }),
      );
      this.queue.push({ type: 'spawned', slot, pid });
    } catch (error) {
      this.queue.push({ type: 'spawn-failed', slot, error: describeError(error) });
    }
  }

  private signalGroup(pgid: number, signal: string): void {
    try {
      process.kill(-pgid, signal as NodeJS.Signals);
    } catch (error) {
      // ESRCH: the group is already gone, which is what we wanted.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
        this.options.logger.log('error', `unable to send ${signal} to process group ${pgid}: ${describeError(error)}`);
      }
    }
  }

  /**
   * A group leader is gone; its children (php-cgi's, fcgiwrap -c's) would otherwise keep holding the
   * socket with nobody managing them. The pgid cannot be reused while any member is alive.
   */
  private reapGroup(pgid: number): void {
    const members = processGroupMembers(pgid);
    if (members.length === 0) return;
    this.options.logger.log('warn', `process group ${pgid} outlived its leader: SIGKILL to ${members.length} process(es)`, {
      pids: members.join(','),
    });
    this.signalGroup(pgid, 'SIGKILL');
  }
}
