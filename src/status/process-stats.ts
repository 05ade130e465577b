/** A process's memory and CPU from /proc, for the workers' rows and the supervisor's own process metrics. */
import { readdirSync, readFileSync } from 'node:fs';
import type { SupervisorProcess } from './types.js';

/** Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every architecture we run on. */
const MS_PER_TICK = 10;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/** The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number | 'self'): string[] | undefined {
  const text = read(`/proc/${pid}/stat`);
  return text === undefined ? undefined : text.slice(text.lastIndexOf(')') + 2).split(' ');
}

export function rssKiB(pid: number): number | null {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(read(`/proc/${pid}/status`) ?? '');
  return match ? Number(match[1]) : null;
}

/** User and system CPU time of the process itself (not its waited-for children). */
export function cpuMs(pid: number): number | null {
  const fields = statFields(pid);
  return fields ? (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK : null;
}

function bootTimeSeconds(): number {
  return Number(/^btime (\d+)$/m.exec(read('/proc/stat') ?? '')?.[1] ?? 0);
}

/** What Prometheus' process collector reports (process_cpu_seconds_total, …), of the supervisor itself. */
export function supervisorProcess(): SupervisorProcess {
  const fields = statFields('self') ?? [];
  const usage = process.cpuUsage();
  let openFds = 0;
  try {
    openFds = readdirSync('/proc/self/fd').length;
  } catch {
    // Without /proc: unknown, reported as 0.
  }
  const maxFds = /^Max open files\s+(\d+)/m.exec(read('/proc/self/limits') ?? '')?.[1];
  // starttime (field 22) is in clock ticks after boot.
  const startTicks = Number(fields[19] ?? 0);
  return {
    cpuSeconds: (usage.user + usage.system) / 1e6,
    residentMemoryBytes: process.memoryUsage.rss(),
    virtualMemoryBytes: Number(fields[20] ?? 0),
    startTimeSeconds: bootTimeSeconds() + (startTicks * MS_PER_TICK) / 1000,
    openFds,
    maxFds: maxFds !== undefined ? Number(maxFds) : null,
  };
}
