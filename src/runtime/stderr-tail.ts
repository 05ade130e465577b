/**
 * Worker stderr in the foreground: passed through to ours, with the last line kept so that a
 * worker that fails to start can be reported with what it said.
 */
import type { Readable } from 'node:stream';

const TAIL_LIMIT = 512;

export class StderrTail {
  private partial = '';
  private last = '';
  readonly ended: Promise<void>;

  constructor(stream: Readable, forward: (chunk: Buffer) => void) {
    this.ended = new Promise((resolve) => {
      stream.on('data', (chunk: Buffer) => {
        forward(chunk);
        this.remember(chunk.toString('utf8'));
      });
      stream.once('end', resolve);
      stream.once('error', () => resolve());
      stream.once('close', resolve);
    });
  }

  private remember(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = (lines.pop() ?? '').slice(-TAIL_LIMIT);
    const complete = lines.filter((line) => line.trim() !== '');
    if (complete.length > 0) this.last = (complete[complete.length - 1] as string).slice(-TAIL_LIMIT);
  }

  /** The last non-empty line the worker wrote to stderr, if any. */
  get lastLine(): string {
    return this.partial.trim() !== '' ? this.partial : this.last;
  }
}
