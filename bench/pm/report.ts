/** The pm benchmark's tables: the stepped load per pool and step with ratios to php-fpm, then retiring under load. */
import os from 'node:os';
import { disturbed, machineLine, ms, ratio, table, versionsLine } from '../servers/report.js';
import type { Machine } from '../servers/programs.js';
import type { RetireRun } from './retire.js';
import type { SteppedRun } from './steps.js';

export interface PmReport {
  readonly machine: Machine;
  readonly versions: Readonly<Record<string, string>>;
  readonly heading: string;
  /** Each run with the key of the php-fpm run it is compared with (undefined for php-fpm's own). */
  readonly stepped: readonly { run: SteppedRun; versus?: SteppedRun }[];
  readonly retireHeading: string;
  readonly retired: readonly RetireRun[];
  readonly skipped: readonly string[];
  readonly commands: readonly string[];
  readonly notes: readonly string[];
  readonly cleanup: string;
  /** p99 within this many times php-fpm's, per loaded step. */
  readonly target: number;
}

function seconds(valueMs: number): string {
  return Number.isFinite(valueMs) ? (valueMs / 1000).toFixed(1) : '-';
}

function stepName(connections: number, index: number, count: number): string {
  if (connections > 0) return `${connections} conn`;
  return index === 0 ? 'idle before' : index === count - 1 ? 'idle after' : 'idle';
}

function steppedTable(report: PmReport): string {
  const rows: string[][] = [['pool', 'step', 'requests', 'req/s', 'p99 ms', 'p99 vs php-fpm', 'failed', 'workers end', 'most', 'grown in s']];
  for (const { run, versus } of report.stepped) {
    run.steps.forEach((step, i) => {
      const theirs = versus?.steps[i];
      rows.push([
        i === 0 ? run.label : '',
        stepName(step.connections, i, run.steps.length),
        step.load ? String(step.load.requests) : '',
        step.load ? step.load.requestsPerSec.toFixed(0) : '',
        step.load ? ms(step.load.p99Ms) : '',
        step.load && theirs?.load ? ratio(step.load.p99Ms, theirs.load.p99Ms) : '',
        step.load ? String(step.load.failed) : '',
        String(step.workersAtEnd),
        String(step.workersMost),
        step.connections > 0 ? seconds(step.grownMs) : '',
      ]);
    });
  }
  return table(rows);
}

function summaryTable(report: PmReport): string {
  const cpus = os.availableParallelism();
  const rows: string[][] = [['pool', 'to all workers s', 'failed', 'supervisor CPU s', 'vs php-fpm', 'machine busy', "others' CPU s"]];
  for (const { run, versus } of report.stepped) {
    const span = run.steps.reduce((n, s) => n + s.seconds, 0);
    rows.push([
      run.label,
      seconds(run.fullMs),
      String(run.failed),
      run.supervisorCpuS.toFixed(2),
      versus ? ratio(run.supervisorCpuS, versus.supervisorCpuS) : '',
      `${run.machineBusyPct.toFixed(0)}%`,
      `${run.othersCpuS.toFixed(1)}${disturbed(run.othersCpuS, span, cpus)}`,
    ]);
  }
  return table(rows);
}

/** Per compared pair: the p99 ratio of each loaded step against the target, and the failures. */
function verdicts(report: PmReport): string[] {
  return report.stepped
    .filter((entry): entry is { run: SteppedRun; versus: SteppedRun } => entry.versus !== undefined)
    .map(({ run, versus }) => {
      const ratios = run.steps.flatMap((step, i) => {
        const theirs = versus.steps[i]?.load;
        return step.load && theirs ? [{ connections: step.connections, value: step.load.p99Ms / theirs.p99Ms }] : [];
      });
      const within = ratios.every((r) => r.value <= report.target);
      return `${run.label} vs ${versus.label}: p99 ${ratios.map((r) => `${r.connections} conn ${r.value.toFixed(2)}×`).join(', ')}; within ${report.target}× at every step: ${within ? 'yes' : 'NO'}; failed ${run.failed} (php-fpm ${versus.failed})`;
    });
}

function retireTable(runs: readonly RetireRun[]): string {
  const rows: string[][] = [['program', 'retired with', 'requests', 'failed', 'non-2xx', 'socket errors', 'signalled idle', 'shrinks by generation', 'workers']];
  for (const r of runs) {
    rows.push([r.label, r.retireSignal, String(r.requests), String(r.failed), String(r.non2xx), String(r.socketErrors), String(r.signalled), String(r.generations), `${r.workersLeast}–${r.workersMost}`]);
  }
  return table(rows);
}

export function renderPm(report: PmReport): string {
  const out = [machineLine(report.machine), versionsLine(report.versions), '', report.heading, '', steppedTable(report), '', summaryTable(report), '', ...verdicts(report)];
  out.push("  grown in: from the step's start until the pool had one worker per connection (at most its workers); '-': not within the step");
  out.push("  others' CPU: processes not the benchmark's (other sessions) during the run; '!': more than 5% of the CPUs");
  if (report.retired.length > 0) out.push('', report.retireHeading, '', retireTable(report.retired));
  if (report.skipped.length > 0) out.push('', ...report.skipped.map((s) => `skipped: ${s}`));
  out.push('', 'commands:', ...report.commands.map((c) => `  ${c}`));
  if (report.notes.length > 0) out.push('', ...report.notes.map((n) => `note: ${n}`));
  out.push(`cleanup: ${report.cleanup}`);
  return out.join('\n');
}
