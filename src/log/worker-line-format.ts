/**
 * How a worker's output line is written to the worker log (`--worker-log-format`):
 * - text: `2026-11-24T10:00:00.123Z worker=3 pid=4211 stdout: the line`
 * - json: `{"time":"2026-11-24T10:00:00.123Z","worker":3,"pid":4211,"stream":"stdout","line":"the line"}`
 * - raw:  `the line`
 * A piece of an over-long line that continues in the next record (line-splitter.ts) is marked: text writes the
 * stream as `stdout+`, json adds `"cut":true`, raw ends the piece with a backslash (as a shell continuation line;
 * raw cannot be unambiguous, since a line may end with a backslash of its own).
 * The time is when the supervisor read the chunk holding the line: one clock read per read, not per line.
 */
import type { LineEnd, LineHandler } from './line-splitter.js';

import type { WorkerLogFormat } from '../config/log-values.js';

export { WORKER_LOG_FORMATS, type WorkerLogFormat } from '../config/log-values.js';
export type WorkerStreamName = 'stdout' | 'stderr';

export interface LineOrigin {
  /** The pool's name, when the instance has named pools (`pool=www`). */
  readonly pool?: string;
  readonly workerIndex: number;
  readonly pid: number;
  readonly stream: WorkerStreamName;
}

/** Collects the formatted lines of one read; take() returns them as buffers of whole lines (none: nothing). */
export interface LineFormatter {
  /** Takes runs of whole lines (kind 'lines'): the splitter need not find every line (line-splitter.ts). */
  readonly runs: boolean;
  /** Formats with a time: call start() with the read's time before add(). */
  readonly timed: boolean;
  start(time: string): void;
  readonly add: LineHandler;
  take(): readonly Buffer[];
}

const NEWLINE = Buffer.from('\n');
const RAW_CUT = Buffer.from('\\\n');

export function createLineFormatter(format: WorkerLogFormat, origin: LineOrigin): LineFormatter {
  switch (format) {
    case 'raw':
      return new RawFormatter();
    case 'text':
      return new TextFormatter(origin);
    case 'json':
      return new JsonFormatter(origin);
  }
}

const NONE: readonly Buffer[] = [];

function concat(pieces: Buffer[]): readonly Buffer[] {
  if (pieces.length === 0) return NONE;
  const joined = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
  pieces.length = 0;
  return [joined];
}

/**
 * Consecutive whole lines of one read are passed on as a single slice of the read buffer, uncopied; the slices of
 * one read (a line carried over from the previous read, then the rest) are handed over as they are, not joined:
 * joining copied every byte once more (bench/log-rotation.ts: ~0.1 CPU s per 100 MB). Only a cut or unterminated
 * line is copied, to carry its marker.
 */
class RawFormatter implements LineFormatter {
  readonly runs = true;
  readonly timed = false;
  private pieces: Buffer[] = [];
  private run: Buffer | null = null;
  private runStart = 0;
  private runEnd = 0;

  start(): void {}

  readonly add: LineHandler = (buffer, start, end, kind) => {
    const whole = kind === 'newline' || kind === 'lines';
    if (whole && buffer === this.run && start === this.runEnd) {
      this.runEnd = end + 1;
      return;
    }
    this.closeRun();
    if (whole) {
      this.run = buffer;
      this.runStart = start;
      this.runEnd = end + 1;
      return;
    }
    this.pieces.push(Buffer.concat([buffer.subarray(start, end), kind === 'cut' ? RAW_CUT : NEWLINE]));
  };

  take(): readonly Buffer[] {
    this.closeRun();
    if (this.pieces.length === 0) return NONE;
    const out = this.pieces;
    this.pieces = [];
    return out;
  }

  private closeRun(): void {
    if (this.run !== null) this.pieces.push(this.run.subarray(this.runStart, this.runEnd));
    this.run = null;
  }
}

class TextFormatter implements LineFormatter {
  readonly runs = false;
  readonly timed = true;
  private readonly pieces: Buffer[] = [];
  private readonly prefix: string;
  private header = Buffer.alloc(0);
  private cutHeader = Buffer.alloc(0);

  constructor(private readonly origin: LineOrigin) {
    this.prefix = `${origin.pool !== undefined ? ` pool=${origin.pool}` : ''} worker=${origin.workerIndex} pid=${origin.pid} ${origin.stream}`;
  }

  start(time: string): void {
    this.header = Buffer.from(`${time}${this.prefix}: `);
    this.cutHeader = Buffer.from(`${time}${this.prefix}+: `);
  }

  readonly add: LineHandler = (buffer, start, end, kind: LineEnd) => {
    if (kind === 'newline') this.pieces.push(this.header, buffer.subarray(start, end + 1));
    else this.pieces.push(kind === 'cut' ? this.cutHeader : this.header, buffer.subarray(start, end), NEWLINE);
  };

  take(): readonly Buffer[] {
    return concat(this.pieces);
  }
}

class JsonFormatter implements LineFormatter {
  readonly runs = false;
  readonly timed = true;
  private text = '';
  private prefix = '';

  constructor(private readonly origin: LineOrigin) {}

  start(time: string): void {
    const { pool, workerIndex, pid, stream } = this.origin;
    const named = pool !== undefined ? `"pool":${JSON.stringify(pool)},` : '';
    this.prefix = `{"time":"${time}",${named}"worker":${workerIndex},"pid":${pid},"stream":"${stream}","line":`;
  }

  readonly add: LineHandler = (buffer, start, end, kind: LineEnd) => {
    const line = JSON.stringify(buffer.toString('utf8', start, end));
    this.text += `${this.prefix}${line}${kind === 'cut' ? ',"cut":true}' : '}'}\n`;
  };

  take(): readonly Buffer[] {
    if (this.text === '') return NONE;
    const out = Buffer.from(this.text);
    this.text = '';
    return [out];
  }
}
