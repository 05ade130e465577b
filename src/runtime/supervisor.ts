/**
 * The supervisor's loop: one queue of events, one dispatch that calls core's reconcile(), an
 * executor for the effects it returns, and one timer armed for the earliest deadline. Callbacks
 * (signals, exits, the timer, control requests) only enqueue; an idle supervisor makes no wake-ups.
 */
import { performance } from 'node:perf_hooks';
import { initialPoolState, nextDeadline, reconcile, type PoolPolicy, type PoolState } from '../core/pool.js';
import type { Effect } from '../core/effects.js';
import type { Event } from '../core/events.js';
import type { Logger } from '../log/logger.js';
import type { PoolSockets } from '../os/pool-sockets.js';
import { useSocketPortReader } from '../os/connections.js';
import { workerActivity } from '../os/worker-activity.js';
import { socketLocalPort } from '../os/libc.js';

useSocketPortReader(socketLocalPort);
import { describeError } from '../errors.js';
import { observeDrain } from './drain-probe.js';

const ACTS: ReadonlySet<Effect['type']> = new Set<Effect['type']>([
  'spawn', 'signal', 'reap-group', 'probe', 'probe-drain', 'set-blocking', 'open-generation', 'steer', 'shutdown-socket', 'close-socket', 'unlink-path',
]);

export interface WorkerLauncher {
  /** Re-read what a new generation runs (a reload); throws with the reason if it cannot. */
  prepare(generation: number): void;
  /** Start a worker for a slot of a generation on its socket; returns its pid (its process group id too). */
  spawn(generation: number, slot: number, onExit: (pid: number, code: number | null, signal: string | null) => void): number;
}

export interface SupervisorOptions {
  readonly policy: PoolPolicy;
  readonly sockets: PoolSockets;
  readonly launcher: WorkerLauncher;
  readonly logger: Logger;
  readonly onStarted: (state: PoolState) => void;
  /** A reload or scale request finished; requestIds name the control requests it answers. */
  readonly onRequestDone?: (requestIds: readonly number[], ok: boolean, message: string) => void;
  /** After every dispatch: the state and what it did (records, systemd notifications follow it). */
  readonly onDispatched?: (state: PoolState, effects: readonly Effect[]) => void;
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
    const done: Effect[] = [];
    try {
      for (let event = this.queue.shift(); event; event = this.queue.shift()) {
        const { state, effects } = reconcile(this.state, event, this.now());
        this.state = state;
        // Acts on processes and sockets first, then what reports them (log lines, callbacks) in their
        // own order: a respawn should not wait for a log write.
        for (const effect of effects) if (ACTS.has(effect.type)) this.execute(effect);
        for (const effect of effects) if (!ACTS.has(effect.type)) this.execute(effect);
        done.push(...effects);
      }
    } finally {
      this.dispatching = false;
    }
    this.arm();
    this.options.onDispatched?.(this.state, done);
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
    const { logger, sockets } = this.options;
    switch (effect.type) {
      case 'spawn':
        return this.spawn(effect.generation, effect.slot);
      case 'signal':
        this.signalGroup(effect.pgid, effect.signal);
        return;
      case 'reap-group':
        return this.reapGroup(effect.pgid);
      case 'probe': {
        const socket = sockets.get(effect.generation);
        const how = socket ? workerActivity(effect.pid, socket.identity)?.ready : undefined;
        if (how) this.queue.push({ type: 'listening', pid: effect.pid, how });
        return;
      }
      case 'probe-drain': {
        const socket = sockets.get(effect.generation);
        const generation = this.state.generations.find((g) => g.id === effect.generation);
        if (socket && generation) this.queue.push({ type: 'drain-status', generation: generation.id, ...observeDrain(generation, socket) });
        return;
      }
      case 'set-blocking':
        return sockets.setBlocking(effect.blocking);
      case 'open-generation':
        return this.openGeneration(effect.generation);
      case 'steer':
        return this.guarded(`steer new connections to generation ${effect.generation}`, () => sockets.steerTo(effect.generation));
      case 'shutdown-socket':
        return this.guarded(`shut down the socket of generation ${effect.generation}`, () => sockets.shutdown(effect.generation));
      case 'close-socket':
        return this.guarded(`close the socket of generation ${effect.generation}`, () => sockets.close(effect.generation));
      case 'unlink-path':
        return sockets.unlinkPublicPath();
      case 'log':
        return logger.log(effect.level, effect.message, effect.fields);
      case 'reopen-logs':
        return logger.reopen();
      case 'started':
        return this.options.onStarted(this.state);
      case 'reload-finished':
        return this.options.onRequestDone?.(effect.requestIds, effect.ok, effect.message);
      case 'exit':
        if (this.timer) clearTimeout(this.timer);
        return this.finish({
          code: effect.code,
          ...(effect.reason ? { reason: effect.reason } : {}),
          ...(effect.failedSlot !== undefined ? { failedSlot: effect.failedSlot } : {}),
        });
    }
  }

  private guarded(what: string, action: () => void): void {
    try {
      action();
    } catch (error) {
      this.options.logger.log('error', `unable to ${what}: ${describeError(error)}`);
    }
  }

  private openGeneration(generation: number): void {
    try {
      this.options.launcher.prepare(generation);
      this.options.sockets.open(generation);
      this.queue.push({ type: 'generation-opened', generation });
    } catch (error) {
      this.queue.push({ type: 'generation-failed', generation, reason: describeError(error) });
    }
  }

  private spawn(generation: number, slot: number): void {
    try {
      const pid = this.options.launcher.spawn(generation, slot, (exitedPid, code, signal) =>
        this.enqueue({ type: 'exit', pid: exitedPid, status: { code, signal } }),
      );
      this.queue.push({ type: 'spawned', generation, slot, pid });
    } catch (error) {
      this.queue.push({ type: 'spawn-failed', generation, slot, error: describeError(error) });
    }
  }

  private signalGroup(pgid: number, signal: string | 0): boolean {
    try {
      process.kill(-pgid, signal as NodeJS.Signals | 0);
      return true;
    } catch (error) {
      // ESRCH: the group is already gone, which is what we wanted.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
        this.options.logger.log('error', `unable to send ${signal} to process group ${pgid}: ${describeError(error)}`);
      }
      return false;
    }
  }

  /**
   * A group leader is gone; its children (php-cgi's, fcgiwrap -c's) would otherwise keep holding the
   * socket with nobody managing them. One kill(-pgid, 0) tells whether anyone is left, without a scan
   * of /proc before the respawn; the pgid cannot be reused while any member is alive.
   */
  private reapGroup(pgid: number): void {
    if (!this.signalGroup(pgid, 0)) return;
    this.options.logger.log('warn', `process group ${pgid} outlived its leader: SIGKILL to what is left of it`);
    this.signalGroup(pgid, 'SIGKILL');
  }
}
