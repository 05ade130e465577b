/** The printed result of the reload benchmark: one row per tool and request, the target check, the commands. */
import type { Machine } from '../servers/programs.js';
import type { Cost, ReloadSample } from '../servers/pool.js';
import { disturbed, DISTURBED_SHARE, machineLine, median, ms, ratio, table, versionsLine } from '../servers/report.js';
import type { WrkRun } from '../servers/wrk.js';

/** One wrk run, the reloads made during it (none for a baseline) and what it cost (supervisor: fcgi-spawn, php-fpm's or gunicorn's master, PM2's daemon). */
export interface LoadRun extends Cost {
  readonly wrk: WrkRun;
  readonly reloads: readonly ReloadSample[];
}

export interface ReloadRow {
  readonly key: string;
  readonly label: string;
  readonly request: string;
  readonly baselineFirst: boolean;
  /** How many times the pair was made: more than 1 when processes not ours disturbed the earlier ones. */
  readonly attempts: number;
  readonly baseline: LoadRun;
  readonly reload: LoadRun;
}

export interface ReloadReport {
  readonly machine: Machine;
  readonly versions: Readonly<Record<string, string>>;
  readonly options: { seconds: number; reloads: number; connections: number; steerGrace: number; warmup: number; retries: number; direct?: boolean };
  readonly rows: readonly ReloadRow[];
  readonly skipped: readonly string[];
  readonly commands: readonly string[];
  readonly notes: readonly string[];
  readonly cleanup: string;
}

/** The bar issue 3 sets for fcgi-spawn: max latency with reloads at most this many times the baseline's. */
export const MAX_LATENCY_TARGET = 1.2;

function failed(run: WrkRun): string {
  return run.failed === 0 ? '0' : `${run.failed} (${run.non2xx} non-2xx, ${run.socketErrors} sock)`;
}

function durations(samples: readonly ReloadSample[]): string {
  const ok = samples.filter((s) => s.ok).map((s) => s.ms);
  return ok.length === 0 ? '-' : `${ms(median(ok))} / ${ms(Math.max(...ok))}`;
}

export function renderReload(report: ReloadReport): string {
  const { options } = report;
  const mark = (row: ReloadRow): string =>
    disturbed(row.baseline.othersCpuS, row.baseline.wrk.seconds, report.machine.cpus) || disturbed(row.reload.othersCpuS, row.reload.wrk.seconds, report.machine.cpus);
  const at = Array.from({ length: options.reloads }, (_, i) => ((options.seconds * (i + 1)) / (options.reloads + 1)).toFixed(1)).join(', ');
  const lines: string[] = [];
  const path = options.direct ? 'wrk straight at the pool (no nginx: its kept-alive connections are the workers\' own)' : 'nginx → pool';
  lines.push(`reload under load: ${path} of 2 workers; failed requests, max latency, reload duration`);
  lines.push(machineLine(report.machine));
  lines.push(versionsLine(report.versions));
  lines.push(
    `method:   wrk -t1 -c${options.connections} for ${options.seconds} s per run; ${options.reloads} reloads at ${at} s (each after the previous is done);` +
      ` baseline: the same run without reloads, order alternated; ${options.warmup} s warm-up per tool; fcgi-spawn --steer-grace ${options.steerGrace};` +
      ` a pair disturbed by processes not ours is made again (up to ${options.retries} times)`,
  );
  lines.push('');
  const header = ['tool', 'request', 'requests', 'failed (reloads)', 'failed (baseline)', 'max ms base', 'max ms reloads', 'ratio', 'p99 ms base / reloads', 'reload ms med / max', 'reloads ok'];
  const body = report.rows.map((row) => [
    row.label,
    row.request,
    String(row.reload.wrk.requests),
    failed(row.reload.wrk),
    failed(row.baseline.wrk),
    ms(row.baseline.wrk.maxLatencyMs),
    ms(row.reload.wrk.maxLatencyMs),
    ratio(row.reload.wrk.maxLatencyMs, row.baseline.wrk.maxLatencyMs) + mark(row),
    `${ms(row.baseline.wrk.p99Ms)} / ${ms(row.reload.wrk.p99Ms)}`,
    durations(row.reload.reloads),
    `${row.reload.reloads.filter((s) => s.ok).length}/${row.reload.reloads.length}`,
  ]);
  lines.push(table([header, ...body]));
  lines.push('');
  lines.push('what the runs cost (baseline / with reloads): requests/s, supervisor CPU seconds, machine CPU busy, CPU seconds of processes not ours');
  const costHeader = ['tool', 'request', 'requests/s', 'supervisor CPU s', 'machine busy %', 'others CPU s', 'first run', 'attempts'];
  const costBody = report.rows.map((row) => [
    row.label,
    row.request,
    `${row.baseline.wrk.requestsPerSec.toFixed(0)} / ${row.reload.wrk.requestsPerSec.toFixed(0)}`,
    `${row.baseline.supervisorCpuS.toFixed(2)} / ${row.reload.supervisorCpuS.toFixed(2)}`,
    `${row.baseline.machineBusyPct.toFixed(0)} / ${row.reload.machineBusyPct.toFixed(0)}`,
    `${row.baseline.othersCpuS.toFixed(2)} / ${row.reload.othersCpuS.toFixed(2)}`,
    row.baselineFirst ? 'baseline' : 'reloads',
    String(row.attempts),
  ]);
  lines.push(table([costHeader, ...costBody]));
  for (const skipped of report.skipped) lines.push(`${skipped}`);
  if (report.rows.some((row) => mark(row) !== '')) {
    lines.push(`! = processes not ours used more than ${DISTURBED_SHARE * 100}% of the CPUs during the baseline or the reload run (see 'others CPU s' below)`);
  }
  lines.push('');
  lines.push(`target for fcgi-spawn: 0 failed requests and max latency with reloads ≤ ${MAX_LATENCY_TARGET}× the baseline's:`);
  for (const row of report.rows.filter((r) => r.key.startsWith('fcgi-'))) {
    const r = row.reload.wrk.maxLatencyMs / row.baseline.wrk.maxLatencyMs;
    const misses = [
      row.reload.wrk.failed > 0 ? `${row.reload.wrk.failed} failed` : '',
      r > MAX_LATENCY_TARGET ? `max latency ${r.toFixed(2)}×` : '',
      row.reload.reloads.some((s) => !s.ok) ? 'a reload failed' : '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(`  ${row.label}, ${row.request}: ${misses === '' ? 'met' : `MISSED (${misses})`}`);
  }
  const problems = report.rows.flatMap((row) => row.reload.reloads.filter((s) => !s.ok).map((s) => `  ${row.label}, ${row.request}: reload failed: ${s.note ?? ''}`));
  if (problems.length > 0) lines.push('reloads that failed:', ...problems);
  lines.push('');
  lines.push('commands:');
  for (const command of report.commands) lines.push(`  ${command}`);
  for (const note of report.notes) lines.push(`note: ${note}`);
  lines.push(`cleanup:  ${report.cleanup}`);
  return lines.join('\n');
}
