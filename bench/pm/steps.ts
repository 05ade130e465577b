/**
 * A stepped load on one pool through its nginx: idle, then wrk for a few seconds at each connection count, then
 * idle again, while the pool's workers are counted (bench/pm/workers.ts). Per step: wrk's p99 and failures, the
 * workers at its end and at most, and how long the pool took to have one worker per connection (at most its
 * `workers`); over the whole run, the supervising process's CPU time.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { costMeter, type Cost, type Pool } from '../servers/pool.js';
import type { Ledger } from '../servers/process.js';
import { wrk, type WrkRun } from '../servers/wrk.js';
import { countWorkers, timeToReach, within } from './workers.js';

export interface Step {
  /** 0: idle (no load) for `seconds`. */
  readonly connections: number;
  readonly seconds: number;
}

export interface StepResult extends Step {
  readonly load?: WrkRun;
  readonly workersAtEnd: number;
  readonly workersMost: number;
  /** Milliseconds from the step's start until the pool had min(connections, workers) workers; NaN: not within the step. */
  readonly grownMs: number;
}

export interface SteppedRun extends Cost {
  readonly label: string;
  readonly command: string;
  readonly steps: readonly StepResult[];
  /** From the first loaded step's start until the pool had all its workers; NaN: never. */
  readonly fullMs: number;
  readonly failed: number;
}

/** The issue's load: idle, 5 s each at 8, 32 and 64 connections, idle (long enough to see the pool shrink back). */
export function issueSteps(idleBefore: number, stepSeconds: number, idleAfter: number, connections: readonly number[]): Step[] {
  return [{ connections: 0, seconds: idleBefore }, ...connections.map((c) => ({ connections: c, seconds: stepSeconds })), { connections: 0, seconds: idleAfter }];
}

/**
 * Run `steps` against `url` (nginx in front of `pool`, started by the caller); `workers` is the pool's maximum.
 * `leaders`: the pool's workers lead their own process groups (fcgi-spawn), recorded as such in the ledger.
 */
export async function steppedRun(pool: Pool, wrkPath: string, url: string, steps: readonly Step[], workers: number, ledger: Ledger, leaders: boolean): Promise<SteppedRun> {
  const [supervisor] = pool.supervisorPids();
  if (supervisor === undefined) throw new Error(`${pool.label}: not running`);
  const meter = costMeter(pool, ledger);
  const counter = countWorkers(supervisor, ledger, `${pool.label} worker`, leaders);
  const windows: { step: Step; from: number; to: number; load?: WrkRun }[] = [];
  try {
    for (const step of steps) {
      const from = performance.now();
      const load = step.connections > 0 ? await wrk(wrkPath, url, step.seconds, step.connections) : undefined;
      if (!load) await delay(step.seconds * 1000); // an idle step: its length is what is measured
      windows.push({ step, from, to: performance.now(), ...(load ? { load } : {}) });
    }
  } finally {
    counter.stop();
  }
  const cost = meter();
  const samples = counter.samples;
  const results: StepResult[] = windows.map(({ step, from, to, load }) => {
    const seen = within(samples, from, to);
    const target = Math.min(step.connections, workers);
    return {
      ...step,
      ...(load ? { load } : {}),
      workersAtEnd: seen.at(-1)?.workers ?? Number.NaN,
      workersMost: seen.length > 0 ? Math.max(...seen.map((s) => s.workers)) : Number.NaN,
      grownMs: step.connections > 0 ? timeToReach(samples, target, from, to) : Number.NaN,
    };
  });
  const loaded = windows.find((w) => w.step.connections > 0);
  const lastLoaded = windows.filter((w) => w.step.connections > 0).pop();
  return {
    label: pool.label,
    command: pool.command,
    steps: results,
    fullMs: loaded && lastLoaded ? timeToReach(samples, workers, loaded.from, lastLoaded.to) : Number.NaN,
    failed: results.reduce((n, r) => n + (r.load?.failed ?? 0), 0),
    ...cost,
  };
}
