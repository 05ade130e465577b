/**
 * What the reload and throughput benchmarks need of a pool of workers, whoever supervises it: start it
 * on its own port, point nginx at it, reload it (signal → done, as the tool itself defines done), tell
 * which processes are the supervisor (whose CPU time is its overhead), and stop it leaving nothing.
 */
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Upstream } from '../../test/helpers/nginx.js';
import { othersCpuMeter } from './others.js';
import type { Ledger } from './process.js';

export interface ReloadSample {
  /** From the signal (or the command's start) to the tool's own "done". */
  readonly ms: number;
  readonly ok: boolean;
  readonly note?: string;
}

export interface Pool {
  readonly label: string;
  /** The command line that was run, for the report. */
  readonly command: string;
  /** The pool's own address on 127.0.0.1. */
  readonly port: number;
  /** What nginx forwards to: FastCGI with the script, or HTTP. */
  readonly upstream: Upstream;
  start(): Promise<void>;
  /** Trigger one reload the tool's documented way and wait until the tool says it is done. */
  reload(): Promise<ReloadSample>;
  /** The supervising processes (not the workers), for CPU accounting. */
  supervisorPids(): number[];
  stop(): Promise<string>;
}

export interface PoolContext {
  readonly ledger: Ledger;
  /** Where the pool may put its files (removed by the benchmark). */
  readonly dir: string;
  readonly port: number;
}

/** Polls `check` every `intervalMs` until it returns true; false at the deadline. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 2): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await delay(intervalMs);
  }
}

/** A failed reload sample carrying the reason. */
export function failedReload(started: number, error: unknown): ReloadSample {
  const text = error instanceof Error ? error.message : String(error);
  return { ms: performance.now() - started, ok: false, note: text.split('\n')[0] ?? text };
}

/** One HTTP GET to 127.0.0.1:port, true on a 200 within 2 s; no agent, so the connection is closed after it. */
export function answers(port: number, path = '/'): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path, agent: false, timeout: 2_000 }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode === 200));
      response.once('error', () => resolve(false));
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(false));
  });
}

/** User + system CPU seconds of these processes so far (those that are gone count 0). */
export function cpuSecondsOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** Jiffies of the whole machine from /proc/stat: all, and those not idle (idle and iowait excluded). */
export function machineJiffies(): { total: number; busy: number } {
  const fields = (readFileSync('/proc/stat', 'latin1').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { total, busy: total - idle };
}

export interface Cost {
  /** CPU seconds of the pool's supervising process(es). */
  readonly supervisorCpuS: number;
  /** Share of the machine's CPU time that was not idle. */
  readonly machineBusyPct: number;
  /** CPU seconds used by processes that are not the benchmark's (bench/servers/others.ts). */
  readonly othersCpuS: number;
}

/** What a stretch of time cost; call the function returned at its end. */
export function costMeter(pool: Pool, ledger: Ledger): () => Cost {
  const pids = pool.supervisorPids();
  const cpu0 = cpuSecondsOf(pids);
  const m0 = machineJiffies();
  const others = othersCpuMeter(ledger);
  return () => {
    const othersCpuS = others();
    const m1 = machineJiffies();
    const span = m1.total - m0.total;
    return {
      supervisorCpuS: cpuSecondsOf(pids) - cpu0,
      machineBusyPct: span > 0 ? (100 * (m1.busy - m0.busy)) / span : Number.NaN,
      othersCpuS,
    };
  };
}
