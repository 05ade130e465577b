/**
 * Retiring workers of a dynamic pool under load (issue 8, "Retiring one worker of several on a shared socket"):
 * cycles of a burst of slow requests (the pool grows to its `workers`) and a calm stretch of instant requests
 * from a few connections (the pool shrinks one idle worker a second, or through a new generation), through nginx.
 * A worker seen idle is signalled while connections keep arriving on the socket it shares, so a connection handed
 * to it between the look and the signal shows up as a failed request if the program cuts a request on that signal.
 * Counted: wrk's failures, and the retirements the supervisor logged.
 */
import type { FcgiSpawnPool } from '../servers/fcgi-spawn.js';
import type { Ledger } from '../servers/process.js';
import { wrk, type WrkRun } from '../servers/wrk.js';
import { countWorkers } from './workers.js';

export interface Phase {
  readonly path: string;
  readonly connections: number;
  readonly seconds: number;
}

export interface RetireRun {
  readonly label: string;
  readonly command: string;
  readonly retireSignal: string;
  readonly cycles: number;
  readonly requests: number;
  readonly failed: number;
  readonly non2xx: number;
  readonly socketErrors: number;
  /** Idle workers signalled to retire (shrinking above max-spare). */
  readonly signalled: number;
  /** Shrinks through a new generation (retire-signal generation). */
  readonly generations: number;
  readonly workersMost: number;
  readonly workersLeast: number;
  /** The supervisor's log lines about starting and retiring workers (in --json only). */
  readonly decisions: readonly string[];
}

const SIGNALLED = /ready→stopping \(SIG\w+\): \d+ idle, above max-spare/;
const THROUGH_GENERATION = /retiring through a new generation of \d+ worker/;
const DECISION = /starting \d+ worker|ready→stopping|generation|reload|max workers/;

export async function retireRun(pool: FcgiSpawnPool, retireSignal: string, wrkPath: string, base: string, burst: Phase, calm: Phase, cycles: number, ledger: Ledger): Promise<RetireRun> {
  const [supervisor] = pool.supervisorPids();
  if (supervisor === undefined) throw new Error(`${pool.label}: not running`);
  const from = pool.log.length;
  const counter = countWorkers(supervisor, ledger, `${pool.label} worker`, true);
  const loads: WrkRun[] = [];
  try {
    for (let i = 0; i < cycles; i += 1) {
      loads.push(await wrk(wrkPath, `${base}${burst.path}`, burst.seconds, burst.connections));
      loads.push(await wrk(wrkPath, `${base}${calm.path}`, calm.seconds, calm.connections));
    }
  } finally {
    counter.stop();
  }
  const lines = pool.log.slice(from).map((line) => line.text);
  const sum = (pick: (run: WrkRun) => number): number => loads.reduce((n, run) => n + pick(run), 0);
  const counts = counter.samples.map((s) => s.workers);
  return {
    label: pool.label,
    command: pool.command,
    retireSignal,
    cycles,
    requests: sum((r) => r.requests),
    failed: sum((r) => r.failed),
    non2xx: sum((r) => r.non2xx),
    socketErrors: sum((r) => r.socketErrors),
    signalled: lines.filter((line) => SIGNALLED.test(line)).length,
    generations: lines.filter((line) => THROUGH_GENERATION.test(line)).length,
    workersMost: counts.length > 0 ? Math.max(...counts) : Number.NaN,
    workersLeast: counts.length > 0 ? Math.min(...counts) : Number.NaN,
    decisions: lines.filter((line) => DECISION.test(line)),
  };
}
