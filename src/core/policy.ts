/** How a pool behaves: everything core/ needs from the configuration, as plain data. */
import type { PoolConfig } from '../config/types.js';
/** The most workers a pool may have (scale, TTIN, the workers option). */
export const MAX_WORKERS = 4096;

export type BlockingMode = 'auto' | 'blocking' | 'nonblocking';

export type ProcessManager = 'static' | 'dynamic' | 'ondemand';

/** The process manager and recycling (core/manager.ts); absent: a static pool that never recycles. */
export interface ManagerPolicy {
  readonly pm: ProcessManager;
  /** dynamic: workers at start-up and at each reload; ondemand: 0; static: `workers`. */
  readonly startWorkers: number;
  readonly minSpare: number;
  readonly maxSpare: number;
  readonly idleTimeoutMs: number;
  /** A signal the program finishes its request on, or `generation` (fcgiwrap cuts a request on any signal). */
  readonly retireSignal: string;
  readonly maxLifetimeMs?: number;
  readonly maxLifetimeJitterMs: number;
  readonly maxRss?: number;
  readonly requestTimeoutMs?: number;
}

export interface PoolPolicy {
  readonly workers: number;
  /** Failed starts a slot may retry during start-up (and during a reload) before giving up. */
  readonly startRetries: number;
  /** Readiness fallback where /proc cannot tell: alive this long counts as ready. */
  readonly startSecsMs: number;
  /** A worker /proc never saw on the socket by then did not start. */
  readonly startTimeoutMs: number;
  readonly procReadiness: boolean;
  readonly stopSignal: string;
  readonly stopTimeoutMs: number;
  readonly blockingMode: BlockingMode;
  /** Draining workers get this long to finish before they are stopped as by TERM. */
  readonly gracefulTimeoutMs: number;
  /** After steering away from a socket, handshakes already under way may still land in its queue. */
  readonly steerGraceMs: number;
  /**
   * idle: a draining worker gets the stop signal once it holds no connection; signal: as soon as no new connection
   * can reach it, busy or not (it finishes what it holds on that signal: kept-alive connections never leave a
   * Node worker idle, so it would wait for --graceful-timeout).
   */
  readonly drain: 'idle' | 'signal';
  /** Unix sockets: a graceful stop unlinks the path first, so only the queue is left to drain. */
  readonly unixSocket: boolean;
  /** What an idle worker of a draining generation that shares its socket gets (retire-signal; the stop signal for `generation`). */
  readonly retireSignal: string;
  readonly manager?: ManagerPolicy;
}

/** The pool's behaviour as its configuration says; procReadiness is what this machine's /proc can tell. */
export function poolPolicy(config: PoolConfig, procReadiness: boolean): PoolPolicy {
  return {
    workers: config.workers,
    startRetries: config.startRetries,
    startSecsMs: config.startSecsMs,
    startTimeoutMs: config.startTimeoutMs,
    procReadiness,
    stopSignal: config.stopSignal,
    stopTimeoutMs: config.stopTimeoutMs,
    blockingMode: config.blocking,
    gracefulTimeoutMs: config.gracefulTimeoutMs,
    steerGraceMs: config.steerGraceMs,
    drain: config.drain ?? 'idle',
    unixSocket: config.address.kind === 'unix',
    retireSignal: config.retireSignal === undefined || config.retireSignal === 'generation' ? config.stopSignal : config.retireSignal,
    ...managerOf(config),
  };
}

/** Nothing for a static pool without recycling or request-timeout: it needs no /proc look and no queue watch. */
function managerOf(config: PoolConfig): { manager?: ManagerPolicy } {
  const pm = config.pm ?? 'static';
  if (pm === 'static' && config.maxLifetimeMs === undefined && config.maxRss === undefined && config.requestTimeoutMs === undefined) return {};
  const startWorkers = pm === 'dynamic' ? (config.startWorkers ?? 1) : pm === 'ondemand' ? 0 : config.workers;
  return {
    manager: {
      pm,
      startWorkers: Math.min(startWorkers, config.workers),
      minSpare: config.minSpare ?? 1,
      maxSpare: config.maxSpare ?? Math.min(3, config.workers),
      idleTimeoutMs: config.idleTimeoutMs ?? 10_000,
      retireSignal: config.retireSignal ?? config.stopSignal,
      ...(config.maxLifetimeMs !== undefined ? { maxLifetimeMs: config.maxLifetimeMs } : {}),
      maxLifetimeJitterMs: config.maxLifetimeJitterMs ?? 0,
      ...(config.maxRss !== undefined ? { maxRss: config.maxRss } : {}),
      ...(config.requestTimeoutMs !== undefined ? { requestTimeoutMs: config.requestTimeoutMs } : {}),
    },
  };
}
