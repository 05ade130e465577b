/**
 * What `status`, `stop` and `probe` print, written straight to fd 1 and 2. process.stdout and process.stderr are
 * streams built on first use, and building one loads Node's stream modules: printing one line through
 * process.stdout cost 9.1 M instructions more than through writeSync (callgrind, stdout a file: 97.0 M against
 * 88.0 M; a script that does nothing, 87.9 M), a fifth of a `status` of a stopped instance above `node -e 0`.
 * writeSync also waits on a full blocking pipe, where the stream queues the rest and process.exit drops it:
 * `probe` of a 1 MiB answer into `| (sleep 0.3; wc -c)` printed 65,536 bytes before. A write that fails (a full
 * non-blocking pipe: EAGAIN; a closed one: EPIPE) hands the rest, and everything printed after it, to the stream;
 * `flushed()` says when the stream has written it all, for the caller to wait for before it exits.
 */
import { writeSync } from 'node:fs';

const toStream = { 1: false, 2: false };
const streamed: Promise<void>[] = [];

function print(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text);
  let written = 0;
  if (!toStream[fd]) {
    try {
      while (written < bytes.length) written += writeSync(fd, bytes, written);
      return;
    } catch {
      toStream[fd] = true;
    }
  }
  const stream = fd === 1 ? process.stdout : process.stderr;
  // Called once written, or with the error (which the stream also emits, as it always did).
  streamed.push(new Promise((resolve) => stream.write(bytes.subarray(written), () => resolve())));
}

/** Resolves once everything handed to a stream has been written (at once when nothing was). */
export async function flushed(): Promise<void> {
  await Promise.all(streamed);
}

export function printOut(text: string): void {
  print(1, text);
}

export function printError(text: string): void {
  print(2, text);
}
