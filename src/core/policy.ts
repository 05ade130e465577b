/** How a pool behaves: everything core/ needs from the configuration, as plain data. */
import type { PoolConfig } from '../config/types.js';
/** The most workers a pool may have (scale, TTIN, the workers option). */
export const MAX_WORKERS = 4096;

export type BlockingMode = 'auto' | 'blocking' | 'nonblocking';

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
  /** Unix sockets: a graceful stop unlinks the path first, so only the queue is left to drain. */
  readonly unixSocket: boolean;
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
    unixSocket: config.address.kind === 'unix',
  };
}
