/**
 * Bytes from a worker's pipe → lines. Policy (the README's "Worker output" section says the same):
 * - A line is what ends with `\n`; a line split across reads stays one line (the tail is carried over).
 * - A line longer than `maxLineBytes` (default 16 KiB, counted in bytes as read) is emitted in pieces of at most
 *   that size, cut at a UTF-8 character boundary; every piece but the last has kind 'cut', which the formats mark.
 *   Nothing is dropped, and the carried-over tail never holds more than one limit's worth of bytes.
 * - At end of stream an unterminated last line is emitted with kind 'eof'.
 * - Output is always valid UTF-8 without NUL: invalid sequences and NUL bytes become U+FFFD (what
 *   `Buffer.toString('utf8')` does for invalid input), so binary output cannot break a text or JSON log file,
 *   nor make grep call it binary. Other control characters (tab, `\r`, ANSI colours) are kept as written.
 *
 * Lines are handed out as (buffer, start, end) ranges without copying; for kind 'newline', `buffer[end]` is the
 * `\n` that ended the line, so consecutive lines of one read can be written as one slice (raw format).
 * A splitter made with `runs: true` hands consecutive lines within the limit over as one range of kind 'lines'
 * (`buffer[start, end]` holds whole lines, `buffer[end]` the last one's `\n`): found a limit at a time with
 * lastIndexOf, not a line at a time, for a consumer that needs no line of its own (raw format).
 */
import { isUtf8 } from 'node:buffer';

export const MAX_LINE_BYTES = 16 * 1024;

export type LineEnd = 'newline' | 'cut' | 'eof' | 'lines';

/** `buffer[start, end)` is the line without its newline (kind 'lines': whole lines but the last `\n`): valid UTF-8, no NUL. */
export type LineHandler = (buffer: Buffer, start: number, end: number, kind: LineEnd) => void;

export const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

function isClean(buffer: Buffer): boolean {
  return buffer.indexOf(0) === -1 && isUtf8(buffer);
}

/** Replaces invalid UTF-8 and NUL with U+FFFD; a `\n` is never consumed by a replacement. */
function sanitize(buffer: Buffer): Buffer {
  return isClean(buffer) ? buffer : Buffer.from(buffer.toString('utf8').replaceAll('\0', '\uFFFD'));
}

/** A cut position at or before `at` that does not fall inside a multi-byte character (at most 3 steps back). */
function charBoundary(buffer: Buffer, start: number, at: number): number {
  let cut = at;
  while (cut > start && at - cut < 3 && ((buffer[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
  return ((buffer[cut] ?? 0) & 0xc0) === 0x80 || cut === start ? at : cut;
}

export class LineSplitter {
  private carry: Buffer = EMPTY;

  constructor(
    private readonly maxLineBytes: number = MAX_LINE_BYTES,
    private readonly runs = false,
  ) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 4) {
      throw new Error(`invalid line limit ${maxLineBytes}: expected a whole number of bytes, at least 4`);
    }
  }

  /** Bytes carried over from an unterminated line. */
  get pendingBytes(): number {
    return this.carry.length;
  }

  push(chunk: Buffer, onLine: LineHandler): void {
    const firstNewline = chunk.indexOf(NEWLINE);
    if (firstNewline === -1) {
      this.carry = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
      this.cutCarry(onLine);
      return;
    }
    let from = 0;
    if (this.carry.length > 0) {
      // The carried line ends in this chunk: join just that line (copying at most one limit plus one line).
      const joined = sanitize(Buffer.concat([this.carry, chunk.subarray(0, firstNewline + 1)]));
      this.carry = EMPTY;
      this.emitLines(joined, onLine);
      from = firstNewline + 1;
    }
    const lastNewline = chunk.lastIndexOf(NEWLINE);
    if (lastNewline >= from) this.emitLines(sanitize(chunk.subarray(from, lastNewline + 1)), onLine);
    if (lastNewline + 1 < chunk.length) {
      this.carry = chunk.subarray(lastNewline + 1);
      this.cutCarry(onLine);
    }
  }

  /** End of stream: the unterminated last line, if any, with kind 'eof'. */
  end(onLine: LineHandler): void {
    if (this.carry.length === 0) return;
    const last = sanitize(this.carry);
    this.carry = EMPTY;
    onLine(last, 0, last.length, 'eof');
  }

  /** `block` holds whole sanitized lines, each ending with `\n`. */
  private emitLines(block: Buffer, onLine: LineHandler): void {
    if (this.runs) return this.emitRuns(block, onLine);
    let start = 0;
    while (start < block.length) {
      const newline = block.indexOf(NEWLINE, start);
      this.emitLine(block, start, newline, onLine);
      start = newline + 1;
    }
  }

  /** One line ending at `newline`, in pieces of at most the limit: every piece but the last is 'cut'. */
  private emitLine(block: Buffer, start: number, newline: number, onLine: LineHandler): void {
    let lineStart = start;
    while (newline - lineStart > this.maxLineBytes) {
      const cut = charBoundary(block, lineStart, lineStart + this.maxLineBytes);
      onLine(block, lineStart, cut, 'cut');
      lineStart = cut;
    }
    onLine(block, lineStart, newline, 'newline');
  }

  /**
   * As emitLines, a run of lines at a time: the last newline within a limit of a line's start ends a run of lines
   * that are all within the limit; none there means the line at `start` is over the limit and is cut.
   */
  private emitRuns(block: Buffer, onLine: LineHandler): void {
    let runStart = 0;
    let start = 0;
    while (start < block.length) {
      const newline = block.lastIndexOf(NEWLINE, start + this.maxLineBytes);
      if (newline >= start) {
        start = newline + 1;
        continue;
      }
      if (start > runStart) onLine(block, runStart, start - 1, 'lines');
      const end = block.indexOf(NEWLINE, start);
      this.emitLine(block, start, end, onLine);
      start = end + 1;
      runStart = start;
    }
    if (start > runStart) onLine(block, runStart, start - 1, 'lines');
  }

  /** Keeps the carried tail within the limit by emitting cut pieces of an over-long unterminated line. */
  private cutCarry(onLine: LineHandler): void {
    while (this.carry.length > this.maxLineBytes) {
      const cut = charBoundary(this.carry, 0, this.maxLineBytes);
      const piece = sanitize(this.carry.subarray(0, cut));
      onLine(piece, 0, piece.length, 'cut');
      // Copy the rest so the original read buffer is not kept alive by a small tail.
      this.carry = Buffer.from(this.carry.subarray(cut));
    }
  }
}
