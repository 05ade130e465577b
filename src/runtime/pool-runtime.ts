/**
 * One pool's hands: its sockets (one per generation), its workers and its worker log. It executes the
 * effects core/pool.ts decides for this pool and reports what it saw only as events; it never decides.
 */
import { getPriority } from 'node:os';
import type { PoolConfig } from '../config/types.js';
import type { Effect } from '../core/effects.js';
import type { Event } from '../core/events.js';
import type { Generation } from '../core/generation.js';
import { describeError } from '../errors.js';
import type { Logger, LogFields } from '../log/logger.js';
import type { PoolOutput } from '../log/setup.js';
import type { ListenSocket } from '../os/listen-socket.js';
import { PoolSockets } from '../os/pool-sockets.js';
import { formatAddress } from '../os/sockaddr.js';
import { workerReadiness } from '../os/worker-activity.js';
import { observeDrain } from './drain-probe.js';
import { executeManagerEffect, forgetQueue } from './manager-effects.js';
import { StartPriority } from './start-priority.js';
import { WorkerPool } from './worker-launcher.js';

/** Acts on processes and sockets; the rest (log lines) reports them and comes after, in its own order. */
export const POOL_ACTS: ReadonlySet<Effect['type']> = new Set<Effect['type']>([
  'spawn', 'signal', 'reap-group', 'probe', 'probe-drain', 'set-blocking', 'open-generation', 'steer', 'shutdown-socket', 'close-socket', 'unlink-path',
  // report-stuck reads /proc of a worker about to be signalled: an act, before the signal that follows it.
  'watch-queue', 'sample', 'report-stuck',
]);

export interface PoolContext {
  readonly logger: Logger;
  /** An event for this pool, to be dispatched after the current one (callbacks that come later use it too). */
  readonly report: (event: Event) => void;
  /** An event from a callback (a child's exit): dispatched at once. */
  readonly enqueue: (event: Event) => void;
  /** The pool's generations as the core sees them now (drain probes read them). */
  readonly generations: () => readonly Generation[];
}

export function unixSocketOptions(config: PoolConfig): { mode: number; uid?: number; gid?: number } {
  return {
    mode: config.socketMode,
    ...(config.socketUid !== undefined ? { uid: config.socketUid } : {}),
    ...(config.socketGid !== undefined ? { gid: config.socketGid } : {}),
  };
}

export class PoolRuntime {
  readonly sockets: PoolSockets;
  readonly workers: WorkerPool;
  private readonly startPriority = new StartPriority();
  /** What the pool's next generation runs (a reloaded configuration). */
  private latest: PoolConfig;

  constructor(
    config: PoolConfig,
    socket: ListenSocket,
    readonly output: PoolOutput,
    private readonly context: PoolContext,
    /** 1 at start-up; an upgrade's adopted generation keeps its number. */
    firstGeneration = 1,
  ) {
    this.latest = config;
    this.sockets = new PoolSockets(socket, config.backlog, unixSocketOptions(config), firstGeneration);
    this.workers = new WorkerPool(this.sockets, output);
    this.workers.assign(firstGeneration, config);
  }

  get name(): string {
    return this.latest.name;
  }

  get config(): PoolConfig {
    return this.latest;
  }

  configure(config: PoolConfig): void {
    this.latest = config;
  }

  execute(effect: Effect): void {
    switch (effect.type) {
      case 'spawn':
        return this.spawn(effect.generation, effect.slot);
      case 'signal':
        signalGroup(effect.pgid, effect.signal, this.context.logger);
        return;
      case 'reap-group':
        return this.reapGroup(effect.pgid, effect.signal, effect.force === true);
      case 'probe': {
        const socket = this.sockets.get(effect.generation);
        const how = socket ? workerReadiness(effect.pid, socket.identity) : undefined;
        if (how) this.context.report({ type: 'listening', pid: effect.pid, how });
        return;
      }
      case 'probe-drain': {
        const socket = this.sockets.get(effect.generation);
        const generation = this.context.generations().find((g) => g.id === effect.generation);
        if (socket && generation) this.context.report({ type: 'drain-status', generation: generation.id, ...observeDrain(generation, socket) });
        return;
      }
      case 'set-blocking':
        return this.sockets.setBlocking(effect.blocking);
      case 'open-generation':
        return this.openGeneration(effect.generation);
      case 'steer':
        this.guarded(`steer new connections to generation ${effect.generation}`, () => this.sockets.steerTo(effect.generation));
        // Serving now: the new workers get their own CPU priority back (start-priority.ts).
        return this.startPriority.restore(effect.generation);
      case 'shutdown-socket':
        return this.guarded(`shut down the socket of generation ${effect.generation}`, () => this.sockets.shutdown(effect.generation));
      case 'watch-queue':
      case 'sample':
      case 'report-stuck':
        return executeManagerEffect(effect, {
          name: this.name,
          sockets: this.sockets,
          generations: this.context.generations,
          enqueue: this.context.enqueue,
          report: this.context.report,
          log: (level, message, fields) => this.log(level, message, fields),
        });
      case 'close-socket': {
        const fd = this.sockets.get(effect.generation)?.fd;
        // A socket the next generation shares (systemd's) keeps its queue watch.
        if (fd !== undefined && !this.sockets.shares(effect.generation)) forgetQueue(this.name, fd);
        this.workers.forget(effect.generation);
        this.startPriority.restore(effect.generation);
        return this.guarded(`close the socket of generation ${effect.generation}`, () => this.sockets.close(effect.generation));
      }
      case 'unlink-path': {
        const path = formatAddress(this.latest.address);
        if (this.sockets.unlinkPublicPath()) return this.log('info', `graceful stop: socket path ${path} removed`);
        // Nothing can stop connections reaching systemd's socket: each worker is retired once seen idle, and what
        // is queued when the last one goes waits there for the next start (README: Socket activation).
        return this.log('info', `graceful stop: ${path} is systemd's socket and stays: new connections queue there for the workers until they retire, then for the next start`);
      }
      case 'log':
        return this.log(effect.level, effect.message, effect.fields);
      default:
        // started, reload-finished, exit and reopen-logs are the supervisor's (core/supervisor.ts).
        return;
    }
  }

  /** The pool is gone: release what is left of its sockets. */
  release(): void {
    forgetQueue(this.name);
    this.sockets.closeAll();
  }

  private log(level: Parameters<Logger['log']>[0], message: string, fields?: LogFields): void {
    // A single pool from flags is `default`: its lines read as they always did.
    if (this.name === 'default') return this.context.logger.log(level, message, fields);
    this.context.logger.log(level, `pool ${this.name}: ${message}`, { ...fields, pool: this.name });
  }

  private guarded(what: string, action: () => void): void {
    try {
      action();
    } catch (error) {
      this.log('error', `unable to ${what}: ${describeError(error)}`);
    }
  }

  private openGeneration(generation: number): void {
    try {
      this.sockets.configure(this.latest.backlog, unixSocketOptions(this.latest));
      this.workers.assign(generation, this.latest);
      this.sockets.open(generation);
      this.context.report({ type: 'generation-opened', generation, ...(this.sockets.shares(generation) ? { shared: true } : {}) });
    } catch (error) {
      this.workers.forget(generation);
      this.context.report({ type: 'generation-failed', generation, reason: describeError(error) });
    }
  }

  private spawn(generation: number, slot: number): void {
    try {
      const { enqueue } = this.context;
      const worker = this.workers.spawn(generation, slot, {
        exit: (pid, code, signal) => enqueue({ type: 'exit', pid, status: { code, signal } }),
        notified: (pid) => enqueue({ type: 'notified', pid }),
        notifyFailed: (pid, reason) => enqueue({ type: 'notify-failed', pid, reason }),
        notifyNoise: (pid, line) => enqueue({ type: 'notify-noise', pid, line }),
      });
      this.lowerWhileStarting(generation, worker.pid);
      this.context.report({ type: 'spawned', generation, slot, pid: worker.pid, ...(worker.notify ? { notify: true } : {}) });
    } catch (error) {
      this.context.report({ type: 'spawn-failed', generation, slot, error: describeError(error) });
    }
  }

  /**
   * A reload's new worker (another generation serves meanwhile) starts at a lower CPU priority until its
   * generation is steered to, so that the serving workers keep the cores (start-priority.ts). Not on a socket the
   * generations share (systemd's): nothing is steered there, the new workers serve as soon as they start.
   */
  private lowerWhileStarting(generation: number, pid: number): void {
    if (this.sockets.shares(generation)) return;
    if (!this.context.generations().some((g) => g.phase === 'serving' && g.id !== generation)) return;
    const nice = this.workers.configOf(generation)?.nice;
    const own = getPriority(0);
    // A pool with a `nice` of its own starts through `nice -n`, which adds to whatever niceness the worker has when
    // it runs (before or after ours: a race), so the value to give back would not be known: left as it is.
    if (nice !== undefined && nice !== own) return;
    this.startPriority.lower(generation, pid, own);
  }

  /**
   * A group leader is gone; its children (php-cgi's, fcgiwrap -c's) would otherwise keep holding the
   * socket with nobody managing them. One kill(-pgid, 0) tells whether anyone is left, without a scan
   * of /proc before the respawn; the pgid cannot be reused while any member is alive. A master's
   * children normally exit a moment after it: they get the stop signal and the stop timeout quietly,
   * and only what is still there then is killed, and said.
   */
  private reapGroup(pgid: number, signal: string | undefined, force: boolean): void {
    if (!signalGroup(pgid, 0, this.context.logger)) {
      this.context.report({ type: 'group-gone', pgid });
      return;
    }
    if (force) {
      this.log('warn', `process group ${pgid} outlived its leader by the stop timeout: SIGKILL to what is left of it`);
      signalGroup(pgid, 'SIGKILL', this.context.logger);
      return;
    }
    if (signal !== undefined) signalGroup(pgid, signal, this.context.logger);
    this.context.report({ type: 'group-lingers', pgid });
  }
}

export function signalGroup(pgid: number, signal: string | 0, logger: Logger): boolean {
  try {
    process.kill(-pgid, signal as NodeJS.Signals | 0);
    return true;
  } catch (error) {
    // ESRCH: the group is already gone, which is what we wanted.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') logger.log('error', `unable to send ${signal} to process group ${pgid}: ${describeError(error)}`);
    return false;
  }
}
