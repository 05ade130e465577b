/** The cli-latency benchmark's printed tables. */
import { machineLines, ratio, table, type Machine } from '../machine/environment.js';
import type { DaemonSide } from './daemon-side.js';
import type { Breakdown } from './cpu-profile.js';
import type { Timing } from './hyperfine.js';
import type { LoadedModules } from './modules.js';

export const TARGET_RATIO = 1.5;

export interface CliRun {
  readonly machine: Machine;
  readonly hyperfine: string;
  readonly warmup: number;
  readonly runs: number;
  readonly rounds: number;
  readonly workers: number;
  readonly baselineMs: number;
  readonly baselineMedianMs: number;
  readonly timings: readonly Timing[];
  readonly daemon: DaemonSide | undefined;
  readonly loads: readonly LoadedModules[];
  readonly imports: readonly Timing[];
  readonly profiles: readonly { readonly label: string; readonly breakdown: Breakdown }[];
  readonly notes: readonly string[];
  readonly cleanup: string;
}

function ms(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(1)} ms` : 'n/a';
}

/** Commands the target applies to: the fcgi-spawn ones, not the baselines. */
function targeted(t: Timing): boolean {
  return !t.key.startsWith('node');
}

export function renderReport(run: CliRun): string {
  const lines: string[] = [];
  lines.push(`CLI latency: fcgi-spawn commands a script runs often, against node -e 0 (${run.hyperfine})`);
  lines.push(...machineLines(run.machine));
  lines.push(
    `method:   hyperfine -N -i in ${run.rounds} rounds (order rotated; ${run.warmup} warm-up runs each round), ${run.runs} timed runs per command pooled; a running instance with ${run.workers} Node responder worker(s);` +
      ` stop (running): a fresh instance started by --prepare before every run, outside the timing; every exit code checked`,
  );
  lines.push('');
  const header = ['', 'mean ± σ', 'median', 'min', 'user+sys', `mean ÷ node -e 0`, 'median ÷', `target ≤ ${TARGET_RATIO}×`];
  const rows = run.timings.map((t) => [
    t.label,
    `${ms(t.meanMs)} ± ${t.stddevMs.toFixed(1)}`,
    ms(t.medianMs),
    ms(t.minMs),
    ms(t.userMs + t.systemMs),
    ratio(t.meanMs, run.baselineMs),
    ratio(t.medianMs, run.baselineMedianMs),
    targeted(t) ? (t.meanMs <= TARGET_RATIO * run.baselineMs ? 'ok' : 'MISS') : '',
  ]);
  lines.push(table([header, ...rows]));
  lines.push(`baseline: node -e 0, its two rows together: mean ${ms(run.baselineMs)}, median ${ms(run.baselineMedianMs)}; the target is judged on the mean`);
  const byKey = new Map(run.timings.map((t) => [t.key, t]));
  const d = run.daemon;
  const status = byKey.get('status');
  const statusIdle = byKey.get('status-stopped');
  if (d && status) {
    lines.push('');
    lines.push(
      `status, split: the daemon's answer on the control socket takes ${ms(d.answerMs.medianMs)} (median of ${d.answerMs.n}; ${ms(d.answerMs.minMs)}–${ms(d.answerMs.maxMs)});` +
        ` status of a stopped instance (start-up + locate, no daemon) ${ms(statusIdle?.meanMs ?? Number.NaN)}; node -e 0 ${ms(run.baselineMs)}`,
    );
    lines.push(
      `    in the daemon, per worker (groupListeningState, preferServing, as status does): ${ms(d.perWorkerMs.medianMs)} median × ${d.workers} workers;` +
        ` one /proc scan (${d.processes} processes) ${ms(d.procScanMs.medianMs)}; /proc/net/tcp+tcp6 (${d.tcpLines} sockets) read ${ms(d.tcpReadMs.medianMs)}`,
    );
  }
  const probe = byKey.get('probe');
  if (d && probe) {
    lines.push(
      `probe, split: the FastCGI request itself (runProbe in-process, the worker answering) ${ms(d.probeMs.medianMs)} median;` +
        ` the rest of ${ms(probe.meanMs)} is start-up and modules (status, not running: ${ms(statusIdle?.meanMs ?? Number.NaN)})`,
    );
  }
  const stop = byKey.get('stop');
  const stopIdle = byKey.get('stop-stopped');
  if (stop && stopIdle) {
    lines.push(
      `stop, split: not running ${ms(stopIdle.meanMs)} (start-up + locate); running ${ms(stop.meanMs)}: ` +
        `${ms(stop.meanMs - stopIdle.meanMs)} waiting for the daemon and its ${run.workers} worker(s) to exit (polled every 20 ms)`,
    );
  }
  if (run.loads.length > 0) {
    lines.push('');
    lines.push('modules each command loads (ES modules through a load hook, CommonJS from require.cache at exit):');
    const packages = (l: LoadedModules): string => Object.entries(l.packages).map(([pkg, n]) => `${pkg} (${n})`).join(', ') || '-';
    const files = (l: LoadedModules): number => Object.values(l.packages).reduce((s, n) => s + n, 0);
    const lrows = run.loads.map((l) => [
      l.label,
      String(l.exitCode),
      String(l.own.length),
      Object.keys(l.packages).length <= 3 ? packages(l) : `${Object.keys(l.packages).length} packages, ${files(l)} files (below)`,
      l.heavy.length > 0 ? l.heavy.join(', ') : 'none',
    ]);
    lines.push(table([['', 'exit', 'own modules', 'packages (files)', 'heavy'], ...lrows]));
    for (const l of run.loads.filter((x) => Object.keys(x.packages).length > 3)) lines.push(`    ${l.label}: ${packages(l)}`);
  }
  if (run.imports.length > 0) {
    const none = run.imports.find((t) => t.key === 'import-none');
    lines.push('');
    lines.push(`what importing each module costs on its own (hyperfine, ${run.runs} runs in ${run.rounds} rounds; over an empty ESM -e):`);
    const irows = run.imports.map((t) => [t.label, ms(t.meanMs), none && t !== none ? `+${ms(t.meanMs - none.meanMs)}` : '', ms(t.userMs + t.systemMs)]);
    lines.push(table([['', 'mean', 'over empty', 'user+sys'], ...irows]));
  }
  if (run.profiles.length > 0) {
    lines.push('');
    lines.push("where each command's start-up goes: node --cpu-prof (50 µs samples, self time, median of 7 runs per group; the profile starts after Node's native bootstrap), ms:");
    const keys = [...new Set(run.profiles.flatMap((p) => Object.keys(p.breakdown)))];
    const peak = (key: string): number => Math.max(...run.profiles.map((p) => p.breakdown[key] ?? 0));
    keys.sort((a, b) => peak(b) - peak(a));
    const short = (label: string): string => label.replace(/^fcgi-spawn /, '').replace(/ 127\.0\.0\.1:PORT \//, '');
    const shown = keys.filter((k) => peak(k) >= 0.5);
    const rest = keys.filter((k) => peak(k) < 0.5);
    const prows = shown.map((k) => [k, ...run.profiles.map((p) => (p.breakdown[k] ?? 0).toFixed(1))]);
    prows.push([`the rest (${rest.length} groups, each < 0.5)`, ...run.profiles.map((p) => rest.reduce((s, k) => s + (p.breakdown[k] ?? 0), 0).toFixed(1))]);
    const total = ['total (sum of the medians)', ...run.profiles.map((p) => Object.values(p.breakdown).reduce((s, v) => s + v, 0).toFixed(1))];
    lines.push(table([['', ...run.profiles.map((p) => short(p.label))], ...prows, total]));
  }
  lines.push('');
  for (const t of run.timings) lines.push(`${t.label}: ${t.command}`);
  for (const t of [...run.timings, ...run.imports]) {
    if (t.unexpectedExits.length > 0) lines.push(`UNEXPECTED exit codes for ${t.label}: ${t.unexpectedExits.join(', ')}`);
  }
  for (const note of run.notes) lines.push(`note: ${note}`);
  lines.push(`cleanup:  ${run.cleanup}`);
  return lines.join('\n');
}
