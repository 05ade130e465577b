/**
 * The instance record, beside the pidfile: how it was started (argv, working directory,
 * environment: so `restart` starts it again the same way), and which processes are its (pids with
 * their start times and the boot: after a SIGKILLed supervisor, the next start stops its orphans
 * before binding, and never signals a process whose pid was recycled, in this boot or a later one).
 */
import { currentBootId } from '../os/boot-id.js';
import { hasExited, readStat } from '../os/proc.js';
import { readOwnFile, readText, writeAtomically, type Checked } from './files.js';

export interface ProcessIdentity {
  readonly pid: number;
  /** Clock ticks after boot (/proc/PID/stat field 22): a recycled pid has another. */
  readonly startTime: number;
  /** /proc/sys/kernel/random/boot_id when it was recorded: after a reboot, pid and start time repeat. */
  readonly bootId: string;
}

export interface InstanceRecord {
  readonly name: string;
  readonly supervisor: ProcessIdentity;
  /** The first pool's address (every pool's is in `pools`). */
  readonly address: string;
  /** `protocol`: what the pool serves, when its configuration says (`probe` speaks it by default). */
  readonly pools?: readonly { readonly name: string; readonly address: string; readonly protocol?: 'fastcgi' | 'http' | 'scgi' }[];
  readonly startedAt: string;
  /** `start` arguments as given (without the internal daemon flag). */
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly workers: readonly ProcessIdentity[];
  /** The inodes of the pool's listening sockets: after a SIGKILLed supervisor, whatever still holds them is its. */
  readonly sockets?: readonly number[];
  readonly extraPidfile?: string;
}

export function identityOf(pid: number): ProcessIdentity | undefined {
  const stat = readStat(pid);
  return stat && !hasExited(stat) ? { pid, startTime: stat.startTime, bootId: currentBootId() } : undefined;
}

/**
 * Still the same process: alive, not a zombie, started when it was recorded, in this boot. An
 * identity without a boot id (or another boot's) names no live process.
 */
export function isSameProcess(identity: ProcessIdentity): boolean {
  if (identity.bootId !== currentBootId()) return false;
  const now = identityOf(identity.pid);
  return now !== undefined && now.startTime === identity.startTime;
}

function parseRecord(text: string): InstanceRecord | undefined {
  try {
    const record = JSON.parse(text) as InstanceRecord;
    return typeof record.supervisor?.pid === 'number' && Array.isArray(record.workers) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The daemon's own record, in the run directory it checked at claim time. */
export function readRecord(path: string): InstanceRecord | undefined {
  const text = readText(path);
  return text === undefined ? undefined : parseRecord(text);
}

/** A record as any command reads it: only from a file we could have written (files.ts readOwnFile). */
export function readRecordChecked(path: string, euid: number): Checked<InstanceRecord> {
  const read = readOwnFile(path, euid);
  if (read.kind !== 'ok') return read;
  const record = parseRecord(read.value);
  return record ? { kind: 'ok', value: record } : { kind: 'refused', reason: 'not an instance record' };
}

export function writeRecord(path: string, record: InstanceRecord): void {
  // The record holds the workers' environment: readable by its owner only.
  writeAtomically(path, `${JSON.stringify(record, null, 2)}\n`, 0o600);
}
