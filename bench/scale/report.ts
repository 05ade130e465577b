/**
 * The scale benchmark's printed result: one row per pool size and supervisor, then how each figure grows from one
 * pool size to the next beside the growth of the pool itself (linear), then issue 10's targets.
 */
import { machineLines, ratio, table, type Machine } from '../machine/environment.js';
import { percentile } from '../respawn/report.js';
import type { Rest, Storm, Timings } from './measure.js';
import type { SpawnFloor } from './spawn-floor.js';

export interface Run {
  readonly tool: 'fcgi-spawn' | 'multiwatch';
  readonly label: string;
  readonly command: string;
  readonly workers: number;
  /** From launch until every worker sat in accept(). */
  readonly startMs: number;
  readonly rest: Rest;
  readonly status?: Timings;
  readonly storms: readonly Storm[];
}

export interface Figures {
  readonly restoreMs: number;
  readonly stormCpuMs: number;
  readonly cpuPerWorkerMs: number;
  readonly rssBeforeMiB: number;
  readonly rssSettledMiB: number;
  readonly timeouts: number;
}

const median = (values: readonly number[]): number => percentile([...values].sort((a, b) => a - b), 0.5);

export function figures(run: Run): Figures {
  const storms = run.storms.filter((s) => !s.timedOut);
  return {
    restoreMs: median(storms.map((s) => s.restoreMs)),
    stormCpuMs: median(storms.map((s) => s.cpuMs)),
    cpuPerWorkerMs: median(storms.map((s) => s.cpuMs / s.workers)),
    rssBeforeMiB: run.storms[0]?.rssBeforeMiB ?? Number.NaN,
    rssSettledMiB: run.storms[run.storms.length - 1]?.rssSettledMiB ?? Number.NaN,
    timeouts: run.storms.length - storms.length,
  };
}

const fixed = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

export interface Description {
  readonly machine: Machine;
  readonly counts: readonly number[];
  readonly idleS: number;
  readonly storms: number;
  readonly statusRuns: number;
  readonly pollMs: number;
  readonly settleMs: number;
  readonly nodeBaseline?: Timings;
  readonly notes: readonly string[];
  readonly cleanup: string;
  /** Wall time of the whole run, and of each pool size (both supervisors). */
  /** A bare node's CPU per child_process.spawn(), measured at the start of the run. */
  readonly spawnFloor?: SpawnFloor;
  readonly elapsedS?: number;
  readonly elapsedByCountS?: Readonly<Record<number, number>>;
}

function rows(runs: readonly Run[]): string[][] {
  const header = ['workers', 'supervisor', 'RSS rest MiB', `CPU rest ms`, 'wake-ups', 'status ms', 'restore ms', 'storm CPU ms', 'CPU/worker ms', 'RSS before→after MiB'];
  return [
    header,
    ...runs.map((run) => {
      const f = figures(run);
      return [
        String(run.workers),
        run.tool,
        fixed(run.rest.rssMiB, 1),
        fixed(run.rest.cpuMs, 1),
        String(run.rest.switches),
        run.status ? `${fixed(run.status.medianMs)}${run.status.failures > 0 ? ` (${run.status.failures} failed)` : ''}` : '–',
        `${fixed(f.restoreMs)}${f.timeouts > 0 ? ` (${f.timeouts} timed out)` : ''}`,
        fixed(f.stormCpuMs),
        fixed(f.cpuPerWorkerMs, 2),
        `${fixed(f.rssBeforeMiB, 1)} → ${fixed(f.rssSettledMiB, 1)}`,
      ];
    }),
  ];
}

const MEASURES: readonly { label: string; of: (run: Run) => number }[] = [
  { label: 'restore time', of: (run) => figures(run).restoreMs },
  { label: 'storm CPU', of: (run) => figures(run).stormCpuMs },
  { label: 'RSS at rest', of: (run) => run.rest.rssMiB },
  { label: 'wake-ups at rest', of: (run) => run.rest.switches },
  { label: 'status latency', of: (run) => run.status?.medianMs ?? Number.NaN },
];

function growth(runs: readonly Run[], counts: readonly number[]): string[][] {
  const steps = counts.slice(1).map((count, i) => [counts[i] as number, count] as const);
  const header = ['growth', 'supervisor', ...steps.map(([a, b]) => `${b}/${a} (linear ${fixed(b / a, 2)}×)`)];
  const lines: string[][] = [header];
  for (const measure of MEASURES) {
    for (const tool of ['fcgi-spawn', 'multiwatch'] as const) {
      const of = (count: number): number => {
        const run = runs.find((r) => r.tool === tool && r.workers === count);
        return run ? measure.of(run) : Number.NaN;
      };
      if (counts.every((count) => !Number.isFinite(of(count)))) continue;
      // A ratio of nothing to nothing says less than the two figures (wake-ups at rest are 0 for both, ideally).
      lines.push([measure.label, tool, ...steps.map(([a, b]) => (of(a) === 0 ? `${of(a)} → ${of(b)}` : ratio(of(b), of(a))))]);
    }
  }
  return lines;
}

/** fcgi-spawn's figures over multiwatch's, pool size by pool size, both from this run. */
function beside(runs: readonly Run[], counts: readonly number[]): string[][] {
  const lines: string[][] = [['fcgi-spawn / multiwatch', 'restore time', 'storm CPU', 'CPU/worker', 'RSS at rest']];
  for (const count of counts) {
    const ours = runs.find((r) => r.tool === 'fcgi-spawn' && r.workers === count);
    const theirs = runs.find((r) => r.tool === 'multiwatch' && r.workers === count);
    if (!ours || !theirs) continue;
    const [a, b] = [figures(ours), figures(theirs)];
    lines.push([`${count} workers`, ratio(a.restoreMs, b.restoreMs), ratio(a.stormCpuMs, b.stormCpuMs), ratio(a.cpuPerWorkerMs, b.cpuPerWorkerMs), ratio(ours.rest.rssMiB, theirs.rest.rssMiB)]);
  }
  return lines.length > 1 ? lines : [];
}

function targets(runs: readonly Run[], floor: SpawnFloor | undefined): string[] {
  const at = (tool: string, count: number): Run | undefined => runs.find((r) => r.tool === tool && r.workers === count);
  const lines: string[] = [];
  const ours = at('fcgi-spawn', 256);
  const theirs = at('multiwatch', 256);
  const small = at('fcgi-spawn', 8);
  if (ours) {
    const f = figures(ours);
    if (theirs) lines.push(`  256 workers restored within 1.5× multiwatch's time: ${ratio(f.restoreMs, figures(theirs).restoreMs)}`);
    const under = floor ? ` (of which no less than a bare node's own spawn(): ${fixed(floor.cpuMsPerSpawn, 2)} ms, ${floor.spawns} spawns at ${fixed(floor.rssMiB)} MiB RSS, this run)` : '';
    lines.push(`  ≤ 3 ms of supervisor CPU per respawned worker at 256: ${fixed(f.cpuPerWorkerMs, 2)} ms${under}`);
    lines.push(`  RSS back within 5 % of its level before the storm: ${fixed(f.rssBeforeMiB, 1)} → ${fixed(f.rssSettledMiB, 1)} MiB (${ratio(f.rssSettledMiB, f.rssBeforeMiB)})`);
    if (small?.status && ours.status) lines.push(`  status of 256 workers within 1.3× of 8: ${ratio(ours.status.medianMs, small.status.medianMs)}`);
  }
  return lines;
}

export function renderReport(description: Description, runs: readonly Run[]): string {
  const lines = ['scale: fcgiwrap pools of growing size at rest, `status` against them, and a SIGKILL of every worker at once', ...machineLines(description.machine)];
  lines.push(
    `method:   pool sizes ${description.counts.join(', ')}, one supervisor at a time; at rest: CPU, RSS and context switches of the supervisor's threads over ${description.idleS} s;` +
      ` status: ${description.statusRuns} timed runs of \`fcgi-spawn status -p PORT\`; ${description.storms} storms each (every worker SIGKILLed at once, /proc polled every ${description.pollMs} ms until as many new workers block in accept(), ${description.settleMs} ms settle)`,
  );
  if (description.nodeBaseline) lines.push(`baseline: \`node -e 0\` ${fixed(description.nodeBaseline.medianMs)} ms median over ${description.nodeBaseline.runs} runs`);
  const floor = description.spawnFloor;
  if (floor) lines.push(`floor:    a bare node's child_process.spawn() costs it ${fixed(floor.cpuMsPerSpawn, 2)} ms of CPU per child (${floor.spawns} children, ${fixed(floor.rssMiB)} MiB RSS): the least a Node supervisor can spend per respawned worker`);
  lines.push('', table(rows(runs)), '', table(growth(runs, description.counts)));
  const ratios = beside(runs, description.counts);
  if (ratios.length > 0) lines.push('', table(ratios));
  const goals = targets(runs, description.spawnFloor);
  if (goals.length > 0) lines.push('', 'issue 10 targets:', ...goals);
  lines.push('');
  for (const run of runs.filter((r, i, all) => all.findIndex((o) => o.tool === r.tool) === i)) lines.push(`${run.tool}: ${run.command}`);
  if (description.elapsedS !== undefined) {
    const each = Object.entries(description.elapsedByCountS ?? {}).map(([count, s]) => `${count} workers ${fixed(s)} s`);
    lines.push(`took:     ${fixed(description.elapsedS)} s${each.length > 0 ? ` (${each.join(', ')})` : ''}`);
  }
  for (const note of description.notes) lines.push(`note:     ${note}`);
  lines.push(`cleanup:  ${description.cleanup}`);
  return lines.join('\n');
}
