/**
 * A log file that rotates by size, by renaming: PATH → PATH.1 → … → PATH.N (N = `maxFiles`, the oldest is
 * overwritten by the rename), then a new PATH. Never copy-and-truncate: PM2's pm2-logrotate does that and lost
 * up to 357,663 of 1,000,000 lines in 5 of 21 runs (issue 4).
 *
 * - One operation (write, rename chain, open) is in flight at a time: file I/O runs on libuv's 4 pool threads,
 *   and a stalled disk must hold one of them, not four (DESIGN.md, "Traps in our own dependencies").
 * - Queued lines are gathered into one writev() of up to 1 MiB.
 * - Rotation happens only between lines, before a line that would take the file past `maxSize`, so a file never
 *   exceeds `maxSize` unless it holds a single longer line. Rotation is decided from our own byte count.
 * - After the renames nothing is written until the new PATH is open, so nothing is written to a file that was
 *   renamed away. `reopen()` (logrotate `create` mode) swaps to a fresh PATH the same way.
 * - Every open (start, reopen, rotation) goes through safe-open.ts: a directory or file a worker's user could
 *   have swapped is refused. At start that is an error (LogFileRefusedError); once running it is reported once
 *   (`onRefused`), the previous file stays in use, and size rotation waits for the next open that succeeds.
 * - Backpressure, faults and drops: see sink.ts.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import {
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_QUEUED,
  FaultState,
  countLines,
  describeErrno,
  toLines,
  type LineSink,
  type SinkFaultHandlers,
  type SinkLimits,
  type SinkStats,
} from './sink.js';
import { LogFileRefusedError, closeFd, openLogFile, renameForRotation, type OpenedLogFile } from './safe-open.js';
import { DEFAULT_COALESCING, WriteGate, type WriteCoalescing } from './write-coalescing.js';

export interface RotatingFileOptions extends SinkLimits, SinkFaultHandlers {
  readonly path: string;
  /** Rotate before a line would take the file past this many bytes; 0 or absent: never rotate by size. */
  readonly maxSize?: number;
  /** Rotated files kept (PATH.1 … PATH.N), as logrotate's `rotate N`; 0 removes PATH on rotation. Default 5. */
  readonly maxFiles?: number;
  /** Mode of files it creates (default 0o640: worker output may hold secrets). */
  readonly mode?: number;
  /** A reopen or rotation found PATH unsafe (safe-open.ts): told once per attempt; the previous file stays in use. */
  readonly onRefused?: (error: LogFileRefusedError) => void;
  /** Gather lines into fewer, larger writes (write-coalescing.ts; default DEFAULT_COALESCING); IMMEDIATE: never wait. */
  readonly coalescing?: WriteCoalescing;
}

const MAX_BATCH_BYTES = 1024 * 1024;
const MAX_BATCH_BUFFERS = 256;

type Operation = 'open' | 'rotate';

/**
 * Opens PATH at once, so that start-up fails with a clear message when the directory is missing or read-only,
 * and with a LogFileRefusedError when it is not safe to write (safe-open.ts).
 */
export async function openRotatingFile(options: RotatingFileOptions): Promise<RotatingFile> {
  try {
    return new RotatingFile(options, await openLogFile(options.path, options.mode ?? 0o640));
  } catch (error) {
    if (error instanceof LogFileRefusedError) throw error;
    const cause = error as NodeJS.ErrnoException;
    throw new Error(`unable to open log file ${options.path}: ${describeErrno(cause)}`, { cause });
  }
}

export class RotatingFile extends EventEmitter implements LineSink {
  private readonly maxSize: number;
  private readonly maxFiles: number;
  private readonly highWaterMark: number;
  private readonly maxQueued: number;
  private readonly fault: FaultState;
  private readonly queue: Buffer[] = [];
  private readonly gate: WriteGate | null;
  private queuedBytes = 0;
  /** The file written to, and its directory; null after end(). */
  private held: OpenedLogFile | null;
  private size = 0;
  /** A rotation or reopen was refused: write on to the file held, past maxSize, until an open succeeds. */
  private rotationHeld = false;
  private busy = false;
  private reopenWanted = false;
  private needDrain = false;
  private ending = false;
  private closed = false;
  private accepted = 0;
  private settled = 0;
  private waiters: { readonly target: number; readonly resolve: () => void }[] = [];
  private totals = { writtenBytes: 0, droppedLines: 0, droppedBytes: 0, rotations: 0 };
  private reopenRequests = 0;
  private reopenWaiters: { readonly request: number; readonly resolve: () => void }[] = [];

  /** Use openRotatingFile(). */
  constructor(
    private readonly options: RotatingFileOptions,
    opened: OpenedLogFile,
  ) {
    super();
    this.maxSize = options.maxSize ?? 0;
    this.maxFiles = options.maxFiles ?? 5;
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.fault = new FaultState(options, options.retryMs ?? 1000, options.maxRetryMs ?? 10_000);
    this.held = opened;
    this.size = opened.size;
    const coalescing = options.coalescing ?? DEFAULT_COALESCING;
    this.gate = coalescing.minBytes > 0 ? new WriteGate(coalescing, this.highWaterMark, () => this.writeDue()) : null;
  }

  /** After end() lines are dropped and counted: a late write must not crash the supervisor. */
  write(lines: Buffer | string): boolean {
    const buffer = toLines(lines);
    if (buffer.length === 0) return true;
    this.accepted += buffer.length;
    if (this.closed || this.ending || this.queuedBytes + buffer.length > this.maxQueued) {
      this.drop(buffer);
      return true;
    }
    this.queue.push(buffer);
    this.queuedBytes += buffer.length;
    this.pump();
    if (this.fault.failing || this.queuedBytes < this.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  flush(): Promise<void> {
    if (this.settled >= this.accepted) return Promise.resolve();
    this.writeDue();
    return new Promise((resolve) => this.waiters.push({ target: this.accepted, resolve }));
  }

  /** Resolves when an open that started after this call has finished (or failed, which `onError` reports). */
  reopen(): Promise<void> {
    if (this.closed || this.ending) return Promise.resolve();
    this.reopenRequests += 1;
    this.reopenWanted = true;
    const request = this.reopenRequests;
    const done = new Promise<void>((resolve) => this.reopenWaiters.push({ request, resolve }));
    if (this.fault.waiting) this.fault.cancelRetry();
    this.pump();
    return done;
  }

  async end(): Promise<void> {
    if (this.closed) return;
    this.ending = true;
    this.pump();
    await this.flush();
    this.closed = true;
    this.fault.cancelRetry();
    this.gate?.cancel();
    const held = this.held;
    this.held = null;
    if (held !== null) {
      closeFd(held.dirFd);
      await new Promise<void>((resolve) => fs.close(held.fd, () => resolve()));
    }
  }

  stats(): SinkStats {
    return { ...this.totals, queuedBytes: this.queuedBytes, failing: this.fault.failing };
  }

  /** Starts the next operation unless one is in flight or a retry is pending. */
  private pump(): void {
    if (this.busy || this.closed) return;
    if (this.fault.waiting) {
      if (this.ending) this.dropQueue();
      return;
    }
    if (this.held === null) return;
    if (this.reopenWanted) return this.run('open');
    if (this.queue.length === 0) return this.settleWaiters();
    if (this.gate !== null && !this.ending && !this.gate.open(this.queuedBytes, this.settled)) return;
    const batch = this.takeBatch();
    if (batch === null) return this.run('rotate');
    this.busy = true;
    fs.writev(this.held.fd, batch, (error, written) => this.afterWrite(batch, error, written));
  }

  /** What was accepted so far is written without waiting for more. */
  private writeDue(): void {
    this.gate?.due(this.accepted);
    this.pump();
  }

  /** Takes queued whole lines that fit before the size limit; null: rotate first. */
  private takeBatch(): Buffer[] | null {
    const budget = this.maxSize > 0 && !this.rotationHeld ? this.maxSize - this.size : Number.POSITIVE_INFINITY;
    const batch: Buffer[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && bytes < MAX_BATCH_BYTES && batch.length < MAX_BATCH_BUFFERS) {
      const head = this.queue[0] as Buffer;
      if (bytes + head.length <= budget) {
        batch.push(this.queue.shift() as Buffer);
        bytes += head.length;
        continue;
      }
      // Take the lines of head that still fit; a file that is still empty takes one over-long line whole.
      const room = budget - bytes;
      let end = room > 0 ? head.lastIndexOf(10, room - 1) + 1 : 0;
      if (end === 0 && batch.length === 0 && this.size === 0) end = head.indexOf(10) + 1;
      if (end > 0) {
        batch.push(head.subarray(0, end));
        this.queue[0] = head.subarray(end);
      }
      break;
    }
    return batch.length > 0 ? batch : null;
  }

  private afterWrite(batch: Buffer[], error: NodeJS.ErrnoException | null, written: number): void {
    this.busy = false;
    let done = error ? 0 : written;
    const total = batch.reduce((sum, buffer) => sum + buffer.length, 0);
    this.size += done;
    this.totals.writtenBytes += done;
    this.settled += done;
    this.queuedBytes -= done;
    // Whatever was not written (a short write, or a failed one) goes back to the head of the queue, in order.
    const rest: Buffer[] = [];
    for (const buffer of batch) {
      if (done >= buffer.length) done -= buffer.length;
      else {
        rest.push(buffer.subarray(done));
        done = 0;
      }
    }
    this.queue.unshift(...rest);
    if (error) {
      this.fault.fail(error, () => this.pump());
      if (this.ending) this.dropQueue();
      return;
    }
    if (total > 0) this.fault.succeeded();
    this.settleWaiters();
    this.maybeDrain();
    this.pump();
  }

  private run(operation: Operation): void {
    this.busy = true;
    const seen = this.reopenRequests;
    const held = this.held as OpenedLogFile;
    const step = operation === 'rotate' ? renameForRotation(held, this.options.path, this.maxFiles) : Promise.resolve();
    step
      .then(() => openLogFile(this.options.path, this.options.mode ?? 0o640))
      .then(
        (opened) => {
          this.busy = false;
          if (this.closed) return void [opened.fd, opened.dirFd].forEach(closeFd);
          if (operation === 'rotate') this.totals.rotations += 1;
          this.use(opened);
          this.reopened(seen);
          this.pump();
        },
        (error: NodeJS.ErrnoException) => {
          this.busy = false;
          this.reopened(seen);
          if (error instanceof LogFileRefusedError) {
            // Not a fault of the destination that time mends: keep writing to the file held, and say so once.
            this.rotationHeld = true;
            this.options.onRefused?.(error);
            this.pump();
            return;
          }
          this.fault.fail(error, () => this.pump());
          // While failing nothing applies backpressure: release producers waiting for 'drain'.
          this.maybeDrain();
          if (this.ending) this.dropQueue();
        },
      );
  }

  /** Settles reopen() calls made before the open that just finished began. */
  private reopened(seen: number): void {
    if (this.reopenRequests === seen) this.reopenWanted = false;
    const pending = this.reopenWaiters.filter((waiter) => waiter.request > seen);
    for (const waiter of this.reopenWaiters) if (waiter.request <= seen) waiter.resolve();
    this.reopenWaiters = pending;
  }

  /** Makes `opened` current (its size counts: an existing file is appended to), closing the previous one. */
  private use(opened: OpenedLogFile): void {
    const previous = this.held;
    this.held = opened;
    this.size = opened.size;
    this.rotationHeld = false;
    if (previous !== null) [previous.fd, previous.dirFd].forEach(closeFd);
  }

  private drop(buffer: Buffer): void {
    const lines = countLines(buffer);
    this.totals.droppedLines += lines;
    this.totals.droppedBytes += buffer.length;
    this.settled += buffer.length;
    this.fault.drop(lines, buffer.length);
    this.settleWaiters();
  }

  private dropQueue(): void {
    for (const buffer of this.queue.splice(0)) {
      this.queuedBytes -= buffer.length;
      this.drop(buffer);
    }
  }

  private maybeDrain(): void {
    if (!this.needDrain || (this.queuedBytes >= this.highWaterMark && !this.fault.failing)) return;
    this.needDrain = false;
    this.emit('drain');
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const pending = this.waiters.filter((waiter) => waiter.target > this.settled);
    for (const waiter of this.waiters) if (waiter.target <= this.settled) waiter.resolve();
    this.waiters = pending;
  }
}
