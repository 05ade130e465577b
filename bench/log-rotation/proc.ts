/** /proc readings and small process helpers for the log-rotation benchmark. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** Clock ticks per second for /proc/PID/stat (getconf CLK_TCK is 100 on every Linux we run). */
const CLOCK_TICKS = 100;

/** User + system CPU seconds of a process, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3, utime field 14, stime field 15 (proc(5)).
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A /proc/PID/status size in MB: VmHWM is the peak resident set, VmRSS the current one. */
export function statusMb(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Direct children of `pid` (all threads). */
export function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    const text = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text !== '') pids.push(...text.split(' ').map(Number));
  }
  return pids;
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reads stdin (or the FIFO at argv[2], opened blocking so it waits for the writer) at RATE bytes/s (argv[1]),
 * copying into OUT (argv[3]); run with `node -e`. Atomics.wait paces it without a timer loop.
 */
export const SLOW_READER = `
const fs = require('fs');
const rate = Number(process.argv[1]);
const input = process.argv[2] === '-' ? 0 : fs.openSync(process.argv[2], 'r');
const out = fs.openSync(process.argv[3], 'w');
const buffer = Buffer.alloc(16384);
const pause = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  let n;
  try { n = fs.readSync(input, buffer); } catch (error) {
    if (error.code === 'EAGAIN') { Atomics.wait(pause, 0, 0, 5); continue; }
    throw error;
  }
  if (n === 0) break;
  fs.writeSync(out, buffer, 0, n);
  Atomics.wait(pause, 0, 0, (n / rate) * 1000);
}`;

/** Starts the slow reader on `input` ('-' for a stdin pipe). */
export function startSlowReader(rate: number, input: string, out: string): ChildProcess {
  const stdin = input === '-' ? 'pipe' : 'ignore';
  return spawn(process.execPath, ['-e', SLOW_READER, String(rate), input, out], { stdio: [stdin, 'ignore', 'inherit'] });
}

export function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
