/**
 * wrk with its latency distribution (--latency): what test/helpers/wrk.ts parses (requests, non-2xx,
 * socket errors, max latency) plus requests/s and the 50th and 99th percentiles. Only 127.0.0.1 URLs.
 */
import { spawn } from 'node:child_process';
import { parseWrk, type WrkResult } from '../../test/helpers/wrk.js';

export interface WrkRun extends WrkResult {
  readonly url: string;
  readonly seconds: number;
  readonly connections: number;
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-2xx responses plus socket errors (connect, read, write, timeout). */
  readonly failed: number;
}

function milliseconds(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

function percentile(output: string, p: string): number {
  const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
  return match ? milliseconds(match[1] as string, match[2] as string) : Number.NaN;
}

export function parseWrkRun(output: string, url: string, seconds: number, connections: number): WrkRun {
  const base = parseWrk(output);
  return {
    ...base,
    url,
    seconds,
    connections,
    requestsPerSec: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN),
    p50Ms: percentile(output, '50'),
    p99Ms: percentile(output, '99'),
    failed: base.non2xx + base.socketErrors,
  };
}

/** One wrk run, 1 thread; killed if it outlives its duration by 20 s. `script`: a Lua file (e.g. paths in turn). */
export function wrk(program: string, url: string, seconds: number, connections: number, script?: string): Promise<WrkRun> {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error(`wrk: refusing a target that is not 127.0.0.1: ${url}`);
  return new Promise((resolve, reject) => {
    const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '--latency', ...(script ? ['-s', script] : []), url];
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 20) * 1000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`wrk ${args.join(' ')} ended with ${signal ?? `exit status ${code}`}:\n${output}`));
      else resolve(parseWrkRun(output, url, seconds, connections));
    });
  });
}
