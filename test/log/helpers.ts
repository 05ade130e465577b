/** Shared by the log tests: flooder children, waiting on conditions, reading and checking rotated files. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/log → test/fixtures (the fixture is plain JavaScript, not compiled). */
export const FLOODER = path.resolve(here, '../../../test/fixtures/flooder.mjs');

export interface Flooder {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal) at the child's 'exit'. */
  readonly exited: Promise<number | NodeJS.Signals>;
}

const children = new Set<ChildProcess>();

/** Registers a child that killChildren() must kill if the test did not end it. */
export function trackChild<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Starts the flooder fixture with its stdout and stderr as pipes to this process. */
export function startFlooder(args: readonly string[]): Flooder {
  const child = spawn(process.execPath, [FLOODER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`unable to start ${FLOODER}`);
  children.add(child);
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? -1);
    });
  });
  return { child, pid: child.pid, exited };
}

/** Kills every child a test started that is still running, by pid (test cleanup). */
export function killChildren(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

/** Polls `condition` until it holds or `timeoutMs` passes; the error names what was awaited. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fcgi-spawn-${prefix}-`));
}

/** The flooder's line `ID STREAM SEQ FILLER`, LENGTH bytes (see test/fixtures/flooder.mjs). */
export function expectedLine(id: string, stream: string, seq: number, length: number): string {
  const head = `${id} ${stream} ${seq} `;
  const filler = String.fromCharCode(97 + (seq % 26)).repeat(Math.max(0, length - head.length));
  return `${head}${filler}`.slice(0, Math.max(length, head.length));
}

/** PATH.N … PATH.1, PATH: the retained files, oldest first. */
export function retainedFiles(file: string, maxFiles: number): string[] {
  const names: string[] = [];
  for (let index = maxFiles; index >= 1; index -= 1) names.push(`${file}.${index}`);
  names.push(file);
  return names.filter((name) => fs.existsSync(name));
}

/** The lines of the retained files in order (oldest first), each file required to end with a newline. */
export function readRetained(file: string, maxFiles: number): string[] {
  const lines: string[] = [];
  for (const name of retainedFiles(file, maxFiles)) {
    const text = fs.readFileSync(name, 'utf8');
    if (text.length > 0 && !text.endsWith('\n')) throw new Error(`${name} does not end with a newline`);
    lines.push(...text.split('\n').slice(0, -1));
  }
  return lines;
}

export interface Tally {
  /** Lines seen per `ID STREAM`, by sequence number. */
  readonly seen: Map<string, Map<number, number>>;
  readonly malformed: string[];
}

/** Counts raw-format flooder lines; a line that is not exactly the expected one is malformed (cut or joined). */
export function tally(lines: readonly string[], length: number): Tally {
  const seen = new Map<string, Map<number, number>>();
  const malformed: string[] = [];
  for (const line of lines) {
    const [id, stream, seqText] = line.split(' ', 3);
    const seq = Number(seqText);
    if (id === undefined || stream === undefined || line !== expectedLine(id, stream, seq, length)) {
      malformed.push(line);
      continue;
    }
    const key = `${id} ${stream}`;
    const bySeq = seen.get(key) ?? new Map<number, number>();
    bySeq.set(seq, (bySeq.get(seq) ?? 0) + 1);
    seen.set(key, bySeq);
  }
  return { seen, malformed };
}

/**
 * Checks that the sequence numbers of one writer form one contiguous range ending at `count - 1`, each exactly
 * once: older lines may have rotated out, but within what is retained nothing is missing or repeated.
 */
export function checkContiguousTail(bySeq: ReadonlyMap<number, number> | undefined, count: number): string | null {
  if (bySeq === undefined || bySeq.size === 0) return 'no lines';
  const first = Math.min(...bySeq.keys());
  for (let seq = first; seq < count; seq += 1) {
    const times = bySeq.get(seq) ?? 0;
    if (times !== 1) return `line ${seq} present ${times} times (retained range ${first}..${count - 1})`;
  }
  return bySeq.size === count - first ? null : `unexpected sequence numbers beyond ${count - 1}`;
}
