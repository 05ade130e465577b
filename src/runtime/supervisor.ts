/**
 * The supervisor's loop: one queue of events, one dispatch that calls core's reconcileSupervisor(),
 * an executor for the effects it returns (a pool's own effects go to that pool's PoolRuntime), and one
 * timer armed for the earliest deadline. Callbacks (signals, exits, the timer, control requests, a
 * configuration load, a file watcher) only enqueue; an idle supervisor makes no wake-ups.
 */
import { performance } from 'node:perf_hooks';
import type { Configuration, PoolConfig } from '../config/types.js';
import type { Event } from '../core/events.js';
import { initialSupervisorState, nextSupervisorDeadline, reconcileSupervisor, type SupervisorState } from '../core/supervisor.js';
import type { SupervisorEffect, SupervisorEvent } from '../core/supervisor-events.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { useSocketPortReader } from '../os/connections.js';
import { socketLocalPort } from '../os/libc.js';
import { POOL_ACTS, type PoolRuntime, type PoolContext } from './pool-runtime.js';

useSocketPortReader(socketLocalPort);

/** How long a failed reload's answer waits for its failed worker's last stderr line. */
const OUTPUT_WAIT_MS = 500;

export interface SupervisorOptions {
  readonly configuration: Configuration;
  readonly procReadiness: boolean;
  /** The pools bound at start-up, by name (their key). */
  readonly pools: ReadonlyMap<string, (context: PoolContext) => PoolRuntime>;
  /** Bind an added pool's socket and open its log; rejects with the reason. */
  readonly openPool: (config: PoolConfig, context: PoolContext) => Promise<PoolRuntime>;
  /** Read the configuration again, as at start (reload, update). */
  readonly loadConfiguration: () => Promise<Configuration>;
  readonly logger: Logger;
  readonly onStarted: () => void;
  /** A reload, update or scale request finished. */
  readonly onRequestDone?: (requestIds: readonly number[], ok: boolean, message: string) => void;
  /** A pool is gone (stopped, removed): its log may be let go of. */
  readonly onPoolReleased?: (pool: PoolRuntime) => void;
  /** A configuration was loaded and applied (watchers follow it). */
  readonly onConfigurationLoaded?: (configuration: Configuration) => void;
  /** After every dispatch: the state and what it did (records, systemd notifications follow it). */
  readonly onDispatched?: (state: SupervisorState, effects: readonly SupervisorEffect[]) => void;
  /** Each event as it was applied, with the state before and after it (the status counters count from these). */
  readonly onReconciled?: (before: SupervisorState, event: SupervisorEvent, after: SupervisorState) => void;
  readonly now?: () => number;
  /** Where it starts from instead of idle: the running pools an in-place upgrade adopted (core/adopt.ts). */
  readonly initialState?: SupervisorState;
}

export interface SupervisorExit {
  readonly code: number;
  readonly reason?: string;
  /** The pool and slot whose failed starts ended start-up, so its last stderr line can be told. */
  readonly failedPool?: PoolRuntime;
  readonly failedSlot?: number;
}

export class Supervisor {
  private state: SupervisorState;
  private readonly pools = new Map<string, PoolRuntime>();
  /** Released pools, kept by name so a failed start-up can still tell a worker's last stderr line. */
  private readonly released = new Map<string, PoolRuntime>();
  private readonly queue: SupervisorEvent[] = [];
  /**
   * The next event to dispatch. Taken by index, not shift(): a pool's start queues one report per worker while
   * it is dispatched, and shift() moved the whole queue at every event (measured: 1024 workers started, 2.4 s of
   * the supervisor's time in shift(), issue 10).
   */
  private head = 0;
  private dispatching = false;
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  private finish!: (exit: SupervisorExit) => void;
  readonly finished: Promise<SupervisorExit>;
  private readonly now: () => number;

  constructor(private readonly options: SupervisorOptions) {
    this.state = options.initialState ?? initialSupervisorState(options.configuration, options.procReadiness);
    this.now = options.now ?? (() => performance.now());
    for (const [key, make] of options.pools) this.pools.set(key, make(this.contextFor(key)));
    this.finished = new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  get snapshot(): SupervisorState {
    return this.state;
  }

  pool(key: string): PoolRuntime | undefined {
    return this.pools.get(key);
  }

  start(): void {
    this.enqueue({ type: 'start' });
  }

  enqueue(event: SupervisorEvent): void {
    this.queue.push(event);
    if (!this.dispatching) this.dispatch();
  }

  private contextFor(key: string): PoolContext {
    return {
      logger: this.options.logger,
      report: (event: Event) => this.queue.push({ type: 'pool', pool: key, event }),
      enqueue: (event: Event) => this.enqueue({ type: 'pool', pool: key, event }),
      generations: () => this.state.pools.find((pool) => pool.key === key)?.state.generations ?? [],
    };
  }

  private dispatch(): void {
    this.dispatching = true;
    const done: SupervisorEffect[] = [];
    try {
      for (let event = this.take(); event; event = this.take()) {
        const before = this.state;
        const { state, effects } = reconcileSupervisor(before, event, this.now());
        this.state = state;
        this.options.onReconciled?.(before, event, state);
        // Acts on processes and sockets first, then what reports them (log lines, callbacks) in their
        // own order: a respawn should not wait for a log write.
        for (const effect of effects) if (isAct(effect)) this.execute(effect);
        for (const effect of effects) if (!isAct(effect)) this.execute(effect);
        done.push(...effects);
      }
    } finally {
      this.dispatching = false;
    }
    this.arm();
    this.options.onDispatched?.(this.state, done);
  }

  /** The next queued event, if any; the queue is emptied once every event in it was taken. */
  private take(): SupervisorEvent | undefined {
    if (this.head < this.queue.length) return this.queue[this.head++];
    this.queue.length = 0;
    this.head = 0;
    return undefined;
  }

  private arm(): void {
    const deadline = nextSupervisorDeadline(this.state);
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

  private execute(effect: SupervisorEffect): void {
    const { logger } = this.options;
    switch (effect.type) {
      case 'pool':
        return this.pools.get(effect.pool)?.execute(effect.effect);
      case 'load-config':
        return this.loadConfiguration();
      case 'open-pool':
        return this.openPool(effect.pool, effect.config);
      case 'configure-pool':
        return this.pools.get(effect.pool)?.configure(effect.config);
      case 'release-pool': {
        const pool = this.pools.get(effect.pool);
        if (!pool) return;
        this.pools.delete(effect.pool);
        if (this.state.phase !== 'running') this.released.set(effect.pool, pool);
        pool.release();
        return this.options.onPoolReleased?.(pool);
      }
      case 'log':
        return logger.log(effect.level, effect.message, effect.fields);
      case 'reopen-logs':
        return logger.reopen();
      case 'started':
        return this.options.onStarted();
      case 'request-done':
        return this.requestDone(effect);
      case 'exit': {
        if (this.timer) clearTimeout(this.timer);
        const failedPool = effect.failedPool !== undefined ? this.released.get(effect.failedPool) : undefined;
        return this.finish({
          code: effect.code,
          ...(effect.reason ? { reason: effect.reason } : {}),
          ...(failedPool ? { failedPool } : {}),
          ...(effect.failedSlot !== undefined ? { failedSlot: effect.failedSlot } : {}),
        });
      }
    }
  }

  /** A failed reload says what its failed worker last wrote to stderr, and where its log is, as a failed start does. */
  private requestDone(effect: Extract<SupervisorEffect, { type: 'request-done' }>): void {
    const failed = (effect.failedWorkers ?? []).flatMap((worker) => {
      const pool = this.pools.get(worker.pool);
      return pool ? [{ ...worker, runtime: pool }] : [];
    });
    if (failed.length === 0) return this.options.onRequestDone?.(effect.requestIds, effect.ok, effect.message);
    // Its last lines may still be in its pipe when it is counted as exited.
    void Promise.all(failed.map((worker) => worker.runtime.workers.outputEnded(worker.generation, worker.slot, OUTPUT_WAIT_MS))).then(() => {
      const said = failed.map((worker) => {
        const line = worker.runtime.workers.lastStderrLine(worker.generation, worker.slot);
        return `${line !== undefined ? `; its last stderr line: ${line}` : ''}; worker log: ${worker.runtime.output.location}`;
      });
      this.options.onRequestDone?.(effect.requestIds, effect.ok, `${effect.message}${said.join('')}`);
    });
  }

  private loadConfiguration(): void {
    this.options.loadConfiguration().then(
      (configuration) => {
        this.enqueue({ type: 'config-loaded', configuration });
        this.options.onConfigurationLoaded?.(configuration);
      },
      (error: unknown) => this.enqueue({ type: 'config-failed', reason: describeError(error) }),
    );
  }

  private openPool(key: string, config: PoolConfig): void {
    this.options.openPool(config, this.contextFor(key)).then(
      (pool) => {
        this.pools.set(key, pool);
        this.enqueue({ type: 'pool-opened', pool: key });
      },
      (error: unknown) => this.enqueue({ type: 'pool-open-failed', pool: key, reason: describeError(error) }),
    );
  }
}

/**
 * Everything but what only reports (log lines, answers, the exit) acts, in the order the core gave. Releasing a
 * pool waits for the report phase: the pool's own last lines (its last worker's exit) come in the same dispatch and
 * are written through it.
 */
function isAct(effect: SupervisorEffect): boolean {
  if (effect.type === 'pool') return POOL_ACTS.has(effect.effect.type);
  return !['log', 'started', 'request-done', 'exit', 'release-pool'].includes(effect.type);
}
