/** wrk as the load generator: its summary, parsed. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { findTool } from './tools.js';

export interface WrkResult {
  readonly requests: number;
  readonly non2xx: number;
  readonly socketErrors: number;
  readonly maxLatencyMs: number;
  readonly output: string;
}

function milliseconds(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

export function parseWrk(output: string): WrkResult {
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const latency = /Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)/.exec(output);
  return { requests, non2xx, socketErrors, maxLatencyMs: latency ? milliseconds(latency[1] as string, latency[2] as string) : NaN, output };
}

export function runWrk(url: string, seconds: number, connections = 4): Promise<WrkResult> {
  const wrk = findTool('wrk');
  if (!wrk) throw new Error('wrk is not installed');
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 20) * 1000);
    // 'close', not 'exit': the report may still be in the pipe when wrk has exited.
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`wrk exited ${code}:\n${output}`));
      else resolve(parseWrk(output));
    });
  });
}

/** No request failed (non-2xx or a socket error) and enough were made to mean something; `log` explains a failure. */
export function assertClean(name: string, result: WrkResult, pool: { log(): string }): void {
  assert.ok(result.requests > 50, `${name}: only ${result.requests} requests\n${result.output}`);
  assert.equal(result.non2xx, 0, `${name}: non-2xx responses\n${result.output}\n${pool.log()}`);
  assert.equal(result.socketErrors, 0, `${name}: socket errors\n${result.output}\n${pool.log()}`);
}
