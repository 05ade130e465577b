/**
 * Statistics and the printed table of the respawn benchmark. Percentiles interpolate linearly
 * between the two nearest ranks (numpy's default), so a median of an even count is the mean of the
 * middle two and p95 of 50 samples lies between the 47th and 48th smallest.
 */
import type { Environment } from './environment.js';
import type { RespawnSample } from './observe.js';

export interface Summary {
  readonly n: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly maxMs: number;
  readonly minMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (sorted.length - 1) * p;
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const a = sorted[low] ?? Number.NaN;
  const b = sorted[high] ?? Number.NaN;
  return a + (b - a) * (rank - low);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    medianMs: percentile(sorted, 0.5),
    p95Ms: percentile(sorted, 0.95),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    minMs: sorted[0] ?? Number.NaN,
  };
}

/** The steps between the moments a kill's polls first saw each thing happen. */
export const PHASES = [
  { key: 'exit', label: 'kill → reaped (exit noticed)', of: (s: RespawnSample) => s.reapedMs },
  { key: 'fork', label: 'reaped → new pid (fork)', of: (s: RespawnSample) => Math.max(0, s.forkedMs - s.reapedMs) },
  { key: 'exec', label: 'new pid → exec of the worker', of: (s: RespawnSample) => Math.max(0, s.execMs - Math.max(s.forkedMs, s.reapedMs)) },
  {
    key: 'accept',
    label: 'exec → blocked in accept()',
    of: (s: RespawnSample) => Math.max(0, s.acceptMs - Math.max(s.execMs, s.forkedMs, s.reapedMs)),
  },
] as const;

export function ms(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)} ms` : 'n/a';
}

export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}

/** Left-aligned first column, right-aligned others. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('   '))
    .join('\n');
}

/** What the /proc poller cost: polls made, wall time spent polling, CPU time it used. */
export interface Poller {
  polls: number;
  wallMs: number;
  cpuMs: number;
}

export interface ToolResult {
  readonly label: string;
  readonly command: string;
  readonly total: Summary;
  readonly phases: Readonly<Record<string, Summary>>;
  readonly failures: readonly string[];
  readonly requests: { readonly ok: number; readonly failed: readonly string[] };
  readonly workersStarted: number;
  readonly rss: readonly RssSample[];
  readonly samples: readonly RespawnSample[];
}

/** The supervisor's VmRSS after this many kills. */
export interface RssSample {
  readonly kills: number;
  readonly kib: number;
}

const mib = (kib: number | undefined): string => (kib === undefined || !Number.isFinite(kib) ? '—' : (kib / 1024).toFixed(1));

export interface RunDescription {
  readonly env: Environment;
  readonly kills: number;
  readonly pollMs: number;
  readonly settleMs: number;
}

/** The printed result: the latency table, the ratios, the steps, how the poller behaved, the commands, cleanup. */
export function renderReport(run: RunDescription, tools: readonly ToolResult[], poller: Poller, cleanup: string): string {
  const { env } = run;
  const [a, b] = tools as [ToolResult, ToolResult];
  const lines: string[] = [];
  lines.push('respawn latency: SIGKILL of an idle fcgiwrap worker → a new worker blocked in accept() on the same socket');
  lines.push(`machine:  ${env.cpus} CPUs (${env.cpuModel}), ${env.kernel} ${env.arch}, load ${env.loadavg.join(' ')}`);
  lines.push(`versions: ${Object.entries(env.versions).map(([k, v]) => `${k} ${v}`).join('; ')}`);
  lines.push(
    `method:   ${run.kills} kills per supervisor, interleaved; 2 workers each; /proc polled every ${run.pollMs} ms;` +
      ` ${run.settleMs} ms settle once 2 workers are idle again`,
  );
  lines.push('');
  const header = ['', 'kills', 'median', 'p95', 'max', 'min', 'timeouts', 'requests ok'];
  const row = (t: ToolResult): string[] => [
    t.label,
    String(t.total.n),
    ms(t.total.medianMs),
    ms(t.total.p95Ms),
    ms(t.total.maxMs),
    ms(t.total.minMs),
    String(t.failures.length),
    `${t.requests.ok}/${t.requests.ok + t.requests.failed.length}`,
  ];
  const ratios = ['ratio fcgi-spawn / multiwatch', '', ratio(a.total.medianMs, b.total.medianMs), ratio(a.total.p95Ms, b.total.p95Ms), ratio(a.total.maxMs, b.total.maxMs), '', '', ''];
  lines.push(table([header, row(a), row(b), ratios]));
  lines.push('');
  lines.push('where the time goes (median / p95 of each step, as first seen by a poll):');
  const phaseRows = PHASES.map((phase) => [
    phase.label,
    ...tools.map((t) => `${ms(t.phases[phase.key]?.medianMs ?? NaN)} / ${ms(t.phases[phase.key]?.p95Ms ?? NaN)}`),
  ]);
  lines.push(table([['step', ...tools.map((t) => t.label)], ...phaseRows]));
  lines.push('');
  const interval = poller.polls > 0 ? poller.wallMs / poller.polls : NaN;
  const busy = poller.wallMs > 0 ? (100 * poller.cpuMs) / poller.wallMs : NaN;
  // Resident memory over the run: a per-respawn leak shows as a slope, not as noise around a level.
  lines.push('supervisor RSS (MiB) before the first kill, then after every tenth of them:');
  const points = a.rss.map((sample) => String(sample.kills));
  const rssRow = (t: ToolResult): string[] => [t.label, ...t.rss.map((sample) => mib(sample.kib)), ratio(t.rss.at(-1)?.kib ?? NaN, t.rss[0]?.kib ?? NaN)];
  lines.push(table([['kills', ...points, 'last / first'], rssRow(a), rssRow(b)]));
  lines.push('');
  lines.push(`poller:   ${poller.polls} polls, one every ${interval.toFixed(3)} ms on average, ${busy.toFixed(0)}% of one CPU while polling`);
  for (const t of tools) lines.push(`${t.label}: ${t.command}`);
  for (const t of tools) for (const failure of [...t.failures, ...t.requests.failed]) lines.push(`FAILED ${t.label}: ${failure}`);
  lines.push(`cleanup:  ${cleanup}`);
  return lines.join('\n');
}
