/**
 * Linux /proc readers: which processes form a worker's process group, and whether one of them
 * waits on the pool's socket (DESIGN.md "Worker readiness").
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export type Listening = 'accept' | 'epoll';

interface SyscallNumbers {
  readonly accept: readonly number[];
  readonly epoll: readonly number[];
}

// Syscall numbers differ by architecture (asm/unistd.h). Elsewhere wchan is the hint.
const SYSCALLS: Readonly<Record<string, SyscallNumbers>> = {
  x64: { accept: [43, 288], epoll: [232, 281, 441] },
  arm64: { accept: [202, 242], epoll: [22, 441] },
};

export interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** Clock ticks since boot: with the pid, the identity of a process (pids are recycled). */
  readonly startTime: number;
}

export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    pid,
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: Number(fields[19]),
  };
}

function numericEntries(path: string): number[] {
  try {
    return readdirSync(path)
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

export function allProcesses(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const pid of numericEntries('/proc')) {
    const stat = readStat(pid);
    if (stat) stats.push(stat);
  }
  return stats;
}

/** Live (not zombie) members of a process group. */
export function processGroupMembers(pgid: number): number[] {
  return allProcesses()
    .filter((stat) => stat.pgrp === pgid && stat.state !== 'Z')
    .map((stat) => stat.pid);
}

function socketInodeOf(pid: number, fd: number): number | undefined {
  try {
    const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function epollWatches(pid: number, epollFd: number, inode: number): boolean {
  try {
    const info = readFileSync(`/proc/${pid}/fdinfo/${epollFd}`, 'latin1');
    for (const match of info.matchAll(/^tfd:.*\bino:([0-9a-f]+)/gm)) {
      if (parseInt(match[1] ?? '', 16) === inode) return true;
    }
  } catch {
    // The process or the fd went away while we looked.
  }
  return false;
}

function threadListening(pid: number, tid: number, inode: number, numbers: SyscallNumbers): Listening | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'latin1');
  } catch {
    return undefined;
  }
  // "<nr> <arg1> ..." while blocked in a syscall; "running" or "-1 ..." otherwise.
  const [nrText, firstArg] = text.split(' ');
  const nr = Number(nrText);
  const fd = Number.parseInt(firstArg ?? '', 16);
  if (!Number.isFinite(nr) || !Number.isFinite(fd)) return undefined;
  if (numbers.accept.includes(nr)) return socketInodeOf(pid, fd) === inode ? 'accept' : undefined;
  if (numbers.epoll.includes(nr)) return epollWatches(pid, fd, inode) ? 'epoll' : undefined;
  return undefined;
}

/** Whether /proc can tell readiness on this machine (syscall numbers known and the file readable). */
export function canObserveSyscalls(): boolean {
  if (!SYSCALLS[process.arch]) return false;
  try {
    readFileSync('/proc/self/syscall', 'latin1');
    return true;
  } catch {
    return false;
  }
}

/**
 * How the given process waits on the socket, if any thread of it does: blocked in accept() on it
 * (idle, ready) or in epoll_wait() on an epoll set that contains it (an event-loop worker).
 */
export function listeningState(pid: number, inode: number): Listening | undefined {
  const numbers = SYSCALLS[process.arch];
  if (!numbers) return undefined;
  let found: Listening | undefined;
  for (const tid of numericEntries(`/proc/${pid}/task`)) {
    const state = threadListening(pid, tid, inode, numbers);
    if (state === 'accept') return state;
    found ??= state;
  }
  return found;
}

/** The first answer among a worker's process group: its leader, then the leader's group members. */
export function groupListeningState(pgid: number, inode: number): Listening | undefined {
  const leader = listeningState(pgid, inode);
  if (leader) return leader;
  let found: Listening | undefined;
  for (const pid of processGroupMembers(pgid)) {
    if (pid === pgid) continue;
    const state = listeningState(pid, inode);
    if (state === 'accept') return state;
    found ??= state;
  }
  return found;
}
