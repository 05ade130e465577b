/**
 * Linux /proc readers for what lies below a process and who holds a socket: the children of a
 * process (zombies included: they are what a reaper looks for), its descendants, and the processes
 * holding a given socket inode — by pid, without signalling anyone.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { allProcesses, readProcText } from './proc.js';

function numericEntries(path: string): number[] {
  try {
    return readdirSync(path).filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    return [];
  }
}

/**
 * The children of a process, zombies included, from /proc/PID/task/TID/children (every thread's:
 * a child belongs to the thread that forked it, and an adopted orphan to one the kernel picked).
 * Where the kernel has no children files (CONFIG_PROC_CHILDREN unset), the whole table is read.
 */
export function childPids(pid: number): number[] {
  const tasks = numericEntries(`/proc/${pid}/task`);
  const children: number[] = [];
  let readable = false;
  for (const tid of tasks) {
    const text = readProcText(`/proc/${pid}/task/${tid}/children`);
    if (text === undefined) continue;
    readable = true;
    for (const field of text.split(' ')) {
      const child = Number(field);
      if (Number.isInteger(child) && child > 0) children.push(child);
    }
  }
  if (readable || tasks.length === 0) return children;
  return allProcesses().filter((stat) => stat.ppid === pid).map((stat) => stat.pid);
}

/** Every process below `pid`, parents before their children. */
export function descendantPids(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of childPids(next)) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** The socket inodes among a process's descriptors (empty when it is gone or not ours to read). */
export function socketInodesOf(pid: number): Set<number> {
  const inodes = new Set<number>();
  for (const fd of numericEntries(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(Number(match[1]));
    } catch {
      // Closed, or the process ended, while we looked.
    }
  }
  return inodes;
}

export interface SocketHolder {
  readonly pid: number;
  readonly inode: number;
}

/** Which of `candidates` (default: every process) hold one of the socket inodes; `except` is skipped. */
export function socketHolders(inodes: ReadonlySet<number>, options: { readonly candidates?: readonly number[]; readonly except?: number } = {}): SocketHolder[] {
  if (inodes.size === 0) return [];
  const holders: SocketHolder[] = [];
  for (const pid of options.candidates ?? numericEntries('/proc')) {
    if (pid === options.except) continue;
    for (const inode of socketInodesOf(pid)) {
      if (inodes.has(inode)) {
        holders.push({ pid, inode });
        break;
      }
    }
  }
  return holders;
}

/** The command name (/proc/PID/comm), for log lines that name a process. */
export function commandName(pid: number): string {
  return (readProcText(`/proc/${pid}/comm`) ?? '?').trim() || '?';
}

const SO_ACCEPTCON = 0x10000;

/**
 * The listening sockets of this network namespace, by inode (TCP state 0A; Unix sockets flagged
 * SO_ACCEPTCON): an inode recorded by a supervisor that died is only trusted while it still names one.
 */
export function listeningSocketInodes(): Set<number> {
  const inodes = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    for (const line of (readProcText(`/proc/net/${table}`) ?? '').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A') inodes.add(Number(fields[9]));
    }
  }
  for (const line of (readProcText('/proc/net/unix') ?? '').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if ((parseInt(fields[3] ?? '0', 16) & SO_ACCEPTCON) !== 0) inodes.add(Number(fields[6]));
  }
  return inodes;
}
