/**
 * Captures one of a worker's pipes (stdout or stderr) into a log sink, line by line.
 *
 * Backpressure policy: the pipe is read in paused mode (`'readable'` + `read()`), and reading stops while the
 * sink says it is full (`write()` false) until its 'drain'. The kernel pipe then fills and the worker blocks in
 * write(2): a worker is held back only by its own sink, and the supervisor holds at most the stream's buffer
 * plus one formatted read per pipe. A failing sink never says it is full (sink.ts), so workers keep serving.
 *
 * A worker's output is complete only at the pipe's 'end', which can come after the child's 'exit' (a
 * grandchild may still hold the pipe, and data can still be unread): `done` resolves there, after the partial
 * last line was handed to the sink. Call `sink.flush()` to wait for the disk.
 */
import type { Readable } from 'node:stream';
import { LineSplitter, MAX_LINE_BYTES, NEWLINE, type LineHandler } from './line-splitter.js';
import type { LineSink } from './sink.js';
import { createLineFormatter, type WorkerLogFormat, type WorkerStreamName } from './worker-line-format.js';

export interface CaptureOptions {
  readonly stream: Readable;
  readonly streamName: WorkerStreamName;
  readonly pool?: string;
  readonly workerIndex: number;
  readonly pid: number;
  readonly sink: LineSink;
  readonly format: WorkerLogFormat;
  /** Lines longer than this many bytes are split and marked (default 16 KiB). */
  readonly maxLineBytes?: number;
}

export interface CaptureResult {
  /** Bytes read from the pipe. */
  readonly bytes: number;
  /** Pieces marked as cut because their line was longer than the limit. */
  readonly cutPieces: number;
  /** Set when the pipe failed rather than ended; what was read before is written all the same. */
  readonly error?: Error;
}

export interface WorkerOutputCapture {
  /** Resolves on the pipe's 'end' (or error/close), after the last line was handed to the sink. */
  readonly done: Promise<CaptureResult>;
  /** The last non-empty line read so far (for "worker failed to start: <last stderr line>"). */
  lastLine(): string | undefined;
}

export function captureWorkerOutput(options: CaptureOptions): WorkerOutputCapture {
  const { stream, sink } = options;
  const { workerIndex, pid, streamName } = options;
  const formatter = createLineFormatter(options.format, { ...(options.pool !== undefined ? { pool: options.pool } : {}), workerIndex, pid, stream: streamName });
  // raw takes runs of lines whole: the splitter looks a limit at a time, not a line at a time, and no object is
  // made per line. Paid for in peak RSS during a flood (bench/log-rotation.ts: ~59 → ~70 MB alone, up to ~86 MB
  // in the bench): with fewer small allocations V8 scavenges less often and dead 64 KiB read buffers wait longer.
  const splitter = new LineSplitter(options.maxLineBytes ?? MAX_LINE_BYTES, formatter.runs);
  const counts = { bytes: 0, cutPieces: 0 };
  let last: { buffer: Buffer; start: number; end: number } | null = null;
  let lastText: string | undefined;
  let waiting = false;

  const onLine: LineHandler = (buffer, start, end, kind) => {
    if (kind === 'cut') counts.cutPieces += 1;
    // A run's last non-empty line, found now: a run of blank lines after a line must not hide it (the last stderr
    // line is what a failed start is reported with).
    const [lineStart, lineEnd] = kind === 'lines' ? lastLineOf(buffer, start, end) : [start, end];
    if (lineEnd > lineStart) last = { buffer, start: lineStart, end: lineEnd };
    formatter.add(buffer, start, end, kind);
  };

  /** Formats what the splitter produced and hands it to the sink; false: the sink is full. */
  const emit = (): boolean => {
    if (last !== null) lastText = last.buffer.toString('utf8', last.start, last.end);
    last = null;
    // Each buffer holds whole lines (a sink never cuts one); every one is written, full or not: the caller waits.
    let room = true;
    for (const out of formatter.take()) room = sink.write(out) && room;
    return room;
  };

  const pump = (): void => {
    while (!waiting) {
      const chunk: unknown = stream.read();
      if (chunk === null) return;
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      counts.bytes += buffer.length;
      if (formatter.timed) formatter.start(new Date().toISOString());
      splitter.push(buffer, onLine);
      if (!emit()) {
        waiting = true;
        sink.once('drain', () => {
          waiting = false;
          pump();
        });
      }
    }
  };

  const done = new Promise<CaptureResult>((resolve) => {
    let finished = false;
    const finish = (error?: Error): void => {
      if (finished) return;
      finished = true;
      stream.off('readable', pump);
      if (formatter.timed) formatter.start(new Date().toISOString());
      splitter.end(onLine);
      emit();
      resolve(error ? { ...counts, error } : { ...counts });
    };
    stream.on('readable', pump);
    stream.once('end', () => finish());
    stream.once('error', (error: Error) => finish(error));
    // 'close' without 'end': the pipe was destroyed; what was read is still written.
    stream.once('close', () => finish());
  });

  return { done, lastLine: () => lastText };
}

/** The last non-empty line of a run of whole lines `buffer[start, end)` (its last `\n` at `end`); empty: none. */
function lastLineOf(buffer: Buffer, start: number, end: number): readonly [number, number] {
  let lineEnd = end;
  while (lineEnd > start) {
    const lineStart = Math.max(start, buffer.lastIndexOf(NEWLINE, lineEnd - 1) + 1);
    if (lineStart < lineEnd) return [lineStart, lineEnd];
    lineEnd = lineStart - 1;
  }
  return [start, start];
}
