/** The idle-cost benchmark's results: the printed tables and what goes into --json. */
import { machineLines, ratio, table, type Machine } from '../machine/environment.js';
import type { Memory, SwitchDelta } from './proc.js';

export interface ThreadFinding {
  readonly tid: number;
  readonly role: string;
  readonly blockedIn: string;
  readonly voluntary: number;
  readonly nonvoluntary: number;
  /** Seconds after the window opened (rounded down to the sample) in which it switched, with counts. */
  readonly when: readonly { readonly atS: number; readonly switches: number }[];
}

export interface GcEvent {
  /** Seconds after the window opened (negative: before), from the trace's ms since the isolate started. */
  readonly atS: number;
  readonly sinceReadyS: number;
  readonly line: string;
}

export interface Measured {
  readonly key: string;
  readonly label: string;
  readonly role: 'baseline' | 'supervisor' | 'diagnosis' | 'attribution';
  readonly command: string;
  readonly pid: number;
  readonly workers: number;
  /** From ready (workers waiting on the socket) to the window's start. */
  readonly readyToWindowS: number;
  readonly switches: SwitchDelta;
  readonly memory: Memory | undefined;
  readonly mappings: readonly { readonly name: string; readonly kib: number }[];
  /** Switches per sample interval across the window. */
  readonly timeline: readonly number[];
  readonly threads: readonly ThreadFinding[];
  readonly gc?: readonly GcEvent[];
}

export interface RunInfo {
  readonly machine: Machine;
  readonly windowS: number;
  readonly settleMs: number;
  readonly sampleMs: number;
  readonly workers: number;
  readonly notes: readonly string[];
  readonly cleanup: string;
}

const TARGET_RSS_RATIO = 1.25;

function mib(kib: number | undefined): string {
  return kib === undefined || !Number.isFinite(kib) ? 'n/a' : (kib / 1024).toFixed(1);
}

function mainRow(m: Measured, bare: Measured | undefined): string[] {
  const woken = m.switches.threads.filter((t) => t.voluntary + t.nonvoluntary > 0).length;
  const vol = m.switches.threads.reduce((s, t) => s + t.voluntary, 0);
  const rssRatio = bare?.memory && m.memory ? ratio(m.memory.rssKiB, bare.memory.rssKiB) : 'n/a';
  let verdict = '';
  if (m.key.startsWith('fcgi-spawn') && m.role === 'supervisor') {
    const switchesOk = m.switches.total === 0;
    const rssOk = bare?.memory && m.memory ? m.memory.rssKiB <= TARGET_RSS_RATIO * bare.memory.rssKiB : false;
    verdict = `${switchesOk ? 'ok' : 'MISS'} / ${rssOk ? 'ok' : 'MISS'}`;
  }
  return [
    m.label,
    String(m.workers),
    `${m.readyToWindowS.toFixed(1)} s`,
    `${m.switches.total} (${vol}+${m.switches.total - vol})`,
    `${woken}/${m.switches.threads.length}`,
    mib(m.memory?.rssKiB),
    mib(m.memory?.anonKiB),
    mib(m.memory?.fileKiB),
    rssRatio,
    verdict,
  ];
}

function timelineText(m: Measured, sampleMs: number): string {
  const parts = m.timeline.map((n, i) => (n > 0 ? `${((i * sampleMs) / 1000).toFixed(0)}–${(((i + 1) * sampleMs) / 1000).toFixed(0)} s: ${n}` : '')).filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function mappingText(m: Measured): string {
  const top = m.mappings.slice(0, 4).map((x) => `${x.name.replace(/^.*\/node_modules\//, 'node_modules/')} ${mib(x.kib)}`);
  const rest = m.mappings.slice(4).reduce((s, x) => s + x.kib, 0);
  return `${top.join(', ')}, the rest ${mib(rest)}`;
}

export function renderReport(run: RunInfo, measured: readonly Measured[]): string {
  const lines: string[] = [];
  const bare = measured.find((m) => m.role === 'baseline');
  lines.push(`idle cost: context switches and RSS of a supervisor with ${run.workers} idle workers, over a ${run.windowS} s window`);
  lines.push(...machineLines(run.machine));
  lines.push(
    `method:   everything started one after the other, then one common window opened ${run.settleMs} ms after the last became ready;` +
      ` switches = voluntary + nonvoluntary summed over /proc/PID/task/*/status (end − start of the window); RSS = VmRSS at the end`,
  );
  lines.push('');
  const header = ['', 'workers', 'ready→window', 'switches (vol+nonvol)', 'threads woken', 'RSS MiB', 'anon', 'file', 'RSS / bare node', 'target: 0 sw / ≤1.25× RSS'];
  const rows = measured.filter((m) => m.role === 'baseline' || m.role === 'supervisor').map((m) => mainRow(m, bare));
  lines.push(table([header, ...rows]));
  const diagnosis = measured.filter((m) => m.role === 'diagnosis');
  if (diagnosis.length > 0) {
    lines.push('');
    lines.push('diagnosis: the same supervisor in the foreground (start -n) under node flags, in the same window');
    lines.push(table([header.slice(0, 9), ...diagnosis.map((m) => mainRow(m, bare).slice(0, 9))]));
  }
  const woke = measured.filter((m) => m.role !== 'attribution' && m.switches.total > 0);
  if (woke.length > 0) {
    lines.push('');
    lines.push(`when and which threads woke (per ${run.sampleMs} ms sample, seconds after the window opened):`);
    for (const m of woke) {
      lines.push(`${m.label} (pid ${m.pid}): ${timelineText(m, run.sampleMs)}`);
      for (const t of m.threads) {
        const when = t.when.map((w) => `${w.atS} s ×${w.switches}`).join(', ');
        lines.push(`    tid ${t.tid} ${t.role}: ${t.voluntary}+${t.nonvoluntary}, now in ${t.blockedIn}; at ${when}`);
      }
      if (m.switches.vanished.length > 0) lines.push(`    threads gone during the window (not counted): ${m.switches.vanished.join(', ')}`);
    }
  }
  for (const m of measured.filter((x) => x.gc !== undefined)) {
    lines.push('');
    const events = m.gc ?? [];
    const isGc = (g: GcEvent): boolean => !g.line.startsWith('Memory reducer:');
    const inWindow = events.filter((g) => g.atS >= 0 && g.atS <= run.windowS);
    const startup = events.filter((g) => g.sinceReadyS < 0 && isGc(g)).length;
    lines.push(
      `${m.label}: ${inWindow.filter(isGc).length} GC(s) in the window (${startup} during start-up, before ready);` +
        ' after ready, every collection and memory-reducer decision from the trace (±0.05 s):',
    );
    for (const g of events.filter((x) => x.sinceReadyS >= 0 && x.atS <= run.windowS)) {
      const text = g.line.length > 150 ? `${g.line.slice(0, 147)}...` : g.line;
      lines.push(`    ready + ${g.sinceReadyS.toFixed(2)} s (${g.atS < 0 ? 'before the window' : `window ${g.atS.toFixed(2)} s`}): ${text}`);
    }
  }
  const attribution = measured.filter((m) => m.role === 'attribution');
  if (attribution.length > 0) {
    lines.push('');
    lines.push('where the RSS goes: idle node processes that only imported some modules (same window, RSS at its end)');
    const esm = attribution[0];
    const arows = attribution.map((m) => [
      m.label,
      mib(m.memory?.rssKiB),
      mib(m.memory?.anonKiB),
      mib(m.memory?.fileKiB),
      esm?.memory && m.memory && m !== esm ? `+${mib(m.memory.rssKiB - esm.memory.rssKiB)}` : '',
      bare?.memory && m.memory ? ratio(m.memory.rssKiB, bare.memory.rssKiB) : 'n/a',
    ]);
    lines.push(table([['', 'RSS MiB', 'anon', 'file', `over ${esm?.label ?? 'first'}`, 'RSS / bare node'], ...arows]));
  }
  lines.push('');
  lines.push('resident set by mapping (MiB):');
  for (const m of measured.filter((x) => x.role === 'baseline' || x.role === 'supervisor')) lines.push(`    ${m.label}: ${mappingText(m)}`);
  lines.push('');
  for (const m of measured) lines.push(`${m.label}: ${m.command}`);
  for (const note of run.notes) lines.push(`note: ${note}`);
  lines.push(`cleanup:  ${run.cleanup}`);
  return lines.join('\n');
}
