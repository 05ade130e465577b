/**
 * A log destination that is a pipe, a FIFO or an inherited stdout/stderr: written through a non-blocking stream
 * (libuv's event loop), never fs.write, so a reader that stalls holds no libuv pool thread (DESIGN.md, "Traps in
 * our own dependencies"). A stalled reader is backpressure (see sink.ts); a reader that goes away (EPIPE) is a
 * fault: reported once, lines dropped and counted, and for a FIFO the path is opened again on a deadline until a
 * reader is back. Note: Node writes to a stdout/stderr that is a file or a terminal synchronously (Node docs,
 * "A note on process I/O"); pipes and sockets, such as journald's stream, go through the event loop.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import type { Writable } from 'node:stream';
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

/** `highWaterMark` applies to streams this module opens; an inherited stream keeps its own. */
export interface StreamSinkOptions extends SinkLimits, SinkFaultHandlers {
  /** Opens the stream again after a fault; absent: a failed stream stays failed (stdout/stderr). */
  readonly reopen?: () => Promise<Writable>;
  /** End the stream on end() (a FIFO we opened), or leave it open (process.stdout, process.stderr). */
  readonly endStream?: boolean;
}

/** Opens a FIFO for writing without blocking; fails with ENXIO while no process has it open for reading. */
export async function openFifoStream(path: string, highWaterMark = DEFAULT_HIGH_WATER_MARK): Promise<Writable> {
  const fd = await new Promise<number>((resolve, reject) => {
    const flags = fs.constants.O_WRONLY | fs.constants.O_NONBLOCK;
    fs.open(path, flags, (error, opened) => (error ? reject(error) : resolve(opened)));
  });
  // net.Socket passes its options on to stream.Duplex, which honours writableHighWaterMark (checked on Node 20;
  // @types/node's SocketConstructorOpts does not list it).
  const options: net.SocketConstructorOpts & { writableHighWaterMark: number } = {
    fd,
    readable: false,
    writable: true,
    writableHighWaterMark: highWaterMark,
  };
  return new net.Socket(options);
}

/** A sink on a FIFO at `path`; a start-up failure (no reader, no such FIFO) is a one-line error. */
export async function openFifoSink(path: string, options: StreamSinkOptions = {}): Promise<StreamSink> {
  try {
    const stream = await openFifoStream(path, options.highWaterMark);
    const reopen = (): Promise<Writable> => openFifoStream(path, options.highWaterMark);
    return new StreamSink(stream, { reopen, endStream: true, ...options });
  } catch (error) {
    const cause = error as NodeJS.ErrnoException;
    const hint = cause.code === 'ENXIO' ? '; no process is reading it yet' : '';
    throw new Error(`unable to open log FIFO ${path}: ${describeErrno(cause)}${hint}`, { cause });
  }
}

export class StreamSink extends EventEmitter implements LineSink {
  private readonly maxQueued: number;
  private readonly fault: FaultState;
  private stream: Writable | null;
  private needDrain = false;
  private ended = false;
  private totals = { writtenBytes: 0, droppedLines: 0, droppedBytes: 0 };

  constructor(
    stream: Writable,
    private readonly options: StreamSinkOptions = {},
  ) {
    super();
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.fault = new FaultState(options, options.retryMs ?? 1000, options.maxRetryMs ?? 10_000);
    this.stream = null;
    this.attach(stream);
  }

  /** After end() lines are dropped and counted: a late write must not crash the supervisor. */
  write(lines: Buffer | string): boolean {
    const buffer = toLines(lines);
    const stream = this.stream;
    if (stream === null || this.ended || this.fault.failing || stream.writableLength + buffer.length > this.maxQueued) {
      this.drop(buffer);
      return true;
    }
    const ok = stream.write(buffer, (error) => {
      if (!error) this.totals.writtenBytes += buffer.length;
    });
    // The stream's own high-water mark decides, since only its refusal is followed by its 'drain'.
    if (!ok) this.needDrain = true;
    return ok;
  }

  flush(): Promise<void> {
    const stream = this.stream;
    if (stream === null || stream.writableLength === 0) return Promise.resolve();
    // Writes complete in order: an empty write's callback runs after every write queued before it.
    return new Promise((resolve) => stream.write(Buffer.alloc(0), () => resolve()));
  }

  /** A pipe has no name to reopen: nothing to do. */
  reopen(): Promise<void> {
    return Promise.resolve();
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.fault.cancelRetry();
    await this.flush();
    const stream = this.stream;
    this.stream = null;
    if (stream === null || !this.options.endStream) return;
    await new Promise<void>((resolve) => {
      stream.once('close', resolve);
      stream.end();
    });
  }

  stats(): SinkStats {
    const queuedBytes = this.stream?.writableLength ?? 0;
    return { ...this.totals, queuedBytes, rotations: 0, failing: this.fault.failing };
  }

  private attach(stream: Writable): void {
    this.stream = stream;
    stream.on('drain', () => this.release());
    stream.on('error', (error: NodeJS.ErrnoException) => this.failed(stream, error));
  }

  private failed(stream: Writable, error: NodeJS.ErrnoException): void {
    if (this.stream !== stream) return;
    // What the stream still held is lost with it; count it as dropped (an estimate in lines).
    this.totals.droppedBytes += stream.writableLength;
    this.stream = null;
    stream.destroy();
    this.fault.fail(error, () => this.retry());
    this.release();
  }

  private retry(): void {
    const reopen = this.options.reopen;
    if (reopen === undefined || this.ended) return;
    reopen().then(
      (stream) => {
        if (this.ended) {
          stream.destroy();
          return;
        }
        this.attach(stream);
        this.fault.succeeded();
      },
      (error: NodeJS.ErrnoException) => this.fault.fail(error, () => this.retry()),
    );
  }

  private drop(buffer: Buffer): void {
    const lines = countLines(buffer);
    this.totals.droppedLines += lines;
    this.totals.droppedBytes += buffer.length;
    this.fault.drop(lines, buffer.length);
  }

  /** Producers waiting for 'drain' go on when the stream has room, or when it failed (nothing blocks then). */
  private release(): void {
    if (!this.needDrain) return;
    this.needDrain = false;
    this.emit('drain');
  }
}
