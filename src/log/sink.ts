/**
 * What every log destination offers the code that feeds it (worker output capture, the winston transport).
 *
 * Policy, the same for files and pipes:
 * - Backpressure: `write()` queues and returns false once `highWaterMark` bytes are queued; the producer waits
 *   for 'drain' (worker output pauses the worker's pipe, so a fast worker is held back by its own slow sink
 *   only). A producer that ignores it cannot grow memory past `maxQueued`: lines beyond it are dropped and
 *   counted.
 * - Faults (ENOSPC, EACCES, a vanished directory, a closed pipe): reported once through `onError`, not per line.
 *   While failing the sink never applies backpressure, so workers keep serving: it keeps up to `maxQueued`
 *   bytes, drops and counts whole lines past that, and retries on a deadline (doubling from `retryMs` up to
 *   `maxRetryMs`). The first successful write reports `onRecover` with what was dropped.
 * - Lines are never cut: a line is queued, written or dropped whole.
 */
import type { EventEmitter } from 'node:events';

export interface SinkStats {
  readonly writtenBytes: number;
  readonly droppedLines: number;
  readonly droppedBytes: number;
  readonly queuedBytes: number;
  readonly rotations: number;
  readonly failing: boolean;
}

export interface SinkRecovery {
  readonly error: NodeJS.ErrnoException;
  readonly downMs: number;
  readonly droppedLines: number;
  readonly droppedBytes: number;
}

export interface SinkFaultHandlers {
  /** Called once when the sink starts failing (again after a recovery). */
  readonly onError?: (error: NodeJS.ErrnoException) => void;
  /** Called once when writing works again. */
  readonly onRecover?: (recovery: SinkRecovery) => void;
}

export interface SinkLimits {
  /** `write()` returns false from this many queued bytes on (default 256 KiB). */
  readonly highWaterMark?: number;
  /** Lines that would take the queue past this are dropped and counted (default 8 MiB). */
  readonly maxQueued?: number;
  /** First retry after a fault (default 1000 ms), doubling up to `maxRetryMs` (default 10 s). */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

export interface LineSink extends Pick<EventEmitter, 'on' | 'once' | 'off'> {
  /** Queues whole lines (a missing final `\n` is added); false: wait for 'drain' before writing more. */
  write(lines: Buffer | string): boolean;
  /** Resolves when everything queued so far has been written (or dropped while failing). */
  flush(): Promise<void>;
  /** Reopens the destination by name (logrotate `create` mode, SIGUSR1); no-op for inherited streams. */
  reopen(): Promise<void>;
  /** Flushes (giving up on a failing destination: the rest is dropped and counted) and closes. */
  end(): Promise<void>;
  stats(): SinkStats;
}

export const DEFAULT_HIGH_WATER_MARK = 256 * 1024;
export const DEFAULT_MAX_QUEUED = 8 * 1024 * 1024;

/** Counts lines in a buffer of whole lines (used only for dropped data). */
export function countLines(buffer: Buffer): number {
  let count = 0;
  for (let at = buffer.indexOf(10); at !== -1; at = buffer.indexOf(10, at + 1)) count += 1;
  return count;
}

export function toLines(lines: Buffer | string): Buffer {
  const buffer = typeof lines === 'string' ? Buffer.from(lines) : lines;
  return buffer.length === 0 || buffer[buffer.length - 1] === 10 ? buffer : Buffer.concat([buffer, Buffer.from('\n')]);
}

/** `EACCES (permission denied)` from an fs error. */
export function describeErrno(error: NodeJS.ErrnoException): string {
  const detail = /^[A-Z]+: ([^,]+)/.exec(error.message)?.[1];
  return error.code ? `${error.code}${detail ? ` (${detail})` : ''}` : error.message;
}

/** Tracks one fault episode: report once, count drops, back off, report recovery. */
export class FaultState {
  private error: NodeJS.ErrnoException | null = null;
  private since = 0;
  private delay: number;
  private dropped = { lines: 0, bytes: 0 };
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly handlers: SinkFaultHandlers,
    private readonly retryMs: number,
    private readonly maxRetryMs: number,
  ) {
    this.delay = retryMs;
  }

  get failing(): boolean {
    return this.error !== null;
  }

  get waiting(): boolean {
    return this.timer !== null;
  }

  /** Records a fault and arms one retry; reports only the first fault of an episode. */
  fail(error: NodeJS.ErrnoException, retry: () => void): void {
    if (this.error === null) {
      this.error = error;
      this.since = Date.now();
      this.delay = this.retryMs;
      this.handlers.onError?.(error);
    } else {
      this.delay = Math.min(this.delay * 2, this.maxRetryMs);
    }
    this.cancelRetry();
    // unref: a pending log retry alone must not keep the supervisor (or a test) alive.
    this.timer = setTimeout(() => {
      this.timer = null;
      retry();
    }, this.delay).unref();
  }

  drop(lines: number, bytes: number): void {
    this.dropped.lines += lines;
    this.dropped.bytes += bytes;
  }

  /** A write succeeded: ends the episode, if any. */
  succeeded(): void {
    if (this.error === null) return;
    const recovery: SinkRecovery = {
      error: this.error,
      downMs: Date.now() - this.since,
      droppedLines: this.dropped.lines,
      droppedBytes: this.dropped.bytes,
    };
    this.error = null;
    this.dropped = { lines: 0, bytes: 0 };
    this.handlers.onRecover?.(recovery);
  }

  cancelRetry(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
