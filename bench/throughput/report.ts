/** The printed result of the throughput benchmark: per group and mode, requests/s of every round, medians, ratios. */
import type { Machine } from '../servers/programs.js';
import { disturbed, DISTURBED_SHARE, machineLine, median, ms, table, versionsLine } from '../servers/report.js';
import type { WrkRun } from '../servers/wrk.js';
import type { Mode } from './groups.js';

export interface Sample {
  readonly group: string;
  readonly member: string;
  readonly mode: Mode;
  readonly round: number;
  /** Position of this run within its round (0 = first). */
  readonly position: number;
  /** How many times the run was made: more than 1 when processes not ours disturbed the earlier ones. */
  readonly attempts: number;
  readonly wrk: WrkRun;
  readonly supervisorCpuS: number;
  readonly machineBusyPct: number;
  readonly othersCpuS: number;
}

export interface GroupResult {
  readonly key: string;
  readonly title: string;
  readonly modes: readonly Mode[];
  readonly members: readonly { key: string; label: string; command: string }[];
  readonly target: { readonly subject: string; readonly reference: string; readonly atLeast: number };
  readonly samples: readonly Sample[];
  readonly skipped: readonly string[];
}

export interface ThroughputReport {
  readonly machine: Machine;
  readonly versions: Readonly<Record<string, string>>;
  readonly options: { seconds: number; rounds: number; connections: number; warmup: number; retries: number };
  readonly groups: readonly GroupResult[];
  readonly notes: readonly string[];
  readonly cleanup: string;
}

const MODE_TEXT: Record<Mode, string> = { nginx: 'via nginx', direct: 'wrk direct' };

function of(samples: readonly Sample[], member: string, mode: Mode): Sample[] {
  return samples.filter((s) => s.member === member && s.mode === mode).sort((a, b) => a.round - b.round);
}

/** Median of the subject's requests/s over the reference's, and the same ratio round by round. */
export function ratios(group: GroupResult, mode: Mode): { median: number; perRound: number[] } {
  const subject = of(group.samples, group.target.subject, mode);
  const reference = of(group.samples, group.target.reference, mode);
  const perRound = subject.map((s) => s.wrk.requestsPerSec / (reference.find((r) => r.round === s.round)?.wrk.requestsPerSec ?? NaN));
  return { median: median(subject.map((s) => s.wrk.requestsPerSec)) / median(reference.map((s) => s.wrk.requestsPerSec)), perRound };
}

function groupTable(group: GroupResult, mode: Mode, rounds: number, cpus: number): string {
  const header = ['pool', ...Array.from({ length: rounds }, (_, i) => `round ${i + 1}`), 'median req/s', `× ${group.target.reference}`, 'p99 ms', 'max ms', 'failed', 'supervisor CPU s', 'busy %', 'others CPU s', 'retried'];
  const reference = median(of(group.samples, group.target.reference, mode).map((s) => s.wrk.requestsPerSec));
  const rows = group.members.map((member) => {
    const samples = of(group.samples, member.key, mode);
    const rps = samples.map((s) => s.wrk.requestsPerSec);
    const perRound = Array.from({ length: rounds }, (_, i) => {
      const s = samples.find((x) => x.round === i);
      return s ? `${s.wrk.requestsPerSec.toFixed(0)}${s.position === 0 ? '*' : ''}${disturbed(s.othersCpuS, s.wrk.seconds, cpus)}` : '-';
    });
    const m = median(rps);
    return [
      member.label,
      ...perRound,
      Number.isFinite(m) ? m.toFixed(0) : '-',
      Number.isFinite(m / reference) ? `${(m / reference).toFixed(3)}×` : '-',
      ms(median(samples.map((s) => s.wrk.p99Ms))),
      ms(Math.max(...samples.map((s) => s.wrk.maxLatencyMs))),
      String(samples.reduce((sum, s) => sum + s.wrk.failed, 0)),
      median(samples.map((s) => s.supervisorCpuS)).toFixed(2),
      median(samples.map((s) => s.machineBusyPct)).toFixed(0),
      Math.max(...samples.map((s) => s.othersCpuS)).toFixed(2),
      String(samples.reduce((sum, s) => sum + s.attempts - 1, 0)),
    ];
  });
  return table([header, ...rows]);
}

export function renderThroughput(report: ThroughputReport): string {
  const { options } = report;
  const lines: string[] = [];
  lines.push('throughput: the same workers under different supervisors, requests/s');
  lines.push(machineLine(report.machine));
  lines.push(versionsLine(report.versions));
  lines.push(
    `method:   wrk -t1 -c${options.connections} for ${options.seconds} s per run; ${options.rounds} rounds, the order of the pools reversed every round` +
      ` (* = ran first in its round; ! = processes not ours used more than ${DISTURBED_SHARE * 100}% of the CPUs during the run); ${options.warmup} s warm-up per pool; p99, supervisor CPU and busy % (per run) are medians; max latency and others' CPU the worst run;` +
      ` a run disturbed by processes not ours is made again (up to ${options.retries} times; 'retried' counts them)`,
  );
  for (const group of report.groups) {
    for (const mode of group.modes) {
      lines.push('');
      lines.push(`${group.title} — ${MODE_TEXT[mode]}`);
      lines.push(groupTable(group, mode, options.rounds, report.machine.cpus));
    }
    for (const skipped of group.skipped) lines.push(skipped);
  }
  lines.push('');
  lines.push('targets (requests/s, median over median; the per-round ratios show the noise):');
  for (const group of report.groups) {
    for (const mode of group.modes) {
      const { median: r, perRound } = ratios(group, mode);
      const verdict = !Number.isFinite(r) ? 'not measured' : mode !== 'nginx' ? 'for information' : r >= group.target.atLeast ? 'met' : 'MISSED';
      const target = mode === 'nginx' ? `target ≥ ${group.target.atLeast}×` : 'no target';
      lines.push(
        `  ${group.key}, ${MODE_TEXT[mode]}: ${group.target.subject} / ${group.target.reference} = ${Number.isFinite(r) ? r.toFixed(3) : '-'}×` +
          ` (rounds: ${perRound.map((x) => (Number.isFinite(x) ? x.toFixed(3) : '-')).join(', ')}); ${target}: ${verdict}`,
      );
    }
  }
  lines.push('');
  lines.push('commands:');
  for (const group of report.groups) for (const member of group.members) lines.push(`  ${group.key} ${member.label}: ${member.command}`);
  for (const note of report.notes) lines.push(`note: ${note}`);
  lines.push(`cleanup:  ${report.cleanup}`);
  return lines.join('\n');
}
