/** Numbers and tables as the reload and throughput benchmarks print them. */
import { percentile, table } from '../respawn/report.js';
import type { Machine } from './programs.js';

export { table };

export function median(values: readonly number[]): number {
  return percentile([...values].filter(Number.isFinite).sort((a, b) => a - b), 0.5);
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '-';
}

/** Share of the machine's CPU capacity used by others during a run above which the run is marked disturbed. */
export const DISTURBED_SHARE = 0.05;

/** '!' when processes not ours used more than DISTURBED_SHARE of the CPUs during a run of `seconds`. */
export function disturbed(othersCpuS: number, seconds: number, cpus: number): string {
  return othersCpuS > DISTURBED_SHARE * seconds * cpus ? '!' : '';
}

export function machineLine(m: Machine): string {
  return `machine:  ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.kernel}, load ${m.loadavg.join(' ')} at start`;
}

export function versionsLine(versions: Readonly<Record<string, string>>): string {
  return `versions: ${Object.entries(versions).map(([name, version]) => `${name} ${version}`).join('; ')}`;
}
