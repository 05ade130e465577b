/**
 * What the supervisor itself may hand its workers: its own resource limits, niceness and OOM score adjustment,
 * and the two capabilities that allow going past them. A worker's limits are set by the exec wrapper
 * (runtime/worker-command.ts) running as the supervisor's user, so these decide, before anything starts,
 * whether a pool's `rlimit-*`, `nice` and `oom-score-adj` can be applied (config/limits.ts).
 */
import { getPriority } from 'node:os';
import { readProcText } from './proc.js';

export interface OwnLimit {
  /** Infinity for unlimited. */
  readonly soft: number;
  readonly hard: number;
}

export interface OwnLimits {
  readonly nofile: OwnLimit;
  readonly core: OwnLimit;
  /** RLIMIT_NICE: an unprivileged process may lower its niceness down to 20 - soft. */
  readonly niceLimit: OwnLimit;
  readonly nice: number;
  readonly oomScoreAdj: number;
  /** setrlimit above the hard limit, oom_score_adj below the current value. */
  readonly capSysResource: boolean;
  /** setpriority below the current niceness. */
  readonly capSysNice: boolean;
  /** /proc/sys/fs/nr_open: no RLIMIT_NOFILE may pass it, whoever asks (setrlimit answers EPERM). */
  readonly nrOpen: number;
}

const CAP_SYS_NICE = 23n;
const CAP_SYS_RESOURCE = 24n;

function limit(table: string, name: string): OwnLimit {
  const line = table.split('\n').find((row) => row.startsWith(name));
  const [soft, hard] = (line?.slice(name.length).trim().split(/\s+/) ?? []).map((word) => (word === 'unlimited' ? Infinity : Number(word)));
  return { soft: soft ?? NaN, hard: hard ?? NaN };
}

export function ownLimits(): OwnLimits {
  const table = readProcText('/proc/self/limits') ?? '';
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readProcText('/proc/self/status') ?? '')?.[1];
  const caps = capEff !== undefined ? BigInt(`0x${capEff}`) : 0n;
  return {
    nofile: limit(table, 'Max open files'),
    core: limit(table, 'Max core file size'),
    niceLimit: limit(table, 'Max nice priority'),
    nice: getPriority(0),
    oomScoreAdj: Number(readProcText('/proc/self/oom_score_adj') ?? 0),
    capSysResource: ((caps >> CAP_SYS_RESOURCE) & 1n) === 1n,
    capSysNice: ((caps >> CAP_SYS_NICE) & 1n) === 1n,
    nrOpen: Number(readProcText('/proc/sys/fs/nr_open') ?? 1048576),
  };
}
