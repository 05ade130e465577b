/**
 * The supervisor's end of a worker's ready pipe (`ready: notify`): the worker writes READY=1 on a line once it has
 * warmed up. The pipe is the supervisor's own and the worker can only say "ready" with it, for itself: other lines
 * are ignored (each reported once), and past READY_PIPE_LIMIT bytes without READY=1, or when the worker closes
 * its end without writing it, the worker will not become ready and is reported so. Once settled the stream is
 * paused but left open until the worker exits: a worker that writes again then fills a buffer instead of being
 * killed by SIGPIPE (measured: a shell's second `echo READY=1 >&3` after the reader closed died of it).
 */
import type { Readable } from 'node:stream';
import { READY_LINE } from '../config/ready-fd.js';

/** Bytes a worker may write before READY=1: a line or two of mistakes, not a stream. */
export const READY_PIPE_LIMIT = 4096;
/** A closed pipe is reported this long after, unless the worker's exit came meanwhile and says more. */
const EXIT_GRACE_MS = 200;
const READY = READY_LINE.trimEnd();

export interface ReadyListener {
  ready(): void;
  /** It cannot become ready any more through the pipe: why. */
  failed(reason: string): void;
  /** A line that is not READY=1. */
  noise(line: string): void;
}

export class ReadyChannel {
  private received = 0;
  private partial = '';
  private settled = false;
  private exited = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: Readable,
    private readonly listener: ReadyListener,
  ) {
    stream.on('data', (chunk: Buffer) => this.data(chunk));
    stream.on('end', () => this.ended());
    // A reset is the same as a close for what the worker can still say.
    stream.on('error', () => this.ended());
  }

  /** The worker exited: its exit status tells why it was not ready; the pipe is of no more use. */
  close(): void {
    this.exited = true;
    clearTimeout(this.timer);
    this.stream.destroy();
  }

  private data(chunk: Buffer): void {
    if (this.settled) return;
    this.received += chunk.length;
    // latin1: every byte is one character, so a split multibyte sequence cannot hide a newline or a READY=1.
    const lines = (this.partial + chunk.toString('latin1')).split('\n');
    this.partial = (lines.pop() ?? '').slice(0, READY_PIPE_LIMIT);
    for (const line of lines) {
      if (line === READY) {
        this.settle();
        this.listener.ready();
        return;
      }
      this.listener.noise(line);
    }
    if (this.received > READY_PIPE_LIMIT) {
      this.settle();
      this.listener.failed(`wrote ${this.received} bytes to its ready pipe without a READY=1 line`);
    }
  }

  private ended(): void {
    if (this.settled || this.exited || this.timer) return;
    this.timer = setTimeout(() => {
      if (this.settled || this.exited) return;
      this.settle();
      this.listener.failed('closed its ready pipe without writing READY=1');
    }, EXIT_GRACE_MS);
  }

  private settle(): void {
    this.settled = true;
    this.stream.pause();
  }
}
