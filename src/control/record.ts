/**
 * The instance record, beside the pidfile: how it was started (argv, working directory,
 * environment: so `restart` starts it again the same way), and which processes are its (pids with
 * their start times: after a SIGKILLed supervisor, the next start stops its orphans before binding,
 * and never signals a process whose pid was recycled).
 */
import { readStat } from '../os/proc.js';
import { readText, writeAtomically } from './files.js';

export interface ProcessIdentity {
  readonly pid: number;
  /** Clock ticks after boot (/proc/PID/stat field 22): a recycled pid has another. */
  readonly startTime: number;
}

export interface InstanceRecord {
  readonly name: string;
  readonly supervisor: ProcessIdentity;
  /** The first pool's address (every pool's is in `pools`). */
  readonly address: string;
  readonly pools?: readonly { readonly name: string; readonly address: string }[];
  readonly startedAt: string;
  /** `start` arguments as given (without the internal daemon flag). */
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly workers: readonly ProcessIdentity[];
  readonly extraPidfile?: string;
}

export function identityOf(pid: number): ProcessIdentity | undefined {
  const stat = readStat(pid);
  return stat && stat.state !== 'Z' ? { pid, startTime: stat.startTime } : undefined;
}

/** Still the same process: alive, not a zombie, and started when it was recorded. */
export function isSameProcess(identity: ProcessIdentity): boolean {
  const now = identityOf(identity.pid);
  return now !== undefined && now.startTime === identity.startTime;
}

export function readRecord(path: string): InstanceRecord | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  try {
    const record = JSON.parse(text) as InstanceRecord;
    return typeof record.supervisor?.pid === 'number' ? record : undefined;
  } catch {
    return undefined;
  }
}

export function writeRecord(path: string, record: InstanceRecord): void {
  // The record holds the workers' environment: readable by its owner only.
  writeAtomically(path, `${JSON.stringify(record, null, 2)}\n`, 0o600);
}
